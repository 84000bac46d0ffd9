// fromEnv's problems after the ninth review: each names its variable (and shows the value seen),
// combinations that used to be ignored or refused later under option names are said here, and the
// middleware-options table lists every option jwtAuth takes.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fromEnv } from '../../providers/from-env.js'
import { redisUrlProblem } from '../../providers/redis/connection.js'
import { ConfigError } from '../../src/index.js'
import { OPTION_NAMES } from '../../src/verifier-options.js'

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  return []
}

const oidc = {
  AUTH_MIDDLEWARE_LOG_LEVEL: 'silent',
  AUTH_PROVIDER: 'oidc',
  AUTH_PROVIDER_ISSUER: 'https://issuer.example/',
  AUTH_PROVIDER_AUDIENCE: 'api',
}
const problemsWith = (variables: Record<string, string>) =>
  problemsOf(() => fromEnv({ ...oidc, ...variables }))

describe('fromEnv problems name their variable', () => {
  it.each(['AUTH_GROUPS_CLAIM', 'AUTH_ROLES_CLAIM', 'AUTH_PERMISSIONS_CLAIM'])(
    'a %s that lists nothing is one problem, not a second one naming no variable',
    (name) => {
      expect(problemsWith({ [name]: ' , ' })).toEqual([
        `${name} must be a comma-separated list, got " , "`,
      ])
    },
  )

  it('AUTH_PROVIDER=jwks,oidc, reading one AUTH_PROVIDER_ISSUER, is refused in its terms', () => {
    expect(
      problemsWith({
        AUTH_PROVIDER: 'jwks,oidc',
        AUTH_PROVIDER_JWKS_URI: 'https://issuer.example/jwks.json',
      }),
    ).toEqual([
      'AUTH_PROVIDER names jwks and oidc, which both accept the issuer "https://issuer.example/", both from AUTH_PROVIDER_ISSUER: keep one of them',
    ])
  })

  it('AUTH_REALM shows the value seen, as every other variable does', () => {
    expect(problemsWith({ AUTH_REALM: 'orders "api"' })).toEqual([
      'AUTH_REALM must be a string of visible ASCII characters without " or \\, got "orders \\"api\\""',
    ])
    expect(problemsWith({ AUTH_REALM: 'orders-api' })).toEqual([])
  })

  it('AUTH_SOURCE_CACHE_TTL_MS with AUTH_SOURCE_CACHE=false is a contradiction, not ignored', () => {
    expect(problemsWith({ AUTH_SOURCE_CACHE: 'false', AUTH_SOURCE_CACHE_TTL_MS: '10000' })).toEqual(
      [
        'AUTH_SOURCE_CACHE_TTL_MS contradicts AUTH_SOURCE_CACHE=false, which turns the cache off: remove one',
      ],
    )
    expect(problemsWith({ AUTH_SOURCE_CACHE: 'true', AUTH_SOURCE_CACHE_TTL_MS: '10000' })).toEqual(
      [],
    )
  })

  it('AUTH_REDIS_SOURCE_CACHE=true with AUTH_SOURCE_CACHE=false is a contradiction too', () => {
    const problems = problemsWith({
      AUTH_REDIS_URL: 'redis://127.0.0.1:6379',
      AUTH_REDIS_SOURCE_CACHE: 'true',
      AUTH_SOURCE_CACHE: 'false',
    })
    expect(problems).toEqual([
      'AUTH_REDIS_SOURCE_CACHE=true contradicts AUTH_SOURCE_CACHE=false, which turns off both tiers of the cache: remove one',
    ])
  })
})

describe('a Redis URL whose port is wrong says so, without its password', () => {
  const port =
    'must have a port from 1 to 65535, or none for 6379 (value hidden: it may carry a password)'

  it.each([
    'redis://:pw-review9@cache:99999',
    'rediss://user:pw-review9@cache:65536/2',
    'redis://[::1]:70000',
    'redis://cache:0',
  ])('%s', (url) => {
    expect(redisUrlProblem(url)).toBe(port)
  })

  it('through AUTH_REDIS_URL', () => {
    const problems = problemsWith({ AUTH_REDIS_URL: 'redis://:pw-review9@cache:99999' })
    expect(problems).toEqual([`AUTH_REDIS_URL ${port}`])
  })

  it('a password with a / in it is never read as a port', () => {
    // The parser takes `pw-` as the port here; the digits after the / are the password's.
    expect(redisUrlProblem('redis://:pw-/99999@cache:6379')).toMatch(/^must be a redis:\/\//)
    expect(redisUrlProblem('redis://cache:6379')).toBeUndefined()
  })

  it('digits before a / in the password are not a port either: the / must be percent-encoded', () => {
    expect(redisUrlProblem('redis://app:987654/xyz@cache:6379/0')).toBe(
      'must percent-encode its user and password (a / as %2F) (value hidden: it may carry a password)',
    )
  })
})

describe('docs/configuration.md lists every option jwtAuth takes', () => {
  it('in the middleware-options table, as its closing sentence says', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/configuration.md'), 'utf8')
    const table = doc.split('## Middleware options (`jwtAuth({...})`)')[1]!.split('\n\n')[1]!
    const listed = new Set(
      table
        .split('\n')
        .map((row) => row.split('|')[1] ?? '')
        .flatMap((cell) => [...cell.matchAll(/`(\w+)`/g)].map((match) => match[1])),
    )
    expect(OPTION_NAMES.filter((name) => !listed.has(name))).toEqual([])
  })
})

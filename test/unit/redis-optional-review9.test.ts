// Without ioredis, a Redis store built from a URL is a ConfigError at construction (and fromEnv
// says which variable needs it), not a 503 on every request once the first one tries to connect.
// ioredis stays installed: the check that finds it is made to say it is missing.

import { describe, expect, it, vi } from 'vitest'
import { RedisRevocationStore, RedisSharedCache } from '../../providers/redis/index.js'
import { fromEnv } from '../../providers/from-env.js'
import { ConfigError } from '../../src/index.js'

vi.mock('../../src/optional-package.js', () => ({
  packageResolves: (name: string) => name !== 'ioredis',
  missingPackages: (names: readonly string[]) => names.filter((name) => name === 'ioredis'),
}))

const URL = 'redis://:s3cret@127.0.0.1:6379'
const INSTALL =
  'the "ioredis" package (oidc-guard/redis connects through it), which is not installed: npm install ioredis'

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  return []
}

const base = {
  AUTH_MIDDLEWARE_LOG_LEVEL: 'silent',
  AUTH_PROVIDER: 'oidc',
  AUTH_PROVIDER_ISSUER: 'https://issuer.example/',
  AUTH_PROVIDER_AUDIENCE: 'api',
}

describe('a missing ioredis is said at construction', () => {
  it.each([
    ['RedisRevocationStore', () => new RedisRevocationStore({ url: URL })],
    ['RedisSharedCache', () => new RedisSharedCache({ url: URL })],
  ])('%s given a url', (_name, build) => {
    expect(problemsOf(build)).toEqual([`url needs ${INSTALL}`])
  })

  it('a client of the application needs no check (it was made with ioredis)', () => {
    const client = { duplicate: () => client, status: 'wait' } as never
    expect(problemsOf(() => new RedisRevocationStore({ client }))).toEqual([])
    expect(problemsOf(() => new RedisSharedCache({ client }))).toEqual([])
  })

  it('fromEnv names the variables that need it, and never the password', () => {
    const sharedTier =
      'AUTH_REDIS_URL (the shared tier of the authorization cache; AUTH_REDIS_SOURCE_CACHE=false turns it off)'
    const cases: Array<[Record<string, string>, string[]]> = [
      [{ AUTH_REVOCATION: 'redis' }, [`AUTH_REVOCATION=redis and ${sharedTier} need ${INSTALL}`]],
      [
        { AUTH_REVOCATION: 'redis', AUTH_REDIS_SOURCE_CACHE: 'false' },
        [`AUTH_REVOCATION=redis needs ${INSTALL}`],
      ],
      [{}, [`${sharedTier} needs ${INSTALL}`]],
      [
        { AUTH_SOURCE_CACHE: 'false', AUTH_REVOCATION: 'redis' },
        [`AUTH_REVOCATION=redis needs ${INSTALL}`],
      ],
      // Nothing connects to Redis: nothing needs ioredis.
      [{ AUTH_REDIS_SOURCE_CACHE: 'false' }, []],
    ]
    for (const [variables, expected] of cases) {
      const problems = problemsOf(() => fromEnv({ ...base, AUTH_REDIS_URL: URL, ...variables }))
      expect(problems, JSON.stringify(variables)).toEqual(expected)
      expect(problems.join('\n')).not.toContain('s3cret')
    }
  })
})

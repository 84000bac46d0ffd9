// The Redis stores from environment variables: what each variable builds, every problem reported
// together, and the URL's password never shown.

import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { RedisRevocationStore, RedisSharedCache, redisEnv } from '../../providers/redis/index.js'
import { jwksEnv } from '../../providers/jwks/env.js'
import { ConfigError, createVerifier, type Env, type JwtAuthOptions } from '../../src/index.js'
import { REVOCATION_GRACE_SEC } from '../../src/revocation-entries.js'
import { buildFromEnv } from '../../src/from-env.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'

const PREFIX = `oidc-guard-test:env:${process.pid}:${randomBytes(4).toString('hex')}:`
const registry = { providers: [jwksEnv], sources: [], options: [redisEnv] }

let idp: TestIssuer
let admin: Redis
const built: JwtAuthOptions[] = []

beforeAll(async () => {
  admin = await connectTestRedis()
  idp = await createTestIssuer()
})

afterEach(async () => {
  for (const options of built.splice(0)) {
    const shared = options.sourceCache ? options.sourceCache.shared : undefined
    await Promise.all([
      (options.revocation as RedisRevocationStore | undefined)?.close(),
      (shared as RedisSharedCache | undefined)?.close(),
    ])
  }
  await deleteKeys(admin, PREFIX)
})

afterAll(async () => {
  admin.disconnect()
  await idp.close()
})

function fromEnv(vars: Env, logger = pino({ enabled: false })): JwtAuthOptions {
  const options = buildFromEnv(
    registry,
    {
      AUTH_PROVIDER: 'jwks',
      AUTH_PROVIDER_ISSUER: idp.issuer,
      AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
      AUTH_PROVIDER_AUDIENCE: idp.audience,
      ...vars,
    },
    { logger },
  )
  built.push(options)
  return options
}

function problemsOf(vars: Env): string[] {
  try {
    fromEnv(vars)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return [...(error as ConfigError).problems]
  }
  return expect.unreachable('expected a ConfigError')
}

describe('redisEnv', () => {
  it('builds nothing without AUTH_REDIS_URL', () => {
    const options = fromEnv({})
    expect(options.revocation).toBeUndefined()
    expect(options.sourceCache).toBeUndefined()
  })

  it('AUTH_REDIS_URL adds the shared cache; AUTH_REVOCATION=redis the revocation store', async () => {
    const options = fromEnv({
      AUTH_REDIS_URL: REDIS_URL,
      AUTH_REDIS_PREFIX: PREFIX,
      AUTH_REDIS_TIMEOUT_MS: '500',
      AUTH_REVOCATION: 'redis',
      AUTH_REVOCATION_MAX_TOKEN_LIFETIME_SEC: '600',
      AUTH_SOURCE_CACHE_TTL_MS: '5000',
    })
    const revocation = options.revocation as RedisRevocationStore
    expect(revocation).toBeInstanceOf(RedisRevocationStore)
    expect(options.sourceCache).toMatchObject({ ttlMs: 5000, shared: expect.any(RedisSharedCache) })
    const verify = createVerifier(options)
    const token = idp.mint({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 })
    expect((await verify(token)).id).toBe('alice')
    // A bare jti (whose token's exp is unknown) is kept under the prefix for
    // AUTH_REVOCATION_MAX_TOKEN_LIFETIME_SEC and the grace.
    await revocation.revokeToken('a-bare-jti')
    const key = `${PREFIX}revocations`
    const left = async (jti: string) =>
      Number(await admin.zscore(key, JSON.stringify(['j', jti]))) - Date.now() / 1000
    expect(await left('a-bare-jti')).toBeGreaterThan(590 + REVOCATION_GRACE_SEC)
    expect(await left('a-bare-jti')).toBeLessThanOrEqual(602 + REVOCATION_GRACE_SEC)
    // A token until its own exp, even past that lifetime.
    await revocation.revokeToken(token)
    await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' })
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string
    expect(await left(jti)).toBeGreaterThan(3590 + REVOCATION_GRACE_SEC)
  })

  it('AUTH_REVOCATION_ON_STORE_DOWN=fail-open reaches the store', async () => {
    const options = fromEnv({
      AUTH_REDIS_URL: 'redis://127.0.0.1:1',
      AUTH_REDIS_TIMEOUT_MS: '100',
      AUTH_REVOCATION: 'REDIS',
      AUTH_REVOCATION_ON_STORE_DOWN: 'fail-open',
    })
    const revocation = options.revocation as RedisRevocationStore
    await expect(revocation.ready(100)).rejects.toThrow()
    expect(revocation.health()).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/failing open/),
    })
  })

  it('AUTH_REDIS_SOURCE_CACHE=false or AUTH_SOURCE_CACHE=false leave the shared tier out', () => {
    expect(
      fromEnv({ AUTH_REDIS_URL: REDIS_URL, AUTH_REDIS_SOURCE_CACHE: 'false' }).sourceCache,
    ).toBeUndefined()
    expect(fromEnv({ AUTH_REDIS_URL: REDIS_URL, AUTH_SOURCE_CACHE: 'off' }).sourceCache).toBe(false)
  })

  it('a time-out no timer can hold names its own variable', () => {
    expect(problemsOf({ AUTH_REDIS_URL: REDIS_URL, AUTH_REDIS_TIMEOUT_MS: '1e12' })).toEqual([
      'AUTH_REDIS_TIMEOUT_MS must be a whole number from 1 to 2147483647, got "1e12"',
    ])
  })

  it('reports every problem at once, never showing the URL', () => {
    const problems = problemsOf({
      AUTH_REDIS_URL: 'https://admin:hunter2@cache.internal:6379',
      AUTH_REDIS_TIMEOUT_MS: 'soon',
      AUTH_REDIS_SOURCE_CACHE: 'maybe',
      AUTH_REVOCATION: 'memory',
      AUTH_REVOCATION_ON_STORE_DOWN: 'sometimes',
    })
    expect(problems.join('\n')).not.toContain('hunter2')
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^AUTH_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/),
        expect.stringMatching(/^AUTH_REDIS_TIMEOUT_MS must be a whole number from 1 to 2147483647/),
        expect.stringMatching(/^AUTH_REDIS_SOURCE_CACHE must be true or false/),
        expect.stringMatching(/^AUTH_REVOCATION must be one of off, redis/),
        expect.stringMatching(
          /^AUTH_REVOCATION_ON_STORE_DOWN must be one of fail-closed, fail-open/,
        ),
      ]),
    )
    expect(problemsOf({ AUTH_REVOCATION: 'redis' })).toEqual([
      'AUTH_REVOCATION=redis needs AUTH_REDIS_URL, which is not set',
    ])
    expect(problemsOf({ AUTH_REDIS_PREFIX: 'x:' })).toEqual([
      'AUTH_REDIS_PREFIX, AUTH_REDIS_TIMEOUT_MS and AUTH_REDIS_SOURCE_CACHE need AUTH_REDIS_URL',
    ])
    expect(
      problemsOf({ AUTH_REDIS_URL: REDIS_URL, AUTH_REVOCATION_ON_STORE_DOWN: 'fail-open' }),
    ).toEqual([
      'AUTH_REVOCATION_ON_STORE_DOWN and AUTH_REVOCATION_MAX_TOKEN_LIFETIME_SEC need AUTH_REVOCATION=redis',
    ])
  })

  it('declares every variable it reads, so none is reported as a typo', () => {
    const lines: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) })
    fromEnv(
      {
        AUTH_REDIS_URL: REDIS_URL,
        AUTH_REDIS_PREFIX: PREFIX,
        AUTH_REDIS_TIMEOUT_MS: '500',
        AUTH_REDIS_SOURCE_CACHE: 'true',
        AUTH_REVOCATION: 'redis',
        AUTH_REVOCATION_ON_STORE_DOWN: 'fail-closed',
        AUTH_REVOCATION_MAX_TOKEN_LIFETIME_SEC: '3600',
      },
      logger,
    )
    expect(lines.filter((line) => line.includes('unknown environment variable'))).toEqual([])
  })
})

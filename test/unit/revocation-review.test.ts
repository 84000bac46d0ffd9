// Revocation review: subjects are revoked by `sub` (Entra's `user.id` is `oid`), a revoked token
// stays refused until its own `exp`, long-lived tokens are warned of, and Redis URLs ioredis
// cannot use are refused at construction.

import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  RedisRevocationStore,
  RedisSharedCache,
  redisEnv,
  type RedisRevocationStoreOptions,
} from '../../providers/redis/index.js'
import { EntraIdProvider } from '../../providers/entra-id/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { jwksEnv } from '../../providers/jwks/env.js'
import {
  ConfigError,
  createVerifier,
  MemoryRevocationStore,
  type Env,
  type RevocationStore,
  type VerifiedToken,
} from '../../src/index.js'
import { buildFromEnv } from '../../src/from-env.js'
import { jtiEntry, REVOCATION_GRACE_SEC } from '../../src/revocation-entries.js'
import {
  CLIENT_ID,
  createEntraIssuer,
  TENANT,
  type EntraTestIssuer,
} from '../../src/testing-entra.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'

const PREFIX = `oidc-guard-test:review:${process.pid}:${randomBytes(4).toString('hex')}:`
const root = join(import.meta.dirname, '..', '..')

let idp: TestIssuer
let entra: EntraTestIssuer
let admin: Redis
const stores: RedisRevocationStore[] = []

beforeAll(async () => {
  admin = await connectTestRedis()
  idp = await createTestIssuer({ listen: false, issuer: 'https://revoke-review.example' })
  entra = await createEntraIssuer()
})

afterEach(async () => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  await Promise.all(stores.splice(0).map((created) => created.close()))
  for (const db of [0, 2]) {
    await admin.select(db)
    await deleteKeys(admin, PREFIX)
  }
  await admin.select(0)
})

afterAll(async () => {
  admin.disconnect()
  await Promise.all([idp.close(), entra.close()])
})

function redisStore(options: Partial<RedisRevocationStoreOptions> = {}): RedisRevocationStore {
  const created = new RedisRevocationStore({ url: REDIS_URL, prefix: PREFIX, ...options })
  stores.push(created)
  return created
}

function jwksVerifier(revocation: RevocationStore) {
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    fetch: idp.fetch,
  })
  return createVerifier({ provider, revocation, logger: false })
}

function verified(claims: Record<string, unknown>): VerifiedToken {
  return { token: 't', header: { alg: 'RS256' }, claims: { iss: idp.issuer, ...claims } }
}

function logSink() {
  const lines: Array<{ level: number; msg: string }> = []
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  )
  return { logger, warnings: () => lines.filter((line) => line.level === 40) }
}

const nowSec = () => Math.floor(Date.now() / 1000)

describe('defect 1: revokeSubject is by the token’s sub, which Entra’s user.id is not', () => {
  it('revokeSubject(claims.iss, claims.sub) refuses an Entra token whose user.id is its oid', async () => {
    const store = new MemoryRevocationStore()
    const provider = new EntraIdProvider({
      tenantId: TENANT,
      audience: CLIENT_ID,
      fetch: entra.fetch,
    })
    const verify = createVerifier({ provider, revocation: store, logger: false })
    const token = entra.v2()
    const user = await verify(token)
    expect(user.id).toBe(user.claims['oid'])
    expect(user.id).not.toBe(user.claims.sub)

    // What the docs used to show: matches no token, so nothing is refused.
    store.revokeSubject(user.claims.iss!, user.id)
    expect((await verify(token)).id).toBe(user.id)

    store.revokeSubject(user.claims.iss!, user.claims.sub!)
    await expect(verify(token)).rejects.toMatchObject({
      status: 401,
      code: 'ERR_AUTH_TOKEN_REVOKED',
    })
  })

  it('every revokeSubject example (docs, TSDoc) passes the token’s sub, never user.id', () => {
    const files = [
      ...markdownUnder('docs'),
      'README.md',
      ...sourcesUnder('src'),
      ...sourcesUnder('providers'),
      ...sourcesUnder('examples'),
    ]
    const calls = files.flatMap((file) =>
      readFileSync(join(root, file), 'utf8')
        .split('\n')
        .filter((line) => /revokeSubject\(\s*(req\.)?(currentUser|user)\b/.test(line))
        .map((line) => `${file}: ${line.trim()}`),
    )
    expect(calls.length).toBeGreaterThanOrEqual(3)
    for (const call of calls) expect(call).toMatch(/revokeSubject\([^,]+,\s*[\w.]*claims\.sub!?\)/)
    const scaling = readFileSync(join(root, 'docs/scaling.md'), 'utf8')
    expect(scaling).toContain(
      'revocations.revokeSubject(req.currentUser.claims.iss!, req.currentUser.claims.sub!)',
    )
  })
})

describe('defect 2: a revoked token stays refused until its own exp', () => {
  it('jtiEntry keeps a token until exp + grace, past maxTokenLifetimeSec; an absurd exp a year', () => {
    const now = 1_800_000_000
    const token = idp.mint({ jti: 'long', iat: now, exp: now + 7200 })
    expect(jtiEntry(token, 3600, now)).toEqual({
      kind: 'jti',
      jti: 'long',
      expiresAtSec: now + 7200 + REVOCATION_GRACE_SEC,
    })
    const absurd = idp.mint({ jti: 'absurd', iat: now, exp: now + 50 * 365 * 86_400 })
    expect(jtiEntry(absurd, 3600, now).expiresAtSec).toBe(now + 365 * 86_400 + REVOCATION_GRACE_SEC)
    expect(jtiEntry('bare-id', 3600, now).expiresAtSec).toBe(now + 3600 + REVOCATION_GRACE_SEC)
  })

  it('MemoryRevocationStore: exp = now + 2 h under maxTokenLifetimeSec 1 h, 67 minutes later', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const store = new MemoryRevocationStore({ maxTokenLifetimeSec: 3600 })
    const verify = jwksVerifier(store)
    const token = idp.mint({ sub: 'alice', jti: 'j-long' }, { expiresInSec: 7200 })
    store.revokeToken(token)
    vi.setSystemTime(Date.now() + 67 * 60_000)
    await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' })
  })

  it('RedisRevocationStore: the same, on this instance and on one started later', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const first = redisStore({ maxTokenLifetimeSec: 3600 })
    await first.ready()
    const iat = nowSec()
    const token = idp.mint({ sub: 'alice', jti: 'j-long-redis', iat, exp: iat + 7200 })
    await first.revokeToken(token)
    vi.setSystemTime(Date.now() + 67 * 60_000)
    const claims = { sub: 'alice', jti: 'j-long-redis', iat, exp: iat + 7200 }
    expect(first.isRevoked(verified(claims))).toBe(true)
    const later = redisStore({ maxTokenLifetimeSec: 3600 })
    await later.ready()
    expect(later.isRevoked(verified(claims))).toBe(true)
  })

  it('RedisRevocationStore warns once of a token outliving maxTokenLifetimeSec, and accepts it', async () => {
    const { logger, warnings } = logSink()
    const store = redisStore({ maxTokenLifetimeSec: 3600, logger })
    await store.ready()
    const now = nowSec()
    expect(store.isRevoked(verified({ sub: 'bob', iat: now, exp: now + 3000 }))).toBe(false)
    expect(warnings()).toEqual([])
    expect(store.isRevoked(verified({ sub: 'bob', iat: now, exp: now + 7200 }))).toBe(false)
    expect(store.isRevoked(verified({ sub: 'bob', exp: now + 7200 }))).toBe(false)
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]!.msg).toMatch(/subject revocations may end before such tokens expire/)
    expect(warnings()[0]!.msg).toMatch(/raise maxTokenLifetimeSec/)
  })

  it('a token without iat is timed from now', async () => {
    const { logger, warnings } = logSink()
    const store = redisStore({ maxTokenLifetimeSec: 3600, logger })
    await store.ready()
    expect(store.isRevoked(verified({ sub: 'bob', exp: nowSec() + 7200 }))).toBe(false)
    expect(warnings()).toHaveLength(1)
  })

  it('MemoryRevocationStore warns once (a process warning), and accepts the token', async () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const store = new MemoryRevocationStore({ maxTokenLifetimeSec: 3600 })
    const verify = jwksVerifier(store)
    expect((await verify(idp.mint({ sub: 'bob' }, { expiresInSec: 3000 }))).id).toBe('bob')
    expect(emitted).not.toHaveBeenCalled()
    expect((await verify(idp.mint({ sub: 'bob' }, { expiresInSec: 7200 }))).id).toBe('bob')
    expect((await verify(idp.mint({ sub: 'eve' }, { expiresInSec: 9000 }))).id).toBe('eve')
    expect(emitted).toHaveBeenCalledTimes(1)
    expect(String(emitted.mock.calls[0]![0])).toMatch(/raise maxTokenLifetimeSec/)
    expect(emitted.mock.calls[0]![1]).toMatchObject({ code: 'OIDC_GUARD_REVOCATION_LIFETIME' })
  })
})

describe('defect 3: Redis URLs ioredis cannot use are refused at construction', () => {
  const bad = [
    [
      'a database path that is not a number',
      'redis://:s3cret@127.0.0.1:6379/abc',
      /database by number/,
    ],
    [
      'a password that is not percent-encoding',
      'redis://:s3%ZZcret@127.0.0.1:6379',
      /percent-encode/,
    ],
    [
      'a user that is not percent-encoding',
      'redis://ad%E0min:s3cret@127.0.0.1:6379',
      /percent-encode/,
    ],
    [
      'a db query parameter that is not a number',
      'redis://:s3cret@127.0.0.1:6379?db=x',
      /database by number/,
    ],
    ['a nested path', 'redis://:s3cret@127.0.0.1:6379/2/3', /database by number/],
  ] as const

  it.each(bad)('from code: %s', (_name, url, message) => {
    for (const build of [
      () => new RedisRevocationStore({ url }),
      () => new RedisSharedCache({ url }),
    ]) {
      const problems = problemsOf(build)
      expect(problems.join('\n')).toMatch(message)
      expect(problems.join('\n')).toMatch(/^url /)
      expect(problems.join('\n')).not.toContain('s3')
    }
  })

  it.each(bad)('from AUTH_REDIS_URL: %s', (_name, url, message) => {
    const problems = problemsOf(() => fromEnv({ AUTH_REDIS_URL: url, AUTH_REVOCATION: 'redis' }))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/^AUTH_REDIS_URL /)
    expect(problems[0]).toMatch(message)
    expect(problems[0]).not.toContain('s3')
  })

  it('a database number (/2), an empty path or / still work', async () => {
    for (const url of [`${REDIS_URL}/2`, `${REDIS_URL}/`, `${REDIS_URL}/?db=2`]) {
      expect(() => new RedisRevocationStore({ url, prefix: PREFIX }).close()).not.toThrow()
    }
    const store = redisStore({ url: `${REDIS_URL}/2` })
    await store.ready()
    await store.revokeSubject(idp.issuer, 'db2-user')
    await admin.select(2)
    expect(await admin.exists(`${PREFIX}revocations`)).toBe(1)
    await admin.select(0)
    expect(await admin.exists(`${PREFIX}revocations`)).toBe(0)
    const options = fromEnv({ AUTH_REDIS_URL: `${REDIS_URL}/2`, AUTH_REVOCATION: 'redis' })
    const fromEnvStore = options.revocation as RedisRevocationStore
    stores.push(fromEnvStore)
    expect(fromEnvStore).toBeInstanceOf(RedisRevocationStore)
  })
})

function fromEnv(vars: Env) {
  const registry = { providers: [jwksEnv], sources: [], options: [redisEnv] }
  return buildFromEnv(
    registry,
    {
      AUTH_PROVIDER: 'jwks',
      AUTH_PROVIDER_ISSUER: idp.issuer,
      AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
      AUTH_PROVIDER_AUDIENCE: idp.audience,
      AUTH_REDIS_PREFIX: PREFIX,
      AUTH_REDIS_SOURCE_CACHE: 'false',
      ...vars,
    },
    { logger: pino({ enabled: false }) },
  )
}

function problemsOf(build: () => unknown): string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).not.toContain('s3')
    return [...(error as ConfigError).problems]
  }
  return expect.unreachable('expected a ConfigError')
}

function markdownUnder(dir: string): string[] {
  return filesUnder(dir).filter((file) => file.endsWith('.md'))
}

function sourcesUnder(dir: string): string[] {
  return filesUnder(dir).filter((file) => file.endsWith('.ts'))
}

function filesUnder(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
}

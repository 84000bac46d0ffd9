// Revocation, found in the tenth review: revokeToken refuses what no token carries (an Authorization
// header's value, whitespace, a refresh token, megabytes) instead of storing it, Entra ID's tokens
// are revoked by their `uti`, a hung store's promise is bounded, a `before` ahead of now covers an
// IdP clock running ahead (within bounds), the memory store refuses misspelt options, and a Redis
// store that cannot answer says why.

import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { EntraIdProvider } from '../../providers/entra-id/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { RedisRevocationStore } from '../../providers/redis/index.js'
import { LocalRevocations } from '../../providers/redis/local-revocations.js'
import {
  ConfigError,
  createVerifier,
  MemoryRevocationStore,
  UnavailableError,
  type RevocationStore,
  type VerifiedToken,
} from '../../src/index.js'
import { silentLogger } from '../../src/logger.js'
import { askStore, StoreFailureLog } from '../../src/revocation-answer.js'
import { createTestIssuer, type EntraTestIssuer, type TestIssuer } from '../../src/testing.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'
import { startTcpProxy } from '../helpers/sql.js'

const REDIS = new URL(REDIS_URL)
const PREFIX = `r10fix:revoke:${process.pid}:${randomBytes(4).toString('hex')}:`

let idp: TestIssuer
let tenant: EntraTestIssuer
let admin: Redis
const closers: Array<() => Promise<void> | void> = []

beforeAll(async () => {
  admin = await connectTestRedis()
  idp = await createTestIssuer({ listen: false, issuer: 'https://revoke10.example' })
  tenant = await createTestIssuer({ kind: 'entra-id' })
})

afterEach(async () => {
  vi.useRealTimers()
  for (const close of closers.splice(0).reverse()) await close()
  await deleteKeys(admin, PREFIX)
})

afterAll(async () => {
  admin.disconnect()
  await Promise.all([idp.close(), tenant.close()])
})

function verifierOf(revocation: RevocationStore) {
  const provider = new JwksProvider(idp.providerOptions)
  return createVerifier({ provider, revocation, logger: false })
}

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'pass',
    (error: { code?: string }) => error.code,
  )

const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))

const verified = (claims: Record<string, unknown>): VerifiedToken => ({
  token: 't',
  header: { alg: 'RS256' },
  claims: { iss: idp.issuer, sub: 's', ...claims },
})

function redisStore(options: { url?: string; timeoutMs?: number } = {}): RedisRevocationStore {
  const store = new RedisRevocationStore({ url: REDIS_URL, prefix: PREFIX, ...options })
  closers.push(() => store.close())
  return store
}

describe('revokeToken refuses a value no token carries, rather than store it', () => {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  // The shape of a Cognito refresh token: a compact JWE, five segments.
  const jwe = [
    b64({ cty: 'JWT', enc: 'A256GCM', alg: 'RSA-OAEP' }),
    'a'.repeat(342),
    'b'.repeat(16),
    'c'.repeat(800),
    'd'.repeat(22),
  ].join('.')

  it.each([
    ['an Authorization header value', (t: string) => `Bearer ${t}`, /without its 'Bearer ' prefix/],
    ['a lower-case bearer prefix', (t: string) => `bearer ${t}`, /without its 'Bearer ' prefix/],
    ['a trailing line break', (t: string) => `${t}\n`, /whitespace/],
    ['a leading space', (t: string) => ` ${t}`, /whitespace/],
    ['a jti with a space', () => 'a jti', /whitespace/],
  ])('%s: a TypeError, nothing stored, the token still passes', async (_name, wrap, message) => {
    const store = new MemoryRevocationStore()
    const token = idp.mint({ sub: 'x' })
    expect(() => store.revokeToken(wrap(token))).toThrow(TypeError)
    expect(() => store.revokeToken(wrap(token))).toThrow(message)
    expect(store.size).toBe(0)
    expect(await outcome(verifierOf(store)(token))).toBe('pass')
  })

  it('a refresh token (compact JWE): a TypeError saying to revoke it at the identity provider', () => {
    const store = new MemoryRevocationStore()
    expect(() => store.revokeToken(jwe)).toThrow(
      'a refresh token (JWE) cannot be revoked here: revoke it at the identity provider',
    )
    expect(() => redisStore().revokeToken(jwe)).toThrow(TypeError)
    expect(store.size).toBe(0)
  })

  it('still takes an id of five dotted parts as the id it is', () => {
    const store = new MemoryRevocationStore()
    store.revokeToken('1.2.3.4.5')
    expect(store.isRevoked(verified({ jti: '1.2.3.4.5' }))).toBe(true)
  })

  it('refuses a jti, issuer or subject longer than the longest token accepted (16 KiB)', () => {
    const store = new MemoryRevocationStore()
    const long = 'j'.repeat(16 * 1024 + 1)
    expect(() => store.revokeToken(long)).toThrow(/16384/)
    expect(() => store.revokeSubject(idp.issuer, long)).toThrow(TypeError)
    expect(() => store.revokeSubject(long, 'alice')).toThrow(TypeError)
    expect(store.size).toBe(0)
    store.revokeToken('j'.repeat(16 * 1024))
    expect(store.size).toBe(1)
  })

  it('the Redis store refuses it synchronously, before anything reaches Redis', () => {
    const store = redisStore()
    expect(() => store.revokeToken('j'.repeat(40 * 1024 * 1024))).toThrow(TypeError)
    expect(() => store.revokeSubject(idp.issuer, 's'.repeat(20_000))).toThrow(TypeError)
    expect(store.size).toBe(0)
  })
})

describe("Entra ID's access tokens, which carry uti and no jti", () => {
  it('revokeToken(token) revokes it by its uti, through the verifier', async () => {
    const token = tenant.mint({}, { preset: 'v2' })
    expect(claimsOf(token)['jti']).toBeUndefined()
    const store = new MemoryRevocationStore()
    const verify = createVerifier({
      provider: new EntraIdProvider(tenant.providerOptions),
      revocation: store,
      logger: false,
    })
    expect(await outcome(verify(token))).toBe('pass')
    store.revokeToken(token)
    expect(await outcome(verify(token))).toBe('ERR_AUTH_TOKEN_REVOKED')
    expect(await outcome(verify(tenant.mint({}, { preset: 'v2' })))).toBe('pass')
  })

  it('revokeToken(uti) revokes the token bearing it; a token with a jti too is revoked by its jti', () => {
    const store = new MemoryRevocationStore()
    store.revokeToken('the-uti')
    expect(store.isRevoked(verified({ uti: 'the-uti' }))).toBe(true)
    expect(store.isRevoked(verified({ jti: 'its-jti', uti: 'the-uti' }))).toBe(false)
    const both = new MemoryRevocationStore()
    both.revokeToken(idp.mint({ jti: 'its-jti', uti: 'other-uti' }))
    expect(both.isRevoked(verified({ jti: 'its-jti' }))).toBe(true)
    expect(both.isRevoked(verified({ uti: 'other-uti' }))).toBe(false)
  })

  it("the Redis store's copy checks the uti of a token without jti", () => {
    const local = new LocalRevocations()
    local.add({ kind: 'jti', jti: 'the-uti', expiresAtSec: Date.now() / 1000 + 600 }, 0)
    const now = () => Date.now() / 1000
    expect(local.isRevoked({ iss: 'i', sub: 's', uti: 'the-uti' }, now)).toBe(true)
    expect(local.isRevoked({ iss: 'i', sub: 's', jti: 'x', uti: 'the-uti' }, now)).toBe(false)
  })

  it('a revocation on one Redis instance refuses the token on another', async () => {
    const [first, second] = [redisStore(), redisStore()]
    await Promise.all([first.ready(), second.ready()])
    const token = tenant.mint({}, { preset: 'v2' })
    await first.revokeToken(token)
    await vi.waitFor(() => expect(second.size).toBe(1))
    expect(second.isRevoked({ token, header: { alg: 'RS256' }, claims: claimsOf(token) })).toBe(
      true,
    )
  })
})

describe("a store's promise is bounded (askStore)", () => {
  const hung: RevocationStore = { isRevoked: () => new Promise<boolean>(() => undefined) }
  const log = () => new StoreFailureLog(silentLogger)

  it('answers 503 ERR_AUTH_REVOCATION_UNAVAILABLE, naming the time-out, past the limit', async () => {
    vi.useFakeTimers()
    const answer = askStore(hung, verified({}), log(), 250) as Promise<boolean>
    const settled = answer.then(
      () => 'resolved',
      (error: unknown) => error,
    )
    await vi.advanceTimersByTimeAsync(250)
    const error = (await settled) as UnavailableError
    expect(error).toBeInstanceOf(UnavailableError)
    expect(error.code).toBe('ERR_AUTH_REVOCATION_UNAVAILABLE')
    expect(String((error.cause as Error).message)).toMatch(/did not answer within 250 ms/)
  })

  it('waits 5 s by default, and leaves no timer behind an answer', async () => {
    vi.useFakeTimers()
    const settled = (askStore(hung, verified({}), log()) as Promise<boolean>).catch(
      (error: UnavailableError) => error.code,
    )
    await vi.advanceTimersByTimeAsync(4_999)
    expect(vi.getTimerCount()).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(await settled).toBe('ERR_AUTH_REVOCATION_UNAVAILABLE')
    const answered = askStore({ isRevoked: async () => true }, verified({}), log(), 1_000)
    expect(await answered).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('starts no timer for a synchronous answer (the hot path)', () => {
    vi.useFakeTimers()
    expect(askStore({ isRevoked: () => false }, verified({}), log(), 1_000)).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('revokeSubject and an IdP clock running ahead', () => {
  const nowSec = () => Math.floor(Date.now() / 1000)

  it('a before ahead of now covers a token the IdP stamped a few seconds ahead', async () => {
    const store = new MemoryRevocationStore()
    const verify = verifierOf(store)
    // Issued just before the logout by an IdP whose clock runs 4 s ahead.
    const token = idp.mint({ sub: 'alice', iat: nowSec() + 2, exp: nowSec() + 3602 })
    store.revokeSubject(idp.issuer, 'alice', { before: new Date(Date.now() + 5_000) })
    expect(await outcome(verify(token))).toBe('ERR_AUTH_TOKEN_REVOKED')
  })

  it('refuses a before more than the largest clock tolerance (300 s) ahead', () => {
    const store = new MemoryRevocationStore()
    const later = new Date(Date.now() + 3_600_000)
    expect(() => store.revokeSubject(idp.issuer, 'alice', { before: later })).toThrow(
      /ahead of now, more than 300 s/,
    )
    expect(() => redisStore().revokeSubject(idp.issuer, 'alice', { before: later })).toThrow(
      TypeError,
    )
    expect(store.size).toBe(0)
  })
})

describe('MemoryRevocationStore refuses option names it does not know', () => {
  it.each([
    [{ maxTokenLifetimeSecs: 3600 }, /did you mean maxTokenLifetimeSec\?/],
    [{ maxTokenLifetime: 3600 }, /did you mean maxTokenLifetimeSec\?/],
    [{ onRevocationStoreDown: 'fail-open' }, /"onRevocationStoreDown" is not an option/],
  ])('%j: a ConfigError', (options, message) => {
    const build = () => new MemoryRevocationStore(options as never)
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(message)
  })

  it('still takes maxTokenLifetimeSec, and lists every problem at once', () => {
    expect(new MemoryRevocationStore({ maxTokenLifetimeSec: 60 }).size).toBe(0)
    const attempt = () => new MemoryRevocationStore({ maxTokenLifetimeSec: -1, typo: 1 } as never)
    expect(attempt).toThrow(ConfigError)
    try {
      attempt()
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2)
    }
  })
})

describe('a Redis store that cannot answer says why', () => {
  it("its 503 has a cause naming the link's last error", async () => {
    const proxy = await startTcpProxy({ host: REDIS.hostname, port: Number(REDIS.port || 6379) })
    closers.push(() => proxy.close())
    proxy.cut('reset')
    const store = redisStore({ url: `redis://:s3cret@127.0.0.1:${proxy.port}`, timeoutMs: 200 })
    const starting = await (store.isRevoked(verified({})) as Promise<boolean>).catch(
      (error: UnavailableError) => error,
    )
    expect(starting).toBeInstanceOf(UnavailableError)
    const cause = String(((starting as UnavailableError).cause as Error | undefined)?.message)
    expect(cause).toMatch(/could not be loaded from redis in time \(.+\)/)
    expect(cause).not.toContain('s3cret')
    await vi.waitFor(() => expect(store.health().detail).toMatch(/unreachable/))
    const down = await (store.isRevoked(verified({})) as Promise<boolean>).catch(
      (error: UnavailableError) => error,
    )
    expect(String(((down as UnavailableError).cause as Error | undefined)?.message)).toMatch(
      /^redis unreachable \(.+\)$/,
    )
  })
})

describe('the docs show a logout-everywhere that survives Express 4 while Redis is down', () => {
  const block = (text: string, start: string) => text.slice(text.indexOf(start)).slice(0, 600)

  it.each([
    ['docs/scaling.md', "app.post('/logout-everywhere'"],
    ['providers/redis/revocation-store.ts', " * app.post('/logout-everywhere'"],
  ])('%s catches revokeSubject’s rejection and hands it to next()', (file, start) => {
    const example = block(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'), start)
    expect(example).toContain('async (req, res, next)')
    expect(example).toMatch(/catch \(error\) \{\s*(?:\* )?\s*next\(error\)/)
  })

  it('scaling.md tells the revocation script as it runs: ZADD first, undone when PUBLISH fails', () => {
    const text = readFileSync(new URL('../../docs/scaling.md', import.meta.url), 'utf8')
    expect(text).not.toContain('The message goes first')
    expect(text).toMatch(/written first \(`ZADD`\)/)
  })
})

// RedisRevocationStore against the real Redis: shared between instances, answered locally,
// reloaded after an outage, and failing closed (or open, when asked) while Redis is away.

import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  RedisRevocationStore,
  type RedisRevocationStoreOptions,
} from '../../providers/redis/index.js'
import { ConfigError, type VerifiedToken } from '../../src/index.js'
import { REVOCATION_GRACE_SEC } from '../../src/revocation-entries.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'
import { startTcpProxy, type TcpProxy } from '../helpers/sql.js'

const REDIS = new URL(REDIS_URL)
const PREFIX = `oidc-guard-test:revocation:${process.pid}:${randomBytes(4).toString('hex')}:`

let idp: TestIssuer
let admin: Redis
const stores: RedisRevocationStore[] = []

/** A store on this file's prefix, closed after the test. */
function store(options: Partial<RedisRevocationStoreOptions> = {}): RedisRevocationStore {
  const created = new RedisRevocationStore({ url: REDIS_URL, prefix: PREFIX, ...options })
  stores.push(created)
  return created
}

function verified(claims: Record<string, unknown>): VerifiedToken {
  return { token: 't', header: { alg: 'RS256' }, claims: { iss: idp.issuer, ...claims } }
}

const nowSec = () => Math.floor(Date.now() / 1000)

beforeAll(async () => {
  admin = await connectTestRedis()
  idp = await createTestIssuer({ listen: false, issuer: 'https://revoke-redis.example' })
})

afterEach(async () => {
  await Promise.all(stores.splice(0).map((created) => created.close()))
  await deleteKeys(admin, PREFIX)
})

afterAll(async () => {
  admin.disconnect()
  await idp.close()
})

describe('RedisRevocationStore', () => {
  it('refuses invalid options together, never echoing the URL', () => {
    const attempt = () =>
      new RedisRevocationStore({
        url: 'http://user:s3cret@cache:6379',
        timeoutMs: 0,
        maxTokenLifetimeSec: -1,
        onRevocationStoreDown: 'maybe' as 'fail-open',
      })
    expect(attempt).toThrow(ConfigError)
    try {
      attempt()
    } catch (error) {
      const problems = (error as ConfigError).problems
      expect(problems).toHaveLength(4)
      expect(problems.join('\n')).not.toContain('s3cret')
      expect(problems.join('\n')).toMatch(/url must be a redis:\/\/ or rediss:\/\/ URL/)
    }
    expect(() => new RedisRevocationStore({})).toThrow(/url .* or client .* is required/)
    expect(() => new RedisRevocationStore({ url: REDIS_URL, client: admin })).toThrow(
      /either url or client/,
    )
    expect(() => store().revokeToken('')).toThrow(TypeError)
    expect(() => store().revokeSubject(idp.issuer, 'x', { before: new Date('no') })).toThrow(
      TypeError,
    )
  })

  it('answers synchronously once in step, and refuses what another instance revoked', async () => {
    const one = store()
    const two = store()
    await Promise.all([one.ready(), two.ready()])
    const token = idp.mint({ sub: 'alice', jti: 'j-1' })
    const claims = verified({ sub: 'alice', jti: 'j-1', iat: nowSec() })
    expect(two.isRevoked(claims)).toBe(false) // a boolean, not a promise: no round trip
    await one.revokeToken(token)
    expect(one.isRevoked(claims)).toBe(true) // the revoking instance knows at once
    await vi.waitFor(() => expect(two.isRevoked(claims)).toBe(true))
    expect(two.isRevoked(verified({ sub: 'alice', jti: 'j-2' }))).toBe(false)
    expect(one.health()).toEqual({ ok: true, detail: 'redis: in step, 1 revocations' })
  })

  it('matches a revoked id against jti and origin_jti', async () => {
    const one = store()
    await one.ready()
    await one.revokeToken('refresh-family-7')
    expect(one.isRevoked(verified({ sub: 'a', origin_jti: 'refresh-family-7' }))).toBe(true)
    expect(one.isRevoked(verified({ sub: 'a', jti: 'refresh-family-7' }))).toBe(true)
    expect(one.isRevoked(verified({ sub: 'a', jti: 'other', origin_jti: 'other-family' }))).toBe(
      false,
    )
  })

  it('revokes a subject’s tokens issued before T, not later ones nor other subjects', async () => {
    const one = store()
    const two = store()
    await Promise.all([one.ready(), two.ready()])
    const before = new Date((nowSec() - 30) * 1000)
    await one.revokeSubject(idp.issuer, 'bob', { before })
    await vi.waitFor(() => expect(two.size).toBe(1))
    expect(two.isRevoked(verified({ sub: 'bob', iat: nowSec() - 60 }))).toBe(true)
    expect(two.isRevoked(verified({ sub: 'bob' }))).toBe(true) // no iat: its age cannot be told
    expect(two.isRevoked(verified({ sub: 'bob', iat: nowSec() - 10 }))).toBe(false)
    expect(two.isRevoked(verified({ sub: 'carol', iat: nowSec() - 60 }))).toBe(false)
    expect(two.isRevoked(verified({ iss: 'https://other.example', sub: 'bob', iat: 1 }))).toBe(
      false,
    )
    // An earlier instant revoked afterwards does not shorten the later one.
    await one.revokeSubject(idp.issuer, 'bob', { before: new Date((nowSec() - 3600) * 1000) })
    expect(one.isRevoked(verified({ sub: 'bob', iat: nowSec() - 60 }))).toBe(true)
  })

  it('an instance started later loads the revocations made before it', async () => {
    const first = store()
    await first.revokeToken('early')
    await first.revokeSubject(idp.issuer, 'dave')
    const late = store()
    // Before its copy is loaded, the answer waits for it rather than guessing.
    const pending = late.isRevoked(verified({ sub: 'x', jti: 'early' }))
    expect(pending).toBeInstanceOf(Promise)
    expect(await pending).toBe(true)
    expect(late.isRevoked(verified({ sub: 'dave', iat: nowSec() - 1 }))).toBe(true)
    expect(late.size).toBe(2)
  })

  it('keeps each entry until the tokens it covers have expired, then drops it', async () => {
    const one = store({ maxTokenLifetimeSec: 3600 })
    const exp = nowSec() + 120
    await one.revokeToken(idp.mint({ sub: 'e', jti: 'short-lived', exp }))
    const key = `${PREFIX}revocations`
    const [member, score] = await admin.zrange(key, '0', '-1', 'WITHSCORES')
    expect(JSON.parse(member!)).toEqual(['j', 'short-lived'])
    // The token's own exp, not the longest lifetime, plus the grace that covers clock tolerance.
    expect(Number(score)).toBe(exp + REVOCATION_GRACE_SEC)
    await one.revokeSubject(idp.issuer, 'f')
    // No TTL on the set, which an eviction policy of volatile-* would then pick (review 8).
    expect(await admin.ttl(key)).toBe(-1)
    // Entries that ended are dropped by the next write.
    await admin.zadd(key, nowSec() - 5, JSON.stringify(['j', 'ended']))
    await one.revokeToken('another')
    expect(await admin.zscore(key, JSON.stringify(['j', 'ended']))).toBeNull()
  })

  it('forgets a revocation once the token it covers has expired', async () => {
    const one = store({ maxTokenLifetimeSec: 60 })
    await one.ready()
    await one.revokeToken('brief')
    vi.useFakeTimers({ toFake: ['Date'] })
    const start = Date.now()
    // Past the lifetime but inside the grace, a verifier with clock tolerance may still accept it.
    vi.setSystemTime(start + 61_000)
    expect(one.isRevoked(verified({ sub: 'g', jti: 'brief' }))).toBe(true)
    vi.setSystemTime(start + (61 + REVOCATION_GRACE_SEC) * 1000)
    expect(one.isRevoked(verified({ sub: 'g', jti: 'brief' }))).toBe(false)
  })

  it('ignores malformed messages and entries, and other prefixes', async () => {
    const one = store()
    const elsewhere = new RedisRevocationStore({ url: REDIS_URL, prefix: `${PREFIX}other:` })
    stores.push(elsewhere)
    await Promise.all([one.ready(), elsewhere.ready()])
    for (const junk of [
      '',
      'nonsense',
      '99 not-json',
      `${nowSec() + 60} ["x","y"]`,
      `NaN ["j","z"]`,
    ]) {
      await admin.publish(`${PREFIX}revocations`, junk)
    }
    await admin.zadd(`${PREFIX}revocations`, nowSec() + 60, '{"not":"an entry"}')
    await one.revokeToken('real')
    await vi.waitFor(() => expect(one.size).toBe(1))
    expect(elsewhere.isRevoked(verified({ sub: 'h', jti: 'real' }))).toBe(false)
    const late = store()
    await late.ready()
    expect(late.size).toBe(1)
  })

  it('works over a client the application owns, and leaves it open on close', async () => {
    const client = new Redis(REDIS_URL)
    try {
      const owned = new RedisRevocationStore({ client, prefix: PREFIX })
      await owned.ready()
      await owned.revokeToken('through-the-app-client')
      expect(owned.isRevoked(verified({ sub: 'm', jti: 'through-the-app-client' }))).toBe(true)
      await owned.close()
      expect(await client.ping()).toBe('PONG')
    } finally {
      client.disconnect()
    }
  })

  it('fails closed at start when Redis cannot be reached', async () => {
    const proxy = await startTcpProxy({ host: REDIS.hostname, port: Number(REDIS.port || 6379) })
    try {
      proxy.cut('reset')
      const lines: string[] = []
      const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
      const unreachable = store({ url: `redis://127.0.0.1:${proxy.port}`, timeoutMs: 200, logger })
      await expect(unreachable.isRevoked(verified({ sub: 'i' }))).rejects.toMatchObject({
        status: 503,
        code: 'ERR_AUTH_REVOCATION_UNAVAILABLE',
        description: 'revocation store unavailable',
      })
      await expect(unreachable.ready(200)).rejects.toThrow(/not reachable/)
      expect(unreachable.health().ok).toBe(false)
      await expect(unreachable.revokeToken('while-down')).rejects.toThrow(/this instance only/)
      // …but this instance refuses it anyway.
      expect(await unreachable.isRevoked(verified({ sub: 'i', jti: 'while-down' }))).toBe(true)
      expect(lines.filter((line) => line.includes('unreachable'))).toHaveLength(1)
    } finally {
      await proxy.close()
    }
  })
})

describe('RedisRevocationStore when Redis goes away mid-run', () => {
  let proxy: TcpProxy

  beforeAll(async () => {
    proxy = await startTcpProxy({ host: REDIS.hostname, port: Number(REDIS.port || 6379) })
  })

  afterEach(() => proxy.restore())

  afterAll(() => proxy.close())

  function cutOff(options: Partial<RedisRevocationStoreOptions> = {}) {
    const lines: string[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
    const cut = store({
      url: `redis://127.0.0.1:${proxy.port}`,
      timeoutMs: 300,
      logger,
      ...options,
    })
    return { cut, lines }
  }

  it('fail-closed: 503 while away, one warning, then reloads what was revoked meanwhile', async () => {
    const { cut, lines } = cutOff()
    const direct = store()
    await Promise.all([cut.ready(), direct.ready()])
    await direct.revokeToken('before-outage')
    await vi.waitFor(() => expect(cut.size).toBe(1))

    proxy.cut('reset')
    await vi.waitFor(() => expect(cut.health().ok).toBe(false))
    expect(cut.health().detail).toMatch(/redis unreachable .*failing closed: answering 503/)
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await expect(cut.isRevoked(verified({ sub: 'j' }))).rejects.toMatchObject({
        status: 503,
        code: 'ERR_AUTH_REVOCATION_UNAVAILABLE',
      })
    }
    await direct.revokeToken('during-outage') // published while the cut instance cannot hear it

    proxy.restore()
    await cut.ready(5_000)
    expect(cut.isRevoked(verified({ sub: 'j', jti: 'during-outage' }))).toBe(true)
    expect(cut.isRevoked(verified({ sub: 'j', jti: 'before-outage' }))).toBe(true)
    expect(cut.isRevoked(verified({ sub: 'j', jti: 'never' }))).toBe(false)
    expect(lines.filter((line) => line.includes('unreachable'))).toHaveLength(1)
    expect(lines.filter((line) => line.includes('back in step'))).toHaveLength(1)
  })

  it('fail-open: answers from the revocations it knows while away', async () => {
    const { cut } = cutOff({ onRevocationStoreDown: 'fail-open' })
    await cut.ready()
    await cut.revokeToken('known')
    proxy.cut('reset')
    await vi.waitFor(() => expect(cut.health().detail).toMatch(/failing open/))
    expect(cut.health().ok).toBe(true)
    expect(cut.isRevoked(verified({ sub: 'k', jti: 'known' }))).toBe(true)
    expect(cut.isRevoked(verified({ sub: 'k', jti: 'unknown' }))).toBe(false)
    proxy.restore()
    await cut.ready(5_000)
  })

  it('notices a network that drops packets silently, through its heartbeat', async () => {
    const { cut, lines } = cutOff({ heartbeatMs: 50, timeoutMs: 150 })
    await cut.ready()
    proxy.cut('blackhole')
    await vi.waitFor(() => expect(cut.health().ok).toBe(false), { timeout: 5_000 })
    await expect(cut.isRevoked(verified({ sub: 'l' }))).rejects.toMatchObject({ status: 503 })
    proxy.restore()
    await cut.ready(5_000)
    expect(cut.isRevoked(verified({ sub: 'l' }))).toBe(false)
    expect(lines.filter((line) => line.includes('unreachable'))).toHaveLength(1)
  })
})

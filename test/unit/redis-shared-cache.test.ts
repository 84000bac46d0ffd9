// RedisSharedCache against the real Redis: one tier for every instance, invalidation everywhere at
// once, no stale answer put back by a slow load, and the sources answering while Redis is away.

import { randomBytes } from 'node:crypto'
import { serialize } from 'node:v8'
import type { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { RedisSharedCache, type RedisSharedCacheOptions } from '../../providers/redis/index.js'
import { ConfigError } from '../../src/index.js'
import { Enrichment } from '../../src/enrichment.js'
import { silentLogger, type Logger } from '../../src/logger.js'
import { User, type UserSources } from '../../src/user.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'
import { startTcpProxy, type TcpProxy } from '../helpers/sql.js'

const REDIS = new URL(REDIS_URL)
const PREFIX = `oidc-guard-test:cache:${process.pid}:${randomBytes(4).toString('hex')}:`
const ISSUER = 'https://cache.example'

let admin: Redis
const tiers: RedisSharedCache[] = []

function tier(options: Partial<RedisSharedCacheOptions> = {}): RedisSharedCache {
  const created = new RedisSharedCache({ url: REDIS_URL, prefix: PREFIX, ...options })
  tiers.push(created)
  return created
}

/** One instance: its in-process tier over a shared one. */
function instance(shared: RedisSharedCache, logger: Logger = silentLogger) {
  const enrichment = new Enrichment({ sourceCache: { ttlMs: 60_000, shared } }, logger)
  return {
    enrichment,
    groupsOf: (sources: UserSources, subject = 'alice') =>
      new User(
        { provider: 't', claims: { iss: ISSUER, sub: subject }, token: 't' },
        { id: subject },
        enrichment.wrap(sources),
      ).groups,
  }
}

/** A source whose answer the test changes, counting its calls. */
function directory(initial: string[]) {
  const state = { groups: initial, calls: 0, down: false }
  const source = {
    fetchGroups: () => {
      state.calls += 1
      if (state.down) throw new Error('directory down')
      return state.groups
    },
  }
  return { state, source }
}

const groupsKey = (subject: string) => `groups\n${ISSUER}\n${subject}`

beforeAll(async () => {
  admin = await connectTestRedis()
})

afterEach(async () => {
  await Promise.all(tiers.splice(0).map((created) => created.close()))
  await deleteKeys(admin, PREFIX)
})

afterAll(async () => {
  // Answers are written without being awaited (by design): one may land after a test's clean-up.
  await deleteKeys(admin, PREFIX)
  admin.disconnect()
})

describe('RedisSharedCache', () => {
  it('refuses invalid options, never echoing the URL', () => {
    expect(
      () => new RedisSharedCache({ url: 'redis//:pw@nowhere', prefix: 7 as unknown as string }),
    ).toThrow(ConfigError)
    try {
      new RedisSharedCache({ url: 'https://:hunter2@cache' })
    } catch (error) {
      expect((error as ConfigError).problems.join()).not.toContain('hunter2')
    }
    expect(() => tier().invalidateUser('', 'x')).toThrow(TypeError)
  })

  it('stores answers with the cache TTL, for every instance', async () => {
    const one = tier()
    const two = tier()
    const read = {} // the load's own, as the core passes it
    expect(await one.get(groupsKey('alice'), read)).toBeUndefined()
    await one.set(groupsKey('alice'), ['ops'], 30_000, read)
    expect(await two.get(groupsKey('alice'))).toEqual(['ops'])
    const pttl = await admin.pttl(`${PREFIX}cache:v:${groupsKey('alice')}`)
    expect(pttl).toBeGreaterThan(29_000)
    expect(pttl).toBeLessThanOrEqual(30_000)
  })

  it('getEntry tells how long an answer has left in Redis', async () => {
    const one = tier()
    const read = {}
    expect(await one.getEntry(groupsKey('alice'), read)).toBeUndefined()
    await one.set(groupsKey('alice'), ['ops'], 30_000, read)
    const entry = await tier().getEntry(groupsKey('alice'))
    expect(entry?.value).toEqual(['ops'])
    expect(entry?.remainingMs).toBeGreaterThan(29_000)
    expect(entry?.remainingMs).toBeLessThanOrEqual(30_000)
  })

  it('an answer read late from Redis is kept in-process only for what it has left there', async () => {
    let now = 1_000
    const clock = { now: () => now }
    const { state, source } = directory(['fresh'])
    const shared = tier()
    await shared.ready()
    // Another instance stored 'stale' a while ago: one second is left of its TTL in Redis. It was
    // stamped with the key's generation and the epoch, which a first read creates.
    await shared.getEntry(groupsKey('alice'))
    const [g, e] = await admin.mget(
      `${PREFIX}cache:g:${groupsKey('alice')}`,
      `${PREFIX}cache:epoch`,
    )
    await admin.set(
      `${PREFIX}cache:v:${groupsKey('alice')}`,
      `v8:${serialize({ g, e, v: ['stale'] }).toString('base64')}`,
      'PX',
      1_000,
    )
    const enrichment = new Enrichment(
      { sourceCache: { ttlMs: 60_000, shared } },
      silentLogger,
      clock,
    )
    const groupsOf = () =>
      new User(
        { provider: 't', claims: { iss: ISSUER, sub: 'alice' }, token: 't' },
        { id: 'alice' },
        enrichment.wrap({ groups: source }),
      ).groups
    expect(await groupsOf()).toEqual(['stale'])
    await admin.del(`${PREFIX}cache:v:${groupsKey('alice')}`) // gone from Redis, as it would be
    now += 500
    expect(await groupsOf()).toEqual(['stale'])
    expect(state.calls).toBe(0)
    now += 501 // past the second it had left: not a whole new ttlMs here
    expect(await groupsOf()).toEqual(['fresh'])
    expect(state.calls).toBe(1)
  })

  it('an instance that starts later reads what another loaded; the source is asked once', async () => {
    const { state, source } = directory(['ops'])
    const first = instance(tier())
    expect(await first.groupsOf({ groups: source })).toEqual(['ops'])
    await vi.waitFor(async () =>
      expect(await admin.exists(`${PREFIX}cache:v:${groupsKey('alice')}`)).toBe(1),
    )
    const later = instance(tier())
    expect(await later.groupsOf({ groups: source })).toEqual(['ops'])
    expect(state.calls).toBe(1)
  })

  it('forgetting a user on one instance drops it from every instance’s own tier', async () => {
    const { state, source } = directory(['ops', 'admin'])
    const one = instance(tier())
    const two = instance(tier())
    await Promise.all(tiers.map((created) => created.ready()))
    expect(await one.groupsOf({ groups: source })).toEqual(['ops', 'admin'])
    await vi.waitFor(async () =>
      expect(await admin.exists(`${PREFIX}cache:v:${groupsKey('alice')}`)).toBe(1),
    )
    expect(await two.groupsOf({ groups: source })).toEqual(['ops', 'admin']) // now in two's own tier
    expect(two.enrichment.size).toBe(1)

    state.groups = ['ops'] // admin revoked in the directory
    await one.enrichment.forget(ISSUER, 'alice')
    await vi.waitFor(() => expect(two.enrichment.size).toBe(0))
    expect(await two.groupsOf({ groups: source })).toEqual(['ops'])
    expect(await one.groupsOf({ groups: source })).toEqual(['ops'])
  })

  it('invalidateUser works from any process sharing the prefix (an admin tool)', async () => {
    const { state, source } = directory(['reader'])
    const api = instance(tier())
    const adminTool = tier()
    await Promise.all(tiers.map((created) => created.ready()))
    expect(await api.groupsOf({ groups: source }, 'bob')).toEqual(['reader'])
    state.groups = ['writer']
    await adminTool.invalidateUser(ISSUER, 'bob')
    await vi.waitFor(() => expect(api.enrichment.size).toBe(0))
    expect(await api.groupsOf({ groups: source }, 'bob')).toEqual(['writer'])
  })

  it('never puts back an answer loaded before an invalidation', async () => {
    const slow = tier()
    const other = tier()
    const before = {}
    expect(await slow.get(groupsKey('carol'), before)).toBeUndefined() // a load starts…
    await other.invalidate([groupsKey('carol')]) // …carol's rights change meanwhile…
    await slow.set(groupsKey('carol'), ['stale'], 30_000, before) // …and the old answer arrives late
    expect(await other.get(groupsKey('carol'))).toBeUndefined()
    // A load started after the invalidation is stored.
    const after = {}
    expect(await other.get(groupsKey('carol'), after)).toBeUndefined()
    await other.set(groupsKey('carol'), ['fresh'], 30_000, after)
    expect(await slow.get(groupsKey('carol'))).toEqual(['fresh'])
    // An answer never read here has nothing saying it is current: not stored.
    await slow.set(groupsKey('dan'), ['unchecked'], 30_000, {})
    expect(await other.get(groupsKey('dan'))).toBeUndefined()
    // Nor one whose read is not known (no read object): which read it follows is unknown.
    expect(await slow.get(groupsKey('dan'))).toBeUndefined()
    await slow.set(groupsKey('dan'), ['unchecked'], 30_000)
    expect(await other.get(groupsKey('dan'))).toBeUndefined()
  })

  it('treats values it did not write as misses, and ignores junk on the channel', async () => {
    const one = tier()
    await one.ready()
    const received: Array<readonly string[]> = []
    one.onInvalidate((keys) => void received.push(keys))
    await admin.set(`${PREFIX}cache:v:${groupsKey('eve')}`, 'not json')
    expect(await one.get(groupsKey('eve'))).toBeUndefined()
    await admin.set(`${PREFIX}cache:v:${groupsKey('eve')}`, '{"g":3,"v":["old generation"]}')
    expect(await one.get(groupsKey('eve'))).toBeUndefined()
    for (const junk of ['nope', '{"a":1}', '[1,2]'])
      await admin.publish(`${PREFIX}cache-invalidate`, junk)
    await admin.publish(`${PREFIX}cache-invalidate`, JSON.stringify([groupsKey('eve')]))
    await vi.waitFor(() => expect(received).toEqual([[groupsKey('eve')]]))
  })
})

describe('RedisSharedCache when Redis goes away mid-run', () => {
  let proxy: TcpProxy

  beforeAll(async () => {
    proxy = await startTcpProxy({ host: REDIS.hostname, port: Number(REDIS.port || 6379) })
  })

  afterEach(() => proxy.restore())

  afterAll(() => proxy.close())

  it('the sources answer (never a failure, never a grant), then the tier is used again', async () => {
    const lines: string[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
    const cut = tier({ url: `redis://127.0.0.1:${proxy.port}`, timeoutMs: 300 })
    const direct = tier()
    const { state, source } = directory(['ops'])
    const api = instance(cut, logger)
    await Promise.all([cut.ready(), direct.ready()])
    expect(await api.groupsOf({ groups: source })).toEqual(['ops'])

    proxy.cut('reset')
    await vi.waitFor(() => expect(cut.health().detail).toMatch(/degraded: redis unreachable/))
    expect(cut.health().ok).toBe(true) // the sources still answer: no reason to drain the instance
    // Rights change while this instance cannot hear the invalidation.
    state.groups = []
    await direct.invalidateUser(ISSUER, 'alice')
    await expect(cut.invalidateUser(ISSUER, 'nobody')).rejects.toThrow()
    // A user it never saw: the source answers, every time; a failing source is still a 503.
    expect(await api.groupsOf({ groups: source }, 'frank')).toEqual([])
    state.down = true
    await expect(api.groupsOf({ groups: source }, 'grace')).rejects.toMatchObject({ status: 503 })
    await expect(api.groupsOf({ groups: source }, 'grace')).rejects.toMatchObject({ status: 503 })
    state.down = false
    expect(
      lines.filter((line) => line.includes('shared authorization cache unavailable')),
    ).toHaveLength(1)

    proxy.restore()
    await cut.ready(5_000)
    // Back: what it held may have been invalidated meanwhile, so it was dropped.
    expect(await api.groupsOf({ groups: source })).toEqual([])
    expect(
      lines.filter((line) => line.includes('shared authorization cache is back')),
    ).toHaveLength(1)
  })
})

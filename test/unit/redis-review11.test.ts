// RedisSharedCache, found in the eleventh review: two verifiers sharing one tier never write an
// answer under a generation another load read (nor does a tier wrapping it that drops `read`), a
// silent network makes misses skip Redis at once (logged once, "back" once), an evicted epoch or
// generation never brings an old answer back, and a full Redis (noeviction) still forgets and
// clears, and is no outage.

import { randomBytes } from 'node:crypto'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { RedisSharedCache, type RedisSharedCacheOptions } from '../../providers/redis/index.js'
import type { SharedCacheTier } from '../../src/index.js'
import { Enrichment } from '../../src/enrichment.js'
import { silentLogger, type Logger } from '../../src/logger.js'
import { User, type UserSources } from '../../src/user.js'
import { privateRedis, skipPrivate, type PrivateRedis } from '../helpers/private-redis.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'

const REDIS = new URL(REDIS_URL)
const PREFIX = `oidc-guard-test:review11:${process.pid}:${randomBytes(4).toString('hex')}:`
const ISSUER = 'https://review11.example'
const groupsKey = (subject: string) => `groups\n${ISSUER}\n${subject}`
const valueKey = (subject: string) => `${PREFIX}cache:v:${groupsKey(subject)}`

let admin: Redis
const closers: Array<() => Promise<void> | void> = []

function tier(options: Partial<RedisSharedCacheOptions> = {}): RedisSharedCache {
  const connection = options.client === undefined ? { url: REDIS_URL } : {}
  const created = new RedisSharedCache({ ...connection, prefix: PREFIX, ...options })
  closers.push(() => created.close())
  return created
}

beforeAll(async () => {
  admin = await connectTestRedis()
})

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await deleteKeys(admin, PREFIX)
})

afterAll(async () => {
  // Answers are written without being awaited: one may land after a test.
  await deleteKeys(admin, PREFIX)
  admin.disconnect()
})

/**
 * One instance's tier, whose invalidation messages are held until `deliver()` (still in flight, or
 * its subscriber reconnecting) and whose writes are kept, so the test can wait for them. Reads are
 * held too while `holdReads` is set (a slow Redis), until `releaseReads()`.
 */
async function heldTier() {
  const real = tier()
  await real.ready()
  const held: Array<() => void> = []
  const heldReads: Array<() => Promise<unknown>> = []
  const writes: Promise<void>[] = []
  const state = { holdReads: false }
  const shared: SharedCacheTier = {
    get: (key, read) => real.get(key, read),
    getEntry: (key, read) => {
      if (!state.holdReads) return real.getEntry(key, read)
      return new Promise((resolve, reject) =>
        heldReads.push(() => {
          const answer = real.getEntry(key, read)
          answer.then(resolve, reject)
          return answer
        }),
      )
    },
    set: (key, value, ttlMs, read) => {
      const written = real.set(key, value, ttlMs, read)
      writes.push(written)
      return written
    },
    invalidate: (keys) => real.invalidate(keys),
    clear: () => real.clear(),
    health: () => real.health(),
    onInvalidate: (listener) => real.onInvalidate((keys) => void held.push(() => listener(keys))),
    onClear: (listener) => real.onClear(listener),
  }
  return {
    shared,
    state,
    writes,
    deliver: () => held.splice(0).forEach((listen) => listen()),
    /** Lets the held reads reach Redis now; resolves once they answered. */
    releaseReads: () => Promise.allSettled(heldReads.splice(0).map((release) => release())),
  }
}

function groupsOf(enrichment: Enrichment, sources: UserSources, subject = 'alice') {
  return new User(
    { provider: 't', claims: { iss: ISSUER, sub: subject }, token: 't' },
    { id: subject },
    enrichment.wrap(sources),
  ).groups
}

/** A directory whose answer the test changes, and whose calls it can hold. */
function slowDirectory(initial: string[]) {
  const state = { groups: initial, calls: 0 }
  const gates: Array<() => void> = []
  const source = {
    async fetchGroups() {
      state.calls += 1
      const answer = state.groups // what the directory holds now
      await new Promise<void>((resolve) => gates.push(resolve))
      return answer
    },
  }
  return { state, gates, source }
}

/** What a fresh instance (after forgetUser resolved everywhere) is served for alice. */
async function freshInstanceSees(groups: string[]): Promise<readonly string[]> {
  const shared = tier()
  await shared.ready()
  const enrichment = new Enrichment({ sourceCache: { ttlMs: 60_000, shared } }, silentLogger)
  return groupsOf(enrichment, { groups: { fetchGroups: () => groups } })
}

describe('two verifiers sharing one RedisSharedCache', () => {
  it('an answer loaded before a forgetUser is never written under the generation another load read', async () => {
    const here = await heldTier()
    const other = tier()
    const directory = slowDirectory(['admin'])
    // Two jwtAuth on one instance (/api and /admin), one tier.
    const x = new Enrichment({ sourceCache: { ttlMs: 60_000, shared: here.shared } }, silentLogger)
    const y = new Enrichment({ sourceCache: { ttlMs: 60_000, shared: here.shared } }, silentLogger)

    const loadX = groupsOf(x, { groups: directory.source })
    await vi.waitFor(() => expect(directory.gates).toHaveLength(1)) // X read; its source read admin
    directory.state.groups = ['viewer']
    await other.invalidateUser(ISSUER, 'alice') // another instance; its message not here yet
    const loadY = groupsOf(y, { groups: directory.source })
    await vi.waitFor(() => expect(directory.gates).toHaveLength(2)) // Y read the new generation
    directory.gates[0]!() // X's source answers the old admin
    expect(await loadX).toEqual(['admin'])
    await Promise.all(here.writes)
    directory.gates[1]!()
    expect(await loadY).toEqual(['viewer'])
    await Promise.all(here.writes)
    here.deliver()

    expect(await freshInstanceSees(['viewer'])).toEqual(['viewer'])
  })

  it('a read given up on (the source asked meanwhile) answering late writes nothing', async () => {
    const here = await heldTier()
    const other = tier()
    const directory = slowDirectory(['admin'])
    const x = new Enrichment(
      { sourceTimeoutMs: 400, sourceCache: { ttlMs: 60_000, shared: here.shared } },
      silentLogger,
    )
    here.state.holdReads = true // Redis slower than sourceTimeoutMs
    const load = groupsOf(x, { groups: directory.source })
    await vi.waitFor(() => expect(directory.gates).toHaveLength(1), { timeout: 2_000 })
    directory.state.groups = ['viewer']
    await other.invalidateUser(ISSUER, 'alice') // its message to this instance still in flight
    await here.releaseReads() // the read answers now, with the generation after the invalidation
    directory.gates[0]!() // the source answers what it read before
    expect(await load).toEqual(['admin'])
    await Promise.all(here.writes)
    here.deliver()

    expect(await admin.exists(valueKey('alice'))).toBe(0)
    expect(await freshInstanceSees(['viewer'])).toEqual(['viewer'])
  })

  it('a tier wrapping it that does not pass `read` on writes nothing, never an answer from before a forgetUser', async () => {
    const inner = tier()
    const other = tier()
    await Promise.all([inner.ready(), other.ready()])
    const held: Array<() => void> = []
    const writes: Promise<void>[] = []
    // A metrics wrapper written against the older interface: get(key), set(key, value, ttlMs).
    const metered: SharedCacheTier = {
      get: (key) => inner.get(key),
      set: (key, value, ttlMs) => {
        const written = inner.set(key, value, ttlMs)
        writes.push(written)
        return written
      },
      invalidate: (keys) => inner.invalidate(keys),
      // Another instance's invalidation messages are held: still in flight.
      onInvalidate: (listener) =>
        inner.onInvalidate((keys) => void held.push(() => listener(keys))),
      health: () => inner.health(),
    }
    const directory = slowDirectory(['admin'])
    const fast = { fetchGroups: () => directory.state.groups }
    // Three jwtAuth on one instance, one wrapped tier.
    const [x, y, z] = [0, 1, 2].map(
      () => new Enrichment({ sourceCache: { ttlMs: 60_000, shared: metered } }, silentLogger),
    ) as [Enrichment, Enrichment, Enrichment]

    const loadY = groupsOf(y, { groups: directory.source })
    await vi.waitFor(() => expect(directory.gates).toHaveLength(1)) // Y read; its source read admin
    expect(await groupsOf(x, { groups: fast })).toEqual(['admin']) // X read the same, and wrote
    await Promise.all(writes)
    directory.state.groups = ['viewer']
    await other.invalidateUser(ISSUER, 'alice') // another instance; its message not here yet
    const loadZ = groupsOf(z, { groups: directory.source })
    await vi.waitFor(() => expect(directory.gates).toHaveLength(2)) // Z read the new generation
    directory.gates[0]!() // Y's source answers the old admin
    expect(await loadY).toEqual(['admin'])
    await Promise.all(writes)
    directory.gates[1]!()
    expect(await loadZ).toEqual(['viewer'])
    await Promise.all(writes)
    held.splice(0).forEach((deliver) => deliver())

    expect(await admin.exists(valueKey('alice'))).toBe(0)
    expect(await freshInstanceSees(['viewer'])).toEqual(['viewer'])
    // Its reads still answer: what an instance passing `read` on stored.
    await vi.waitFor(async () => expect(await admin.exists(valueKey('alice'))).toBe(1))
    expect(await metered.get(groupsKey('alice'))).toEqual(['viewer'])
  })
})

/**
 * A TCP proxy whose `cut()` drops every packet of the connections open then, for good, without
 * telling either side (a dropped network, a lost NAT entry): they never carry anything again, as
 * a socket whose peer vanished, until the kernel gives up. Connections made while cut are held
 * silent; after `heal()` new ones pass.
 */
async function silentNetworkProxy() {
  let cut = false
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    client.on('error', () => undefined)
    sockets.add(client)
    if (cut) return
    const upstream = createConnection({ host: REDIS.hostname, port: Number(REDIS.port || 6379) })
    upstream.on('error', () => undefined)
    sockets.add(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    upstream.on('close', () => client.destroy())
    client.on('close', () => upstream.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  )
  return {
    url: `redis://127.0.0.1:${port}${REDIS.pathname}`,
    cut() {
      cut = true
      for (const socket of sockets) {
        socket.unpipe()
        socket.pause()
      }
    },
    heal() {
      cut = false
    },
  }
}

/** A pino logger keeping each line's message, and those of its warnings. */
function recordingLogger(): { logger: Logger; messages: string[]; warnings: string[] } {
  const messages: string[] = []
  const warnings: string[] = []
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        const { level, msg } = JSON.parse(line) as { level: number; msg: string }
        messages.push(msg)
        if (level >= 40) warnings.push(msg)
      },
    },
  )
  return { logger, messages, warnings }
}

describe('a silent network (packets dropped, no reset)', () => {
  it('once the heartbeat found it, misses skip Redis at once; one line for the outage, one for its end', async () => {
    const proxy = await silentNetworkProxy()
    const timeoutMs = 1_000
    const link = recordingLogger()
    const shared = tier({ url: proxy.url, timeoutMs, heartbeatMs: 300, logger: link.logger })
    await shared.ready()
    const core = recordingLogger()
    const enrichment = new Enrichment({ sourceCache: { ttlMs: 60_000, shared } }, core.logger)
    const sources = { groups: { fetchGroups: (user: User) => [`g-${user.id}`] } }
    expect(await groupsOf(enrichment, sources, 'warm')).toEqual(['g-warm'])

    proxy.cut()
    await vi.waitFor(() => expect(shared.health().detail).toMatch(/unreachable/), {
      timeout: 5_000,
    })
    const took: number[] = []
    for (let user = 0; user < 5; user += 1) {
      const started = Date.now()
      expect(await groupsOf(enrichment, sources, `during-${user}`)).toEqual([`g-during-${user}`])
      took.push(Date.now() - started)
    }
    // Each waited timeoutMs on a command connection that looked ready, before the fix.
    expect(Math.max(...took)).toBeLessThan(timeoutMs / 2)
    const outage = (messages: string[], text: string) => messages.filter((m) => m.includes(text))
    expect(outage(core.messages, 'shared authorization cache unavailable')).toHaveLength(1)
    expect(outage(core.messages, 'shared authorization cache is back')).toHaveLength(0)

    // The network heals; the connections cut stay dead (their peer state is gone).
    proxy.heal()
    await shared.ready(10_000)
    const started = Date.now()
    expect(await groupsOf(enrichment, sources, 'after')).toEqual(['g-after'])
    expect(Date.now() - started).toBeLessThan(timeoutMs / 2)
    await vi.waitFor(async () => expect(await admin.exists(valueKey('after'))).toBe(1))
    expect(outage(core.messages, 'shared authorization cache unavailable')).toHaveLength(1)
    expect(outage(core.messages, 'shared authorization cache is back')).toHaveLength(1)
    expect(outage(link.messages, 'unreachable')).toHaveLength(1)
    expect(outage(link.messages, 'back in step')).toHaveLength(1)
  }, 30_000)

  it('with the application’s client: never disconnected, and misses skip Redis until it answers again', async () => {
    const proxy = await silentNetworkProxy()
    const timeoutMs = 800
    const client = new Redis(proxy.url, { maxRetriesPerRequest: 0 })
    client.on('error', () => undefined)
    closers.push(() => client.disconnect())
    const disconnect = vi.spyOn(client, 'disconnect')
    const duplicates: Redis[] = [] // the link's subscriber
    const duplicate = client.duplicate.bind(client)
    vi.spyOn(client, 'duplicate').mockImplementation(((...args: never[]) => {
      const created = duplicate(...args)
      duplicates.push(created)
      return created
    }) as never)
    const shared = tier({ client, timeoutMs, heartbeatMs: 300 })
    await shared.ready()
    const enrichment = new Enrichment({ sourceCache: { ttlMs: 60_000, shared } }, silentLogger)
    const sources = { groups: { fetchGroups: (user: User) => [`g-${user.id}`] } }

    proxy.cut()
    await vi.waitFor(() => expect(shared.health().detail).toMatch(/unreachable/), {
      timeout: 5_000,
    })
    // The network heals, but the app's connection stays dead: the subscriber (a duplicate of it,
    // the link's own) comes back, and its load's round trip on the app's connection fails.
    await vi.waitFor(() => expect(duplicates[0]?.status).not.toBe('ready'), { timeout: 5_000 })
    proxy.heal()
    await vi.waitFor(() => expect(duplicates[0]?.status).toBe('ready'), { timeout: 5_000 })
    const until = Date.now() + timeoutMs + 400
    const took: number[] = []
    for (let user = 0; Date.now() < until; user += 1) {
      const started = Date.now()
      expect(await groupsOf(enrichment, sources, `app-${user}`)).toEqual([`g-app-${user}`])
      took.push(Date.now() - started)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(Math.max(...took)).toBeLessThan(timeoutMs / 2)
    expect(shared.health().detail).toMatch(/unreachable/) // not live: its commands go nowhere
    expect(disconnect).not.toHaveBeenCalled()
    expect(client.status).toBe('ready')
  }, 30_000)

  it('a write that succeeds between two failed reads does not end the outage (no line per request)', async () => {
    const state = { readsFail: false }
    const written: string[] = []
    const shared: SharedCacheTier = {
      get: () => (state.readsFail ? Promise.reject(new Error('down')) : Promise.resolve(undefined)),
      set: (key) => (written.push(key), Promise.resolve()), // sends nothing, or got through
      invalidate: () => Promise.resolve(),
      onInvalidate: () => undefined,
      health: () => ({ ok: true }),
    }
    const core = recordingLogger()
    const enrichment = new Enrichment({ sourceCache: { ttlMs: 60_000, shared } }, core.logger)
    const directory = slowDirectory(['viewer'])
    const first = groupsOf(enrichment, { groups: directory.source }, 'first') // its read answers
    await vi.waitFor(() => expect(directory.gates).toHaveLength(1))
    state.readsFail = true
    const second = groupsOf(enrichment, { groups: directory.source }, 'second') // its read fails
    await vi.waitFor(() => expect(directory.gates).toHaveLength(2))
    directory.gates[0]!()
    await first
    await vi.waitFor(() => expect(written).toEqual([`groups\n${ISSUER}\nfirst`]))
    directory.gates[1]!()
    await second
    const third = groupsOf(enrichment, { groups: directory.source }, 'third')
    await vi.waitFor(() => expect(directory.gates).toHaveLength(3))
    directory.gates[2]!()
    await third
    expect(written).toHaveLength(1) // never after a read that failed
    const lines = (text: string) => core.messages.filter((message) => message.includes(text))
    expect(lines('shared authorization cache unavailable')).toHaveLength(1)
    expect(lines('shared authorization cache is back')).toHaveLength(0)
  })
})

describe('Redis drops the epoch or a generation (an eviction policy, an expiry)', () => {
  it('answers from before clearSourceCache stay unreadable when the epoch key is gone', async () => {
    const directory: Record<string, string[]> = { alice: ['admin'], bob: ['admin'] }
    const sources = { groups: { fetchGroups: (user: User) => directory[user.id] ?? [] } }
    const one = tier()
    await one.ready()
    const here = new Enrichment({ sourceCache: { ttlMs: 60_000, shared: one } }, silentLogger)
    for (const user of ['alice', 'bob'])
      expect(await groupsOf(here, sources, user)).toEqual(['admin'])
    await vi.waitFor(async () => expect(await admin.exists(valueKey('bob'))).toBe(1))
    directory['alice'] = directory['bob'] = ['viewer']
    await here.clear()
    await admin.del(`${PREFIX}cache:epoch`) // evicted, as allkeys-lru or allkeys-random may

    const two = tier()
    await two.ready()
    const later = new Enrichment({ sourceCache: { ttlMs: 60_000, shared: two } }, silentLogger)
    for (const user of ['alice', 'bob']) {
      expect(await groupsOf(later, sources, user)).toEqual(['viewer'])
    }
  })

  it('a load that read a generation before an invalidation cannot write once that generation is gone', async () => {
    const one = tier()
    const other = tier()
    await Promise.all([one.ready(), other.ready()])
    const read = {}
    expect(await one.getEntry(groupsKey('alice'), read)).toBeUndefined() // a load starts
    await other.invalidateUser(ISSUER, 'alice')
    await admin.del(`${PREFIX}cache:g:${groupsKey('alice')}`) // evicted, or expired
    await one.set(groupsKey('alice'), ['admin'], 60_000, read) // its old answer arrives
    expect(await admin.exists(valueKey('alice'))).toBe(0)
    expect(await other.get(groupsKey('alice'))).toBeUndefined()
  })

  it('the generation and the epoch are random, and a generation lives as long as its answer', async () => {
    const one = tier()
    await one.ready()
    const read = {}
    await one.getEntry(groupsKey('alice'), read)
    await one.set(groupsKey('alice'), ['viewer'], 30_000, read)
    const [generation, epoch] = await admin.mget(
      `${PREFIX}cache:g:${groupsKey('alice')}`,
      `${PREFIX}cache:epoch`,
    )
    expect(generation).toMatch(/^[1-9]\d*$/)
    expect(epoch).toMatch(/^[1-9]\d*$/)
    expect(generation).not.toBe('0')
    const pttl = await admin.pttl(`${PREFIX}cache:g:${groupsKey('alice')}`)
    expect(pttl).toBeGreaterThan(29_000)
    expect(pttl).toBeLessThanOrEqual(30_000)
    await one.clear()
    expect(await admin.get(`${PREFIX}cache:epoch`)).not.toBe(epoch)
    expect(await one.get(groupsKey('alice'))).toBeUndefined()
    // Where Redis has room, an invalidation leaves a new generation rather than none: an older
    // version on the same Redis (a rolling upgrade) reads a missing one as 0, as its loads may have.
    await one.invalidateUser(ISSUER, 'alice')
    const renewed = await admin.get(`${PREFIX}cache:g:${groupsKey('alice')}`)
    expect(renewed).toMatch(/^[1-9]\d*$/)
    expect(renewed).not.toBe(generation)
  })
})

describe.skipIf(skipPrivate)('a full Redis (maxmemory reached under noeviction)', () => {
  let server: PrivateRedis
  beforeAll(async () => {
    server = await privateRedis(['--maxmemory-policy', 'noeviction'])
  })
  afterEach(async () => {
    await server.empty()
    await server.admin.flushdb()
  })
  afterAll(() => server.stop())

  const sourcesOf = (directory: Record<string, string[]>) => ({
    groups: { fetchGroups: (user: User) => directory[user.id] ?? [] },
  })

  /** The tier, passing `read` on, with the writes the core sends (not awaited) kept to wait for. */
  function awaitable(inner: RedisSharedCache) {
    const writes: Promise<void>[] = []
    const shared: SharedCacheTier = {
      getEntry: (key, read) => inner.getEntry(key, read),
      get: (key, read) => inner.get(key, read),
      set: (key, value, ttlMs, read) => {
        const written = inner.set(key, value, ttlMs, read)
        writes.push(written)
        return written
      },
      invalidate: (keys) => inner.invalidate(keys),
      onInvalidate: (listener) => inner.onInvalidate(listener),
      health: () => inner.health(),
    }
    return { shared, writes }
  }

  it('forgetUser still removes the old answer: no instance is served it, no pending load writes', async () => {
    const directory: Record<string, string[]> = { alice: ['admin'] }
    const [one, two] = [tier({ url: server.url }), tier({ url: server.url })]
    await Promise.all([one.ready(), two.ready()])
    const here = new Enrichment({ sourceCache: { ttlMs: 60_000, shared: one } }, silentLogger)
    expect(await groupsOf(here, sourcesOf(directory))).toEqual(['admin'])
    await vi.waitFor(async () => expect(await server.admin.exists(valueKey('alice'))).toBe(1))
    const pending = {} // a load that read before the forgetUser; its answer comes later
    await one.getEntry(groupsKey('alice'), pending)

    await server.fill()
    directory['alice'] = ['viewer']
    await here.forget(ISSUER, 'alice') // rejected with EXECABORT before the fix, every retry too
    expect(await server.admin.exists(valueKey('alice'))).toBe(0)
    const tracked = awaitable(two)
    const later = new Enrichment(
      { sourceCache: { ttlMs: 60_000, shared: tracked.shared } },
      silentLogger,
    )
    expect(await groupsOf(later, sourcesOf(directory))).toEqual(['viewer'])
    await Promise.all(tracked.writes) // refused: Redis is full
    expect(await server.admin.exists(valueKey('alice'))).toBe(0)

    await server.empty()
    await one.set(groupsKey('alice'), ['admin'], 60_000, pending) // the old answer arrives
    expect(await server.admin.exists(valueKey('alice'))).toBe(0)
    const read = {} // a new read has a generation of its own, and its answer is stored
    expect(await two.getEntry(groupsKey('alice'), read)).toBeUndefined()
    await two.set(groupsKey('alice'), ['viewer'], 60_000, read)
    expect(await one.get(groupsKey('alice'))).toEqual(['viewer'])
  })

  it('clearSourceCache still makes every answer from before it unreadable', async () => {
    const directory: Record<string, string[]> = { alice: ['admin'], bob: ['admin'] }
    const one = tier({ url: server.url })
    await one.ready()
    const here = new Enrichment({ sourceCache: { ttlMs: 60_000, shared: one } }, silentLogger)
    for (const user of ['alice', 'bob'])
      expect(await groupsOf(here, sourcesOf(directory), user)).toEqual(['admin'])
    await vi.waitFor(async () => expect(await server.admin.exists(valueKey('bob'))).toBe(1))

    await server.fill()
    directory['alice'] = directory['bob'] = ['viewer']
    await here.clear() // rejected with EXECABORT before the fix
    const two = tier({ url: server.url })
    await two.ready()
    const later = new Enrichment({ sourceCache: { ttlMs: 60_000, shared: two } }, silentLogger)
    for (const user of ['alice', 'bob'])
      expect(await groupsOf(later, sourcesOf(directory), user)).toEqual(['viewer'])
  })

  it('is no outage: stored answers are read, the rest asked of the sources, one warning in all', async () => {
    const log = recordingLogger()
    const inner = tier({ url: server.url, logger: log.logger })
    await inner.ready()
    const { shared, writes } = awaitable(inner)
    // One answer in process: every request reads Redis.
    const enrichment = new Enrichment(
      { sourceCache: { ttlMs: 60_000, max: 1, shared } },
      log.logger,
    )
    let calls = 0
    const sources = {
      groups: { fetchGroups: (user: User) => ((calls += 1), [`g-${user.id}`]) },
    }
    for (let user = 0; user < 3; user += 1) await groupsOf(enrichment, sources, `known${user}`)
    await Promise.all(writes)
    // Users read once while Redis had room (their generation exists), not yet answered.
    for (let user = 0; user < 3; user += 1) await inner.getEntry(groupsKey(`read${user}`), {})

    await server.fill()
    calls = 0
    for (let user = 0; user < 3; user += 1) {
      expect(await groupsOf(enrichment, sources, `known${user}`)).toEqual([`g-known${user}`])
      expect(await groupsOf(enrichment, sources, `new${user}`)).toEqual([`g-new${user}`])
      expect(await groupsOf(enrichment, sources, `read${user}`)).toEqual([`g-read${user}`])
    }
    await Promise.allSettled(writes)
    await new Promise((resolve) => setImmediate(resolve)) // what the core logs after a write
    expect(calls).toBe(6) // the known users from Redis, the others from the sources
    expect(await server.admin.exists(valueKey('read0'))).toBe(0)
    // Before the fix: a WARN "unavailable" and an INFO "back" per pair of requests.
    expect(log.warnings).toEqual([expect.stringMatching(/^redis is full/)])
    expect(log.messages.filter((message) => message.includes('shared authorization'))).toEqual([])
    expect(inner.health()).toEqual({ ok: true, detail: 'redis: connected' })
  })
})

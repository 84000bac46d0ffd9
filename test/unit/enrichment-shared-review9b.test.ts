// A source with a cache of its own (forget/clear, as GraphGroupResolver) is cached in each
// instance's process, never in the shared tier: an instance not yet told of another's forgetUser
// would write its source's old answer back to Redis, for every instance to serve for ttlMs.

import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { RedisSharedCache } from '../../providers/redis/index.js'
import type { SharedCacheTier } from '../../src/index.js'
import { Enrichment } from '../../src/enrichment.js'
import { silentLogger } from '../../src/logger.js'
import { User, type UserSources } from '../../src/user.js'

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const PREFIX = `oidc-guard-test:own-cache:${process.pid}:${randomBytes(4).toString('hex')}:`
const ISSUER = 'https://own-cache.example'
const TTL_MS = 1_000

let admin: Redis
const tiers: RedisSharedCache[] = []

beforeAll(async () => {
  admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 })
  await admin.connect()
})

afterEach(async () => {
  await Promise.all(tiers.splice(0).map((tier) => tier.close()))
  const keys = await admin.keys(`${PREFIX}*`)
  if (keys.length > 0) await admin.del(...keys)
})

afterAll(() => admin.disconnect())

/** The directory every instance's source reads: the test changes it. */
const directory = { groups: ['readers', 'admins'] }

/** A source that keeps its answers, as GraphGroupResolver does, until told to forget them. */
class OwnCacheSource {
  readonly #answers = new Map<string, string[]>()
  calls = 0
  fetchGroups(user: User): string[] {
    let answer = this.#answers.get(user.id)
    if (answer === undefined) {
      this.calls += 1
      answer = [...directory.groups]
      this.#answers.set(user.id, answer)
    }
    return answer
  }
  forget({ subject }: { issuer: string; subject: string }): void {
    this.#answers.delete(subject)
  }
  clear(): void {
    this.#answers.clear()
  }
}

/** A source that reads the directory on every call (SQL, say). */
class PlainSource {
  calls = 0
  fetchGroups(): string[] {
    this.calls += 1
    return [...directory.groups]
  }
}

/**
 * One instance over its own Redis connection. Its invalidation messages are held until
 * `deliver()` (network lag, a resubscription); the writes it sends to the tier are kept, so the
 * test can wait for them.
 */
async function instance() {
  const tier = new RedisSharedCache({ url: REDIS_URL, prefix: PREFIX })
  tiers.push(tier)
  await tier.ready()
  const held: (() => void)[] = []
  const writes: Promise<void>[] = []
  const shared: SharedCacheTier = {
    get: (key, read) => tier.get(key, read),
    getEntry: (key, read) => tier.getEntry(key, read),
    set: (key, value, ttlMs, read) => {
      const written = tier.set(key, value, ttlMs, read)
      writes.push(written)
      return written
    },
    invalidate: (keys) => tier.invalidate(keys),
    clear: () => tier.clear(),
    health: () => tier.health(),
    onInvalidate: (listener) => tier.onInvalidate((keys) => void held.push(() => listener(keys))),
    onClear: (listener) => tier.onClear(listener),
  }
  let now = 1_000
  const enrichment = new Enrichment({ sourceCache: { ttlMs: TTL_MS, shared } }, silentLogger, {
    now: () => now,
  })
  return {
    enrichment,
    writes,
    /** Lets this instance's in-process answers expire. */
    expire: () => void (now += TTL_MS + 1),
    /** The messages received and held so far. */
    received: () => held.length,
    deliver: () => held.splice(0).forEach((listen) => listen()),
    groupsOf: (sources: UserSources) =>
      new User(
        { provider: 't', claims: { iss: ISSUER, sub: 'jane' }, token: 't' },
        { id: 'jane' },
        enrichment.wrap(sources),
      ).groups,
  }
}

describe('a source with its own cache, two instances over Redis', () => {
  it('forgetUser here is not undone by the other instance, told late, writing its old answer back', async () => {
    directory.groups = ['readers', 'admins']
    const [here, there] = await Promise.all([instance(), instance()])
    const sources = [new OwnCacheSource(), new OwnCacheSource()]
    const [hereSources, thereSources] = sources.map((groups) => ({ groups }))
    expect(await there.groupsOf(thereSources!)).toEqual(['readers', 'admins'])
    there.expire() // its pipeline entry is gone; its source still holds the answer
    directory.groups = ['readers'] // Jane leaves the admins
    await here.enrichment.forget(ISSUER, 'jane')
    // Not yet told: it answers from its source's cache, as it would have a moment before...
    expect(await there.groupsOf(thereSources!)).toEqual(['readers', 'admins'])
    await Promise.all(there.writes)
    // ...but never for the instance that forgot, nor for itself once told.
    expect(await here.groupsOf(hereSources!)).toEqual(['readers'])
    // Published before forget resolved, but a message on another connection has no order with
    // that reply: wait until it is here, then let it through.
    await vi.waitFor(() => expect(there.received()).toBe(1))
    there.deliver()
    expect(await there.groupsOf(thereSources!)).toEqual(['readers'])
    expect(there.writes).toHaveLength(0)
    expect(here.writes).toHaveLength(0)
  })

  it('a source without a cache of its own is still shared: one instance’s answer serves the other', async () => {
    directory.groups = ['readers']
    const [here, there] = await Promise.all([instance(), instance()])
    const [hereSource, thereSource] = [new PlainSource(), new PlainSource()]
    expect(await there.groupsOf({ groups: thereSource })).toEqual(['readers'])
    await Promise.all(there.writes)
    expect(there.writes).toHaveLength(1)
    expect(await here.groupsOf({ groups: hereSource })).toEqual(['readers'])
    expect(hereSource.calls).toBe(0)
  })
})

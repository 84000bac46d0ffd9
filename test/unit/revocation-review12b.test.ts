// Revocation pruning, found reviewing the twelfth review's fixes: the Redis store's `size` and
// `health()` walked its whole copy on every call once entries ended steadily (a readiness probe
// every few seconds blocked the event loop for tens of milliseconds with a million entries), and
// the memory store kept a burst's ended entries until as many new writes arrived.

import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { RedisRevocationStore } from '../../providers/redis/index.js'
import {
  LocalRevocations,
  memberOf,
  PRUNE_CHECK_MS,
} from '../../providers/redis/local-revocations.js'
import { MemoryRevocationStore, type VerifiedToken } from '../../src/index.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'

const PREFIX = `r12bfix:revoke:${process.pid}:${randomBytes(4).toString('hex')}:`
const ISSUER = 'https://revoke12b.example'
const DAY_SEC = 86_400

let admin: Redis
const closers: Array<() => Promise<void> | void> = []

beforeAll(async () => {
  admin = await connectTestRedis()
})

afterEach(async () => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  for (const close of closers.splice(0).reverse()) await close()
  await deleteKeys(admin, PREFIX)
})

afterAll(() => {
  admin.disconnect()
})

const nowSec = () => Date.now() / 1000

/**
 * Counts the entries every walk of a Map goes over from now on (a prune walks each map it holds):
 * work measured by entries visited, never by time.
 */
function countVisits(): () => number {
  const iterate = Map.prototype[Symbol.iterator]
  let visited = 0
  vi.spyOn(Map.prototype, Symbol.iterator).mockImplementation(function (
    this: Map<unknown, unknown>,
  ) {
    visited += this.size
    return iterate.call(this)
  })
  return () => visited
}

/** Subject revocations ending evenly over a day from `start` + 1 s: some end every second. */
function endsOverADay(n: number, start: number): number[] {
  return Array.from({ length: n }, (_, index) => start + 1 + (index * DAY_SEC) / n)
}

/** How many of `ends` (ascending) are after `atSec`. */
function liveAt(ends: readonly number[], atSec: number): number {
  let low = 0
  let high = ends.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (ends[middle]! > atSec) high = middle
    else low = middle + 1
  }
  return ends.length - low
}

describe("D2: the Redis store's size and health() walk its copy at most once a minute", () => {
  it('a probe every 10 s over entries ending every second prunes once a minute, not each time', () => {
    vi.useFakeTimers() // the periodic check never fires: only the probes' own walks are counted
    const local = new LocalRevocations()
    closers.push(() => local.stop())
    const n = 100_000
    const start = nowSec()
    const ends = endsOverADay(n, start)
    ends.forEach((expiresAtSec, index) => {
      local.add(
        {
          kind: 'subject',
          issuer: ISSUER,
          subject: `user-${index}`,
          beforeSec: start,
          expiresAtSec,
        },
        start,
      )
    })
    const visited = countVisits()
    const probes = 60 // ten minutes
    for (let probe = 1; probe <= probes; probe += 1) {
      const at = start + probe * 10
      const size = local.liveSize(at)
      // Never drops a live entry; counts none that ended a check interval or more before.
      expect(size).toBeGreaterThanOrEqual(liveAt(ends, at))
      expect(size).toBeLessThanOrEqual(liveAt(ends, at - PRUNE_CHECK_MS / 1000))
    }
    // Before: each probe found an entry ended and walked all 100,000 (about 6,000,000 visits).
    expect(visited()).toBeLessThanOrEqual(11 * (n + 1))
    // A probe a minute after the last prune counts exactly the live entries.
    const later = start + probes * 10 + PRUNE_CHECK_MS / 1000
    expect(local.liveSize(later)).toBe(liveAt(ends, later))
  })

  it('the periodic check still drops an entry within a minute of its end, right after a count pruned', () => {
    vi.useFakeTimers()
    const local = new LocalRevocations()
    closers.push(() => local.stop())
    const start = nowSec()
    local.add({ kind: 'jti', jti: 'short', expiresAtSec: start + 100 }, start)
    local.add({ kind: 'jti', jti: 'next', expiresAtSec: start + 115 }, start)
    local.add({ kind: 'jti', jti: 'long', expiresAtSec: start + 10_000 }, start)
    vi.advanceTimersByTime(110_000) // the check ran at +60 s (nothing had ended)
    expect(local.liveSize(nowSec())).toBe(2) // prunes 'short', ended at +100 s
    vi.advanceTimersByTime(10_000) // 'next' ended at +115 s, the check runs at +120 s
    expect(local.size).toBe(1)
  })

  it('RedisRevocationStore: health() and size every 10 s walk the copy once a minute', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const maxTokenLifetimeSec = 3600
    const start = nowSec()
    const n = 3000
    const ends = Array.from({ length: n }, (_, index) => start + 1 + index) // one a second
    // Written to the set directly, so the store loads them at start and no message arrives later.
    const pairs = ends.flatMap((expiresAtSec, index) => [
      String(expiresAtSec),
      memberOf({
        kind: 'subject',
        issuer: ISSUER,
        subject: `user-${index}`,
        beforeSec: expiresAtSec - maxTokenLifetimeSec,
        expiresAtSec,
      }),
    ])
    await admin.zadd(`${PREFIX}revocations`, ...pairs)
    const store = new RedisRevocationStore({ url: REDIS_URL, prefix: PREFIX, maxTokenLifetimeSec })
    closers.push(() => store.close())
    await store.ready()
    expect(store.size).toBe(n)
    const visited = countVisits()
    for (let probe = 1; probe <= 30; probe += 1) {
      vi.setSystemTime((start + probe * 10) * 1000)
      const { ok, detail } = store.health()
      const size = store.size
      expect(ok).toBe(true)
      expect(detail).toBe(`redis: in step, ${size} revocations`)
      expect(size).toBeGreaterThanOrEqual(liveAt(ends, nowSec()))
      expect(size).toBeLessThanOrEqual(liveAt(ends, nowSec() - PRUNE_CHECK_MS / 1000))
    }
    // Before: every call walked the copy (60 walks of about 3,000 entries); now one a minute.
    expect(visited()).toBeLessThanOrEqual(6 * n)
    vi.restoreAllMocks()
    vi.setSystemTime((start + 400) * 1000)
    expect(store.size).toBe(liveAt(ends, nowSec()))
  })
})

describe('D3: MemoryRevocationStore drops a burst of ended entries without as many new writes', () => {
  it('after a burst of 100,000 and their end, 1,000 later writes leave only the live ones', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = new MemoryRevocationStore({ maxTokenLifetimeSec: 1 })
    for (let index = 0; index < 100_000; index += 1) store.revokeToken(`burst-${index}`)
    vi.setSystemTime(Date.now() + 400_000) // past the 1 s lifetime and the 300 s grace
    for (let index = 0; index < 1000; index += 1) store.revokeToken(`later-${index}`)
    // Before: 101,000 held, until 100,000 more writes arrived.
    expect(store.size).toBe(1000)
  })

  it('never drops a live entry, extended ones included', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = new MemoryRevocationStore({ maxTokenLifetimeSec: 1 })
    store.revokeToken('kept')
    store.revokeSubject(ISSUER, 'alice')
    for (let index = 0; index < 300; index += 1) store.revokeToken(`burst-${index}`)
    vi.setSystemTime(Date.now() + 200_000)
    store.revokeToken('kept') // extended: ends 200 s after the burst
    vi.setSystemTime(Date.now() + 200_000) // the burst ended; 'kept' has 100 s left
    for (let index = 0; index < 300; index += 1) store.revokeToken(`later-${index}`)
    expect(store.size).toBe(301)
    const verified = (claims: Record<string, unknown>): VerifiedToken => ({
      token: 't',
      header: { alg: 'RS256' },
      claims: { iss: ISSUER, sub: 's', ...claims },
    })
    expect(store.isRevoked(verified({ jti: 'kept' }))).toBe(true)
    expect(store.isRevoked(verified({ jti: 'burst-0' }))).toBe(false)
  })

  it('keeps linear cost while entries end every second: at most one more walk a minute', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = new MemoryRevocationStore({ maxTokenLifetimeSec: 60 })
    const visited = countVisits()
    const writes = 120_000
    // One revocation every 10 ms for 20 minutes: about 36,000 held, some ending every 10 ms.
    for (let index = 0; index < writes; index += 1) {
      vi.setSystemTime(Date.now() + 10)
      store.revokeToken(`jti-${index}`)
    }
    vi.restoreAllMocks()
    expect(store.size).toBeLessThanOrEqual(36_000 + 6_000 + 256) // a minute of ended ones at most
    // Sweeping every 256 writes once the earliest end passed would visit ~12,000,000 entries.
    expect(visited()).toBeLessThanOrEqual(10 * writes)
  })
})

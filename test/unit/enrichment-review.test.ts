// The cross-request cache under review: a pending load dropped by our own cache (forget, clear, an
// invalidation, eviction) never answers 503; an answer read from the shared tier lives only what
// it has left there; a shared tier is checked at construction.

import { describe, expect, it } from 'vitest'
import { Enrichment } from '../../src/enrichment.js'
import { checkEnrichmentOptions } from '../../src/enrichment-options.js'
import type { SharedCacheEntry, SharedCacheTier } from '../../src/shared-tier.js'
import { sourceChannel } from '../../src/diagnostics.js'
import { ConfigError } from '../../src/errors.js'
import { silentLogger } from '../../src/logger.js'
import { Problems } from '../../src/options.js'
import { User, type UserSources } from '../../src/user.js'

const ISSUER = 'https://issuer.example'

function userOf(sources: UserSources, sub = 'alice'): User {
  return new User(
    { provider: 'test', claims: { iss: ISSUER, sub }, token: 't' },
    { id: sub },
    sources,
  )
}

/** A source whose every call waits until the test releases it, answering what the directory held when it was called. */
function slowDirectory(initial: string[]) {
  const state = { groups: initial, calls: 0, pending: [] as Array<() => void> }
  const source = {
    fetchGroups: () => {
      state.calls += 1
      const read = state.groups // A source that ignores its abort signal.
      return new Promise<readonly string[]>((resolve) => state.pending.push(() => resolve(read)))
    },
  }
  /** Answers every call made so far, once `calls` have been made (or after a bounded wait). */
  const releaseAll = async (calls: number) => {
    for (let turn = 0; turn < 100 && state.calls < calls; turn += 1) {
      await new Promise((resolve) => setImmediate(resolve))
    }
    for (const release of state.pending.splice(0)) release()
  }
  return { state, source, releaseAll }
}

function fakeClock() {
  let now = 1_000
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

/** A shared tier in memory; `remainingMs` is what `getEntry` reports, or no `getEntry` at all. */
function memoryTier(remainingMs: number | 'no getEntry') {
  const stored = new Map<string, unknown>()
  const listeners: Array<(keys: readonly string[]) => void> = []
  let reads = 0
  const tier: SharedCacheTier = {
    get: async (key) => {
      reads += 1
      return stored.get(key)
    },
    set: async (key, value) => void stored.set(key, value),
    invalidate: async (keys) => {
      for (const key of keys) stored.delete(key)
      for (const listener of listeners) listener(keys)
    },
    onInvalidate: (listener) => void listeners.push(listener),
    health: () => ({ ok: true }),
  }
  if (remainingMs !== 'no getEntry') {
    tier.getEntry = async (key): Promise<SharedCacheEntry | undefined> => {
      reads += 1
      return stored.has(key) ? { value: stored.get(key), remainingMs } : undefined
    }
  }
  return {
    tier,
    stored,
    listeners,
    get reads() {
      return reads
    },
  }
}

const groupsKey = (subject: string) => `groups\n${ISSUER}\n${subject}`

describe('Enrichment: a pending load our own cache drops', () => {
  it.each([
    [
      'forget(issuer, subject)',
      (enrichment: Enrichment) => void enrichment.forget(ISSUER, 'alice'),
    ],
    ['clear()', (enrichment: Enrichment) => enrichment.clear()],
  ])(
    '%s while a load is pending: the waiting requests get a new load’s answer, not 503',
    async (_name, drop) => {
      const enrichment = new Enrichment({}, silentLogger)
      const { state, source, releaseAll } = slowDirectory(['admin'])
      const sources = enrichment.wrap({ groups: source })
      const waiting = [userOf(sources).groups, userOf(sources).groups]
      await releaseAll(0)
      expect(state.calls).toBe(1)
      state.groups = [] // alice's rights change, then she is forgotten
      drop(enrichment)
      await releaseAll(2)
      // A new load, asked after the change: never the answer that was loading, never a 503.
      expect(await Promise.all(waiting)).toEqual([[], []])
      expect(state.calls).toBe(2)
      // And the new answer is the one cached: the old load's answer never got in.
      expect(await userOf(sources).groups).toEqual([])
      expect(state.calls).toBe(2)
    },
  )

  it('an invalidation from another instance while a load is pending: a new load answers', async () => {
    const memory = memoryTier(30_000)
    const enrichment = new Enrichment({ sourceCache: { shared: memory.tier } }, silentLogger)
    const { state, source, releaseAll } = slowDirectory(['admin'])
    const sources = enrichment.wrap({ groups: source })
    const waiting = userOf(sources).groups
    await releaseAll(0)
    state.groups = ['reader']
    for (const listener of memory.listeners) listener([groupsKey('alice')])
    await releaseAll(2)
    expect(await waiting).toEqual(['reader'])
  })

  it('eviction of pending loads (more users loading at once than max) answers every user', async () => {
    const enrichment = new Enrichment({ sourceCache: { max: 1 } }, silentLogger)
    const { state, source } = slowDirectory(['ops'])
    const sources = enrichment.wrap({ groups: source })
    const users = ['alice', 'bob', 'carol']
    const waiting = users.map((subject) => userOf(sources, subject).groups)
    // Each eviction starts another load; keep answering them until every request has its answer.
    const settled = Promise.allSettled(waiting)
    let done = false
    void settled.then(() => (done = true))
    while (!done) {
      for (const release of state.pending.splice(0)) release()
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(await settled).toEqual(users.map(() => ({ status: 'fulfilled', value: ['ops'] })))
    // Bounded: a request retries through the cache once, then asks the source uncached.
    expect(state.calls).toBeLessThanOrEqual(users.length * 3)
  })

  it('a dropped load whose source honours its signal is neither logged nor counted as a failure', async () => {
    const warnings: string[] = []
    const logger = {
      ...silentLogger,
      warn: (...args: unknown[]) => void warnings.push(String(args.at(-2))),
    }
    const events: Array<{ outcome: string }> = []
    const listen = (event: unknown) => void events.push(event as { outcome: string })
    sourceChannel.subscribe(listen)
    try {
      const enrichment = new Enrichment({}, logger as typeof silentLogger)
      let calls = 0
      const sources = enrichment.wrap({
        groups: {
          fetchGroups: (_user, context) => {
            const signal = context!.signal
            calls += 1
            const answer = [`g${calls}`]
            return new Promise<string[]>((resolve, reject) => {
              const timer = setTimeout(() => resolve(answer), 20)
              signal.addEventListener('abort', () => {
                clearTimeout(timer)
                reject(signal.reason as Error)
              })
            })
          },
        },
      })
      const pending = userOf(sources).groups
      await new Promise((resolve) => setTimeout(resolve, 5))
      await enrichment.forget(ISSUER, 'alice')
      expect(await pending).toEqual(['g2'])
      expect(events.map((event) => event.outcome)).toEqual(['fetched'])
      expect(warnings).toEqual([])
    } finally {
      sourceChannel.unsubscribe(listen)
    }
  })

  it('a load dropped while the shared tier answers does not go on to ask the source', async () => {
    const shared = memoryTier('no getEntry')
    const slowMiss = shared.tier.get
    shared.tier.get = async (key) => {
      await new Promise((resolve) => setTimeout(resolve, 20))
      return slowMiss(key)
    }
    const enrichment = new Enrichment({ sourceCache: { shared: shared.tier } }, silentLogger)
    let calls = 0
    const sources = enrichment.wrap({ groups: { fetchGroups: () => [`g${(calls += 1)}`] } })
    const pending = userOf(sources).groups
    await new Promise((resolve) => setTimeout(resolve, 5))
    await enrichment.forget(ISSUER, 'alice')
    expect(await pending).toEqual(['g1'])
    await new Promise((resolve) => setTimeout(resolve, 40))
    expect(calls).toBe(1)
  })

  it('a source that fails is still one call and one 503: only our own aborts start a new load', async () => {
    const enrichment = new Enrichment({}, silentLogger)
    let calls = 0
    const sources = enrichment.wrap({
      groups: {
        fetchGroups: () => {
          calls += 1
          throw new Error('directory down')
        },
      },
    })
    await expect(userOf(sources).groups).rejects.toMatchObject({ status: 503 })
    expect(calls).toBe(1)
  })
})

describe('Enrichment: an answer read from the shared tier', () => {
  it('lives here only for the time it has left there (getEntry), never a whole new ttlMs', async () => {
    const clock = fakeClock()
    const memory = memoryTier(1_000)
    memory.stored.set(groupsKey('alice'), ['admin']) // stored by another instance 29 s ago
    const enrichment = new Enrichment(
      { sourceCache: { ttlMs: 30_000, shared: memory.tier } },
      silentLogger,
      clock,
    )
    const sources = enrichment.wrap({ groups: { fetchGroups: () => ['from the source'] } })
    expect(await userOf(sources).groups).toEqual(['admin'])
    memory.stored.set(groupsKey('alice'), []) // expired there, replaced by a newer answer
    clock.advance(999)
    expect(await userOf(sources).groups).toEqual(['admin'])
    expect(memory.reads).toBe(1)
    clock.advance(2)
    expect(await userOf(sources).groups).toEqual([])
    expect(memory.reads).toBe(2)
  })

  it('a tier with only get() (written before getEntry) still works, with a whole ttlMs', async () => {
    const clock = fakeClock()
    const memory = memoryTier('no getEntry')
    memory.stored.set(groupsKey('alice'), ['admin'])
    const enrichment = new Enrichment(
      { sourceCache: { ttlMs: 30_000, shared: memory.tier } },
      silentLogger,
      clock,
    )
    const sources = enrichment.wrap({ groups: { fetchGroups: () => ['from the source'] } })
    expect(await userOf(sources).groups).toEqual(['admin'])
    clock.advance(29_999)
    expect(await userOf(sources).groups).toEqual(['admin'])
    expect(memory.reads).toBe(1)
  })

  it.each([0, -5, Number.NaN])(
    'a remaining time of %s never makes an answer immortal (lru-cache reads ttl 0 as "forever")',
    async (remainingMs) => {
      const clock = fakeClock()
      const memory = memoryTier(remainingMs)
      memory.stored.set(groupsKey('alice'), ['admin'])
      const enrichment = new Enrichment(
        { sourceCache: { ttlMs: 30_000, shared: memory.tier } },
        silentLogger,
        clock,
      )
      const sources = enrichment.wrap({ groups: { fetchGroups: () => ['from the source'] } })
      await userOf(sources).groups
      clock.advance(30_001)
      await userOf(sources).groups
      expect(memory.reads).toBe(2)
    },
  )
})

describe('checkEnrichmentOptions: sourceCache.shared', () => {
  function problemsOf(shared: unknown): string[] {
    const problems = new Problems()
    checkEnrichmentOptions(problems, { sourceCache: { shared: shared as SharedCacheTier } })
    try {
      problems.throwIfAny()
      return []
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      return [...(error as ConfigError).problems]
    }
  }

  const valid = memoryTier(1).tier

  it('accepts a tier, or none (undefined, null)', () => {
    expect(problemsOf(valid)).toEqual([])
    expect(problemsOf(memoryTier('no getEntry').tier)).toEqual([])
    expect(problemsOf(undefined)).toEqual([])
    expect(problemsOf(null)).toEqual([])
  })

  it.each([
    [
      {},
      /sourceCache\.shared must be .*; it has no get\(\), set\(\), invalidate\(\), onInvalidate\(\)/,
    ],
    [{ get: valid.get, set: valid.set }, /it has no invalidate\(\), onInvalidate\(\)$/],
    [{ ...valid, onInvalidate: undefined }, /it has no onInvalidate\(\)$/],
    ['redis://127.0.0.1:6379', /sourceCache\.shared must be .*, got string/],
    [{ ...valid, getEntry: 'yes' }, /sourceCache\.shared\.getEntry must be a method/],
  ])('refuses %j, naming the option and what is missing', (shared, message) => {
    const problems = problemsOf(shared)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(message)
  })
})

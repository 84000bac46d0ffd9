// A source that looks users up by its own key (cacheKey) has its answers cached under that key, not
// user.id: two users of one id never share an answer, and forgetUser reaches both keys.

import { describe, expect, it } from 'vitest'
import { Enrichment } from '../../src/enrichment.js'
import { checkSources } from '../../src/enrichment-options.js'
import { silentLogger } from '../../src/logger.js'
import { Problems } from '../../src/options.js'
import type { SharedCacheTier } from '../../src/shared-tier.js'
import { User, type UserSources } from '../../src/user.js'

const ISSUER = 'https://issuer.example'
// A gateway: every token carries its own sub, and the end user in `uid`.
const GATEWAY = 'gateway-client'

function userOf(sources: UserSources, claims: Record<string, unknown>): User {
  return new User(
    { provider: 'test', claims: { iss: ISSUER, sub: GATEWAY, ...claims }, token: 't' },
    { id: GATEWAY },
    sources,
  )
}

const GRANTS: Record<string, string[]> = { alice: ['admin'], mallory: [] }

/** Groups by the `uid` claim, with the cacheKey the brief asks of such a source. */
function groupsByUid(cacheKey: (user: User) => unknown = (user) => user.claims['uid']) {
  const source = {
    calls: 0,
    keyCalls: 0,
    forgotten: [] as string[],
    cacheKey(user: User) {
      source.keyCalls += 1
      return cacheKey(user) as string | undefined
    },
    fetchGroups(user: User) {
      source.calls += 1
      const uid = user.claims['uid']
      if (typeof uid !== 'string') throw new Error('the token has no "uid" claim')
      return GRANTS[uid] ?? []
    },
    forget({ subject }: { issuer: string; subject: string }) {
      source.forgotten.push(subject)
    },
  }
  return source
}

/** A shared tier in memory between the instances given it: Redis, in short. */
function memoryTier() {
  const values = new Map<string, unknown>()
  const listeners: Array<(keys: readonly string[]) => void> = []
  const tier: SharedCacheTier = {
    get: (key) => Promise.resolve(values.get(key)),
    set: (key, value) => (values.set(key, value), Promise.resolve()),
    invalidate: (keys) => {
      for (const key of keys) values.delete(key)
      for (const listener of listeners) listener(keys)
      return Promise.resolve()
    },
    onInvalidate: (listener) => void listeners.push(listener),
    health: () => ({ ok: true }),
  }
  return { tier, values }
}

describe('answers are cached under the source’s own key', () => {
  it('one user.id, two end users: each gets their own answer, each cached', async () => {
    const source = groupsByUid()
    const sources = new Enrichment({}, silentLogger).wrap({ groups: source })
    expect(await userOf(sources, { uid: 'alice' }).groups).toEqual(['admin'])
    expect(await userOf(sources, { uid: 'mallory' }).groups).toEqual([])
    expect(await userOf(sources, { uid: 'alice' }).groups).toEqual(['admin'])
    expect(await userOf(sources, { uid: 'mallory' }).groups).toEqual([])
    expect(source.calls).toBe(2)
    // One cacheKey call per lookup, nothing more.
    expect(source.keyCalls).toBe(4)
  })

  it('no key (the claim is missing): the source answers its own error, not a cached answer', async () => {
    const source = groupsByUid()
    const sources = new Enrichment({}, silentLogger).wrap({ groups: source })
    expect(await userOf(sources, { uid: 'alice' }).groups).toEqual(['admin'])
    await expect(userOf(sources, {}).groups).rejects.toMatchObject({ status: 503 })
    await expect(userOf(sources, {}).groups).rejects.toMatchObject({ status: 503 })
    expect(source.calls).toBe(3)
  })

  it.each([
    [
      'throws',
      () =>
        ((): never => {
          throw new Error('broken')
        })(),
    ],
    ['returns a number', () => 42],
    ['returns an empty string', () => ''],
    ['returns an object', () => ({ toString: () => 'alice' })],
  ])('a cacheKey that %s: not cached, the source is asked each time', async (_name, key) => {
    const source = groupsByUid(key)
    const sources = new Enrichment({}, silentLogger).wrap({ groups: source })
    expect(await userOf(sources, { uid: 'alice' }).groups).toEqual(['admin'])
    expect(await userOf(sources, { uid: 'mallory' }).groups).toEqual([])
    expect(await userOf(sources, { uid: 'mallory' }).groups).toEqual([])
    expect(source.calls).toBe(3)
  })

  it('through a shared tier: another instance reads the end user’s answer, never the id’s', async () => {
    const { tier, values } = memoryTier()
    const [here, there] = [0, 1].map(() =>
      new Enrichment({ sourceCache: { shared: tier } }, silentLogger).wrap({
        // Without forget: a source with a cache of its own is never shared (review9b).
        groups: withoutForget(groupsByUid()),
      }),
    )
    expect(await userOf(here!, { uid: 'alice' }).groups).toEqual(['admin'])
    await new Promise((resolve) => setImmediate(resolve)) // the shared write no one awaits
    expect([...values.keys()]).toEqual([`groups\n${ISSUER}\nalice`])
    expect(await userOf(there!, { uid: 'mallory' }).groups).toEqual([])
    expect(await userOf(there!, { uid: 'alice' }).groups).toEqual(['admin'])
  })

  it('a source without cacheKey is cached under user.id, as before', async () => {
    let calls = 0
    const sources = new Enrichment({}, silentLogger).wrap({
      groups: { fetchGroups: () => ((calls += 1), ['g']) },
    })
    await userOf(sources, { uid: 'alice' }).groups
    await userOf(sources, { uid: 'mallory' }).groups
    expect(calls).toBe(1)
  })
})

describe('forget reaches the source’s own key', () => {
  /** Alice's answer cached here, in the shared tier and on another instance. */
  async function cachedForAlice() {
    const { tier, values } = memoryTier()
    const source = groupsByUid()
    const elsewhere = groupsByUid()
    const enrichment = new Enrichment({ sourceCache: { shared: tier } }, silentLogger)
    const sources = enrichment.wrap({ groups: source })
    const other = new Enrichment({ sourceCache: { shared: tier } }, silentLogger)
    const otherSources = other.wrap({ groups: elsewhere })
    const user = userOf(sources, { uid: 'alice' })
    await user.groups
    await new Promise((resolve) => setImmediate(resolve)) // the shared write no one awaits
    await userOf(otherSources, { uid: 'alice' }).groups
    // A source with forget keeps its answers in process: each instance asked its own.
    expect([enrichment.size, other.size, values.size]).toEqual([1, 1, 0])
    expect(elsewhere.calls).toBe(1)
    /** Whether every tier dropped Alice's answer: the other instance asks its source again. */
    const forgotten = async () => {
      expect([enrichment.size, other.size, values.size]).toEqual([0, 0, 0])
      const asked = elsewhere.calls
      await userOf(otherSources, { uid: 'alice' }).groups
      expect(elsewhere.calls).toBe(asked + 1)
    }
    return { enrichment, source, elsewhere, user, forgotten }
  }

  it('a User: its id and its key are forgotten, the hooks told both, here and elsewhere', async () => {
    const { enrichment, source, elsewhere, user, forgotten } = await cachedForAlice()
    await enrichment.forget(ISSUER, user.id, user)
    // Told here, then again by the tier's own notice (as Redis tells this instance too).
    expect(new Set(source.forgotten)).toEqual(new Set([GATEWAY, 'alice']))
    expect(new Set(elsewhere.forgotten)).toEqual(new Set([GATEWAY, 'alice']))
    await forgotten()
  })

  it('{ issuer, subject }: subject is the source’s key (the CLI’s USER)', async () => {
    const { enrichment, source, elsewhere, forgotten } = await cachedForAlice()
    await enrichment.forget(ISSUER, 'alice')
    expect(new Set(source.forgotten)).toEqual(new Set(['alice']))
    expect(new Set(elsewhere.forgotten)).toEqual(new Set(['alice']))
    await forgotten()
  })

  it('a key equal to the id is told once', async () => {
    const source = groupsByUid(() => GATEWAY)
    const enrichment = new Enrichment({}, silentLogger)
    const user = userOf(enrichment.wrap({ groups: source }), { uid: 'alice' })
    await enrichment.forget(ISSUER, user.id, user)
    expect(source.forgotten).toEqual([GATEWAY])
  })
})

it('a cacheKey that is not a method is refused at construction', () => {
  const problems = new Problems()
  checkSources(problems, { groups: { fetchGroups: () => [], cacheKey: 'uid' } } as never)
  expect(() => problems.throwIfAny()).toThrow(
    expect.objectContaining({
      problems: [
        'groups.cacheKey must be a method (the value it looks the user up by), or left out',
      ],
    }),
  )
})

/** The source without its forget hook: a source with a cache of its own is kept out of the shared tier. */
function withoutForget<T extends { forget?: unknown }>(source: T): Omit<T, 'forget'> {
  const { forget: _forget, ...rest } = source
  return rest
}

import { afterEach, describe, expect, it, vi } from 'vitest'
import { Enrichment } from '../../src/enrichment.js'
import { checkEnrichmentOptions, checkSources } from '../../src/enrichment-options.js'
import { ForbiddenError, InvalidTokenError, UnavailableError } from '../../src/errors.js'
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

function countingGroups(answer: () => unknown) {
  const source = {
    calls: 0,
    signals: [] as AbortSignal[],
    fetchGroups(_user: User, context?: { signal: AbortSignal }) {
      source.calls += 1
      if (context) source.signals.push(context.signal)
      return answer() as readonly string[]
    },
  }
  return source
}

function fakeClock() {
  let now = 1_000
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('Enrichment: the cross-request cache', () => {
  it('one lookup per user per TTL, however many requests; another user has its own', async () => {
    const clock = fakeClock()
    const enrichment = new Enrichment({ sourceCache: { ttlMs: 30_000 } }, silentLogger, clock)
    const source = countingGroups(() => ['ops'])
    const sources = enrichment.wrap({ groups: source })
    for (let request = 0; request < 50; request += 1) {
      expect(await userOf(sources).groups).toEqual(['ops'])
    }
    expect(source.calls).toBe(1)
    await userOf(sources, 'bob').groups
    expect(source.calls).toBe(2)
    clock.advance(29_000)
    await userOf(sources).groups
    expect(source.calls).toBe(2)
    clock.advance(2_000)
    await userOf(sources).groups
    expect(source.calls).toBe(3)
  })

  it('concurrent misses of one user share one call', async () => {
    const enrichment = new Enrichment({}, silentLogger)
    let release: (value: string[]) => void = () => undefined
    const source = countingGroups(() => new Promise((resolve) => (release = resolve)))
    const sources = enrichment.wrap({ groups: source })
    const pending = Array.from({ length: 20 }, () => userOf(sources).groups)
    release(['ops'])
    expect(await Promise.all(pending)).toEqual(Array(20).fill(['ops']))
    expect(source.calls).toBe(1)
  })

  it('never caches sources that read the token (fromToken), nor when turned off', async () => {
    const fromToken = Object.assign(
      countingGroups(() => ['a']),
      { fromToken: true },
    )
    const fromTokenSources = new Enrichment({}, silentLogger).wrap({ groups: fromToken })
    await userOf(fromTokenSources).groups
    await userOf(fromTokenSources).groups
    expect(fromToken.calls).toBe(2)

    const plain = countingGroups(() => ['a'])
    const uncached = new Enrichment({ sourceCache: false }, silentLogger).wrap({ groups: plain })
    await userOf(uncached).groups
    await userOf(uncached).groups
    expect(plain.calls).toBe(2)
  })

  it('a refused token (InvalidTokenError) passes through the cached source as it is, uncached', async () => {
    const refused = new InvalidTokenError('ERR_AUTH_TOKEN_REVOKED', 'token revoked')
    const source = countingGroups(() => {
      throw refused
    })
    const sources = new Enrichment({}, silentLogger).wrap({ groups: source })
    await expect(userOf(sources).groups).rejects.toBe(refused)
    await expect(userOf(sources).groups).rejects.toBe(refused)
    expect(source.calls).toBe(2)
  })

  it.each([
    ['cached', {}],
    ['not cached', { sourceCache: false as const }],
  ])(
    'a source’s refusal of the user (ForbiddenError) passes through as it is, %s',
    async (_name, options) => {
      const refusal = new ForbiddenError('group membership is too large for the token')
      const source = countingGroups(() => {
        throw refusal
      })
      const sources = new Enrichment(options, silentLogger).wrap({ groups: source })
      await expect(userOf(sources).groups).rejects.toBe(refusal)
      await expect(userOf(sources).groups).rejects.toBe(refusal)
      expect(source.calls).toBe(2)
      // Without the enrichment too: the user's own facet loading.
      await expect(userOf({ groups: source }).groups).rejects.toBe(refusal)
    },
  )

  it('failures are not cached: the next request asks again', async () => {
    let fail = true
    const source = countingGroups(() => {
      if (fail) throw new Error('db down')
      return ['ops']
    })
    const sources = new Enrichment({}, silentLogger).wrap({ groups: source })
    await expect(userOf(sources).groups).rejects.toMatchObject({
      status: 503,
      code: 'ERR_AUTH_SOURCE_UNAVAILABLE',
    })
    fail = false
    expect(await userOf(sources).groups).toEqual(['ops'])
    expect(source.calls).toBe(2)
  })

  it.each([null, undefined, 'admin', [1], { groups: [] }])(
    'an answer of %j fails closed with 503 and is not cached',
    async (answer) => {
      const source = countingGroups(() => answer)
      const sources = new Enrichment({}, silentLogger).wrap({ groups: source })
      await expect(userOf(sources).groups).rejects.toBeInstanceOf(UnavailableError)
      await expect(userOf(sources).groups).rejects.toBeInstanceOf(UnavailableError)
      expect(source.calls).toBe(2)
    },
  )

  it('a list item is read once: what was checked is what is kept, though a getter answers otherwise later', async () => {
    let reads = 0
    const shifty: unknown[] = ['ops']
    Object.defineProperty(shifty, 1, {
      enumerable: true,
      get: () => (++reads === 1 ? 'admin' : { toString: () => 'admin' }),
    })
    const sources = new Enrichment({}, silentLogger).wrap({ groups: countingGroups(() => shifty) })
    const groups = await userOf(sources).groups
    expect(reads).toBe(1)
    expect(groups).toEqual(['ops', 'admin'])
    expect(groups.every((item) => typeof item === 'string')).toBe(true)
  })

  it('a profile must be an object', async () => {
    const sources = new Enrichment({}, silentLogger).wrap({
      profile: { fetchProfile: () => ['not', 'a', 'record'] as unknown as Record<string, unknown> },
    })
    await expect(userOf(sources).profile).rejects.toBeInstanceOf(UnavailableError)
  })

  it("a profile is each request's own copy: a handler's change reaches no other request", async () => {
    let calls = 0
    const kept = { name: 'Alice', address: { city: 'Lyon' }, tags: ['a'], since: new Date(0) }
    const sources = new Enrichment({}, silentLogger).wrap({
      profile: {
        fetchProfile: () => {
          calls += 1
          return kept
        },
      },
    })
    const first = (await userOf(sources).profile) as typeof kept
    first.name = 'Mallory'
    first.address.city = 'Paris'
    first.tags.push('admin')
    first.since.setTime(1)
    const second = (await userOf(sources).profile) as typeof kept
    expect(calls).toBe(1)
    expect(second).toEqual({
      name: 'Alice',
      address: { city: 'Lyon' },
      tags: ['a'],
      since: new Date(0),
    })
    expect(kept).toEqual(second)
    // The source changing its own object after answering does not change the stored answer.
    kept.address.city = 'Nice'
    expect(((await userOf(sources).profile) as typeof kept).address.city).toBe('Lyon')
  })

  it('a profile that cannot be copied (a function inside) fails closed with 503', async () => {
    const sources = new Enrichment({}, silentLogger).wrap({
      profile: { fetchProfile: () => ({ name: 'Alice', greet: () => 'hi' }) },
    })
    await expect(userOf(sources).profile).rejects.toMatchObject({
      status: 503,
      code: 'ERR_AUTH_SOURCE_UNAVAILABLE',
    })
  })

  it('an answer whose load was overtaken by forget() is not written to the shared tier', async () => {
    const stored = new Map<string, unknown>()
    const listeners: Array<(keys: readonly string[]) => void> = []
    const shared = {
      get: async (key: string) => stored.get(key),
      set: async (key: string, value: unknown) => void stored.set(key, value),
      invalidate: async (keys: readonly string[]) => {
        for (const key of keys) stored.delete(key)
        for (const listener of listeners) listener(keys)
      },
      onInvalidate: (listener: (keys: readonly string[]) => void) => void listeners.push(listener),
      health: () => ({ ok: true }),
    }
    const enrichment = new Enrichment({ sourceCache: { ttlMs: 30_000, shared } }, silentLogger)
    let groups = ['admin']
    let release: () => void = () => undefined
    // A slow source that ignores its abort signal, answering what it read when it was called.
    const source = countingGroups(() => {
      const read = groups
      return new Promise<readonly string[]>((resolve) => (release = () => resolve(read)))
    })
    const sources = enrichment.wrap({ groups: source })
    const before = userOf(sources).groups
    await new Promise((resolve) => setImmediate(resolve))
    groups = [] // An admin removes alice from admin, then forgets her cached answers.
    const releaseFirst = release
    await enrichment.forget(ISSUER, 'alice')
    const after = userOf(sources).groups
    await new Promise((resolve) => setImmediate(resolve))
    release()
    releaseFirst()
    await Promise.allSettled([before, after])
    await new Promise((resolve) => setImmediate(resolve))
    expect(await after).toEqual([])
    expect([...stored.values()]).toEqual([[]])
  })

  it('forget(issuer, subject) makes the next request ask again; clear() forgets everyone', async () => {
    const enrichment = new Enrichment({}, silentLogger)
    const source = countingGroups(() => ['ops'])
    const sources = enrichment.wrap({ groups: source })
    await userOf(sources).groups
    enrichment.forget(ISSUER, 'alice')
    await userOf(sources).groups
    expect(source.calls).toBe(2)
    enrichment.clear()
    await userOf(sources).groups
    expect(source.calls).toBe(3)
  })
})

describe('Enrichment: time-outs', () => {
  it('a hanging source answers 503 after sourceTimeoutMs, and its signal is aborted', async () => {
    vi.useFakeTimers()
    const source = countingGroups(() => new Promise(() => undefined))
    const sources = new Enrichment({ sourceTimeoutMs: 2_000 }, silentLogger).wrap({
      groups: source,
    })
    const groups = userOf(sources).groups
    const outcome = expect(groups).rejects.toMatchObject({
      status: 503,
      description: 'groups are temporarily unavailable',
    })
    await vi.advanceTimersByTimeAsync(1_999)
    expect(source.signals[0]!.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    await outcome
    expect(source.signals[0]!.aborted).toBe(true)
    // The failed call left nothing behind: the next request asks again.
    void userOf(sources).groups.catch(() => undefined)
    expect(source.calls).toBe(2)
    await vi.advanceTimersByTimeAsync(2_000)
  })

  it('a source that answers in time leaves no timer running', async () => {
    vi.useFakeTimers()
    const sources = new Enrichment({}, silentLogger).wrap({ groups: countingGroups(() => ['a']) })
    await userOf(sources).groups
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('source and enrichment options', () => {
  function problemsOf(check: (problems: Problems) => void): string[] {
    const problems = new Problems()
    check(problems)
    try {
      problems.throwIfAny()
      return []
    } catch (error) {
      return [...(error as { problems: string[] }).problems]
    }
  }

  it('names the facet and the method, and tells to pass an instance rather than a class', () => {
    class MyGroups {
      fetchGroups() {
        return []
      }
    }
    expect(
      problemsOf((p) =>
        checkSources(p, {
          groups: MyGroups as unknown as UserSources['groups'],
          roles: {} as UserSources['roles'],
          permissions: null as unknown as UserSources['permissions'],
        }),
      ),
    ).toEqual([
      'groups must be an object with a fetchGroups(user) method, got a function (pass an instance: new MySource())',
      'roles must be an object with a fetchRoles(user) method, got object',
      'permissions must be an object with a fetchPermissions(user) method, got null',
    ])
  })

  it.each([
    [{ sourceTimeoutMs: 0 }, /sourceTimeoutMs/],
    [{ sourceCache: { ttlMs: -1 } }, /sourceCache.ttlMs/],
    [{ sourceCache: { max: 1.5 } }, /sourceCache.max/],
    [{ sourceCache: true }, /sourceCache must be/],
  ])('refuses %j', (options, message) => {
    expect(problemsOf((p) => checkEnrichmentOptions(p, options as never)).join('\n')).toMatch(
      message,
    )
  })
})

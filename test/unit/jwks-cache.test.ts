// JwksCache: single-flight fetches, kid-miss cooldown, background refresh, stale-if-error, limits.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { endlessBody, startCountingServer } from '../helpers/http.js'
import { ConfigError, InvalidTokenError, UnavailableError } from '../../src/errors.js'
import type { FetchFunction } from '../../src/fetch-json.js'
import { JwksCache, type JwksCacheOptions } from '../../src/jwks-cache.js'
import type { JwsAlgorithm, VerificationKey } from '../../src/jwt.js'
import { createTestIssuer, type TestAlgorithm, type TestIssuer } from '../../src/testing.js'

const T0 = Date.parse('2030-01-01T00:00:00Z')

// ---------------------------------------------------------------------------------------------
// Helpers

const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function newIssuer(
  options: { algorithms?: TestAlgorithm[]; issuer?: string; listen?: boolean } = {},
): Promise<TestIssuer> {
  const idp = await createTestIssuer({
    algorithms: options.algorithms ?? ['ES256'],
    listen: options.listen ?? false,
    ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
  })
  cleanups.push(() => idp.close())
  return idp
}

/** The kid of the issuer's first (current) key. */
function kidOf(idp: TestIssuer, index = 0): string {
  const kid = idp.jwks().keys[index]?.kid
  if (typeof kid !== 'string') throw new Error('the test issuer has no kid')
  return kid
}

/** Only Date is faked: Date.now() moves with `at()`, while promises and real I/O run normally. */
function fakeClock(): (offsetMs: number) => void {
  vi.useFakeTimers({ toFake: ['Date'], now: T0 })
  return (offsetMs) => vi.setSystemTime(T0 + offsetMs)
}

/** Lets in-memory fetches (promises only, no timers) and the cache's bookkeeping finish. */
async function flush(): Promise<void> {
  for (let round = 0; round < 5; round += 1) await new Promise((resolve) => setImmediate(resolve))
}

type Outcome =
  { sync: boolean; ok: true; key: VerificationKey } | { sync: boolean; ok: false; error: unknown }

/** Calls getKey and reports whether it answered synchronously, and with what. */
async function attempt(run: () => VerificationKey | Promise<VerificationKey>): Promise<Outcome> {
  let result: VerificationKey | Promise<VerificationKey>
  try {
    result = run()
  } catch (error) {
    return { sync: true, ok: false, error }
  }
  if (!(result instanceof Promise)) return { sync: true, ok: true, key: result }
  try {
    return { sync: false, ok: true, key: await result }
  } catch (error) {
    return { sync: false, ok: false, error }
  }
}

function keyOf(outcome: Outcome): VerificationKey {
  if (!outcome.ok) throw new Error(`expected a key, got ${String(outcome.error)}`)
  return outcome.key
}

/** A key returned synchronously (not a Promise). */
function syncKey(result: VerificationKey | Promise<VerificationKey>): VerificationKey {
  if (result instanceof Promise) {
    result.catch(() => undefined)
    throw new Error('expected a synchronous key, got a Promise')
  }
  return result
}

function expectNotFound(error: unknown): void {
  expect(error).toBeInstanceOf(InvalidTokenError)
  expect(error).toMatchObject({ code: 'ERR_AUTH_KEY_NOT_FOUND', status: 401 })
}

function expectUnavailable(error: unknown): void {
  expect(error).toBeInstanceOf(UnavailableError)
  expect(error).toMatchObject({ code: 'ERR_AUTH_KEYS_UNAVAILABLE', status: 503 })
}

/** getKey must throw ERR_AUTH_KEY_NOT_FOUND synchronously. */
function expectSyncNotFound(run: () => VerificationKey | Promise<VerificationKey>): void {
  let thrown: unknown
  let result: unknown
  try {
    result = run()
  } catch (error) {
    thrown = error
  }
  if (result instanceof Promise) result.catch(() => undefined)
  expect(result, 'getKey should have thrown synchronously').toBeUndefined()
  expectNotFound(thrown)
}

function outcomeError(outcome: Outcome): unknown {
  if (outcome.ok) throw new Error('expected an error, got a key')
  return outcome.error
}

function cacheFor(idp: TestIssuer, options: JwksCacheOptions = {}): JwksCache {
  return new JwksCache({ fetch: idp.fetch, ...options })
}

interface TinyServer {
  readonly url: string
  readonly hits: number
}

/** A node:http server on 127.0.0.1:0 for what the test issuer cannot do; closed after the test. */
async function tinyServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TinyServer> {
  const server = await startCountingServer(handler)
  cleanups.push(server.close)
  return {
    url: `${server.url}/jwks`,
    get hits() {
      return server.hits
    },
  }
}

// ---------------------------------------------------------------------------------------------

describe('JwksCache: first fetch and synchronous hits', () => {
  it('fetches once on the first getKey, then answers synchronously without fetching', async () => {
    fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp)
    const first = cache.getKey(idp.jwksUri, 'ES256', kidOf(idp))
    expect(first).toBeInstanceOf(Promise)
    const key = await first
    expect(key.kid).toBe(kidOf(idp))
    expect(idp.counts.jwks).toBe(1)

    for (let i = 0; i < 100; i += 1) {
      expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', kidOf(idp)))).toBe(key)
    }
    await flush()
    expect(idp.counts.jwks).toBe(1)
  })

  it('finds the only key of a set for a token without kid', async () => {
    const idp = await newIssuer()
    const cache = cacheFor(idp)
    const key = await cache.getKey(idp.jwksUri, 'ES256', undefined)
    expect(key.kid).toBe(kidOf(idp))
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', undefined))).toBe(key)
    expect(idp.counts.jwks).toBe(1)
  })
})

describe('JwksCache: cold-start stampede (JWKS-06)', () => {
  it('200 concurrent getKey on a cold cache cause exactly one fetch and all resolve', async () => {
    const idp = await newIssuer()
    idp.respondWith('jwks', { delayMs: 20 })
    const cache = cacheFor(idp)
    const kid = kidOf(idp)
    const pending = Array.from({ length: 200 }, () => cache.getKey(idp.jwksUri, 'ES256', kid))
    expect(pending.every((result) => result instanceof Promise)).toBe(true)
    const keys = await Promise.all(pending)
    expect(idp.counts.jwks).toBe(1)
    expect(new Set(keys).size).toBe(1)
    expect(keys[0]?.kid).toBe(kid)
  })

  it('shares the one fetch with unknown kids too; they fail with ERR_AUTH_KEY_NOT_FOUND', async () => {
    const idp = await newIssuer()
    const cache = cacheFor(idp)
    const kid = kidOf(idp)
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        attempt(() => cache.getKey(idp.jwksUri, 'ES256', i % 2 === 0 ? kid : `forged-${i}`)),
      ),
    )
    expect(idp.counts.jwks).toBe(1)
    outcomes.forEach((outcome, i) => {
      if (i % 2 === 0) expect(keyOf(outcome).kid).toBe(kid)
      else expectNotFound(outcomeError(outcome))
    })
  })

  it('200 concurrent getKey while the endpoint is down cause one fetch and all get a 503', async () => {
    const idp = await newIssuer()
    idp.respondWith('jwks', { status: 503, body: 'down' })
    const cache = cacheFor(idp)
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () => attempt(() => cache.getKey(idp.jwksUri, 'ES256', 'k'))),
    )
    expect(idp.counts.jwks).toBe(1)
    for (const outcome of outcomes) expectUnavailable(outcomeError(outcome))
  })
})

describe('JwksCache: unknown kid and the cooldown (JWKS-20)', () => {
  it('a wall clock stepping backwards lets one fetch through instead of blocking refetches', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp, { cooldownMs: 30_000 })
    const oldKid = kidOf(idp)
    at(3_600_000)
    await cache.getKey(idp.jwksUri, 'ES256', oldKid)
    idp.rotateKeys({ keepOld: true })
    at(0) // an hour back: NTP correction or a resumed VM
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', oldKid)).kid).toBe(oldKid)
    await flush()
    expect(keyOf(await attempt(() => cache.getKey(idp.jwksUri, 'ES256', kidOf(idp)))).kid).toBe(
      kidOf(idp),
    )
    expect(idp.counts.jwks).toBe(2)
    // The fetch re-anchored the clock: the cooldown holds again from here.
    expectSyncNotFound(() => cache.getKey(idp.jwksUri, 'ES256', 'unknown'))
    await flush()
    expect(idp.counts.jwks).toBe(2)
  })

  it('refetches once for an unknown kid, then once more only after the cooldown', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp, { cooldownMs: 30_000 })
    const oldKid = kidOf(idp)
    await cache.getKey(idp.jwksUri, 'ES256', oldKid)
    expect(idp.counts.jwks).toBe(1)

    // The issuer rotates; a token signed with the new key arrives.
    idp.rotateKeys({ keepOld: true })
    const newKid = kidOf(idp)
    at(30_000)
    const rotated = await attempt(() => cache.getKey(idp.jwksUri, 'ES256', newKid))
    expect(rotated.sync).toBe(false)
    expect(keyOf(rotated).kid).toBe(newKid)
    expect(idp.counts.jwks).toBe(2)
    // Both keys now answer synchronously.
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', newKid)).kid).toBe(newKid)
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', oldKid)).kid).toBe(oldKid)

    // A second unknown kid within the cooldown: no fetch, a synchronous 401.
    at(30_001)
    expectSyncNotFound(() => cache.getKey(idp.jwksUri, 'ES256', 'unknown-1'))
    at(59_999)
    expectSyncNotFound(() => cache.getKey(idp.jwksUri, 'ES256', 'unknown-2'))
    await flush()
    expect(idp.counts.jwks).toBe(2)

    // After the cooldown: one more fetch, and still not found.
    at(60_000)
    const late = await attempt(() => cache.getKey(idp.jwksUri, 'ES256', 'unknown-3'))
    expect(late.sync).toBe(false)
    expectNotFound(outcomeError(late))
    expect(idp.counts.jwks).toBe(3)
    expectSyncNotFound(() => cache.getKey(idp.jwksUri, 'ES256', 'unknown-4'))
    expect(idp.counts.jwks).toBe(3)
  })

  it('within the cooldown of the first fetch an unknown kid causes no fetch', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp, { cooldownMs: 30_000 })
    await cache.getKey(idp.jwksUri, 'ES256', kidOf(idp))
    at(29_999)
    expectSyncNotFound(() => cache.getKey(idp.jwksUri, 'ES256', 'not-yet'))
    await flush()
    expect(idp.counts.jwks).toBe(1)
  })
})

describe('JwksCache: kid flood (JWKS-03, JWKS-05)', () => {
  /**
   * Sends `count` requests with distinct unknown kids, one per millisecond from `startMs`, each
   * followed by a request with the real kid, and awaits every answer before the next request.
   */
  async function flood(
    cache: JwksCache,
    idp: TestIssuer,
    at: (offsetMs: number) => void,
    startMs: number,
    count: number,
  ): Promise<{ notFound: number; knownSync: number }> {
    const kid = kidOf(idp)
    let notFound = 0
    let knownSync = 0
    for (let i = 0; i < count; i += 1) {
      at(startMs + i)
      const forged = await attempt(() =>
        cache.getKey(idp.jwksUri, 'ES256', `forged-${i.toString(36)}-${(i * 7919) % 10007}`),
      )
      if (!forged.ok && forged.error instanceof InvalidTokenError) notFound += 1
      const known = await attempt(() => cache.getKey(idp.jwksUri, 'ES256', kid))
      if (known.ok && known.sync && known.key.kid === kid) knownSync += 1
    }
    return { notFound, knownSync }
  }

  it('1,000 unknown kids within one second cause one fetch per 30 s cooldown; the real kid keeps working', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp) // default cooldown: 30 s
    await cache.getKey(idp.jwksUri, 'ES256', kidOf(idp))
    expect(idp.counts.jwks).toBe(1)

    // Flood right after the initial fetch: inside its cooldown, so no fetch at all.
    const first = await flood(cache, idp, at, 1, 1000)
    expect(idp.counts.jwks - 1).toBe(0)
    expect(first).toEqual({ notFound: 1000, knownSync: 1000 })

    // Flood once the cooldown has passed: exactly one refetch for the 1,000 kids.
    const second = await flood(cache, idp, at, 40_000, 1000)
    expect(idp.counts.jwks - 1).toBe(1)
    expect(second).toEqual({ notFound: 1000, knownSync: 1000 })
  })

  it('with a 250 ms cooldown, 1,000 unknown kids in one second cause exactly 4 fetches (one per window)', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp, { cooldownMs: 250 })
    await cache.getKey(idp.jwksUri, 'ES256', kidOf(idp))
    // t = 1 000 … 1 999 ms: windows start at 1 000, 1 250, 1 500 and 1 750.
    const result = await flood(cache, idp, at, 1000, 1000)
    expect(idp.counts.jwks - 1).toBe(4)
    expect(result).toEqual({ notFound: 1000, knownSync: 1000 })
  })

  it('1,000 concurrent unknown kids in one tick share one fetch; the real kid answers synchronously', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp)
    const kid = kidOf(idp)
    await cache.getKey(idp.jwksUri, 'ES256', kid)
    at(30_000)
    const pending: Promise<Outcome>[] = []
    for (let i = 0; i < 1000; i += 1) {
      pending.push(attempt(() => cache.getKey(idp.jwksUri, 'ES256', `forged-${i}`)))
      expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', kid)).kid).toBe(kid)
    }
    const outcomes = await Promise.all(pending)
    expect(idp.counts.jwks).toBe(2)
    for (const outcome of outcomes) expectNotFound(outcomeError(outcome))
  })
})

describe('JwksCache: empty key set (JWKS-04)', () => {
  it('keeps the cooldown for {"keys":[]}: no fetch per request', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    idp.setJwks({ keys: [] })
    const cache = cacheFor(idp, { cooldownMs: 30_000 })
    const first = await attempt(() => cache.getKey(idp.jwksUri, 'ES256', 'k1'))
    expect(first.sync).toBe(false)
    expectNotFound(outcomeError(first))
    expect(idp.counts.jwks).toBe(1)
    expect(cache.status(idp.jwksUri).keyCount).toBe(0)

    for (let i = 0; i < 500; i += 1) {
      at(1 + i * 50) // 1 ms … 24 951 ms
      expectSyncNotFound(() => cache.getKey(idp.jwksUri, 'ES256', `k${i}`))
      expectSyncNotFound(() => cache.getKey(idp.jwksUri, 'ES256', undefined))
    }
    await flush()
    expect(idp.counts.jwks).toBe(1)

    at(30_000)
    expectNotFound(outcomeError(await attempt(() => cache.getKey(idp.jwksUri, 'ES256', 'k'))))
    expect(idp.counts.jwks).toBe(2)
  })
})

describe('JwksCache: a known kid whose key does not fit', () => {
  // The issuer may have reused the kid for a new key (another type, another alg): the set is
  // fetched again as for an unknown kid, at most once a cooldown (jose does the same).
  it.each<[string, JwsAlgorithm]>([
    ['another key type', 'RS256'],
    ['another alg of the same type', 'ES384'],
    ['an RSA-PSS alg on an EC key', 'PS256'],
  ])('answers ERR_AUTH_KEY_NOT_FOUND for %s, refetching once a cooldown', async (_, alg) => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp, { cooldownMs: 1_000 })
    const kid = kidOf(idp)
    await cache.getKey(idp.jwksUri, 'ES256', kid)
    // Within the cooldown of the first fetch: refused at once, no fetch.
    expectSyncNotFound(() => cache.getKey(idp.jwksUri, alg, kid))
    expectSyncNotFound(() => cache.getKey(idp.jwksUri, alg, kid))
    await flush()
    expect(idp.counts.jwks).toBe(1)
    // Past it: one fetch, still no key that fits, then refused at once again.
    at(10_000)
    expectNotFound(outcomeError(await attempt(() => cache.getKey(idp.jwksUri, alg, kid))))
    expectSyncNotFound(() => cache.getKey(idp.jwksUri, alg, kid))
    await flush()
    expect(idp.counts.jwks).toBe(2)
  })
})

describe('JwksCache: refresh by age (JWKS-21, JWKS-22)', () => {
  it('serves the cached key synchronously past the interval and refreshes once in the background', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp, { refreshIntervalMs: 60_000 })
    const oldKid = kidOf(idp)
    const oldKey = await cache.getKey(idp.jwksUri, 'ES256', oldKid)

    at(59_999)
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', oldKid))).toBe(oldKey)
    await flush()
    expect(idp.counts.jwks).toBe(1)

    // The issuer rotates and withdraws the old key.
    idp.rotateKeys()
    const newKid = kidOf(idp)

    at(60_000)
    for (let i = 0; i < 20; i += 1) {
      expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', oldKid))).toBe(oldKey)
    }
    expect(idp.counts.jwks).toBe(2)
    await flush()
    expect(idp.counts.jwks).toBe(2)
    expect(cache.status(idp.jwksUri).fetchedAt?.getTime()).toBe(T0 + 60_000)

    // The new set is used: the new kid is found without a fetch, the withdrawn one is not.
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', newKid)).kid).toBe(newKid)
    expectSyncNotFound(() => cache.getKey(idp.jwksUri, 'ES256', oldKid))
    await flush()
    expect(idp.counts.jwks).toBe(2)

    at(119_999)
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', newKid)).kid).toBe(newKid)
    await flush()
    expect(idp.counts.jwks).toBe(2)
    at(120_000)
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', newKid)).kid).toBe(newKid)
    await flush()
    expect(idp.counts.jwks).toBe(3)
  })
})

describe('JwksCache: refresh by usage', () => {
  it('refreshes in the background after refreshAfterUses, at most once per cooldown', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp, { refreshAfterUses: 5, cooldownMs: 10_000 })
    const kid = kidOf(idp)
    await cache.getKey(idp.jwksUri, 'ES256', kid)

    // Many uses right after the first fetch: inside its cooldown, so no refresh yet.
    for (let i = 0; i < 100; i += 1) syncKey(cache.getKey(idp.jwksUri, 'ES256', kid))
    await flush()
    expect(idp.counts.jwks).toBe(1)

    at(10_000)
    for (let i = 0; i < 100; i += 1) syncKey(cache.getKey(idp.jwksUri, 'ES256', kid))
    await flush()
    expect(idp.counts.jwks).toBe(2)

    // The counter restarts with the new set: four uses are not enough, the fifth is.
    at(25_000)
    for (let i = 0; i < 4; i += 1) syncKey(cache.getKey(idp.jwksUri, 'ES256', kid))
    await flush()
    expect(idp.counts.jwks).toBe(2)
    syncKey(cache.getKey(idp.jwksUri, 'ES256', kid))
    await flush()
    expect(idp.counts.jwks).toBe(3)

    // Heavy use inside the cooldown: still one refresh per cooldown.
    for (let ms = 25_001; ms < 35_000; ms += 10) {
      at(ms)
      syncKey(cache.getKey(idp.jwksUri, 'ES256', kid))
    }
    await flush()
    expect(idp.counts.jwks).toBe(3)
    at(35_000)
    syncKey(cache.getKey(idp.jwksUri, 'ES256', kid))
    await flush()
    expect(idp.counts.jwks).toBe(4)
  })
})

describe('JwksCache: stale-if-error (JWKS-08)', () => {
  it('serves the last good keys through an outage up to interval + staleIfErrorMs, then 503, then recovers', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp, {
      refreshIntervalMs: 60_000,
      staleIfErrorMs: 120_000,
      failureBackoffMs: 1_000,
      cooldownMs: 10_000,
    })
    const kid = kidOf(idp)
    const key = await cache.getKey(idp.jwksUri, 'ES256', kid)
    idp.respondWith('jwks', { status: 503, body: 'down' })

    const serve = async (ms: number, fetches: number): Promise<void> => {
      at(ms)
      expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', kid))).toBe(key)
      await flush()
      expect(idp.counts.jwks, `fetches at ${ms} ms`).toBe(fetches)
    }
    await serve(59_999, 1)
    await serve(60_000, 2) // background refresh fails quietly
    expect(cache.status(idp.jwksUri)).toMatchObject({ keyCount: 1 })
    expect(cache.status(idp.jwksUri).lastError).toMatch(/503/)
    await serve(60_999, 2) // back-off 1 s
    await serve(61_000, 3) // back-off 2 s
    await serve(62_999, 3)
    await serve(63_000, 4) // back-off 4 s
    await serve(66_999, 4)
    await serve(67_000, 5) // back-off 8 s
    await serve(179_999, 6) // the last moment the stale keys serve; back-off 10 s (the cooldown)

    at(180_000)
    const expired = await attempt(() => cache.getKey(idp.jwksUri, 'ES256', kid))
    expectUnavailable(outcomeError(expired))
    expect(idp.counts.jwks).toBe(6) // inside the back-off: answered at once
    expect(cache.status(idp.jwksUri).keyCount).toBe(0)

    // The endpoint recovers; the first request after the back-off fetches and succeeds.
    idp.respondWith('jwks', undefined)
    at(189_998)
    expectUnavailable(outcomeError(await attempt(() => cache.getKey(idp.jwksUri, 'ES256', kid))))
    expect(idp.counts.jwks).toBe(6)
    at(189_999)
    const recovered = await attempt(() => cache.getKey(idp.jwksUri, 'ES256', kid))
    expect(keyOf(recovered).kid).toBe(kid)
    expect(idp.counts.jwks).toBe(7)
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', kid)).kid).toBe(kid)
    expect(cache.status(idp.jwksUri)).toEqual({
      keyCount: 1,
      fetchedAt: new Date(T0 + 189_999),
      lastError: undefined,
    })
  })

  it('with staleIfErrorMs 0 the keys stop serving at the interval when the refresh fails', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp, { refreshIntervalMs: 60_000, staleIfErrorMs: 0 })
    const kid = kidOf(idp)
    await cache.getKey(idp.jwksUri, 'ES256', kid)
    idp.respondWith('jwks', { status: 500 })
    at(60_000)
    expectUnavailable(outcomeError(await attempt(() => cache.getKey(idp.jwksUri, 'ES256', kid))))
    expect(idp.counts.jwks).toBe(2)
  })
})

describe('JwksCache: identity provider down from the start (JWKS-07)', () => {
  it('answers 503, fetches nothing during the back-off, doubles it up to the cooldown, recovers', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    idp.respondWith('jwks', { status: 503, body: 'down' })
    const cache = cacheFor(idp, { failureBackoffMs: 1_000, cooldownMs: 8_000 })
    const kid = kidOf(idp)

    const expectDown = async (ms: number, fetches: number): Promise<void> => {
      at(ms)
      const outcome = await attempt(() => cache.getKey(idp.jwksUri, 'ES256', kid))
      expectUnavailable(outcomeError(outcome))
      expect(idp.counts.jwks, `fetches at ${ms} ms`).toBe(fetches)
    }
    await expectDown(0, 1)
    // During the back-off: no fetch, even for many concurrent requests.
    at(999)
    const burst = await Promise.all(
      Array.from({ length: 50 }, () => attempt(() => cache.getKey(idp.jwksUri, 'ES256', kid))),
    )
    for (const outcome of burst) expectUnavailable(outcomeError(outcome))
    expect(idp.counts.jwks).toBe(1)
    await expectDown(1_000, 2) // back-off was 1 s, now 2 s
    await expectDown(2_999, 2)
    await expectDown(3_000, 3) // now 4 s
    await expectDown(6_999, 3)
    await expectDown(7_000, 4) // now 8 s (the cooldown)
    await expectDown(14_999, 4)
    await expectDown(15_000, 5) // capped at 8 s, not 16 s
    await expectDown(22_999, 5)
    await expectDown(23_000, 6)
    expect(cache.status(idp.jwksUri)).toMatchObject({ keyCount: 0, fetchedAt: undefined })
    expect(cache.status(idp.jwksUri).lastError).toMatch(/HTTP 503/)

    idp.respondWith('jwks', undefined)
    await expectDown(30_999, 6)
    at(31_000)
    expect(keyOf(await attempt(() => cache.getKey(idp.jwksUri, 'ES256', kid))).kid).toBe(kid)
    expect(idp.counts.jwks).toBe(7)
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', kid)).kid).toBe(kid)
    expect(cache.status(idp.jwksUri).lastError).toBeUndefined()
  })

  it('measures the back-off from the end of a slow failed fetch, not from its start', async () => {
    const at = fakeClock()
    let release: (() => void) | undefined
    let calls = 0
    const slowFailure: FetchFunction = () => {
      calls += 1
      return new Promise<Response>((resolve) => {
        release = () => resolve(new Response('down', { status: 503 }))
      })
    }
    const cache = new JwksCache({ fetch: slowFailure, failureBackoffMs: 1_000, cooldownMs: 30_000 })
    const pending = attempt(() => cache.getKey('https://idp.test/jwks', 'ES256', 'k'))
    at(10_000) // the endpoint answers its 503 after 10 s
    release?.()
    expectUnavailable(outcomeError(await pending))
    expect(calls).toBe(1)

    at(10_500) // 0.5 s after the failure: inside the 1 s back-off
    const inBackoff = attempt(() => cache.getKey('https://idp.test/jwks', 'ES256', 'k'))
    expect(calls).toBe(1)
    release?.() // (only so that a wrongly started fetch does not hang the test)
    expectUnavailable(outcomeError(await inBackoff))
    at(11_000)
    const retry = attempt(() => cache.getKey('https://idp.test/jwks', 'ES256', 'k'))
    expect(calls).toBe(2)
    release?.()
    expectUnavailable(outcomeError(await retry))
  })
})

describe('JwksCache: slow or hanging endpoint (JWKS-09)', () => {
  it('rejects with 503 after about timeoutMs; another cached URI is not affected', async () => {
    const hanging = await newIssuer({ listen: true })
    const healthy = await newIssuer({ listen: true })
    hanging.respondWith('jwks', { hang: true })
    const cache = new JwksCache({ timeoutMs: 100 }) // the real fetch, over HTTP
    const healthyKey = await cache.getKey(healthy.jwksUri, 'ES256', kidOf(healthy))

    const started = performance.now()
    const pending = attempt(() => cache.getKey(hanging.jwksUri, 'ES256', kidOf(hanging)))
    const joined = attempt(() => cache.getKey(hanging.jwksUri, 'ES256', kidOf(hanging)))
    // While that fetch hangs, the other URI answers synchronously.
    expect(syncKey(cache.getKey(healthy.jwksUri, 'ES256', kidOf(healthy)))).toBe(healthyKey)
    const outcome = await pending
    const elapsed = performance.now() - started
    expectUnavailable(outcomeError(outcome))
    expectUnavailable(outcomeError(await joined))
    expect(elapsed).toBeGreaterThanOrEqual(90)
    expect(cache.status(hanging.jwksUri).lastError).toMatch(/timed out/)
    expect(hanging.counts.jwks).toBe(1)
    expect(healthy.counts.jwks).toBe(1)

    // Right after the time-out the back-off answers at once: no new request, so no new wait.
    expectUnavailable(
      outcomeError(await attempt(() => cache.getKey(hanging.jwksUri, 'ES256', 'x'))),
    )
    expect(hanging.counts.jwks).toBe(1)
    expect(syncKey(cache.getKey(healthy.jwksUri, 'ES256', kidOf(healthy)))).toBe(healthyKey)
  })

  it('times out an in-memory hanging fetch too', async () => {
    const idp = await newIssuer()
    idp.respondWith('jwks', { hang: true })
    const cache = cacheFor(idp, { timeoutMs: 50 })
    const outcome = await attempt(() => cache.getKey(idp.jwksUri, 'ES256', kidOf(idp)))
    expectUnavailable(outcomeError(outcome))
    expect(idp.counts.jwks).toBe(1)
  })
})

describe('JwksCache: oversized responses (JWKS-10)', () => {
  const FIVE_MB = 5 * 1024 * 1024

  it('refuses a 5 MB body announced by content-length', async () => {
    const server = await tinyServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(FIVE_MB) })
      res.end(Buffer.alloc(FIVE_MB, 0x20))
    })
    const cache = new JwksCache()
    const outcome = await attempt(() => cache.getKey(server.url, 'ES256', 'k'))
    expectUnavailable(outcomeError(outcome))
    expect(cache.status(server.url).lastError).toMatch(/more than 1048576 bytes/)
    expect(server.hits).toBe(1)
  })

  it('refuses a 5 MB chunked body without content-length', async () => {
    const server = await tinyServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      for (let sent = 0; sent < FIVE_MB; sent += chunk.length) res.write(chunk)
      res.end()
    })
    const cache = new JwksCache()
    const outcome = await attempt(() => cache.getKey(server.url, 'ES256', 'k'))
    expectUnavailable(outcomeError(outcome))
    expect(cache.status(server.url).lastError).toMatch(/more than 1048576 bytes/)
  })

  it('cuts off an endless chunked stream at maxResponseBytes', async () => {
    const server = await tinyServer((_req, res) => endlessBody(res))
    const cache = new JwksCache({ timeoutMs: 10_000 })
    const outcome = await attempt(() => cache.getKey(server.url, 'ES256', 'k'))
    expectUnavailable(outcomeError(outcome))
    expect(cache.status(server.url).lastError).toMatch(/more than 1048576 bytes/)
  })

  it.each([
    ['with content-length', true],
    ['without content-length', false],
  ])(
    'refuses a 5 MB in-memory body %s, and honours a smaller maxResponseBytes',
    async (_, declared) => {
      const idp = await newIssuer()
      idp.respondWith('jwks', {
        body: ' '.repeat(FIVE_MB),
        ...(declared ? { headers: { 'content-length': String(FIVE_MB) } } : {}),
      })
      const cache = cacheFor(idp)
      expectUnavailable(outcomeError(await attempt(() => cache.getKey(idp.jwksUri, 'ES256', 'k'))))
      expect(cache.status(idp.jwksUri).lastError).toMatch(/more than 1048576 bytes/)

      // A normal set larger than a tiny cap is refused as well.
      idp.respondWith('jwks', undefined)
      const small = cacheFor(idp, { maxResponseBytes: 64 })
      expectUnavailable(outcomeError(await attempt(() => small.getKey(idp.jwksUri, 'ES256', 'k'))))
      expect(small.status(idp.jwksUri).lastError).toMatch(/more than 64 bytes/)
    },
  )
})

describe('JwksCache: malformed key sets (JWKS-11)', () => {
  const MALFORMED: [
    string,
    { status?: number; body?: unknown; headers?: Record<string, string> },
  ][] = [
    ['invalid JSON', { body: '{"keys":[' }],
    [
      'HTML with 200',
      { body: '<!doctype html><html>login</html>', headers: { 'content-type': 'text/html' } },
    ],
    ['keys not an array', { body: { keys: 'x' } }],
    ['an empty object', { body: {} }],
    ['JSON null', { body: 'null' }],
    ['a JSON array', { body: '[]' }],
    ['an empty body', { body: '' }],
    ['404 (with a valid set as body)', { status: 404 }],
    ['500', { status: 500, body: 'oops' }],
  ]

  it.each(MALFORMED)('%s without a previous set: 503', async (_, behaviour) => {
    const idp = await newIssuer()
    idp.respondWith('jwks', behaviour)
    const cache = cacheFor(idp)
    expectUnavailable(
      outcomeError(await attempt(() => cache.getKey(idp.jwksUri, 'ES256', kidOf(idp)))),
    )
    expect(idp.counts.jwks).toBe(1)
    expect(cache.status(idp.jwksUri)).toMatchObject({ keyCount: 0, fetchedAt: undefined })
    expect(cache.status(idp.jwksUri).lastError).toEqual(expect.any(String))
  })

  it.each(MALFORMED)('%s with a previous good set: the set is kept', async (_, behaviour) => {
    const at = fakeClock()
    const idp = await newIssuer()
    const cache = cacheFor(idp, { refreshIntervalMs: 60_000, cooldownMs: 10_000 })
    const kid = kidOf(idp)
    const key = await cache.getKey(idp.jwksUri, 'ES256', kid)
    idp.respondWith('jwks', behaviour)

    // An age refresh fails: the set is kept.
    at(60_000)
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', kid))).toBe(key)
    await flush()
    expect(idp.counts.jwks).toBe(2)
    expect(cache.status(idp.jwksUri)).toMatchObject({ keyCount: 1, fetchedAt: new Date(T0) })
    expect(cache.status(idp.jwksUri).lastError).toEqual(expect.any(String))

    // An unknown kid's refetch fails: a 401 for that kid, the known one still works.
    at(70_000)
    expectNotFound(outcomeError(await attempt(() => cache.getKey(idp.jwksUri, 'ES256', 'other'))))
    expect(idp.counts.jwks).toBe(3)
    expect(syncKey(cache.getKey(idp.jwksUri, 'ES256', kid))).toBe(key)
  })
})

describe('JwksCache: redirects are not followed (JWKS-12)', () => {
  it.each([301, 302, 303, 307, 308])('a %i to another server is a failed fetch', async (status) => {
    const target = await newIssuer({ listen: true })
    const redirector = await tinyServer((_req, res) => {
      res.writeHead(status, { location: target.jwksUri }).end()
    })
    const cache = new JwksCache()
    const outcome = await attempt(() => cache.getKey(redirector.url, 'ES256', kidOf(target)))
    expectUnavailable(outcomeError(outcome))
    expect(redirector.hits).toBe(1)
    expect(target.counts.jwks).toBe(0)
    expect(cache.status(redirector.url).lastError).toMatch(new RegExp(`HTTP ${status}`))
  })
})

describe('JwksCache: hydrate() and status()', () => {
  it('hydrate fetches now and status reports the set', async () => {
    const at = fakeClock()
    const idp = await newIssuer({ algorithms: ['ES256', 'EdDSA'] })
    const cache = cacheFor(idp)
    expect(cache.status(idp.jwksUri)).toEqual({
      keyCount: 0,
      fetchedAt: undefined,
      lastError: undefined,
    })
    await cache.hydrate(idp.jwksUri)
    expect(idp.counts.jwks).toBe(1)
    expect(cache.status(idp.jwksUri)).toEqual({
      keyCount: 2,
      fetchedAt: new Date(T0),
      lastError: undefined,
    })
    expect(syncKey(cache.getKey(idp.jwksUri, 'EdDSA', kidOf(idp, 1))).kid).toBe(kidOf(idp, 1))

    // hydrate always fetches, even with a fresh set.
    at(5_000)
    await cache.hydrate(idp.jwksUri)
    expect(idp.counts.jwks).toBe(2)
    expect(cache.status(idp.jwksUri).fetchedAt).toEqual(new Date(T0 + 5_000))
  })

  it('hydrate rejects with a 503 while the endpoint is down; status keeps the last error', async () => {
    fakeClock()
    const idp = await newIssuer()
    idp.respondWith('jwks', { status: 502, body: 'bad gateway' })
    const cache = cacheFor(idp)
    const error = await cache.hydrate(idp.jwksUri).then(
      () => undefined,
      (failure: unknown) => failure,
    )
    expectUnavailable(error)
    expect(cache.status(idp.jwksUri)).toMatchObject({ keyCount: 0, fetchedAt: undefined })
    expect(cache.status(idp.jwksUri).lastError).toMatch(/HTTP 502/)

    idp.respondWith('jwks', undefined)
    await cache.hydrate(idp.jwksUri)
    expect(cache.status(idp.jwksUri)).toEqual({
      keyCount: 1,
      fetchedAt: new Date(T0),
      lastError: undefined,
    })

    // Down again with a good set: hydrate rejects, the set is kept and the error is reported.
    idp.respondWith('jwks', { status: 500 })
    await expect(cache.hydrate(idp.jwksUri)).rejects.toBeInstanceOf(UnavailableError)
    expect(cache.status(idp.jwksUri)).toMatchObject({ keyCount: 1, fetchedAt: new Date(T0) })
    expect(cache.status(idp.jwksUri).lastError).toMatch(/HTTP 500/)
  })

  it('hydrate joins a fetch already in flight', async () => {
    const idp = await newIssuer()
    idp.respondWith('jwks', { delayMs: 20 })
    const cache = cacheFor(idp)
    const pending = cache.getKey(idp.jwksUri, 'ES256', kidOf(idp))
    await cache.hydrate(idp.jwksUri)
    await pending
    expect(idp.counts.jwks).toBe(1)
  })
})

describe('JwksCache: several URIs (JWKS-23) and the LRU bound', () => {
  async function threeIssuers(): Promise<{
    a: TestIssuer
    b: TestIssuer
    c: TestIssuer
    fetch: FetchFunction
  }> {
    const a = await newIssuer({ issuer: 'https://a.test' })
    const b = await newIssuer({ issuer: 'https://b.test' })
    const c = await newIssuer({ issuer: 'https://c.test' })
    const byHost = new Map([
      ['a.test', a],
      ['b.test', b],
      ['c.test', c],
    ])
    const fetch: FetchFunction = (input, init) => {
      const idp = byHost.get(new URL(input).host)
      if (idp === undefined) return Promise.reject(new TypeError('fetch failed'))
      return idp.fetch(input, init)
    }
    return { a, b, c, fetch }
  }
  const uriOf = (host: string): string => `https://${host}/.well-known/jwks.json`

  it('keeps one set per URI: a kid of URI B is not found under URI A', async () => {
    const at = fakeClock()
    const { a, b, fetch } = await threeIssuers()
    const cache = new JwksCache({ fetch, cooldownMs: 10_000 })
    const kidA = kidOf(a)
    const kidB = kidOf(b)

    expect((await cache.getKey(uriOf('b.test'), 'ES256', kidB)).kid).toBe(kidB)
    expectNotFound(outcomeError(await attempt(() => cache.getKey(uriOf('a.test'), 'ES256', kidB))))
    expect(a.counts.jwks).toBe(1)
    expect(b.counts.jwks).toBe(1)
    expect(syncKey(cache.getKey(uriOf('a.test'), 'ES256', kidA)).kid).toBe(kidA)
    expectSyncNotFound(() => cache.getKey(uriOf('b.test'), 'ES256', kidA))

    // After the cooldown, B's kid under A refetches A only, and is still not found.
    at(10_000)
    expectNotFound(outcomeError(await attempt(() => cache.getKey(uriOf('a.test'), 'ES256', kidB))))
    expect(a.counts.jwks).toBe(2)
    expect(b.counts.jwks).toBe(1)
    expect(cache.status(uriOf('a.test')).keyCount).toBe(1)
    expect(cache.status(uriOf('b.test')).keyCount).toBe(1)
  })

  it('never forgets a set: many URIs keep their own cooldowns (no eviction storm)', async () => {
    const { a, b, c, fetch } = await threeIssuers()
    const cache = new JwksCache({ fetch })
    for (let round = 0; round < 20; round += 1) {
      for (const [host, issuer] of [
        ['a.test', a],
        ['b.test', b],
        ['c.test', c],
      ] as const) {
        await cache.getKey(uriOf(host), 'ES256', kidOf(issuer))
        expectNotFound(
          outcomeError(await attempt(() => cache.getKey(uriOf(host), 'ES256', `forged-${round}`))),
        )
      }
    }
    expect([a.counts.jwks, b.counts.jwks, c.counts.jwks]).toEqual([1, 1, 1])
  })
})

describe('JwksCache: constructor validation', () => {
  it('lists every invalid option in one ConfigError', () => {
    let error: unknown
    try {
      new JwksCache({
        refreshIntervalMs: -1,
        refreshAfterUses: Number.NaN,
        cooldownMs: Number.POSITIVE_INFINITY,
        timeoutMs: 0,
        maxResponseBytes: -5,
        staleIfErrorMs: -1,
        failureBackoffMs: Number.NaN,
        fetch: 'not a function' as unknown as FetchFunction,
      })
    } catch (failure) {
      error = failure
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect(error).toMatchObject({ code: 'ERR_AUTH_CONFIG' })
    const problems = (error as ConfigError).problems
    expect(problems).toHaveLength(8)
    for (const name of [
      'refreshIntervalMs',
      'refreshAfterUses',
      'cooldownMs',
      'timeoutMs',
      'maxResponseBytes',
      'staleIfErrorMs',
      'failureBackoffMs',
      'fetch',
    ]) {
      expect(problems.filter((problem) => problem.includes(`jwksCache.${name} `))).toHaveLength(1)
    }
    expect((error as ConfigError).message).toContain('8 configuration problems')
  })

  it.each<[string, JwksCacheOptions]>([
    ['a negative interval', { refreshIntervalMs: -1 }],
    ['a NaN cooldown', { cooldownMs: Number.NaN }],
    ['an infinite time-out', { timeoutMs: Number.POSITIVE_INFINITY }],
    ['a time-out beyond what a timer can hold', { timeoutMs: 2 ** 31 }],
    ['a string size cap', { maxResponseBytes: '1000' as unknown as number }],
    ['fractional uses', { refreshAfterUses: 2.5 }],
    ['zero uses', { refreshAfterUses: 0 }],
  ])('refuses %s', (_, options) => {
    expect(() => new JwksCache(options)).toThrow(ConfigError)
  })

  it('accepts staleIfErrorMs 0, undefined members and an empty object', () => {
    expect(() => new JwksCache({ staleIfErrorMs: 0 })).not.toThrow()
    expect(() => new JwksCache({ cooldownMs: undefined as unknown as number })).not.toThrow()
    expect(() => new JwksCache()).not.toThrow()
  })
})

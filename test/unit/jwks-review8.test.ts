// Review round 8, key handling: a new kid after a failed refetch waits the back-off (not the
// cooldown), a network error says why, a set of no usable key says so, options never silently
// ignored, and async vendor rules awaited.

import { createServer } from 'node:net'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { JwksProvider, OidcProvider } from '../../providers/jwks/index.js'
import { ConfigError, createVerifier, JwksCache } from '../../src/index.js'
import { InvalidTokenError } from '../../src/errors.js'
import { fetchJson, type FetchFunction } from '../../src/fetch-json.js'
import type { JwtClaims } from '../../src/spi.js'
import type { Logger } from '../../src/logger.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://review8.example' })
})

afterAll(() => idp.close())

afterEach(() => {
  vi.restoreAllMocks()
  idp.respondWith('jwks', undefined)
  idp.setJwks(undefined)
  idp.resetCounts()
})

const WARN = 40

/** A pino logger writing to memory. */
function memoryLogger(): { logger: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = []
  const logger: Logger = pino(
    { level: 'trace' },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  )
  return { logger, lines }
}

/** A fake clock: `at(ms)` moves `Date.now()` to `ms` after the start. */
function fakeClock(): { at: (ms: number) => void } {
  const start = Date.now()
  let now = start
  vi.spyOn(Date, 'now').mockImplementation(() => now)
  return { at: (ms) => void (now = start + ms) }
}

function currentKid(issuer: TestIssuer): string {
  const kid = issuer.jwks().keys[0]?.kid
  if (typeof kid !== 'string') throw new Error('the test issuer has no kid')
  return kid
}

/** What getKey answers, synchronously or not: the key's kid, or the error's code. */
async function outcome(cache: JwksCache, issuer: TestIssuer, kid: string): Promise<string> {
  try {
    const key = await cache.getKey(issuer.jwksUri, 'RS256', kid)
    return `key ${key.kid ?? ''}`
  } catch (error) {
    return (error as { code?: string }).code ?? String(error)
  }
}

/** An issuer of its own, for a test that rotates its keys. */
async function rotatingIssuer(): Promise<TestIssuer> {
  const issuer = await createTestIssuer({ listen: false, issuer: 'https://rotating.example' })
  cleanups.push(() => issuer.close())
  return issuer
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

describe('a new kid after a failed refetch (JWKS-08)', () => {
  it('is refused 401 during the outage and found after the failure back-off, not the cooldown', async () => {
    const clock = fakeClock()
    const own = await rotatingIssuer()
    const cache = new JwksCache({ fetch: own.fetch, failureBackoffMs: 1_000, cooldownMs: 30_000 })
    const oldKid = currentKid(own)
    await cache.hydrate(own.jwksUri)
    clock.at(60_000)
    own.rotateKeys({ keepOld: true }) // the IdP signs with a new kid…
    own.respondWith('jwks', { status: 503, body: 'down' }) // …while its JWKS endpoint blips
    const newKid = currentKid(own)
    expect(await outcome(cache, own, newKid)).toBe('ERR_AUTH_KEY_NOT_FOUND') // the contract: 401
    expect(await outcome(cache, own, oldKid)).toBe(`key ${oldKid}`) // known keys keep passing
    expect(own.counts.jwks).toBe(2)

    own.respondWith('jwks', undefined) // back 100 ms later
    clock.at(60_999)
    expect(await outcome(cache, own, newKid)).toBe('ERR_AUTH_KEY_NOT_FOUND') // within the back-off
    expect(own.counts.jwks).toBe(2)
    clock.at(61_000) // the back-off (1 s) is over; the cooldown (30 s) is not
    expect(await outcome(cache, own, newKid)).toBe(`key ${newKid}`)
    expect(own.counts.jwks).toBe(3)
  })

  it('a kid flood while the endpoint stays down is bounded by the doubling back-off', async () => {
    const clock = fakeClock()
    const own = await rotatingIssuer()
    const cache = new JwksCache({ fetch: own.fetch, failureBackoffMs: 1_000, cooldownMs: 4_000 })
    await cache.hydrate(own.jwksUri)
    own.respondWith('jwks', { status: 503, body: 'down' })
    const fetchesAt = async (ms: number): Promise<number> => {
      clock.at(ms)
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, index) => outcome(cache, own, `forged-${ms}-${index}`)),
      )
      expect(new Set(answers)).toEqual(new Set(['ERR_AUTH_KEY_NOT_FOUND']))
      return own.counts.jwks
    }
    expect(await fetchesAt(4_000)).toBe(2) // a cooldown after the last good fetch
    expect(await fetchesAt(4_999)).toBe(2)
    expect(await fetchesAt(5_000)).toBe(3) // back-off 1 s, now 2 s
    expect(await fetchesAt(6_999)).toBe(3)
    expect(await fetchesAt(7_000)).toBe(4) // now 4 s (the cooldown): no more often from here
    expect(await fetchesAt(10_999)).toBe(4)
    expect(await fetchesAt(11_000)).toBe(5)
    expect(await fetchesAt(14_999)).toBe(5)
  })
})

describe('a network error names its cause', () => {
  const limits = (fetch: FetchFunction) => ({ fetch, timeoutMs: 2_000, maxResponseBytes: 1_000 })
  const failingWith =
    (cause: unknown): FetchFunction =>
    () =>
      Promise.reject(new TypeError('fetch failed', { cause }))
  const messageOf = (fetch: FetchFunction): Promise<string> =>
    fetchJson('https://idp.example/jwks', limits(fetch)).then(
      () => 'fetched',
      (error: Error) => error.message,
    )

  it.each([
    [
      'a refused connection (its message quotes the code)',
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }),
      'fetch failed (connect ECONNREFUSED 10.0.0.1:443)',
    ],
    [
      'a TLS failure (code and message)',
      Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
      'fetch failed (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate)',
    ],
    [
      'an AggregateError of every address (a code, no message)',
      Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }),
      'fetch failed (ECONNREFUSED)',
    ],
    ['a cause with nothing to say', {}, 'fetch failed'],
  ])('%s', async (_name, cause, expected) => {
    expect(await messageOf(failingWith(cause))).toBe(
      `https://idp.example/jwks could not be fetched: ${expected}`,
    )
  })

  it('a long cause is cut short', async () => {
    const message = await messageOf(failingWith(new Error('x'.repeat(5_000))))
    expect(message.length).toBeLessThan(300)
    expect(message).toMatch(/x…\)$/)
  })

  it('a real refused connection says ECONNREFUSED in the health report, credentials scrubbed', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    await new Promise((resolve) => server.close(resolve))
    const cache = new JwksCache({ fetch: (input, init) => globalThis.fetch(input, init) })
    const uri = `http://127.0.0.1:${port}/jwks`
    await expect(cache.hydrate(uri)).rejects.toMatchObject({ code: 'ERR_AUTH_KEYS_UNAVAILABLE' })
    expect(cache.status(uri).lastError).toMatch(/fetch failed \(connect ECONNREFUSED/)

    const proxied = new JwksCache({
      fetch: failingWith(new Error('proxy http://alice:s3cret@proxy.internal:3128 refused')),
    })
    await expect(proxied.hydrate(idp.jwksUri)).rejects.toBeDefined()
    const lastError = proxied.status(idp.jwksUri).lastError ?? ''
    expect(lastError).toContain('proxy.internal')
    expect(lastError).not.toContain('s3cret')
  })
})

describe('a key set of no usable key', () => {
  function provider(logger: Logger): JwksProvider {
    return new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({ fetch: idp.fetch, logger, cooldownMs: 1_000 }),
    })
  }

  it.each([
    ['empty', () => ({ keys: [] }), 'the JWK Set holds no usable key (it is empty)'],
    [
      'only encryption keys',
      () => ({ keys: idp.jwks().keys.map((key) => ({ ...key, use: 'enc' })) }),
      'the JWK Set holds no usable key (1 skipped: not a signing key (use))',
    ],
    [
      'only keys not for verifying',
      () => ({ keys: idp.jwks().keys.map((key) => ({ ...key, key_ops: ['encrypt'] })) }),
      'the JWK Set holds no usable key (1 skipped: not a verification key (key_ops))',
    ],
  ])('%s: health says why, and one warning says so', async (_name, jwks, lastError) => {
    const clock = fakeClock()
    const { logger, lines } = memoryLogger()
    const guarded = provider(logger)
    idp.setJwks(jwks())
    await guarded.hydrate()
    expect(guarded.health()).toMatchObject({ ok: false, keyCount: 0, lastError })
    clock.at(2_000)
    await guarded.hydrate() // the same answer again: no second warning
    const warnings = lines.filter((line) => line.level === WARN && /no usable key/.test(line.msg))
    expect(warnings).toHaveLength(1)

    idp.setJwks(undefined) // usable keys again: healthy, and a later empty set warns anew
    await guarded.hydrate()
    expect(guarded.health()).toMatchObject({ ok: true, keyCount: 1, lastError: undefined })
    idp.setJwks(jwks())
    await guarded.hydrate()
    expect(
      lines.filter((line) => line.level === WARN && /no usable key/.test(line.msg)),
    ).toHaveLength(2)
  })
})

describe('options that would be silently ignored are refused', () => {
  const configProblems = (build: () => unknown): readonly string[] => {
    try {
      build()
    } catch (error) {
      if (error instanceof ConfigError) return error.problems
      throw error
    }
    return []
  }

  it('OidcProvider refuses a jwksUri, which it would not read', () => {
    const options = { issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri }
    const problems = configProblems(() => new OidcProvider(options as never))
    expect([...problems]).toEqual([
      'jwksUri is not an option of OidcProvider: it discovers jwks_uri; use JwksProvider for a fixed URL',
    ])
  })

  it.each([
    [
      'OidcProvider',
      (options: object) => new OidcProvider({ issuer: idp.issuer, ...options } as never),
    ],
    [
      'JwksProvider',
      (options: object) =>
        new JwksProvider({ issuer: idp.issuer, jwksUri: idp.jwksUri, ...options } as never),
    ],
  ])('%s refuses a fetch given both as an option and in jwksCache', (_name, build) => {
    const problems = configProblems(() =>
      build({ audience: idp.audience, fetch: idp.fetch, jwksCache: { fetch: idp.fetch } }),
    )
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/fetch cannot be given both as an option and as jwksCache\.fetch/)
    // Either one alone is fine.
    expect(configProblems(() => build({ audience: idp.audience, fetch: idp.fetch }))).toEqual([])
    expect(
      configProblems(() => build({ audience: idp.audience, jwksCache: { fetch: idp.fetch } })),
    ).toEqual([])
  })
})

describe('async vendor rules (checkClaims returning a promise)', () => {
  class TenantProvider extends JwksProvider {
    constructor(readonly allowed: string) {
      super({
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: idp.audience,
        jwksCache: new JwksCache({ fetch: idp.fetch }),
      })
    }

    protected override async checkClaims(claims: JwtClaims): Promise<void> {
      await new Promise((resolve) => setImmediate(resolve)) // a lookup elsewhere
      if (claims['tenant'] !== this.allowed) {
        throw new InvalidTokenError('ERR_AUTH_CLAIM_INVALID', 'the tenant is not allowed')
      }
    }
  }

  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
  beforeAll(() => void process.on('unhandledRejection', onUnhandled))
  afterAll(() => void process.off('unhandledRejection', onUnhandled))

  it('a rejection refuses the token with 401, and is not left unhandled', async () => {
    const provider = new TenantProvider('contoso')
    const token = idp.mint({ sub: 'mallory', tenant: 'fabrikam' })
    await expect(provider.verifyToken(token)).rejects.toMatchObject({
      status: 401,
      code: 'ERR_AUTH_CLAIM_INVALID',
    })
    const verify = createVerifier({ provider, logger: false })
    await expect(verify(token)).rejects.toMatchObject({ status: 401 })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(unhandled).toEqual([])
  })

  it('a resolved promise accepts the token', async () => {
    const provider = new TenantProvider('contoso')
    const verify = createVerifier({ provider, logger: false })
    const user = await verify(idp.mint({ sub: 'alice', tenant: 'contoso' }))
    expect(user.id).toBe('alice')
  })
})

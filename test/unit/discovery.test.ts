// Discovery: the issuer's jwks_uri, found once, checked (issuer, URL safety), failures retried.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Discovery } from '../../src/discovery.js'
import { UnavailableError } from '../../src/errors.js'
import type { FetchFunction } from '../../src/fetch-json.js'
import { silentLogger } from '../../src/logger.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

const T0 = Date.parse('2030-01-01T00:00:00Z')

const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

async function newIssuer(issuer?: string): Promise<TestIssuer> {
  const idp = await createTestIssuer({
    algorithms: ['ES256'],
    listen: false,
    ...(issuer === undefined ? {} : { issuer }),
  })
  cleanups.push(() => idp.close())
  return idp
}

/** The issuer's in-memory fetch, recording the URLs asked for. */
function recording(idp: TestIssuer): FetchFunction & { urls: string[] } {
  const urls: string[] = []
  const fetch: FetchFunction = (input, init) => {
    urls.push(input)
    return idp.fetch(input, init)
  }
  return Object.assign(fetch, { urls })
}

function discoveryFor(
  idp: TestIssuer,
  options: {
    issuer?: string
    production?: boolean
    fetch?: FetchFunction
    maxResponseBytes?: number
  } = {},
): Discovery {
  return new Discovery(
    options.issuer ?? idp.issuer,
    {
      fetch: options.fetch ?? idp.fetch,
      timeoutMs: 1_000,
      maxResponseBytes: options.maxResponseBytes ?? 256 * 1024,
      production: options.production ?? false,
    },
    silentLogger,
  )
}

/** Only Date is faked: Date.now() moves with `at()`, while promises run normally. */
function fakeClock(): (offsetMs: number) => void {
  vi.useFakeTimers({ toFake: ['Date'], now: T0 })
  return (offsetMs) => vi.setSystemTime(T0 + offsetMs)
}

async function settled(
  result: string | Promise<string>,
): Promise<{ ok: true; uri: string } | { ok: false; error: unknown }> {
  try {
    return { ok: true, uri: await result }
  } catch (error) {
    return { ok: false, error }
  }
}

async function expectUnavailable(result: string | Promise<string>): Promise<UnavailableError> {
  expect(result).toBeInstanceOf(Promise)
  const outcome = await settled(result)
  if (outcome.ok) throw new Error(`expected a 503, got ${outcome.uri}`)
  expect(outcome.error).toBeInstanceOf(UnavailableError)
  expect(outcome.error).toMatchObject({ code: 'ERR_AUTH_KEYS_UNAVAILABLE', status: 503 })
  return outcome.error as UnavailableError
}

function causeMessage(error: UnavailableError): string {
  return error.cause instanceof Error ? error.cause.message : String(error.cause)
}

describe('Discovery: finding jwks_uri', () => {
  it('finds jwks_uri once, then answers synchronously from memory', async () => {
    const idp = await newIssuer()
    const discovery = discoveryFor(idp)
    const first = discovery.jwksUri()
    expect(first).toBeInstanceOf(Promise)
    expect(await first).toBe(idp.jwksUri)
    for (let i = 0; i < 50; i += 1) expect(discovery.jwksUri()).toBe(idp.jwksUri)
    expect(idp.counts.discovery).toBe(1)
    expect(idp.counts.jwks).toBe(0)
  })

  it('shares one request among concurrent callers', async () => {
    const idp = await newIssuer()
    idp.respondWith('discovery', { delayMs: 20 })
    const discovery = discoveryFor(idp)
    const pending = Array.from({ length: 100 }, () => discovery.jwksUri())
    expect(new Set(pending).size).toBe(1) // the very same promise
    expect(await Promise.all(pending)).toEqual(Array(100).fill(idp.jwksUri))
    expect(idp.counts.discovery).toBe(1)
  })

  it('shares one failing request among concurrent callers', async () => {
    const idp = await newIssuer()
    idp.respondWith('discovery', { status: 503, delayMs: 20 })
    const discovery = discoveryFor(idp)
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, () => settled(discovery.jwksUri())),
    )
    expect(
      outcomes.every((outcome) => !outcome.ok && outcome.error instanceof UnavailableError),
    ).toBe(true)
    expect(idp.counts.discovery).toBe(1)
  })

  it('accepts a jwks_uri on another https host', async () => {
    const idp = await newIssuer()
    idp.setDiscovery({ jwks_uri: 'https://keys.example.com/tenant/jwks' })
    expect(await discoveryFor(idp).jwksUri()).toBe('https://keys.example.com/tenant/jwks')
  })
})

describe('Discovery: the discovery URL', () => {
  it.each([
    ['https://issuer.test', 'https://issuer.test/.well-known/openid-configuration'],
    ['https://issuer.test/', 'https://issuer.test/.well-known/openid-configuration'],
    [
      'https://issuer.test/realms/shop',
      'https://issuer.test/realms/shop/.well-known/openid-configuration',
    ],
    [
      'https://issuer.test/realms/shop/',
      'https://issuer.test/realms/shop/.well-known/openid-configuration',
    ],
  ])('for issuer %s is %s (no doubled slash)', async (issuer, url) => {
    const idp = await newIssuer(issuer)
    const fetch = recording(idp)
    expect(await discoveryFor(idp, { fetch }).jwksUri()).toBe(idp.jwksUri)
    expect(fetch.urls).toEqual([url])
  })
})

describe('Discovery: the document is checked', () => {
  it('refuses a document naming another issuer (JWKS-24)', async () => {
    const idp = await newIssuer()
    idp.setDiscovery({ issuer: 'https://evil.example.com' })
    const error = await expectUnavailable(discoveryFor(idp).jwksUri())
    expect(causeMessage(error)).toMatch(/another issuer/)
  })

  it('holds the document to the issuer its provider expects, and to nothing else', async () => {
    const template = 'https://issuer.test/{tenantid}/v2.0'
    const idp = await newIssuer()
    const expecting = (documentIssuer?: string): Discovery =>
      new Discovery(
        idp.issuer,
        { fetch: idp.fetch, timeoutMs: 1_000, maxResponseBytes: 1024, production: false },
        silentLogger,
        documentIssuer,
      )
    idp.setDiscovery({ issuer: template })
    expect(await expecting(template).jwksUri()).toBe(idp.jwksUri)
    // Without the provider saying so, the template is another issuer.
    expect(causeMessage(await expectUnavailable(expecting().jwksUri()))).toMatch(/another issuer/)
    // Once a provider expects the template, the URL's own issuer no longer passes either.
    idp.setDiscovery(undefined)
    const error = await expectUnavailable(expecting(template).jwksUri())
    expect(causeMessage(error)).toMatch(/another issuer/)
  })

  it('compares the issuer exactly: a trailing slash differs', async () => {
    const idp = await newIssuer('https://issuer.test/')
    const error = await expectUnavailable(
      discoveryFor(idp, { issuer: 'https://issuer.test' }).jwksUri(),
    )
    expect(causeMessage(error)).toMatch(/another issuer/)
  })

  it.each<[string, unknown]>([
    ['missing (JWKS-26)', undefined],
    ['empty', ''],
    ['not a string', 42],
    ['relative', '/.well-known/jwks.json'],
    ['with userinfo', 'https://user:secret@issuer.test/.well-known/jwks.json'],
    ['plain http for an https issuer (JWKS-25)', 'http://issuer.test/.well-known/jwks.json'],
    ['plain http elsewhere for an https issuer', 'http://keys.example.com/jwks'],
    ['with a query', 'https://issuer.test/.well-known/jwks.json?tenant=a'],
    ['with a fragment', 'https://issuer.test/.well-known/jwks.json#keys'],
    ['another scheme', 'file:///etc/passwd'],
  ])('refuses a jwks_uri that is %s', async (_, jwksUri) => {
    const idp = await newIssuer()
    idp.setDiscovery({ jwks_uri: jwksUri })
    const error = await expectUnavailable(discoveryFor(idp).jwksUri())
    expect(causeMessage(error)).toMatch(/jwks_uri/)
  })

  it.each([
    ['not JSON', { body: 'hello' }],
    ['a JSON array', { body: '[]' }],
    ['HTML', { body: '<html></html>', headers: { 'content-type': 'text/html' } }],
    ['a 404', { status: 404 }],
    ['a 302', { status: 302, headers: { location: 'https://evil.example.com/' } }],
    ['too large', { body: { issuer: 'https://issuer.test', pad: 'x'.repeat(300 * 1024) } }],
  ])('refuses a discovery answer that is %s', async (_, behaviour) => {
    const idp = await newIssuer()
    idp.respondWith('discovery', behaviour)
    await expectUnavailable(discoveryFor(idp).jwksUri())
    expect(idp.counts.discovery).toBe(1)
  })

  it.each([
    ['http://127.0.0.1:8080/.well-known/jwks.json', false],
    ['http://127.0.0.1:8080/.well-known/jwks.json', true],
    ['http://localhost:2375/keys', false],
    ['http://localhost:2375/keys', true],
    ['http://[::1]/keys', true],
  ])(
    'refuses %s, plain http on loopback, for an https issuer (production: %s) (JWKS-25)',
    async (jwksUri, production) => {
      const idp = await newIssuer()
      idp.setDiscovery({ jwks_uri: jwksUri })
      const error = await expectUnavailable(discoveryFor(idp, { production }).jwksUri())
      expect(causeMessage(error)).toBe(
        `the discovered jwks_uri must use https, as the issuer does, got ${JSON.stringify(jwksUri)}`,
      )
    },
  )

  it('an https issuer is recognised whatever the case of its scheme', async () => {
    const idp = await newIssuer('HTTPS://issuer.test')
    idp.setDiscovery({ jwks_uri: 'http://127.0.0.1/keys' })
    await expectUnavailable(discoveryFor(idp).jwksUri())
    idp.setDiscovery({ jwks_uri: 'HTTPS://issuer.test/keys' })
    expect(await discoveryFor(idp).jwksUri()).toBe('HTTPS://issuer.test/keys')
  })

  it('keeps plain http on loopback for a plain-http issuer on loopback, in production too', async () => {
    const idp = await newIssuer('http://127.0.0.1:8080')
    idp.setDiscovery({ jwks_uri: 'http://127.0.0.1:8080/.well-known/jwks.json' })
    for (const production of [false, true]) {
      expect(await discoveryFor(idp, { production }).jwksUri()).toBe(
        'http://127.0.0.1:8080/.well-known/jwks.json',
      )
    }
  })

  it('allows plain http for a plain-http issuer outside production, not in production', async () => {
    const idp = await newIssuer('http://idp.test')
    idp.setDiscovery({ jwks_uri: 'http://idp.test/.well-known/jwks.json' })
    expect(await discoveryFor(idp).jwksUri()).toBe('http://idp.test/.well-known/jwks.json')
    await expectUnavailable(discoveryFor(idp, { production: true }).jwksUri())
  })
})

describe('Discovery: failures are retried after a back-off, never cached (JWKS-27)', () => {
  it('answers 503 without a request during the back-off, retries after it and then remembers success', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    idp.respondWith('discovery', { status: 503 })
    const discovery = discoveryFor(idp)

    await expectUnavailable(discovery.jwksUri())
    expect(idp.counts.discovery).toBe(1)
    at(999)
    await expectUnavailable(discovery.jwksUri())
    expect(idp.counts.discovery).toBe(1)

    at(1_000) // back-off 1 s elapsed: a new request (still failing), back-off now 2 s
    await expectUnavailable(discovery.jwksUri())
    expect(idp.counts.discovery).toBe(2)
    at(2_999)
    await expectUnavailable(discovery.jwksUri())
    expect(idp.counts.discovery).toBe(2)

    idp.respondWith('discovery', undefined)
    at(3_000)
    expect(await discovery.jwksUri()).toBe(idp.jwksUri)
    expect(idp.counts.discovery).toBe(3)
    at(100_000)
    expect(discovery.jwksUri()).toBe(idp.jwksUri)
    expect(idp.counts.discovery).toBe(3)
  })

  it('does not cache an invalid document: once fixed it is used after the back-off', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    idp.setDiscovery({ issuer: 'https://other.test' })
    const discovery = discoveryFor(idp)
    await expectUnavailable(discovery.jwksUri())
    idp.setDiscovery(undefined)
    at(1_000)
    expect(await discovery.jwksUri()).toBe(idp.jwksUri)
    expect(idp.counts.discovery).toBe(2)
  })

  it('doubles the back-off up to 30 s', async () => {
    const at = fakeClock()
    const idp = await newIssuer()
    idp.respondWith('discovery', { status: 500 })
    const discovery = discoveryFor(idp)
    let now = 0
    let requests = 0
    for (const backoff of [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]) {
      at(now)
      await expectUnavailable(discovery.jwksUri())
      requests += 1
      expect(idp.counts.discovery, `request at ${now} ms`).toBe(requests)
      at(now + backoff - 1)
      await expectUnavailable(discovery.jwksUri())
      expect(idp.counts.discovery, `no request at ${now + backoff - 1} ms`).toBe(requests)
      now += backoff
    }
  })

  it('retries a time-out after the back-off', async () => {
    const idp = await newIssuer()
    idp.respondWith('discovery', { hang: true })
    const discovery = new Discovery(
      idp.issuer,
      { fetch: idp.fetch, timeoutMs: 30, maxResponseBytes: 1024, production: false },
      silentLogger,
    )
    const error = await expectUnavailable(discovery.jwksUri())
    expect(causeMessage(error)).toMatch(/timed out/)
    idp.respondWith('discovery', undefined)
    // Inside the back-off nothing is asked; well past it, discovery succeeds.
    await expectUnavailable(discovery.jwksUri())
    expect(idp.counts.discovery).toBe(1)
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 60_000 })
    expect(await discovery.jwksUri()).toBe(idp.jwksUri)
    expect(idp.counts.discovery).toBe(2)
  })
})

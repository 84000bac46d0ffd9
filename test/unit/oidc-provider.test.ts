// OidcProvider: discovery goes the way the keys go (the cache's fetch and time-out).

import { afterEach, describe, expect, it, vi } from 'vitest'
import { OidcProvider } from '../../providers/jwks/index.js'
import { ConfigError, JwksCache, UnavailableError } from '../../src/index.js'
import type { FetchFunction } from '../../src/fetch-json.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function newIssuer(): Promise<TestIssuer> {
  const idp = await createTestIssuer({
    algorithms: ['ES256'],
    listen: false,
    issuer: 'https://proxied.example',
  })
  cleanups.push(() => idp.close())
  return idp
}

/** The issuer's in-memory fetch (standing for a proxy's), recording the paths asked for. */
function proxy(idp: TestIssuer): FetchFunction & { paths: string[] } {
  const paths: string[] = []
  const fetch: FetchFunction = (input, init) => {
    paths.push(new URL(input).pathname)
    return idp.fetch(input, init)
  }
  return Object.assign(fetch, { paths })
}

/** Records (and refuses) every request that bypasses the given fetch for the global one. */
function directRequests(): string[] {
  const urls: string[] = []
  const spy = vi.spyOn(globalThis, 'fetch').mockImplementation((input) => {
    urls.push(String(input))
    return Promise.reject(new TypeError('fetch failed: went around the proxy'))
  })
  cleanups.push(() => spy.mockRestore())
  return urls
}

/** A fetch that never answers on its own, only rejecting when its signal aborts. */
function hanging(): FetchFunction & { paths: string[] } {
  const paths: string[] = []
  const fetch: FetchFunction = (input, init) => {
    paths.push(new URL(input).pathname)
    return new Promise((_resolve, reject) => {
      init.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true })
    })
  }
  return Object.assign(fetch, { paths })
}

const BOTH = ['/.well-known/openid-configuration', '/.well-known/jwks.json']

describe('OidcProvider: discovery uses the fetch of the keys', () => {
  it.each([
    ['jwksCache options with a fetch (a proxy)', (fetch: FetchFunction) => ({ fetch })],
    ['a JwksCache instance built with a fetch', (fetch: FetchFunction) => new JwksCache({ fetch })],
  ])('%s: discovery goes through it too', async (_case, jwksCache) => {
    const idp = await newIssuer()
    const direct = directRequests()
    const fetch = proxy(idp)
    const provider = new OidcProvider({
      issuer: idp.issuer,
      audience: idp.audience,
      jwksCache: jwksCache(fetch),
    })
    await provider.hydrate()
    expect(fetch.paths).toEqual(BOTH)
    expect(direct).toEqual([])
  })

  it('refuses its own fetch next to a shared instance, which would carry the keys past it', async () => {
    const idp = await newIssuer()
    const build = () =>
      new OidcProvider({
        issuer: idp.issuer,
        audience: idp.audience,
        fetch: proxy(idp),
        jwksCache: new JwksCache({ fetch: proxy(idp) }),
      })
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(/give fetch to the JwksCache/)
  })
})

describe('OidcProvider: the discovery time-out', () => {
  it('defaults to the key cache’s timeoutMs', async () => {
    const idp = await newIssuer()
    directRequests()
    const fetch = hanging()
    const started = performance.now()
    const provider = new OidcProvider({
      issuer: idp.issuer,
      audience: idp.audience,
      jwksCache: { fetch, timeoutMs: 50 },
    })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(fetch.paths).toEqual(['/.well-known/openid-configuration'])
    expect(performance.now() - started).toBeLessThan(2_000) // not the 5 s default
  })

  it('is discoveryTimeoutMs when given', async () => {
    const idp = await newIssuer()
    const fetch = hanging()
    const started = performance.now()
    const provider = new OidcProvider({
      issuer: idp.issuer,
      audience: idp.audience,
      fetch,
      jwksCache: { timeoutMs: 60_000 },
      discoveryTimeoutMs: 50,
    })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(fetch.paths).toEqual(['/.well-known/openid-configuration'])
    expect(performance.now() - started).toBeLessThan(2_000)
  })
})

// Review fixes (round 10): a jwksCache that is neither this copy's JwksCache nor plain options is
// refused; the cache's numbers have upper bounds; a JWK Set of more than 100 members is a broken
// answer; a discovery URL given as the issuer (or served as a JWK Set) is named; a key cache a
// provider builds for itself logs; secp256k1 keys are skipped as of an unsupported curve.

import { generateKeyPairSync } from 'node:crypto'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { JwksProvider, OidcProvider } from '../../providers/jwks/index.js'
import { backoffMs } from '../../src/backoff.js'
import { defaultLogger } from '../../src/default-logger.js'
import { ConfigError, JwksCache, UnavailableError } from '../../src/index.js'
import type { FetchFunction } from '../../src/fetch-json.js'
import type { Logger } from '../../src/logger.js'
import { importKeySet, MAX_JWKS_MEMBERS } from '../../src/key-set.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://review10.example' })
})

afterAll(() => idp.close())

afterEach(() => {
  vi.restoreAllMocks()
  idp.respondWith('jwks', undefined)
  idp.setJwks(undefined)
  idp.setDiscovery(undefined)
  idp.resetCounts()
})

const WARN = 40
const ERROR = 50
const DAY_MS = 24 * 60 * 60_000
const MIB = 1024 * 1024

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  throw new Error('expected a ConfigError')
}

interface LogLine {
  level: number
  msg: string
  err?: string
}

function memoryLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const logger: Logger = pino(
    { level: 'trace' },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  )
  return { logger, lines }
}

/** What oidc-guard's own logger is asked to write, kept off stdout. */
function defaultLoggerCalls(): { warn: unknown[][]; error: unknown[][] } {
  const logger = defaultLogger()
  const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined)
  const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined)
  return { warn: warn.mock.calls, error: error.mock.calls }
}

const base = { issuer: 'https://review10.example', audience: 'api' }

describe('jwksCache: this copy’s JwksCache or a plain options object, nothing else', () => {
  // What another installed copy of oidc-guard builds: a JwksCache, with its settings in #private
  // fields (no enumerable member), which this copy's instanceof does not recognise.
  const ForeignJwksCache = class JwksCache {
    readonly #fetch: FetchFunction
    constructor(fetch: FetchFunction) {
      this.#fetch = fetch
    }
    get fetch(): FetchFunction {
      return this.#fetch
    }
  }

  it.each([
    [
      'JwksProvider',
      (jwksCache: unknown) =>
        new JwksProvider({ ...base, jwksUri: idp.jwksUri, jwksCache } as never),
    ],
    ['OidcProvider', (jwksCache: unknown) => new OidcProvider({ ...base, jwksCache } as never)],
  ])('%s refuses a JwksCache of another copy, naming the likely cause', (_, build) => {
    const foreign = new ForeignJwksCache(idp.fetch)
    expect(problemsOf(() => build(foreign))).toEqual([
      expect.stringMatching(
        /^jwksCache must be a JwksCache or its options .*another copy of oidc-guard: two versions installed\? \(npm ls oidc-guard\)/,
      ),
    ])
  })

  it.each<[string, unknown, string]>([
    ['a Map', new Map([['cooldownMs', 1]]), 'got a Map'],
    ['an array', [], 'got an array'],
    ['a class instance', new (class Settings {})(), 'got a Settings'],
    ['a Date', new Date(), 'got a Date'],
  ])('refuses %s, which holds no options', (_, jwksCache, kind) => {
    const problems = problemsOf(() => new OidcProvider({ ...base, jwksCache } as never))
    expect(problems).toEqual([expect.stringContaining(kind)])
  })

  it('takes options made with a null prototype, and a JwksCache of this copy', () => {
    const options = Object.assign(Object.create(null) as object, { cooldownMs: 10_000 })
    expect(() => new OidcProvider({ ...base, jwksCache: options })).not.toThrow()
    expect(() => new OidcProvider({ ...base, jwksCache: new JwksCache() })).not.toThrow()
  })
})

describe('the key cache’s numbers have upper bounds', () => {
  it('refuses a failureBackoffMs above the cooldown (the default one too), saying why', () => {
    expect(problemsOf(() => new JwksCache({ failureBackoffMs: DAY_MS }))).toEqual([
      expect.stringMatching(
        /^jwksCache\.failureBackoffMs must be at most cooldownMs \(30000 by default\), got 86400000: .*503/,
      ),
    ])
    expect(
      problemsOf(() => new JwksCache({ failureBackoffMs: 60_001, cooldownMs: 60_000 })),
    ).toEqual([expect.stringContaining('must be at most cooldownMs (60000), got 60001')])
    expect(() => new JwksCache({ failureBackoffMs: 60_000, cooldownMs: 60_000 })).not.toThrow()
  })

  it('refuses a staleIfErrorMs over 24 h', () => {
    expect(() => new JwksCache({ staleIfErrorMs: DAY_MS })).not.toThrow()
    expect(problemsOf(() => new JwksCache({ staleIfErrorMs: DAY_MS + 1 }))).toEqual([
      expect.stringMatching(
        /^jwksCache\.staleIfErrorMs must be at most 86400000 \(24 h: .*withdrawn key/,
      ),
    ])
  })

  it('refuses a maxResponseBytes over 16 MiB, or not a whole number', () => {
    expect(() => new JwksCache({ maxResponseBytes: 16 * MIB })).not.toThrow()
    expect(problemsOf(() => new JwksCache({ maxResponseBytes: 1e12 }))).toEqual([
      expect.stringMatching(/^jwksCache\.maxResponseBytes must be at most 16777216 \(16 MiB/),
    ])
    expect(problemsOf(() => new JwksCache({ maxResponseBytes: 1.5 }))).toEqual([
      expect.stringContaining('jwksCache.maxResponseBytes must be a whole number'),
    ])
  })

  it('a provider lists them with its other options', () => {
    const problems = problemsOf(
      () =>
        new OidcProvider({
          ...base,
          jwksCache: { failureBackoffMs: DAY_MS, staleIfErrorMs: 1e13, maxResponseBytes: 1e12 },
        }),
    )
    expect(problems).toHaveLength(3)
  })

  it('the failure back-off never passes its most, whatever the first wait', () => {
    expect(backoffMs(1, 60_000, 30_000)).toBe(30_000)
    expect(backoffMs(3, 1_000, 30_000)).toBe(4_000)
    expect(backoffMs(40, 1_000, 30_000)).toBe(30_000)
  })
})

describe('a JWK Set of more than 100 members is a broken answer', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = publicKey.export({ format: 'jwk' })
  const members = (count: number) =>
    Array.from({ length: count }, (_, index) => ({ ...jwk, kid: `k${index}` }))

  it('is refused whole, naming the count and the limit; 100 are taken', () => {
    expect(MAX_JWKS_MEMBERS).toBe(100)
    expect(() => importKeySet({ keys: members(101) })).toThrow(
      'the JWK Set lists 101 members, more than the 100 accepted',
    )
    expect(importKeySet({ keys: members(100) }).keys).toHaveLength(100)
  })

  it('the last good keys keep serving, and health says why the refresh failed', async () => {
    let body: unknown = { keys: members(1) }
    const fetch: FetchFunction = async () => Response.json(body)
    const cache = new JwksCache({ fetch, logger: false })
    const uri = 'https://review10.example/jwks'
    await cache.hydrate(uri)
    const key = cache.getKey(uri, 'ES256', 'k0')
    body = { keys: members(5_000) }
    await expect(cache.hydrate(uri)).rejects.toBeInstanceOf(UnavailableError)
    expect(cache.getKey(uri, 'ES256', 'k0')).toBe(key)
    expect(cache.status(uri)).toMatchObject({
      keyCount: 1,
      lastError: expect.stringContaining('5000 members, more than the 100 accepted'),
    })
  })
})

describe('a discovery document where a JWK Set or an issuer belongs', () => {
  it.each([
    ['https://idp.example.com/.well-known/openid-configuration', '"https://idp.example.com"'],
    ['https://idp.example.com/.well-known/openid-configuration/', '"https://idp.example.com"'],
    ['https://idp.example.com/.well-known/oauth-authorization-server', '"https://idp.example.com"'],
    [
      'https://kc.example.com/realms/shop/.well-known/openid-configuration',
      '"https://kc.example.com/realms/shop"',
    ],
  ])('OidcProvider refuses the issuer %s, saying which was meant', (issuer, meant) => {
    expect(problemsOf(() => new OidcProvider({ issuer, audience: 'api' }))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^issuer must be the issuer itself.*likely ${meant.replace(/[./]/g, '\\$&')}.*discovery document`,
        ),
      ),
    ])
  })

  it('a discovery document fetched as a JWK Set is named as one, with the way out', async () => {
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.discoveryUri,
      audience: idp.audience,
      jwksCache: { fetch: idp.fetch, logger: false },
    })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(provider.health().lastError).toBe(
      'the response is not a JWK Set: this is a discovery document: use OidcProvider with its ' +
        'issuer, or its jwks_uri',
    )
    expect(() => importKeySet({ keys: 'x' })).toThrow(/^the response is not a JWK Set$/)
  })
})

describe('a key cache a provider builds for itself logs', () => {
  it('discovery naming another issuer is logged as an error on oidc-guard’s logger (fetch given)', async () => {
    const calls = defaultLoggerCalls()
    idp.setDiscovery({ issuer: `${idp.issuer}/` })
    const provider = new OidcProvider({
      issuer: idp.issuer,
      audience: idp.audience,
      fetch: idp.fetch,
    })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(calls.error).toHaveLength(1)
    expect(calls.error[0]?.[1]).toBe('OIDC discovery document unusable: check the issuer')
  })

  it('a failed key fetch is a warning there (jwksCache options given)', async () => {
    const calls = defaultLoggerCalls()
    idp.respondWith('jwks', { status: 503 })
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: { fetch: idp.fetch, staleIfErrorMs: 0 },
    })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(calls.warn.map((call) => call[1])).toEqual(['JWK Set fetch failed'])
  })

  it('an OidcProvider’s logger takes its own cache’s lines too; a cache logger, or false, wins', async () => {
    const calls = defaultLoggerCalls()
    const { logger, lines } = memoryLogger()
    idp.respondWith('jwks', { status: 503 })
    const provider = new OidcProvider({
      issuer: idp.issuer,
      audience: idp.audience,
      fetch: idp.fetch,
      logger,
    })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(lines).toMatchObject([{ level: WARN, msg: 'JWK Set fetch failed' }])

    const quiet = new OidcProvider({
      issuer: idp.issuer,
      audience: idp.audience,
      jwksCache: { fetch: idp.fetch, logger: false },
      logger,
    })
    await expect(quiet.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(lines).toHaveLength(1)
    expect(calls.warn).toHaveLength(0)
  })

  it('a set of nothing but secp256k1 keys is no usable key, said once', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
    idp.setJwks({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] })
    const { logger, lines } = memoryLogger()
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: { fetch: idp.fetch, logger },
    })
    await provider.hydrate()
    expect(provider.health()).toMatchObject({
      ok: false,
      keyCount: 0,
      lastError: 'the JWK Set holds no usable key (1 skipped: unsupported curve)',
    })
    expect(lines.filter((line) => line.level >= WARN).map((line) => line.msg)).toEqual([
      'unusable keys skipped in JWK Set',
      'no usable key in JWK Set: every token is refused 401 until one is published',
    ])
    expect(lines.some((line) => line.level >= ERROR)).toBe(false)
  })
})

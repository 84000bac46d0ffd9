// Review fixes: discovery failures are logged (and reported by health) where key fetch failures
// are; a provider's fetch is never silently ignored; members with no kty are broken, not foreign
// keys; cache options are checked with the provider's other options.

import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { JwksProvider, OidcProvider } from '../../providers/jwks/index.js'
import { ConfigError, createVerifier, JwksCache, UnavailableError } from '../../src/index.js'
import type { FetchFunction } from '../../src/fetch-json.js'
import type { Logger } from '../../src/logger.js'
import { importKeySet, MALFORMED_KEY } from '../../src/key-set.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://review2.example' })
})

afterAll(() => idp.close())

afterEach(() => {
  vi.restoreAllMocks()
  idp.respondWith('jwks', undefined)
  idp.respondWith('discovery', undefined)
  idp.setJwks(undefined)
  idp.setDiscovery(undefined)
  idp.resetCounts()
})

interface LogLine {
  level: number
  msg: string
  err?: string
}

const ERROR = 50
const WARN = 40
const DEBUG = 20

/** A pino logger writing to memory. */
function memoryLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
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

/** Lets an in-memory fetch started in the background finish (no timers involved). */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 10; turn += 1) await new Promise((resolve) => setImmediate(resolve))
}

/** An OidcProvider of the test issuer whose key cache logs to memory; no logger of its own. */
function oidcLoggingToCache(options: { logger?: Logger } = {}) {
  const cacheLog = memoryLogger()
  const provider = new OidcProvider({
    issuer: idp.issuer,
    audience: idp.audience,
    jwksCache: new JwksCache({ fetch: idp.fetch, logger: cacheLog.logger }),
    ...options,
  })
  return { provider, cacheLines: cacheLog.lines }
}

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  throw new Error('expected a ConfigError')
}

describe('a failed discovery is logged where the key cache logs, and reported by health', () => {
  it('an issuer mismatch (trailing slash) is an error naming both issuers, on the cache’s logger', async () => {
    const { provider, cacheLines } = oidcLoggingToCache()
    idp.setDiscovery({ issuer: `${idp.issuer}/` })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(cacheLines).toHaveLength(1)
    expect(cacheLines[0]).toMatchObject({ level: ERROR })
    expect(cacheLines[0]?.err).toContain(JSON.stringify(`${idp.issuer}/`))
    expect(cacheLines[0]?.err).toContain(`${JSON.stringify(idp.issuer)} is expected`)
  })

  it.each<[string, Record<string, unknown>]>([
    ['no jwks_uri', { jwks_uri: undefined }],
    ['a plain-http jwks_uri', { jwks_uri: 'http://review2.example/jwks' }],
    ['no issuer', { issuer: undefined }],
  ])('a document with %s is an error too', async (_, overrides) => {
    const { provider, cacheLines } = oidcLoggingToCache()
    idp.setDiscovery(overrides)
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(cacheLines.map((line) => line.level)).toEqual([ERROR])
  })

  it('a failed request (HTTP 503) stays a warning', async () => {
    const { provider, cacheLines } = oidcLoggingToCache()
    idp.respondWith('discovery', { status: 503 })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(cacheLines).toMatchObject([{ level: WARN, msg: 'OIDC discovery failed' }])
  })

  it('quotes the document’s issuer cut short: it is untrusted input', async () => {
    const { provider, cacheLines } = oidcLoggingToCache()
    idp.setDiscovery({ issuer: `https://x.example/${'a'.repeat(10_000)}\n"forged": "line"` })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    const err = cacheLines[0]?.err ?? ''
    expect(err.length).toBeLessThan(700)
    expect(err).toContain('"https://x.example/aaa')
    expect(err).not.toContain('\n')
  })

  it('cuts short an unsafe jwks_uri of the document as well', async () => {
    const { provider, cacheLines } = oidcLoggingToCache()
    idp.setDiscovery({ jwks_uri: `http://review2.example/${'k'.repeat(10_000)}` })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(cacheLines[0]?.err?.length).toBeLessThan(700)
  })

  it('the same unusable document again goes to debug; another problem is an error again', async () => {
    const clock = fakeClock()
    const { provider, cacheLines } = oidcLoggingToCache()
    idp.setDiscovery({ issuer: `${idp.issuer}/` })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    clock.at(1_000) // past the first back-off
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    idp.setDiscovery({ jwks_uri: undefined })
    clock.at(3_000)
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(idp.counts.discovery).toBe(3)
    expect(cacheLines.map((line) => line.level)).toEqual([ERROR, DEBUG, ERROR])
  })

  it('a logger given to the provider takes the lines instead', async () => {
    const own = memoryLogger()
    const { provider, cacheLines } = oidcLoggingToCache({ logger: own.logger })
    idp.setDiscovery({ issuer: 'https://other.example' })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(own.lines.map((line) => line.level)).toEqual([ERROR])
    expect(cacheLines).toEqual([])
  })

  it('health reports the discovery failure, not "keys not located yet"', async () => {
    const { provider } = oidcLoggingToCache()
    idp.setDiscovery({ issuer: `${idp.issuer}/` })
    // Nothing tried yet: the probe says so and starts discovery.
    expect(provider.health().lastError).toBe('keys not located yet')
    await settle()
    expect(idp.counts.discovery).toBe(1)
    const report = provider.health()
    expect(report).toMatchObject({ ok: false, keyCount: 0 })
    expect(report.lastError).toMatch(/another issuer/)
    expect(report.lastError).toContain(JSON.stringify(`${idp.issuer}/`))
  })

  it('health forgets the failure once discovery succeeds', async () => {
    const clock = fakeClock()
    const { provider } = oidcLoggingToCache()
    idp.setDiscovery({ issuer: `${idp.issuer}/` })
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    idp.setDiscovery(undefined)
    clock.at(1_000)
    await provider.hydrate()
    expect(provider.health()).toMatchObject({ ok: true, lastError: undefined })
  })
})

describe('a provider’s fetch is never silently ignored', () => {
  const withInstance = (fetch: FetchFunction) => ({
    issuer: idp.issuer,
    audience: idp.audience,
    jwksCache: new JwksCache({ fetch: idp.fetch }),
    fetch,
  })

  it.each([
    [
      'JwksProvider',
      (fetch: FetchFunction) => new JwksProvider({ ...withInstance(fetch), jwksUri: idp.jwksUri }),
    ],
    ['OidcProvider', (fetch: FetchFunction) => new OidcProvider(withInstance(fetch))],
  ])('%s refuses a fetch beside a JwksCache instance, telling where it goes', (_, build) => {
    expect(problemsOf(() => build(idp.fetch))).toEqual([
      expect.stringMatching(
        /^fetch cannot be given beside a JwksCache instance.*new JwksCache\(\{ fetch \}\)/,
      ),
    ])
  })

  it('the provider’s fetch alone carries discovery and keys', async () => {
    const paths: string[] = []
    const fetch: FetchFunction = (input, init) => {
      paths.push(new URL(input).pathname)
      return idp.fetch(input, init)
    }
    const provider = new OidcProvider({ issuer: idp.issuer, audience: idp.audience, fetch })
    await provider.hydrate()
    expect(paths).toEqual(['/.well-known/openid-configuration', '/.well-known/jwks.json'])
  })

  it.each([
    ['alone', {}],
    ['beside jwksCache options', { jwksCache: { cooldownMs: 1_000 } }],
    ['beside a JwksCache instance', { jwksCache: new JwksCache() }],
  ])('a fetch that is not a function is named as fetch, %s', (_, more) => {
    const options = {
      issuer: idp.issuer,
      audience: idp.audience,
      fetch: 'nope' as unknown as FetchFunction,
      ...more,
    }
    for (const build of [
      () => new JwksProvider({ ...options, jwksUri: idp.jwksUri }),
      () => new OidcProvider(options),
    ]) {
      const problems = problemsOf(build)
      expect(problems).toContain('fetch must be a function with the signature of fetch()')
      expect(problems.join('\n')).not.toMatch(/jwksCache\.fetch/)
    }
  })
})

describe('a JWK Set member without kty is broken, not a key for someone else', () => {
  const good = () => ({ ...idp.jwks().keys[0] })

  it.each<[string, unknown]>([
    ['an empty object', {}],
    ['an error object', { error: 'upstream timeout' }],
    ['a kid alone', { kid: 'k1' }],
    ['a use before any kty', { use: 'enc' }],
    ['a kty that is not a string', { kty: 42, kid: 'k1' }],
  ])('%s is skipped as malformed', (_, member) => {
    const { keys, skipped } = importKeySet({ keys: [member] })
    expect(keys).toEqual([])
    expect(skipped).toHaveLength(1)
    expect(MALFORMED_KEY.has(skipped[0]!.reason)).toBe(true)
  })

  it.each<[string, unknown[]]>([
    ['[{}]', [{}]],
    ['[{"error":"upstream timeout"}]', [{ error: 'upstream timeout' }]],
    ['[{"kid":…}] (no kty)', [{ kid: 'k1' }]],
  ])('a refresh answering %s keeps the last good set (JWKS-11)', async (_, junk) => {
    const clock = fakeClock()
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({
        fetch: idp.fetch,
        refreshIntervalMs: 1_000,
        cooldownMs: 1_000,
        logger: pino({ level: 'silent' }),
      }),
    })
    const verify = createVerifier({ provider, logger: false })
    await verify.hydrate()
    idp.setJwks({ keys: junk })
    clock.at(1_500) // due for refresh
    await verify(idp.mint({ sub: 'a' })) // served from the set, starting the refresh
    await settle()
    expect(idp.counts.jwks).toBe(2)
    await expect(verify(idp.mint({ sub: 'b' }))).resolves.toMatchObject({ id: 'b' })
    expect(provider.health()).toMatchObject({ ok: true, keyCount: 1 })
    expect(provider.health().lastError).toMatch(/no well-formed key/)
  })

  it('a first answer of nothing but such members is an outage (503), not "no such key" (401)', async () => {
    idp.setJwks({ keys: [{}] })
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({ fetch: idp.fetch }),
    })
    await expect(provider.verifyToken(idp.mint({ sub: 'a' }))).rejects.toBeInstanceOf(
      UnavailableError,
    )
  })

  it('a good key beside such members serves, and the members are logged as skipped', async () => {
    const log = memoryLogger()
    idp.setJwks({ keys: [{}, good(), { error: 'x' }] })
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({ fetch: idp.fetch, logger: log.logger }),
    })
    await expect(provider.verifyToken(idp.mint({ sub: 'a' }))).resolves.toBeDefined()
    expect(provider.health()).toMatchObject({ ok: true, keyCount: 1, lastError: undefined })
    expect(log.lines.filter((line) => line.level === WARN).map((line) => line.msg)).toEqual([
      'unusable keys skipped in JWK Set',
    ])
  })
})

describe('cache options are checked with the provider’s own', () => {
  it.each([
    [
      'JwksProvider',
      () =>
        new JwksProvider({
          issuer: 'not a url',
          jwksUri: 'https://x.example/jwks',
          audience: 'api',
          jwksCache: { cooldownMs: -1 },
        }),
    ],
    [
      'OidcProvider',
      () =>
        new OidcProvider({ issuer: 'not a url', audience: 'api', jwksCache: { cooldownMs: -1 } }),
    ],
  ])('%s lists a bad issuer and a bad jwksCache.cooldownMs in one ConfigError', (_, build) => {
    const problems = problemsOf(build)
    expect(problems).toHaveLength(2)
    expect(problems[0]).toMatch(/^issuer /)
    expect(problems[1]).toMatch(/^jwksCache\.cooldownMs /)
  })

  it('still refuses a jwksCache that is neither a cache nor options', () => {
    const problems = problemsOf(
      () =>
        new JwksProvider({
          issuer: 'https://x.example/',
          jwksUri: 'https://x.example/jwks',
          audience: 'api',
          jwksCache: 'big' as never,
        }),
    )
    expect(problems).toEqual(['jwksCache must be a JwksCache or its options ({ cooldownMs, … })'])
  })
})

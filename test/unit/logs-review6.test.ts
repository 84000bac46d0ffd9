// Review 6 (logging): a logger that throws never changes an answer nor ends the process; loggers
// are checked at construction; error texts are scrubbed; the refresh interval is bounded below by
// the cooldown; a skipped-key warning stays short; the docs say where key fetch failures go.

import { EventEmitter } from 'node:events'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, createVerifier, jwtAuth, JwksCache } from '../../src/index.js'
import { Discovery } from '../../src/discovery.js'
import { readJwksCacheEnv } from '../../src/env.js'
import type { FetchFunction } from '../../src/fetch-json.js'
import { neverThrows, resolveLogger } from '../../src/logger.js'
import { Problems } from '../../src/options.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { checkConnectionOptions, RedisLink } from '../../providers/redis/connection.js'

const root = join(import.meta.dirname, '..', '..')
const SECRET = 'Pr0xyPassw0rd'

let idp: TestIssuer
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => void unhandled.push(reason)

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, algorithms: ['ES256'] })
  process.on('unhandledRejection', onUnhandled)
})

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled)
  await idp.close()
})

afterEach(() => {
  idp.respondWith('jwks', undefined)
  idp.respondWith('discovery', undefined)
  idp.setJwks(undefined)
  idp.resetCounts()
  unhandled.length = 0
})

/** A logger whose every record fails, as a broken sink, serializer or hook would. */
function throwingLogger(): Logger {
  return pino(
    {
      level: 'trace',
      hooks: {
        logMethod() {
          throw new Error('log sink down')
        },
      },
    },
    { write: () => undefined },
  )
}

/** A logger keeping its records, parsed. */
function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const logger = pino(
    { level: 'trace' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  )
  return { logger, lines }
}

/** Lets background work (in-memory fetches, un-awaited steps) finish. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn += 1) await new Promise((resolve) => setImmediate(resolve))
}

function providerWith(cache: JwksCache): JwksProvider {
  return new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    jwksCache: cache,
  })
}

/** A fetch failing the way a proxy agent does: its error names the proxy URL, password and all. */
const proxyFailure: FetchFunction = () =>
  Promise.reject(new TypeError(`tunnel failed via proxy http://svc:${SECRET}@proxy.internal:3128`))

describe('a logger that throws changes no answer and ends nothing (ops #1)', () => {
  it('a cold cache with the IdP down answers 503, not 401', async () => {
    idp.respondWith('jwks', { status: 503, body: 'down' })
    const cache = new JwksCache({ fetch: idp.fetch, logger: throwingLogger() })
    const verify = createVerifier({ provider: providerWith(cache), logger: throwingLogger() })
    await expect(verify(idp.mint({ sub: 'a' }))).rejects.toMatchObject({
      status: 503,
      code: 'ERR_AUTH_KEYS_UNAVAILABLE',
    })
  })

  it('a failing background refresh leaves no unhandled rejection', async () => {
    const cache = new JwksCache({
      fetch: idp.fetch,
      logger: throwingLogger(),
      refreshIntervalMs: 40,
      cooldownMs: 40,
    })
    const verify = createVerifier({ provider: providerWith(cache), logger: false })
    const token = idp.mint({ sub: 'b' })
    await expect(verify(token)).resolves.toMatchObject({ id: 'b' })
    idp.respondWith('jwks', { status: 503, body: 'down' })
    await new Promise((resolve) => setTimeout(resolve, 60)) // due for refresh
    await expect(verify(idp.mint({ sub: 'c' }))).resolves.toMatchObject({ id: 'c' }) // stale keys
    await settle()
    expect(idp.counts.jwks).toBe(2)
    expect(unhandled).toEqual([])
  })

  it('a good fetch whose warning throws still counts as fetched', async () => {
    idp.setJwks({ keys: [...idp.jwks().keys, { kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' }] })
    const cache = new JwksCache({ fetch: idp.fetch, logger: throwingLogger() })
    await cache.hydrate(idp.jwksUri)
    expect(cache.status(idp.jwksUri)).toMatchObject({ keyCount: 1, lastError: undefined })
  })

  it('a failed discovery answers 503, not the logger’s error', async () => {
    idp.respondWith('discovery', { status: 503, body: 'down' })
    const discovery = new Discovery(
      idp.issuer,
      { fetch: idp.fetch, timeoutMs: 1_000, maxResponseBytes: 1024, production: false },
      throwingLogger(),
    )
    await expect(discovery.jwksUri()).rejects.toMatchObject({ code: 'ERR_AUTH_KEYS_UNAVAILABLE' })
  })

  it('a shared tier whose write fails, with the verifier’s logger throwing, rejects nothing', async () => {
    const shared = {
      get: async () => undefined,
      set: async () => {
        throw new Error('redis down')
      },
      invalidate: async () => undefined,
      onInvalidate: () => undefined,
    }
    const verify = createVerifier({
      provider: providerWith(new JwksCache({ fetch: idp.fetch })),
      logger: throwingLogger(),
      groups: { fetchGroups: () => ['g'] },
      sourceCache: { shared },
    })
    const user = await verify(idp.mint({ sub: 'd' }))
    expect(await user.groups).toEqual(['g'])
    await settle()
    expect(unhandled).toEqual([])
  })

  it('a Redis link that loses its subscriber does not throw out of the ioredis event', async () => {
    const subscriber = Object.assign(new EventEmitter(), {
      status: 'connecting',
      disconnect: () => undefined,
    })
    const client = Object.assign(new EventEmitter(), {
      status: 'ready',
      duplicate: () => subscriber,
    })
    const link = new RedisLink(
      { client: client as never, logger: throwingLogger() },
      { channel: 'c', onMessage: () => undefined, onSubscribed: async () => undefined },
      'revocation store',
    )
    await link.open()
    expect(() => subscriber.emit('close')).not.toThrow()
    expect(link.down).toBe(true)
    await link.close()
  })

  it('a guarded logger follows level changes, guards its children and keeps isLevelEnabled', () => {
    const { logger, lines } = memoryLogger()
    logger.level = 'info'
    const safe = neverThrows(logger)
    expect(neverThrows(safe)).toBe(safe)
    safe.debug('hidden')
    safe.level = 'debug'
    expect(logger.level).toBe('debug')
    expect(safe.isLevelEnabled('debug')).toBe(true)
    safe.debug('shown')
    safe.child({ part: 'x' }).info('from the child')
    expect(lines.map((line) => line['msg'])).toEqual(['shown', 'from the child'])
    const broken = neverThrows(throwingLogger())
    expect(() => broken.error({ a: 1 }, 'x')).not.toThrow()
    expect(() => broken.child({}).warn('x')).not.toThrow()
    expect(() => resolveLogger(throwingLogger(), 'info').fatal('x')).not.toThrow()
  })
})

describe('a logger oidc-guard cannot write to is refused at construction (ops #8)', () => {
  const provider = () => providerWith(new JwksCache({ fetch: idp.fetch }))

  it.each<[string, unknown, RegExp]>([
    ['console', console, /logger must be a pino logger .*it has no child\(\), isLevelEnabled\(\)/],
    ['null', null, /logger must be a pino logger .*, or false for none, got null/],
    ['{}', {}, /it has no child\(\), isLevelEnabled\(\), error\(\), warn\(\), info\(\), debug\(\)/],
    ['a string', 'debug', /got string/],
  ])('jwtAuth({ logger: %s }) throws a ConfigError', (_, logger, message) => {
    let thrown: unknown
    try {
      jwtAuth({ provider: provider(), logger: logger as never })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ConfigError)
    expect((thrown as Error).message).toMatch(message)
  })

  it('JwksCache and the Redis options check theirs', () => {
    expect(() => new JwksCache({ logger: console as never })).toThrow(
      /jwksCache\.logger must be a pino logger/,
    )
    const problems = new Problems()
    checkConnectionOptions(problems, { url: 'redis://127.0.0.1:6379', logger: {} as never })
    expect(() => problems.throwIfAny()).toThrow(/logger must be a pino logger/)
  })

  it('pino loggers and false are accepted', () => {
    expect(() => jwtAuth({ provider: provider(), logger: pino({ level: 'silent' }) })).not.toThrow()
    expect(() => jwtAuth({ provider: provider(), logger: false })).not.toThrow()
  })
})

describe('error texts are scrubbed before they are shown (ops #3)', () => {
  it('a key fetch error: health status, the jwks channel and the log', async () => {
    const events: { error?: string }[] = []
    const listener = (event: unknown): void => void events.push(event as { error?: string })
    subscribe('oidc-guard:jwks', listener)
    const { logger, lines } = memoryLogger()
    try {
      const cache = new JwksCache({ fetch: proxyFailure, logger })
      await expect(cache.hydrate('https://idp.example/jwks')).rejects.toMatchObject({
        code: 'ERR_AUTH_KEYS_UNAVAILABLE',
      })
      const { lastError } = cache.status('https://idp.example/jwks')
      expect(lastError).toContain('http://[redacted]@proxy.internal:3128')
      expect(lastError).not.toContain(SECRET)
      expect(events.at(-1)?.error).toContain('proxy.internal')
      expect(JSON.stringify(events)).not.toContain(SECRET)
      expect(lines.some((line) => line['msg'] === 'JWK Set fetch failed')).toBe(true)
      expect(JSON.stringify(lines)).not.toContain(SECRET)
    } finally {
      unsubscribe('oidc-guard:jwks', listener)
    }
  })

  it('a discovery error: failure() and the log', async () => {
    const { logger, lines } = memoryLogger()
    const discovery = new Discovery(
      'https://idp.example',
      { fetch: proxyFailure, timeoutMs: 1_000, maxResponseBytes: 1024, production: false },
      logger,
    )
    await expect(discovery.jwksUri()).rejects.toMatchObject({ code: 'ERR_AUTH_KEYS_UNAVAILABLE' })
    expect(discovery.failure()).toContain('http://[redacted]@proxy.internal:3128')
    expect(discovery.failure()).not.toContain(SECRET)
    expect(lines.some((line) => line['msg'] === 'OIDC discovery failed')).toBe(true)
    expect(JSON.stringify(lines)).not.toContain(SECRET)
  })
})

describe('the refresh interval is at least the cooldown (jwt #2)', () => {
  it('refreshIntervalMs: 20 (minutes meant) is refused, naming the unit', () => {
    expect(() => new JwksCache({ refreshIntervalMs: 20 })).toThrow(
      'jwksCache.refreshIntervalMs is in milliseconds (JWKS_CACHE_INTERVAL is in minutes) and must be at least cooldownMs (30000), got 20',
    )
    expect(() => new JwksCache({ refreshIntervalMs: 20, cooldownMs: 20 })).not.toThrow()
    expect(() => new JwksCache({ refreshIntervalMs: 10_000, cooldownMs: 20_000 })).toThrow(
      /at least cooldownMs \(20000\), got 10000/,
    )
  })

  it('JWKS_CACHE_INTERVAL under half a minute is refused, naming the unit', () => {
    const problems = new Problems()
    expect(readJwksCacheEnv({ JWKS_CACHE_INTERVAL: '0.1' }, problems)).toEqual({})
    expect(() => problems.throwIfAny()).toThrow(
      'JWKS_CACHE_INTERVAL is in minutes and must be at least 0.5 (30 s, the least time between two fetches of a key set), got "0.1"',
    )
    const fine = new Problems()
    expect(readJwksCacheEnv({ JWKS_CACHE_INTERVAL: '0.5' }, fine)).toEqual({
      refreshIntervalMs: 30_000,
    })
    expect(() => fine.throwIfAny()).not.toThrow()
  })
})

describe('a skipped-key warning stays short (jwt, unconfirmed note)', () => {
  it('names the first 10 skipped members and counts them all', async () => {
    const junk = Array.from({ length: 50 }, (_, index) => ({
      kty: 'oct',
      kid: `j${index}`,
      k: 'AA',
    }))
    idp.setJwks({ keys: [...idp.jwks().keys, ...junk] })
    const { logger, lines } = memoryLogger()
    const cache = new JwksCache({ fetch: idp.fetch, logger })
    await cache.hydrate(idp.jwksUri)
    const warning = lines.find((line) => line['msg'] === 'unusable keys skipped in JWK Set')
    expect(warning).toMatchObject({ skippedCount: 50 })
    expect(warning?.['skipped']).toHaveLength(10)
  })
})

describe('docs: where key fetch failures are logged (ops #5)', () => {
  const docs = readFileSync(join(root, 'docs/configuration.md'), 'utf8')
  const table = docs.split('## JWKS cache options')[1]!.split('\n## ')[0]!

  it('the JWKS cache table lists every JwksCacheOptions member, logger included', () => {
    const source = readFileSync(join(root, 'src/jwks-cache.ts'), 'utf8')
    const body = source.split('export interface JwksCacheOptions {')[1]!.split('\n}')[0]!
    const members = [...body.matchAll(/^ {2}(\w+)\?:/gm)].map((match) => match[1]!)
    expect(members).toContain('logger')
    const documented = [...table.matchAll(/^\| `(\w+)` \|/gm)].map((match) => match[1]!)
    expect(documented.sort()).toEqual(members.sort())
  })

  it('says the verifier’s logger does not reach the process-wide cache', () => {
    expect(table).toMatch(/never reaches a key cache, and `logger: false`\s+does not silence one/)
    expect(table).toMatch(/own, named `oidc-guard`, on stdout at `AUTH_MIDDLEWARE_LOG_LEVEL`/)
  })
})

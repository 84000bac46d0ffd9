// Revocation, found in the twelfth review: revokeSubject's options are checked (a Date passed
// directly, a misspelt name, `before: null` are TypeErrors, not "now"), the lifetime warning names
// the one-year cap of revocations by token, the memory store prunes in linear time, the Redis
// store's copy drops ended revocations without waiting for new ones, and ready(timeoutMs) refuses
// a value no timer holds instead of blaming Redis.

import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { RedisRevocationStore, RedisSharedCache } from '../../providers/redis/index.js'
import { LocalRevocations, PRUNE_CHECK_MS } from '../../providers/redis/local-revocations.js'
import { MemoryRevocationStore, type RevocationStore, type VerifiedToken } from '../../src/index.js'
import { MAX_TIMER_MS } from '../../src/options.js'
import { askStore, StoreFailureLog } from '../../src/revocation-answer.js'
import { silentLogger } from '../../src/logger.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'

const PREFIX = `r12fix:revoke:${process.pid}:${randomBytes(4).toString('hex')}:`
const ISSUER = 'https://revoke12.example'

let admin: Redis
const closers: Array<() => Promise<void> | void> = []

beforeAll(async () => {
  admin = await connectTestRedis()
})

afterEach(async () => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  for (const close of closers.splice(0).reverse()) await close()
  await deleteKeys(admin, PREFIX)
})

afterAll(() => {
  admin.disconnect()
})

function redisStore(
  options: { maxTokenLifetimeSec?: number; logger?: pino.Logger } = {},
): RedisRevocationStore {
  const store = new RedisRevocationStore({ url: REDIS_URL, prefix: PREFIX, ...options })
  closers.push(() => store.close())
  return store
}

const nowSec = () => Date.now() / 1000

const verified = (claims: Record<string, unknown>): VerifiedToken => ({
  token: 't',
  header: { alg: 'RS256' },
  claims: { iss: ISSUER, sub: 's', ...claims },
})

function logSink() {
  const lines: Array<{ level: number; msg: string }> = []
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  )
  return { logger, warnings: () => lines.filter((line) => line.level === 40) }
}

describe("D1: revokeSubject's options are checked, never read as 'now'", () => {
  const date = () => new Date(Date.now() + 10_000)
  const bad: Array<[string, () => unknown, RegExp]> = [
    ['a Date passed directly', date, /takes its date as an option: .*\{ before: date \}/],
    [
      'a misspelt name',
      () => ({ befor: date() }),
      /"befor" is not an option \(did you mean before\?\)/,
    ],
    [
      'another name',
      () => ({ notBefore: date() }),
      /"notBefore" is not an option; the only option is before/,
    ],
    ['before: null', () => ({ before: null }), /before must be a valid Date, got null/],
    [
      'before as a string',
      () => ({ before: '2030-01-01' }),
      /before must be a valid Date, got a string/,
    ],
    [
      'an invalid Date',
      () => ({ before: new Date('nope') }),
      /before must be a valid Date, got an invalid Date/,
    ],
    ['a string', () => '2030-01-01', /the options must be an object .*, got a string/],
    ['null', () => null, /the options must be an object .*, got null/],
    ['an array', () => [date()], /the options must be an object .*, got an array/],
    ['a Map', () => new Map([['before', date()]]), /got a Map/],
  ]

  it.each(bad)(
    '%s: a TypeError from the memory store, nothing stored',
    (_name, options, message) => {
      const store = new MemoryRevocationStore()
      expect(() => store.revokeSubject(ISSUER, 'alice', options() as never)).toThrow(TypeError)
      expect(() => store.revokeSubject(ISSUER, 'alice', options() as never)).toThrow(message)
      expect(store.size).toBe(0)
    },
  )

  it.each(bad)('%s: a synchronous TypeError from the Redis store', (_name, options, message) => {
    const store = redisStore()
    expect(() => store.revokeSubject(ISSUER, 'alice', options() as never)).toThrow(message)
    expect(store.size).toBe(0)
  })

  it('the message never shows the value', () => {
    const store = new MemoryRevocationStore()
    expect(() => store.revokeSubject(ISSUER, 'alice', 's3cret-value' as never)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
    )
  })

  it('no options, or before: undefined, revoke as of now; { before } covers an IdP running ahead', () => {
    const store = new MemoryRevocationStore()
    const iat = Math.floor(nowSec())
    store.revokeSubject(ISSUER, 'alice')
    store.revokeSubject(ISSUER, 'bob', { before: undefined } as never)
    store.revokeSubject(ISSUER, 'carol', { before: new Date(Date.now() + 10_000) })
    expect(store.isRevoked(verified({ sub: 'alice', iat: iat - 1 }))).toBe(true)
    expect(store.isRevoked(verified({ sub: 'bob', iat: iat - 1 }))).toBe(true)
    // Stamped 4 s ahead by the IdP's clock: only the `before` ahead of now covers it.
    expect(store.isRevoked(verified({ sub: 'bob', iat: iat + 4 }))).toBe(false)
    expect(store.isRevoked(verified({ sub: 'carol', iat: iat + 4 }))).toBe(true)
  })
})

describe('D2: the lifetime warning names the one-year cap of revocations by token', () => {
  const day = 86_400

  it('MemoryRevocationStore: once for subject revocations, once more past a year', () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const store = new MemoryRevocationStore({ maxTokenLifetimeSec: 3600 })
    const now = Math.floor(nowSec())
    store.isRevoked(verified({ iat: now, exp: now + 7 * day }))
    store.isRevoked(verified({ iat: now, exp: now + 8 * day }))
    expect(emitted).toHaveBeenCalledTimes(1)
    expect(String(emitted.mock.calls[0]![0])).toMatch(/subject revocations may end/)
    expect(String(emitted.mock.calls[0]![0])).not.toMatch(/one year/)
    store.isRevoked(verified({ iat: now, exp: now + 730 * day }))
    store.isRevoked(verified({ iat: now, exp: now + 800 * day }))
    expect(emitted).toHaveBeenCalledTimes(2)
    const second = String(emitted.mock.calls[1]![0])
    expect(second).toMatch(/revocations by the token itself/)
    expect(second).toMatch(/at most max\(maxTokenLifetimeSec, one year\)/)
    expect(second).toMatch(/raise maxTokenLifetimeSec/)
    expect(emitted.mock.calls[1]![1]).toMatchObject({ code: 'OIDC_GUARD_REVOCATION_LIFETIME' })
  })

  it('a first token of two years gets the one warning that says both', () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const store = new MemoryRevocationStore({ maxTokenLifetimeSec: 3600 })
    const now = Math.floor(nowSec())
    store.isRevoked(verified({ iat: now, exp: now + 730 * day }))
    store.isRevoked(verified({ iat: now, exp: now + 7 * day }))
    expect(emitted).toHaveBeenCalledTimes(1)
    expect(String(emitted.mock.calls[0]![0])).toMatch(
      /subject revocations, and revocations by the token/,
    )
  })

  it('a maxTokenLifetimeSec above a year raises the cap, and nothing is said', () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const store = new MemoryRevocationStore({ maxTokenLifetimeSec: 800 * day })
    const now = Math.floor(nowSec())
    store.isRevoked(verified({ iat: now, exp: now + 730 * day }))
    expect(emitted).not.toHaveBeenCalled()
  })

  it('RedisRevocationStore: the same, through its logger', async () => {
    const { logger, warnings } = logSink()
    const store = redisStore({ maxTokenLifetimeSec: 3600, logger })
    await store.ready()
    const now = Math.floor(nowSec())
    store.isRevoked(verified({ iat: now, exp: now + 7 * day }))
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]!.msg).not.toMatch(/one year/)
    store.isRevoked(verified({ iat: now, exp: now + 730 * day }))
    store.isRevoked(verified({ iat: now, exp: now + 731 * day }))
    expect(warnings()).toHaveLength(2)
    expect(warnings()[1]!.msg).toMatch(/at most max\(maxTokenLifetimeSec, one year\)/)
    expect(warnings()[1]!.msg).toMatch(/AUTH_REVOCATION_MAX_TOKEN_LIFETIME_SEC/)
  })
})

describe('D3: MemoryRevocationStore prunes in linear time', () => {
  it('visits O(n) entries for n revocations, as the Redis copy does', () => {
    const store = new MemoryRevocationStore()
    const iterate = Map.prototype[Symbol.iterator]
    let visited = 0
    // Every sweep walks the store's maps: count the entries each walk goes over.
    vi.spyOn(Map.prototype, Symbol.iterator).mockImplementation(function (
      this: Map<unknown, unknown>,
    ) {
      visited += this.size
      return iterate.call(this)
    })
    const n = 20_000
    for (let index = 0; index < n; index += 1) store.revokeToken(`jti-${index}`)
    vi.restoreAllMocks()
    expect(store.size).toBe(n)
    // Every 256th write walking every entry visits ~n²/512 (about 780,000 here).
    expect(visited).toBeLessThanOrEqual(2 * n)
  })

  it('still drops ended entries as it writes', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = new MemoryRevocationStore({ maxTokenLifetimeSec: 60 })
    for (let index = 0; index < 300; index += 1) store.revokeToken(`old-${index}`)
    vi.setSystemTime(Date.now() + 3_600_000)
    for (let index = 0; index < 600; index += 1) store.revokeToken(`new-${index}`)
    expect(store.size).toBe(600)
  })
})

describe("D4: the Redis store's copy drops ended revocations without new writes", () => {
  it('size and health count only live revocations', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = redisStore({ maxTokenLifetimeSec: 60 })
    await store.ready()
    await Promise.all(
      Array.from({ length: 600 }, (_, index) => store.revokeToken(`burst-${index}`)),
    )
    store.revokeSubject(ISSUER, 'alice').catch(() => undefined)
    expect(store.size).toBe(601)
    vi.setSystemTime(Date.now() + 3_600_000) // every one ended 54 minutes ago
    expect(store.size).toBe(0)
    expect(store.health()).toEqual({ ok: true, detail: 'redis: in step, 0 revocations' })
    await store.revokeToken('later')
    expect(store.size).toBe(1)
  })

  it('the copy prunes itself within a minute of an end, with no write and no count', () => {
    vi.useFakeTimers()
    const local = new LocalRevocations()
    const start = nowSec()
    for (let index = 0; index < 1000; index += 1) {
      local.add({ kind: 'jti', jti: `j${index}`, expiresAtSec: start + 10 }, start)
    }
    local.add({ kind: 'jti', jti: 'long', expiresAtSec: start + 10_000 }, start)
    expect(local.size).toBe(1001)
    vi.advanceTimersByTime(10_000 + PRUNE_CHECK_MS)
    expect(local.size).toBe(1)
    // The check stops once nothing is held, and comes back with the next entry.
    vi.advanceTimersByTime(10_000_000)
    expect(local.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    local.add({ kind: 'jti', jti: 'again', expiresAtSec: nowSec() + 5 }, nowSec())
    expect(vi.getTimerCount()).toBe(1)
    local.stop()
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('D5: ready(timeoutMs) refuses a value no timer holds', () => {
  const values: Array<[unknown, ErrorConstructor, RegExp]> = [
    [Infinity, RangeError, /from 1 to 2147483647 ms .*got Infinity/],
    [31 * 86_400_000, RangeError, /got 2678400000/],
    [Number.NaN, RangeError, /got NaN/],
    [-1, RangeError, /got -1/],
    [0, RangeError, /got 0/],
    ['5000', TypeError, /must be a number of milliseconds, got a string/],
  ]

  it.each(values)(
    'RedisRevocationStore.ready(%s): %s naming timeoutMs',
    async (value, kind, message) => {
      const store = redisStore()
      const error = await store.ready(value as number).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(kind)
      expect((error as Error).message).toMatch(/^ready\(timeoutMs\): timeoutMs /)
      expect((error as Error).message).toMatch(message)
    },
  )

  it.each(values)('RedisSharedCache.ready(%s): %s too', async (value, kind) => {
    const cache = new RedisSharedCache({ url: REDIS_URL, prefix: PREFIX })
    closers.push(() => cache.close())
    await expect(cache.ready(value as number)).rejects.toBeInstanceOf(kind)
  })

  it('a valid one still waits, and resolves once in step', async () => {
    await expect(redisStore().ready(MAX_TIMER_MS)).resolves.toBeUndefined()
  })

  it("the verifier's backstop for a self-bounded store is clamped to what a timer holds", async () => {
    const store: RevocationStore = {
      answersWithinMs: MAX_TIMER_MS - 500,
      isRevoked: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30)),
      health: () => ({ ok: true }),
    }
    const warned = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const answer = askStore(store, verified({}), new StoreFailureLog(silentLogger))
    await expect(answer).resolves.toBe(false)
    expect(warned).not.toHaveBeenCalled() // no TimeoutOverflowWarning
  })
})

describe("isRevoked(verified, issuers): a subject revoked under one of a group's issuers", () => {
  const regional = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1'
  const global = 'https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1'
  const group = Object.freeze([regional, global])
  const token = (iss: string, sub = 'u') => ({
    token: 't',
    header: { alg: 'RS256' },
    claims: { iss, sub, iat: Math.floor(nowSec()) - 10 },
  })

  it('MemoryRevocationStore looks the subject up under each issuer of the group', () => {
    const store = new MemoryRevocationStore()
    store.revokeSubject(global, 'u')
    expect(store.isRevoked(token(regional))).toBe(false) // no group: its own issuer only
    expect(store.isRevoked(token(regional), group)).toBe(true)
    expect(store.isRevoked(token(global), group)).toBe(true)
    expect(store.isRevoked(token(regional, 'v'), group)).toBe(false)
  })

  it("the Redis store's copy does the same", () => {
    const local = new LocalRevocations()
    const now = nowSec()
    local.add(
      { kind: 'subject', issuer: regional, subject: 'u', beforeSec: now, expiresAtSec: now + 60 },
      now,
    )
    expect(local.isRevoked(token(global).claims, nowSec)).toBe(false)
    expect(local.isRevoked(token(global).claims, nowSec, group)).toBe(true)
    expect(local.isRevoked(token(global, 'v').claims, nowSec, group)).toBe(false)
    local.stop()
  })
})

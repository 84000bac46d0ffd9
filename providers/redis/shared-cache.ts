// RedisSharedCache: the second tier of the authorization cache, shared by every instance, with
// invalidation published so each instance drops its own copy at once.

import { deserialize, serialize } from 'node:v8'
import { LRUCache } from 'lru-cache'
import {
  checkOptionNames,
  neverThrows,
  Problems,
  silentLogger,
  type ComponentHealth,
  type Logger,
  type SharedCacheTier,
} from '../../src/spi.js'
import {
  checkConnectionOptions,
  CONNECTION_OPTIONS,
  DEFAULT_PREFIX,
  RedisLink,
  type RedisConnectionOptions,
} from './connection.js'

/** Options of {@link RedisSharedCache}. */
export type RedisSharedCacheOptions = RedisConnectionOptions

const SHARED_CACHE_OPTIONS = Object.keys(CONNECTION_OPTIONS)

// The facets the core caches per user, and its key layout (facet, issuer, subject).
const FACETS = ['groups', 'roles', 'permissions', 'profile'] as const
// A generation outlives any load that read the one before it (loads are bounded by the source
// time-out, seconds): an answer loaded before an invalidation can then never be stored after it.
const GENERATION_TTL_MS = 3_600_000
// Published instead of a list of keys: every instance drops its whole in-process tier.
const CLEAR_MESSAGE = 'clear'
// Marks a value stored by the structured clone algorithm (node:v8), as the in-process tier copies
// answers: anything else under a value key (the JSON of older versions) is a miss.
const VALUE_FORMAT = 'v8:'

// Reads a key's generation, the epoch (bumped by `clear`), its answer and the time the answer has
// left, at one instant.
const GET_SCRIPT = `
return { redis.call('GET', KEYS[1]), redis.call('GET', KEYS[3]), redis.call('GET', KEYS[2]),
  redis.call('PTTL', KEYS[2]) }
`

// Stores an answer only if no invalidation and no clear happened since it was read.
const SET_SCRIPT = `
local generation = tonumber(redis.call('GET', KEYS[1]) or '0')
local epoch = tonumber(redis.call('GET', KEYS[3]) or '0')
if generation ~= tonumber(ARGV[1]) or epoch ~= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return 1
`

/** What a load saw when it read a key: stored with its answer, which is current while they hold. */
interface Seen {
  readonly g: number
  readonly e: number
}

/**
 * A {@link SharedCacheTier} in Redis, under the in-process cache of groups, roles, permissions
 * and profiles: an instance that starts later, or misses in its own tier, reads what another one
 * loaded. `invalidate` (what `verifier.forgetUser` calls) deletes the user's answers in Redis and
 * publishes the keys, so every instance drops them from its in-process tier at once.
 *
 * Each key has a generation that invalidation bumps, and the whole cache an epoch that `clear`
 * bumps; an answer is stored and read under the ones seen before the source was asked, so a slow
 * load that started before an invalidation or a clear can never put the old answer back. Values
 * are copied as the in-process tier copies them (the structured clone algorithm: dates, maps,
 * sets and bigints stay what they are), with the cache's TTL; one it cannot copy stays in-process.
 *
 * Redis unreachable: the core asks the sources instead (degraded, logged once per episode), never
 * a 500 and never a grant the sources would refuse. Invalidations published while an instance's
 * subscriber was away are covered by dropping its whole in-process tier on every (re)subscription.
 *
 * @example
 * const shared = new RedisSharedCache({ url: process.env.AUTH_REDIS_URL, logger })
 * app.use(jwtAuth({ provider, permissions, sourceCache: { ttlMs: 60_000, shared } }))
 * // after changing alice's permissions, on any instance (or an admin process):
 * await shared.invalidateUser('https://issuer.example', 'alice')
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` at construction, listing every invalid or unknown option.
 */
export class RedisSharedCache implements SharedCacheTier {
  readonly #prefix: string
  readonly #channel: string
  readonly #link: RedisLink
  readonly #epochKey: string
  readonly #listeners: Array<(keys: readonly string[]) => void> = []
  readonly #clearListeners: Array<() => void> = []
  readonly #logger: Logger
  // What each key had when it was last read, for the `set` that follows the load.
  readonly #seen = new LRUCache<string, Seen>({ max: 10_000 })
  #warnedUncopyable = false

  constructor(options: RedisSharedCacheOptions) {
    const problems = new Problems()
    checkOptionNames(problems, 'RedisSharedCache', options ?? {}, SHARED_CACHE_OPTIONS)
    checkConnectionOptions(problems, options ?? {})
    problems.throwIfAny()
    this.#prefix = `${options.prefix ?? DEFAULT_PREFIX}cache:`
    this.#channel = `${options.prefix ?? DEFAULT_PREFIX}cache-invalidate`
    this.#epochKey = `${this.#prefix}epoch`
    this.#logger = neverThrows(options.logger ?? silentLogger)
    this.#link = new RedisLink(
      options,
      {
        channel: this.#channel,
        onMessage: (message) => this.#received(message),
        // Invalidations and clears published while away were missed: drop everything.
        onSubscribed: () => Promise.resolve(this.#dropAll()),
      },
      'authorization cache (the sources answer meanwhile)',
    )
  }

  /** The stored answer, or `undefined`; rejects when Redis cannot be reached. */
  async get(key: string): Promise<unknown> {
    return (await this.getEntry(key))?.value
  }

  /**
   * The stored answer and the milliseconds it has left in Redis (so that an instance reading it
   * late keeps it no longer than the others), or `undefined`; rejects when Redis cannot be reached.
   */
  async getEntry(key: string): Promise<{ value: unknown; remainingMs?: number } | undefined> {
    const [generation, epoch, raw, pttl] = (await this.#link.run((command) =>
      command.eval(GET_SCRIPT, 3, this.#generationKey(key), this.#valueKey(key), this.#epochKey),
    )) as [string | null, string | null, string | null, number]
    const seen: Seen = { g: Number(generation ?? 0), e: Number(epoch ?? 0) }
    this.#seen.set(key, seen)
    if (raw === null || raw === undefined) return undefined
    const stored = parse(raw)
    if (stored === undefined || stored.g !== seen.g || stored.e !== seen.e) return undefined
    // -1: a value without an expiry, which this cache never writes; its age is then unknown.
    return pttl >= 0 ? { value: stored.v, remainingMs: pttl } : { value: stored.v }
  }

  /**
   * Stores an answer for `ttlMs`, unless the key was invalidated or the cache cleared since it was
   * read (or it was never read here: then nothing says the answer is current).
   */
  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    const seen = this.#seen.get(key)
    this.#seen.delete(key)
    // Fails like `get` while Redis is away, so the caller's view of the outage stays one episode.
    await this.#link.run(async (command) => {
      if (seen === undefined) return
      const stored = this.#serialized({ ...seen, v: value })
      if (stored === undefined) return
      await command.eval(
        SET_SCRIPT,
        3,
        this.#generationKey(key),
        this.#valueKey(key),
        this.#epochKey,
        String(seen.g),
        String(seen.e),
        stored,
        String(Math.max(1, Math.round(ttlMs))),
      )
    })
  }

  /**
   * Makes every answer in Redis unreadable (they expire with their TTL) and tells every instance
   * to drop its whole in-process tier (this one at once): what `clearSourceCache` calls. A load
   * that read the cache before cannot store its answer after.
   *
   * @returns a promise that rejects when Redis cannot be reached: the other instances keep their
   *   copies until their in-process TTL ends, so retry.
   */
  async clear(): Promise<void> {
    this.#dropAll()
    const results = await this.#link.run((command) =>
      command.multi().incr(this.#epochKey).publish(this.#channel, CLEAR_MESSAGE).exec(),
    )
    const failed = results?.find(([error]) => error !== null)?.[0]
    if (results === null || failed !== undefined) {
      throw new Error('the cache could not be cleared in redis; retry', { cause: failed })
    }
    // Again: a load here may have read the old epoch's answer between the first drop and now.
    this.#dropAll()
  }

  onClear(listener: () => void): void {
    this.#clearListeners.push(listener)
  }

  /**
   * Deletes the keys in Redis and tells every instance to drop them (this one at once).
   *
   * @returns a promise that rejects when Redis cannot be reached: the other instances keep their
   *   copies until their in-process TTL ends, so retry.
   */
  async invalidate(keys: readonly string[]): Promise<void> {
    this.#dropLocally(keys)
    const results = await this.#link.run((command) => {
      const transaction = command.multi()
      for (const key of keys) {
        transaction
          .incr(this.#generationKey(key))
          .pexpire(this.#generationKey(key), GENERATION_TTL_MS)
          .del(this.#valueKey(key))
      }
      return transaction.publish(this.#channel, JSON.stringify(keys)).exec()
    })
    const failed = results?.find(([error]) => error !== null)?.[0]
    if (results === null || failed !== undefined) {
      throw new Error('the invalidation could not be completed in redis; retry', { cause: failed })
    }
  }

  /**
   * Forgets every cached answer (groups, roles, permissions, profile) of one user on every
   * instance: after changing the user's rights. Works from any process that shares the Redis and
   * the prefix, an admin tool included.
   *
   * @param subject the key the answers are stored under: `user.id` (not necessarily the token's
   *   `sub`: Entra ID's is `oid`), or, for a source that looks users up by a key of its own (its
   *   `cacheKey`), that value: the SQL sources' `idClaim` value, the `USER` of `oidc-guard grant`.
   */
  invalidateUser(issuer: string, subject: string): Promise<void> {
    if (
      typeof issuer !== 'string' ||
      issuer === '' ||
      typeof subject !== 'string' ||
      subject === ''
    )
      throw new TypeError('invalidateUser needs an issuer and a subject')
    return this.invalidate(FACETS.map((facet) => `${facet}\n${issuer}\n${subject}`))
  }

  onInvalidate(listener: (keys: readonly string[]) => void): void {
    this.#listeners.push(listener)
  }

  /** Resolves once subscribed to invalidations; rejects after `timeoutMs` if Redis is away. */
  async ready(timeoutMs?: number): Promise<void> {
    if (!(await this.#link.whenLive(timeoutMs))) {
      throw new Error(
        `the redis authorization cache is not reachable (${this.#link.lastError ?? 'timed out'})`,
      )
    }
  }

  /**
   * Connected, or degraded: still `ok`, since the sources answer while Redis is away (a failing
   * health check would take every instance out of a load balancer for a cache).
   */
  health(): ComponentHealth {
    void this.#link.open().catch(() => undefined) // a readiness probe brings the link up
    if (this.#link.live) return { ok: true, detail: 'redis: connected' }
    const state = this.#link.down
      ? `redis unreachable (${this.#link.lastError ?? 'no answer'})`
      : 'redis: connecting'
    return { ok: true, detail: `degraded: ${state}; the sources answer` }
  }

  /** Closes the connections the cache opened. */
  close(): Promise<void> {
    return this.#link.close()
  }

  #valueKey(key: string): string {
    return `${this.#prefix}v:${key}`
  }

  #generationKey(key: string): string {
    return `${this.#prefix}g:${key}`
  }

  #received(message: string): void {
    if (message === CLEAR_MESSAGE) return this.#dropAll()
    let keys: unknown
    try {
      keys = JSON.parse(message)
    } catch {
      return
    }
    if (Array.isArray(keys) && keys.every((key) => typeof key === 'string')) {
      this.#dropLocally(keys as string[])
    }
  }

  #dropLocally(keys: readonly string[]): void {
    for (const listener of this.#listeners) listener(keys)
  }

  #dropAll(): void {
    this.#seen.clear()
    for (const listener of this.#clearListeners) listener()
  }

  /**
   * An answer as stored, or `undefined` for one that cannot be written out (a `Blob` or a
   * `SharedArrayBuffer`, which `structuredClone` copies in-process but `node:v8` cannot
   * serialize): it stays in this instance's tier only, logged once. Not an outage of Redis.
   */
  #serialized(stored: Seen & { v: unknown }): string | undefined {
    try {
      return VALUE_FORMAT + serialize(stored).toString('base64')
    } catch (error) {
      if (!this.#warnedUncopyable) {
        this.#warnedUncopyable = true
        this.#logger.warn(
          { err: { message: error instanceof Error ? error.message : String(error) } },
          'an authorization answer cannot be copied to the shared cache; it stays in this instance',
        )
      }
      return undefined
    }
  }
}

/** A stored answer, or `undefined` for anything this version did not write (a miss, replaced). */
function parse(raw: string): (Seen & { v: unknown }) | undefined {
  if (!raw.startsWith(VALUE_FORMAT)) return undefined
  try {
    const value: unknown = deserialize(Buffer.from(raw.slice(VALUE_FORMAT.length), 'base64'))
    if (
      typeof value === 'object' &&
      value !== null &&
      'g' in value &&
      'e' in value &&
      'v' in value
    ) {
      return value as Seen & { v: unknown }
    }
  } catch {
    // Corrupt, or written by a Node whose serialization format this one cannot read.
  }
  return undefined
}

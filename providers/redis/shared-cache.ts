// RedisSharedCache: the second tier of the authorization cache, shared by every instance, with
// invalidation published so each instance drops its own copy at once.

import { deserialize, serialize } from 'node:v8'
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
  checkReadyTimeout,
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
// A generation a read (or an invalidation) created outlives the loads that read it (bounded by the
// source time-out, seconds); once an answer is written, it lives as long as the answer. One gone
// (expired, evicted) only makes a miss, and a load that outlived it writes nothing.
const GENERATION_TTL_MS = 3_600_000
// Published instead of a list of keys: every instance drops its whole in-process tier.
const CLEAR_MESSAGE = 'clear'
// Marks a value stored by the structured clone algorithm (node:v8), as the in-process tier copies
// answers: anything else under a value key (the JSON of older versions) is a miss.
const VALUE_FORMAT = 'v8:'

// Reads a key's generation, the epoch, its answer and the time the answer has left, at one
// instant. A generation or an epoch that is missing (never set, invalidated, expired, or evicted
// by an `allkeys-*` policy) is created with a new random value (ARGV[1]), which no stored answer
// carries: a key Redis drops can turn answers into misses, never make an old one current again (as
// a missing epoch read as 0 would have, for every answer from before the first clear). Atomic, as
// a script: two reads of one key cannot create two generations. A full Redis (`noeviction`)
// refuses the creation: the read is then a plain miss without a generation (false), which nothing
// can be written under, rather than a failed read (an outage, logged at every new user).
const GET_SCRIPT = `
local generation = redis.call('GET', KEYS[1])
if not generation then
  generation = ARGV[1]
  local created = redis.pcall('SET', KEYS[1], generation, 'PX', ARGV[2])
  if created.err then
    if not string.find(created.err, 'OOM', 1, true) then return created end
    generation = false
  end
end
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = ARGV[1]
  local created = redis.pcall('SET', KEYS[3], epoch)
  if created.err then
    if not string.find(created.err, 'OOM', 1, true) then return created end
    epoch = false
  end
end
return { generation, epoch, redis.call('GET', KEYS[2]), redis.call('PTTL', KEYS[2]) }
`

// Stores an answer only if the key's generation and the epoch are still the ones its read saw (a
// missing one, invalidated or evicted since, refuses it too); the generation then lives as long
// as the answer. 1 stored, 0 refused, -1 Redis full (nothing written: the SET is the first write).
const SET_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[3]) ~= ARGV[2] then return 0 end
local stored = redis.pcall('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
if stored.err then
  if string.find(stored.err, 'OOM', 1, true) then return -1 end
  return stored
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`

// Deletes each key's answer and generation (KEYS: generation, value, in pairs), then publishes the
// keys. A script, not a MULTI: a full Redis (`noeviction`) refuses every command queued in a MULTI
// and discards it, DEL and PUBLISH included, but runs a script's deletions and its PUBLISH, so an
// invalidation always removes the old answer. A missing generation refuses every pending write
// (SET_SCRIPT) and the next read creates one. The new random one set after it (which a full Redis
// may refuse, leaving none) is for an older version on the same Redis (a rolling upgrade), which
// reads a missing generation as 0, as its own pending loads may have.
const INVALIDATE_SCRIPT = `
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i], KEYS[i + 1])
  redis.pcall('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`

// Deletes the epoch (KEYS[1]) and sets a new random one (which a full Redis may refuse), then
// publishes the clear: as INVALIDATE_SCRIPT, for the whole cache.
const CLEAR_SCRIPT = `
redis.call('DEL', KEYS[1])
redis.pcall('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`

// A full Redis is logged at most this often, however many writes it refuses.
const FULL_LOG_INTERVAL_MS = 60_000

/**
 * A new generation or epoch: random, compared as a string. It only has to differ from the ones
 * before it, not to be secret (whoever can write it in Redis can write answers): 48 random bits
 * from `Math.random` make a repeat negligible. Digits, so that an older version of this cache on
 * the same Redis (a rolling upgrade), which INCRs them, still moves them to a value no answer
 * carries.
 */
function newVersion(): string {
  return String(1 + Math.floor(Math.random() * 2 ** 48))
}

/** What a load saw when it read a key: stored with its answer, which is current while they hold. */
interface Seen {
  readonly key: string
  readonly g: string
  readonly e: string
}

/**
 * A {@link SharedCacheTier} in Redis, under the in-process cache of groups, roles, permissions
 * and profiles: an instance that starts later, or misses in its own tier, reads what another one
 * loaded. `invalidate` (what `verifier.forgetUser` calls) deletes the user's answers in Redis and
 * publishes the keys, so every instance drops them from its in-process tier at once.
 *
 * Each key has a generation that invalidation replaces, and the whole cache an epoch that `clear`
 * replaces, random values (an evicted one is replaced by a new one, never read as an old one); an
 * answer is stored and read under the ones its own load's read saw before the source was asked,
 * so a slow load that started before an invalidation or a clear can never put the old answer
 * back, even with other loads of the same key on this instance (two verifiers sharing the tier).
 * What a read saw is kept under its load's `read` object only: a `set` without one (a tier wrapping
 * this one that does not pass `read` on) writes nothing, so such a wrapper shares no answer.
 * Values are copied as the in-process tier copies them (the structured clone algorithm: dates,
 * maps, sets and bigints stay what they are), with the cache's TTL; one it cannot copy stays
 * in-process.
 *
 * Redis unreachable: the core asks the sources instead (degraded, logged once per episode), never
 * a 500 and never a grant the sources would refuse; once the link is known to be down, reads and
 * writes fail at once until it is live again. Invalidations published while an instance's
 * subscriber was away are covered by dropping its whole in-process tier on every (re)subscription.
 *
 * Redis full (`maxmemory` under `noeviction`): reads still answer, answers are not stored and a new
 * user is a miss (the sources answer; logged at most once a minute, not as an outage), and
 * invalidations and clears still delete what they must.
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
  // What each load's read saw, for its `set` (the core passes each load an object of its own).
  #reads = new WeakMap<object, Seen>()
  #warnedUncopyable = false
  #warnedFullAt = -Infinity

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

  /**
   * The stored answer, or `undefined`; rejects when Redis cannot be reached.
   *
   * @param read an object of the load's own, given again to its `set` (see {@link getEntry}).
   */
  async get(key: string, read?: object): Promise<unknown> {
    return (await this.getEntry(key, read))?.value
  }

  /**
   * The stored answer and the milliseconds it has left in Redis (so that an instance reading it
   * late keeps it no longer than the others), or `undefined`; rejects when Redis cannot be reached,
   * at once while the link is known to be down (nothing waits for a silent network).
   *
   * @param read an object of the load's own, given again to the `set` of its answer: what this
   *   read saw is kept under it. Without one, the read answers all the same, but no `set` can
   *   follow it (nothing would say which read an answer follows).
   */
  async getEntry(
    key: string,
    read?: object,
  ): Promise<{ value: unknown; remainingMs?: number } | undefined> {
    this.#failWhileDown()
    const [generation, epoch, raw, pttl] = (await this.#link.run((command) =>
      command.eval(
        GET_SCRIPT,
        3,
        this.#generationKey(key),
        this.#valueKey(key),
        this.#epochKey,
        newVersion(),
        String(GENERATION_TTL_MS),
      ),
    )) as [string | null, string | null, string | null, number]
    // Redis full: a missing generation or epoch could not be created, so no answer is current and
    // none can be written for this read.
    if (generation === null || epoch === null) {
      this.#full()
      return undefined
    }
    const seen: Seen = { key, g: generation, e: epoch }
    if (read !== undefined) this.#reads.set(read, seen)
    if (raw === null || raw === undefined) return undefined
    const stored = parse(raw)
    if (stored === undefined || stored.g !== seen.g || stored.e !== seen.e) return undefined
    // -1: a value without an expiry, which this cache never writes; its age is then unknown.
    return pttl >= 0 ? { value: stored.v, remainingMs: pttl } : { value: stored.v }
  }

  /**
   * Stores an answer for `ttlMs`, unless the key was invalidated or the cache cleared since it was
   * read. Nothing is sent when nothing says the answer is current: no `read` (a tier wrapping this
   * one must pass it on), a read that was not of this key or found Redis full, or none at all. A
   * full Redis (`noeviction`) refusing the answer is no failure: it is not stored.
   *
   * @param read the object given to the read this answer's load made ({@link getEntry}).
   */
  async set(key: string, value: unknown, ttlMs: number, read?: object): Promise<void> {
    // Without the read, a wrong write is possible (a read from before an invalidation, another
    // from after it): a missed write costs a source call, a wrong one serves a revoked right.
    if (read === undefined) return
    const seen = this.#reads.get(read)
    this.#reads.delete(read)
    if (seen === undefined || seen.key !== key) return
    const stored = this.#serialized({ g: seen.g, e: seen.e, v: value })
    if (stored === undefined) return
    this.#failWhileDown()
    const outcome = await this.#link.run((command) =>
      command.eval(
        SET_SCRIPT,
        3,
        this.#generationKey(key),
        this.#valueKey(key),
        this.#epochKey,
        seen.g,
        seen.e,
        stored,
        String(Math.max(1, Math.round(ttlMs))),
      ),
    )
    if (outcome === -1) this.#full()
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
    await this.#link.run((command) =>
      command.eval(CLEAR_SCRIPT, 1, this.#epochKey, newVersion(), this.#channel, CLEAR_MESSAGE),
    )
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
    // No load that read a key before can write once its generation is gone (see SET_SCRIPT).
    const pairs = keys.flatMap((key) => [this.#generationKey(key), this.#valueKey(key)])
    await this.#link.run((command) =>
      command.eval(
        INVALIDATE_SCRIPT,
        pairs.length,
        ...pairs,
        newVersion(),
        String(GENERATION_TTL_MS),
        this.#channel,
        JSON.stringify(keys),
      ),
    )
  }

  /**
   * Forgets every cached answer (groups, roles, permissions, profile) of one user on every
   * instance: after changing the user's rights. Works from any process that shares the Redis and
   * the prefix, an admin tool included. Only under `issuer`: a user whose tokens carry several
   * issuers (a provider's `issuerAliases`: Cognito's two forms) is forgotten once per issuer.
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

  /**
   * Resolves once subscribed to invalidations; rejects after `timeoutMs` if Redis is away.
   *
   * @throws {TypeError} (a rejection) for a `timeoutMs` that is not a number; {RangeError} for one
   *   outside 1 to 2 147 483 647 ms (the longest a timer holds): `Infinity`, `NaN`, a negative one.
   */
  async ready(timeoutMs?: number): Promise<void> {
    checkReadyTimeout(timeoutMs)
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

  /**
   * Reads and writes fail at once while the link is known to be down (the heartbeat or the
   * subscriber found it lost), until it is live again: on a silent network the command connection
   * may look ready for minutes, and every miss would wait `timeoutMs` for nothing.
   */
  #failWhileDown(): void {
    if (this.#link.down) {
      throw new Error(`redis is unreachable (${this.#link.lastError ?? 'no answer'})`)
    }
  }

  /**
   * Redis is full (`maxmemory` under `noeviction`): an answer was not stored, or a missing
   * generation not created. Not an outage: reads answer, and the sources answer what is not
   * stored. Logged at most once a minute, rather than at every refused write.
   */
  #full(): void {
    const now = Date.now()
    if (now - this.#warnedFullAt < FULL_LOG_INTERVAL_MS) return
    this.#warnedFullAt = now
    this.#logger.warn(
      'redis is full (maxmemory, noeviction): authorization answers are not shared until it has room; the sources answer',
    )
  }

  #dropAll(): void {
    this.#reads = new WeakMap()
    for (const listener of this.#clearListeners) listener()
  }

  /**
   * An answer as stored, or `undefined` for one that cannot be written out (a `Blob` or a
   * `SharedArrayBuffer`, which `structuredClone` copies in-process but `node:v8` cannot
   * serialize): it stays in this instance's tier only, logged once. Not an outage of Redis.
   */
  #serialized(stored: Stored): string | undefined {
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

/** An answer as written in Redis, with the generation and the epoch its read saw. */
interface Stored {
  readonly g: string
  readonly e: string
  readonly v: unknown
}

/**
 * A stored answer, or `undefined` for anything this version did not write (a miss, replaced): the
 * numbered generations of older versions included.
 */
function parse(raw: string): Stored | undefined {
  if (!raw.startsWith(VALUE_FORMAT)) return undefined
  try {
    const value: unknown = deserialize(Buffer.from(raw.slice(VALUE_FORMAT.length), 'base64'))
    if (typeof value === 'object' && value !== null && 'v' in value) {
      const { g, e } = value as Partial<Stored>
      if (typeof g === 'string' && typeof e === 'string') return value as Stored
    }
  } catch {
    // Corrupt, or written by a Node whose serialization format this one cannot read.
  }
  return undefined
}

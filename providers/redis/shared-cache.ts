// RedisSharedCache: the second tier of the authorization cache, shared by every instance, with
// invalidation published so each instance drops its own copy at once.

import { LRUCache } from 'lru-cache'
import { Problems, type ComponentHealth, type SharedCacheTier } from '../../src/spi.js'
import {
  checkConnectionOptions,
  DEFAULT_PREFIX,
  RedisLink,
  type RedisConnectionOptions,
} from './connection.js'

/** Options of {@link RedisSharedCache}. */
export type RedisSharedCacheOptions = RedisConnectionOptions

// The facets the core caches per user, and its key layout (facet, issuer, subject).
const FACETS = ['groups', 'roles', 'permissions', 'profile'] as const
// A generation outlives any load that read the one before it (loads are bounded by the source
// time-out, seconds): an answer loaded before an invalidation can then never be stored after it.
const GENERATION_TTL_MS = 3_600_000
// Keys this instance may hold in its in-process tier, dropped when invalidations may have been
// missed (the subscriber was away).
const TRACKED_MAX = 100_000

// Reads a key's generation, its answer and the time the answer has left, at one instant.
const GET_SCRIPT = `
return { redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('PTTL', KEYS[2]) }
`

// Stores an answer only if no invalidation happened since it was read from the source's side.
const SET_SCRIPT = `
local generation = tonumber(redis.call('GET', KEYS[1]) or '0')
if generation ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`

/**
 * A {@link SharedCacheTier} in Redis, under the in-process cache of groups, roles, permissions
 * and profiles: an instance that starts later, or misses in its own tier, reads what another one
 * loaded. `invalidate` (what `verifier.forgetUser` calls) deletes the user's answers in Redis and
 * publishes the keys, so every instance drops them from its in-process tier at once.
 *
 * Each key has a generation that invalidation bumps; an answer is stored and read under the
 * generation seen before the source was asked, so a slow load that started before an
 * invalidation can never put the old answer back. Values are JSON with the cache's TTL.
 *
 * Redis unreachable: the core asks the sources instead (degraded, logged once per episode), never
 * a 500 and never a grant the sources would refuse. Invalidations published while an instance's
 * subscriber was away are covered by dropping its whole in-process tier when it is back.
 *
 * @example
 * const shared = new RedisSharedCache({ url: process.env.AUTH_REDIS_URL, logger })
 * app.use(jwtAuth({ provider, permissions, sourceCache: { ttlMs: 60_000, shared } }))
 * // after changing alice's permissions, on any instance (or an admin process):
 * await shared.invalidateUser('https://issuer.example', 'alice')
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` at construction, listing every invalid option.
 */
export class RedisSharedCache implements SharedCacheTier {
  readonly #prefix: string
  readonly #channel: string
  readonly #link: RedisLink
  readonly #listeners: Array<(keys: readonly string[]) => void> = []
  // The generation each key had when it was last read, for the `set` that follows the load.
  readonly #generations = new LRUCache<string, number>({ max: 10_000 })
  readonly #tracked = new LRUCache<string, true>({ max: TRACKED_MAX })

  constructor(options: RedisSharedCacheOptions) {
    const problems = new Problems()
    checkConnectionOptions(problems, options ?? {})
    problems.throwIfAny()
    this.#prefix = `${options.prefix ?? DEFAULT_PREFIX}cache:`
    this.#channel = `${options.prefix ?? DEFAULT_PREFIX}cache-invalidate`
    this.#link = new RedisLink(
      options,
      {
        channel: this.#channel,
        onMessage: (message) => this.#received(message),
        onSubscribed: () => this.#resubscribed(),
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
    const command = await this.#link.command()
    const [generationRaw, raw, pttl] = (await command.eval(
      GET_SCRIPT,
      2,
      this.#generationKey(key),
      this.#valueKey(key),
    )) as [string | null, string | null, number]
    const generation = Number(generationRaw ?? 0)
    this.#generations.set(key, generation)
    if (raw === null || raw === undefined) return undefined
    const stored = parse(raw)
    if (stored === undefined || stored.g !== generation) return undefined
    this.#tracked.set(key, true)
    // -1: a value without an expiry, which this cache never writes; its age is then unknown.
    return pttl >= 0 ? { value: stored.v, remainingMs: pttl } : { value: stored.v }
  }

  /**
   * Stores an answer for `ttlMs`, unless the key was invalidated since it was read (or was never
   * read here: then nothing says the answer is current).
   */
  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    const generation = this.#generations.get(key)
    this.#generations.delete(key)
    this.#tracked.set(key, true)
    // Fails like `get` while Redis is away, so the caller's view of the outage stays one episode.
    const command = await this.#link.command()
    if (generation === undefined) return
    await command.eval(
      SET_SCRIPT,
      2,
      this.#generationKey(key),
      this.#valueKey(key),
      String(generation),
      JSON.stringify({ g: generation, v: value }),
      String(Math.max(1, Math.round(ttlMs))),
    )
  }

  /**
   * Deletes the keys in Redis and tells every instance to drop them (this one at once).
   *
   * @returns a promise that rejects when Redis cannot be reached: the other instances keep their
   *   copies until their in-process TTL ends, so retry.
   */
  async invalidate(keys: readonly string[]): Promise<void> {
    this.#dropLocally(keys)
    const command = await this.#link.command()
    const transaction = command.multi()
    for (const key of keys) {
      transaction
        .incr(this.#generationKey(key))
        .pexpire(this.#generationKey(key), GENERATION_TTL_MS)
        .del(this.#valueKey(key))
    }
    transaction.publish(this.#channel, JSON.stringify(keys))
    const results = await transaction.exec()
    const failed = results?.find(([error]) => error !== null)?.[0]
    if (results === null || failed !== undefined) {
      throw new Error('the invalidation could not be completed in redis; retry', { cause: failed })
    }
  }

  /**
   * Forgets every cached answer (groups, roles, permissions, profile) of one user on every
   * instance: after changing the user's rights. Works from any process that shares the Redis and
   * the prefix, an admin tool included.
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
    for (const key of keys) this.#tracked.delete(key)
    for (const listener of this.#listeners) listener(keys)
  }

  /** Back after an absence: invalidations may have been missed, so drop what may be stale. */
  async #resubscribed(): Promise<void> {
    const keys = [...this.#tracked.keys()]
    if (keys.length > 0) this.#dropLocally(keys)
  }
}

function parse(raw: string): { g: number; v: unknown } | undefined {
  try {
    const value: unknown = JSON.parse(raw)
    if (typeof value === 'object' && value !== null && 'g' in value && 'v' in value) {
      return value as { g: number; v: unknown }
    }
  } catch {
    // A value this cache did not write: treated as a miss, replaced by the source's answer.
  }
  return undefined
}

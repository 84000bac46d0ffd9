// The tier of authorization answers shared between instances (Redis): its contract, its check at
// construction, and how an answer is read from it.

import type { HasHealth } from './health.js'
import type { Problems } from './options.js'

const SHARED_TIER_METHODS = ['get', 'set', 'invalidate', 'onInvalidate'] as const

/**
 * A cache shared between instances, under the in-process one.
 *
 * Each load of the in-process tier passes one object of its own, `read`, to its read (`getEntry`,
 * else `get`) and to the `set` of the source's answer that follows, and to no other load. A tier
 * that can tell an invalidation happened since a read (Redis's generations) remembers under that
 * object what the read saw, and writes the answer only if it still holds; keyed by the key alone,
 * two loads of one key at once (two verifiers sharing the tier) would mix up what each read. A
 * tier without such a check ignores the argument. `set` follows only a read that answered.
 *
 * A tier wrapping another (metrics, logging around `RedisSharedCache`) must pass `read` on to the
 * inner `get`/`getEntry` and `set`: `RedisSharedCache` writes nothing without it (its reads still
 * answer), so a wrapper that drops it shares no answer between instances.
 */
export interface SharedCacheTier extends HasHealth {
  /** The stored answer, or `undefined`. */
  get(key: string, read?: object): Promise<unknown>
  /**
   * The stored answer with the time it has left, or `undefined`. Optional, read instead of `get`
   * when there: an answer another instance stored some time ago is then kept here only for what is
   * left of its TTL. Through `get` alone it is kept a whole `ttlMs` more, so up to twice as long.
   */
  getEntry?(key: string, read?: object): Promise<SharedCacheEntry | undefined>
  /**
   * Stores the answer of the load whose read got `read` (the same object), for `ttlMs`. A tier
   * that checks its writes (Redis) stores nothing without `read`.
   */
  set(key: string, value: unknown, ttlMs: number, read?: object): Promise<void>
  /** Deletes the keys everywhere and tells every instance (their `onInvalidate` listeners). */
  invalidate(keys: readonly string[]): Promise<void>
  onInvalidate(listener: (keys: readonly string[]) => void): void
  /**
   * Deletes every answer everywhere and tells every instance to drop its whole in-process tier
   * (their `onClear` listeners); what `clearSourceCache` calls. Optional: without it,
   * `clearSourceCache` clears the calling instance only.
   */
  clear?(): Promise<void>
  /**
   * Listens for "drop every answer you hold": another instance cleared the cache, or this one may
   * have missed invalidations (its tier was unreachable). Optional, and needed with `clear`.
   */
  onClear?(listener: () => void): void
}

/** An answer read from a {@link SharedCacheTier}, and how long it has left there. */
export interface SharedCacheEntry {
  readonly value: unknown
  /** Milliseconds before the tier drops the answer; without it, the in-process TTL is whole. */
  readonly remainingMs?: number
}

/** A shared tier is checked at construction, rather than failing at its first use. */
export function checkSharedTier(problems: Problems, shared: unknown): void {
  if (shared === undefined || shared === null) return
  const expected = `a shared cache tier with get(), set(), invalidate() and onInvalidate() methods (new RedisSharedCache(...) from oidc-guard/redis)`
  if (typeof shared !== 'object') {
    problems.add(
      `sourceCache.shared must be ${expected}, got ${typeof shared === 'function' ? 'a function (pass an instance)' : typeof shared}`,
    )
    return
  }
  const tier = shared as Partial<Record<string, unknown>>
  const missing = SHARED_TIER_METHODS.filter((method) => typeof tier[method] !== 'function')
  if (missing.length > 0) {
    const names = missing.map((method) => `${method}()`).join(', ')
    problems.add(`sourceCache.shared must be ${expected}; it has no ${names}`)
  }
  for (const method of ['getEntry', 'clear', 'onClear'] as const) {
    if (tier[method] !== undefined && typeof tier[method] !== 'function') {
      problems.add(`sourceCache.shared.${method} must be a method, or left out`)
    }
  }
  if ((tier.clear === undefined) !== (tier.onClear === undefined)) {
    problems.add('sourceCache.shared needs both clear() and onClear(), or neither')
  }
}

/** What the shared tier holds for `key`, with the time it has left when the tier can tell. */
export async function readShared(
  shared: SharedCacheTier,
  key: string,
  read: object,
): Promise<SharedCacheEntry | undefined> {
  if (shared.getEntry !== undefined) return shared.getEntry(key, read)
  const value = await shared.get(key, read)
  return value === undefined ? undefined : { value }
}

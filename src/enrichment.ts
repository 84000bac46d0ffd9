// Authorization sources as the pipeline calls them: bounded in time, checked, cached across requests.
// Their options are checked in enrichment-options.ts, their answers in source-answers.ts.

import { isDroppedLoad, noteDrop } from './cache-drops.js'
import { LRUCache } from 'lru-cache'
import type {
  GroupsProvider,
  PermissionsProvider,
  ProfileProvider,
  RolesProvider,
  SourceContext,
} from './contracts.js'
import { sourceChannel } from './diagnostics.js'
import {
  DEFAULT_MAX,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_TTL_MS,
  FACETS,
  METHODS,
  type EnrichmentOptions,
} from './enrichment-options.js'
import { isSourceRefusal, UnavailableError } from './errors.js'
import type { HasHealth } from './health.js'
import { readShared, type SharedCacheTier } from './shared-tier.js'
import { neverThrows, safeError, type Logger } from './logger.js'
import { checkedAnswer, sourceUnavailable, type Answer, type Facet } from './source-answers.js'
import type { User, UserSources } from './user.js'

type AnySource = GroupsProvider | RolesProvider | PermissionsProvider | ProfileProvider
type Call = (user: User, context: SourceContext) => unknown

/** A shared-tier step that failed or timed out (a miss is `undefined`). */
const UNANSWERED: unique symbol = Symbol('unanswered')

interface FetchContext {
  readonly user: User
  readonly call: Call
  readonly facet: Facet
  /**
   * Whether the answer may go through the shared tier: not a source with a cache of its own
   * (`forget`/`clear`), see {@link Enrichment.wrap}.
   */
  readonly shared: boolean
}

/**
 * Calls sources for the users of one verifier: each call is bounded by a time-out (its `signal`
 * aborts then), its answer checked, and, unless the source reads the token (`fromToken`), shared
 * by every request of the same issuer and subject (`user.id`, or the source's `cacheKey` of the
 * user) for the cache's TTL. Concurrent misses for one
 * user share one call. Failures are never cached.
 */
export class Enrichment {
  readonly #timeoutMs: number
  readonly #cache: LRUCache<string, Answer, FetchContext> | undefined
  readonly #logger: Logger
  readonly #shared: SharedCacheTier | undefined
  readonly #ttlMs: number
  /** The sources given to `wrap` with a cache of their own (`forget`/`clear`), told to drop it. */
  readonly #ownCaches = new Set<AnySource>()
  /** The sources given to `wrap` that look users up by their own key (`cacheKey`), by facet. */
  readonly #ownKeys: { readonly facet: Facet; readonly source: AnySource }[] = []
  /** Each aliased issuer's group (the providers' `issuerAliases`): forgotten under each of them. */
  readonly #issuerGroups: ReadonlyMap<string, readonly string[]>
  #sharedDown = false

  /**
   * @param clock where the cache reads the time (tests pass a fake one).
   * @param issuerGroups each issuer whose tokens name the same users as others' (Cognito's two
   *   forms of one pool) mapped to its group: a user forgotten under one is forgotten under each.
   */
  constructor(
    options: EnrichmentOptions,
    logger: Logger,
    clock?: { now(): number },
    issuerGroups: ReadonlyMap<string, readonly string[]> = new Map(),
  ) {
    this.#issuerGroups = issuerGroups
    this.#timeoutMs = options.sourceTimeoutMs ?? DEFAULT_TIMEOUT_MS
    // Its calls run in background steps (a shared-tier write no one awaits): one that throws
    // would be an unhandled rejection.
    this.#logger = neverThrows(logger)
    const { sourceCache } = options
    this.#ttlMs = (sourceCache || undefined)?.ttlMs ?? DEFAULT_TTL_MS
    this.#shared = (sourceCache || undefined)?.shared ?? undefined
    if (sourceCache === false) return
    // Another instance forgot a user: so do the sources' own caches here, as its did there.
    this.#shared?.onInvalidate((keys) => {
      for (const user of usersOf(keys)) this.#tellSources((source) => source.forget?.(user))
      for (const key of keys) this.#cache?.delete(key)
    })
    // Another instance cleared the cache, or the tier may have missed invalidations while away.
    this.#shared?.onClear?.(() => {
      this.#tellSources((source) => source.clear?.())
      this.#cache?.clear()
    })
    this.#cache = new LRUCache<string, Answer, FetchContext>({
      max: sourceCache?.max ?? DEFAULT_MAX,
      ttl: sourceCache?.ttlMs ?? DEFAULT_TTL_MS,
      // The answer's age counts from when it was fetched: reading it must not extend its life.
      updateAgeOnGet: false,
      // Read the clock on every check: a cached "now" would let answers outlive their TTL.
      ttlResolution: 0,
      ...(clock === undefined ? {} : { perf: clock }),
      fetchMethod: (key, _stale, { signal, options, context }) => {
        noteDrop(signal)
        return this.#load(key, context, signal, options)
      },
    })
  }

  /**
   * Wraps `sources` so that every call goes through the time-out, the checks and the cache. A
   * source with a cache of its own (`forget` or `clear`) is cached in this process only, never in
   * the shared tier: an instance that has not yet heard of another's `forgetUser` would read the
   * old answer from its source's cache and write it back to the tier under the new generation,
   * for every instance to serve until it expires. In process, this instance's invalidation
   * listener drops it together with the source's cache. A source without one reads the truth, so
   * its answer written after a `forgetUser` is current.
   */
  wrap(sources: UserSources): UserSources {
    const wrapped: Partial<Record<Facet, AnySource>> = {}
    for (const facet of FACETS) {
      const source = sources[facet]
      if (source !== undefined) wrapped[facet] = this.#wrapOne(facet, source)
    }
    return Object.freeze(wrapped) as UserSources
  }

  /**
   * Forgets every cached answer of one user (after a role change, say), in the sources' own caches
   * too (their `forget`), on every instance when a shared tier is configured; resolves once the
   * other instances have been told. Rejects when a source's `forget` threw, after all the rest.
   *
   * @param subject the key of the user's answers in every facet: `user.id`, or the value a source
   *   looks the user up by (its `cacheKey`, the SQL sources' `idClaim` value).
   * @param user the `User` forgotten, when given one: each source's own key of it is forgotten too.
   */
  async forget(issuer: string, subject: string, user?: User): Promise<void> {
    const keys = this.#keysOf(issuer, subject, user)
    // The sources' caches first: a load of ours in between would refill from their old answer.
    // Told each subject the keys name, as the other instances are (`usersOf` the invalidation).
    let failure: unknown
    for (const forgotten of usersOf(keys)) {
      const failed = this.#tellSources((source) => source.forget?.(forgotten))
      failure ??= failed
    }
    for (const key of keys) this.#cache?.delete(key)
    await this.#shared?.invalidate(keys)
    if (failure !== undefined) throw failure
  }

  /**
   * Forgets every cached answer, the sources' own caches too (their `clear`), on every instance
   * when the shared tier can clear (Redis can): resolves once the others have been told; rejects
   * when the tier could not be reached or a source's `clear` threw, after this instance forgot all
   * it could. A shared tier without `clear()` is left as it is.
   */
  async clear(): Promise<void> {
    const failure = this.#tellSources((source) => source.clear?.())
    this.#cache?.clear()
    await this.#shared?.clear?.()
    if (failure !== undefined) throw failure
  }

  /** How many answers the in-process tier holds. */
  get size(): number {
    return this.#cache?.size ?? 0
  }

  /** The shared tier, for health reports. */
  get shared(): (SharedCacheTier & HasHealth) | undefined {
    return this.#shared
  }

  /**
   * A forgotten user's keys: `subject`'s in every facet and, for a `User`, each facet's under its
   * source's own key of it, under `issuer` and every issuer naming the same users. Each form's
   * answers stay cached under the token's own issuer, as an instance without the group (an older
   * version in a rolling upgrade) and `invalidateUser` from a script keep them, so that either
   * side's forgetting still reaches the other. Extra keys cost nothing; a missing one would keep a
   * revoked right.
   */
  #keysOf(issuer: string, subject: string, user: User | undefined): string[] {
    const keys: string[] = []
    for (const named of this.#issuerGroups.get(issuer) ?? [issuer]) {
      for (const facet of FACETS) keys.push(cacheKey(facet, named, subject))
      if (user === undefined) continue
      for (const { facet, source } of this.#ownKeys) {
        const own = ownKey(source, user)
        if (own !== undefined && own !== subject) keys.push(cacheKey(facet, named, own))
      }
    }
    return [...new Set(keys)]
  }

  /**
   * Runs a hook (`forget`, `clear`) on every source with a cache of its own, each even when another
   * throws: a failure is logged, and the first returned for `forgetUser` to reject with.
   */
  #tellSources(hook: (source: AnySource) => void): unknown {
    let first: unknown
    for (const source of this.#ownCaches) {
      try {
        const result: unknown = hook(source)
        // Meant to be synchronous; a promise's rejection is at least logged, never unhandled.
        if (result instanceof Promise) result.catch((error: unknown) => this.#hookFailed(error))
      } catch (error) {
        this.#hookFailed(error)
        first ??= error
      }
    }
    return first
  }

  #hookFailed(error: unknown): void {
    this.#logger.warn(
      { err: safeError(error) },
      'an authorization source could not drop its own cached answers',
    )
  }

  #wrapOne(facet: Facet, source: AnySource): AnySource {
    const method = METHODS[facet]
    if (typeof source.forget === 'function' || typeof source.clear === 'function') {
      this.#ownCaches.add(source)
    }
    const keyed = typeof source.cacheKey === 'function'
    if (keyed) this.#ownKeys.push({ facet, source })
    const call: Call = (user, context) =>
      (source as unknown as Record<string, (user: User, context: SourceContext) => unknown>)[
        method
      ]!(user, context)
    const cached = this.#cache !== undefined && source.fromToken !== true
    const shared = !this.#ownCaches.has(source)
    const load = (user: User): Promise<Answer> => {
      const issuer = user.claims.iss
      // The answer is the source's for the value it looks the user up by: cached under that value,
      // or two users of one id (a gateway's one sub for every end user) would share one answer.
      const subject =
        cached && typeof issuer === 'string' ? (keyed ? ownKey(source, user) : user.id) : undefined
      if (typeof issuer !== 'string' || subject === undefined || subject === '') {
        return this.#call({ user, call, facet, shared }, undefined)
      }
      return this.#fetch(cacheKey(facet, issuer, subject), { user, call, facet, shared })
    }
    return { fromToken: source.fromToken === true, [method]: load } as unknown as AnySource
  }

  /**
   * The cached answer, or the one load that concurrent misses share. lru-cache aborts a pending
   * load when its key is dropped (forgetUser, clearSourceCache, an invalidation, eviction) and
   * rejects everyone waiting on it. That is our cache's doing, not an outage: they get a new load,
   * started after the drop, so never the answer a forgetUser meant to discard. Dropped again (a
   * cache too small for the users loading at once), the source is asked without the cache.
   */
  async #fetch(key: string, context: FetchContext, retried = false): Promise<Answer> {
    try {
      return (await this.#cache!.fetch(key, { context }))!
    } catch (error) {
      if (!isDroppedLoad(error)) throw error
      return retried ? this.#call(context, undefined) : this.#fetch(key, context, true)
    }
  }

  /**
   * A miss of the in-process tier: the shared tier, else the source (whose answer is shared);
   * only the source for one with a cache of its own (see {@link Enrichment.wrap}).
   */
  async #load(
    key: string,
    context: FetchContext,
    signal: AbortSignal,
    options: { ttl?: number },
  ): Promise<Answer> {
    const shared = context.shared ? this.#shared : undefined
    if (shared === undefined) return this.#call(context, signal)
    // This load's own: the tier checks its write against what this read saw, never another's.
    const read = {}
    const stored = await this.#sharedStep(() => readShared(shared, key, read), true)
    // Dropped while the shared tier answered: its waiters load afresh, so the source is not asked.
    signal.throwIfAborted()
    if (stored !== UNANSWERED && stored !== undefined) {
      try {
        const answer = checkedAnswer(context.facet, stored.value)
        // Stored by another instance a while ago: kept here only for what it has left there, so
        // no answer is ever older than ttlMs.
        const left = stored.remainingMs
        if (typeof left === 'number' && left < this.#ttlMs) {
          options.ttl = Math.max(1, Math.ceil(left)) // never 0, which lru-cache reads as "forever"
        }
        return answer
      } catch {
        // A corrupt shared entry is ignored: the source answers, and its answer replaces it.
      }
    }
    const answer = await this.#call(context, signal)
    // Aborted: the user was forgotten while the source answered (a source may ignore the signal).
    // Its answer predates the change that made someone forget it, so it must not be shared. A read
    // that did not answer (failed, or given up on) may still answer late, with a generation read
    // after the source was asked: nothing then says the answer is current.
    if (!signal.aborted && stored !== UNANSWERED) {
      void this.#sharedStep(() => shared.set(key, answer, this.#ttlMs, read), false)
    }
    return answer
  }

  /**
   * Runs a shared-tier operation; its failure degrades to the sources, logged once per episode.
   * Only a read that answered ends the episode: a write may have sent nothing (no read to check it
   * against), and would log "back" between two failed reads.
   */
  async #sharedStep<T>(
    operation: () => Promise<T>,
    isRead: boolean,
  ): Promise<T | typeof UNANSWERED> {
    let timer: NodeJS.Timeout | undefined
    // A tier that hangs must not hold requests longer than a source may.
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('shared cache timed out')), this.#timeoutMs)
      timer.unref?.()
    })
    try {
      const result = await Promise.race([operation(), timedOut])
      if (isRead && this.#sharedDown) {
        this.#sharedDown = false
        this.#logger.info('shared authorization cache is back')
      }
      return result
    } catch (error) {
      if (!this.#sharedDown) {
        this.#logger.warn(
          { err: safeError(error) },
          'shared authorization cache unavailable; asking the sources',
        )
      }
      this.#sharedDown = true
      return UNANSWERED
    } finally {
      clearTimeout(timer)
    }
  }

  /** One bounded call: aborted and answered 503 when it outlives the time-out. */
  #call(context: FetchContext, outer: AbortSignal | undefined): Promise<Answer> {
    const { user, call, facet } = context
    if (outer?.aborted) return Promise.reject(outer.reason)
    const controller = new AbortController()
    const onOuterAbort = () => controller.abort(outer?.reason)
    outer?.addEventListener('abort', onOuterAbort, { once: true })
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const reason = new Error(`the ${facet} source did not answer within ${this.#timeoutMs} ms`)
        controller.abort(reason)
        reject(sourceUnavailable(facet, reason))
      }, this.#timeoutMs)
      timer.unref?.()
    })
    const answer = new Promise<unknown>((resolve) =>
      resolve(call(user, { signal: controller.signal })),
    )
    return Promise.race([answer, timedOut])
      .then((value) => {
        const checked = checkedAnswer(facet, value)
        if (sourceChannel.hasSubscribers) {
          sourceChannel.publish({ facet, provider: user.provider, outcome: 'fetched' })
        }
        return checked
      })
      .catch((error: unknown) => {
        // Dropped by our own cache (forgetUser, an invalidation, eviction): its waiters load
        // afresh, so this is no outage, and neither logged nor counted as a failed lookup.
        if (outer?.aborted === true) throw error
        if (isSourceRefusal(error)) {
          // The source's answer (403 overage, a missing scope): no outage, but a lookup counted.
          if (sourceChannel.hasSubscribers) {
            sourceChannel.publish({
              facet,
              provider: user.provider,
              outcome: 'refused',
              code: error.code,
            })
          }
          throw error
        }
        const failure = error instanceof UnavailableError ? error : sourceUnavailable(facet, error)
        if (sourceChannel.hasSubscribers) {
          // Scrubbed as the log line is: a source's error text may quote the user's token.
          const reason =
            failure.cause instanceof Error ? safeError(failure.cause).message : failure.description
          sourceChannel.publish({
            facet,
            provider: user.provider,
            outcome: 'failed',
            error: reason,
          })
        }
        this.#logger.warn(
          { facet, provider: user.provider, err: safeError(failure.cause ?? failure) },
          '%s source failed; answering 503',
          facet,
        )
        throw failure
      })
      .finally(() => {
        clearTimeout(timer)
        outer?.removeEventListener('abort', onOuterAbort)
      })
  }
}

/**
 * The value a source with a `cacheKey` looks `user` up by, or `undefined` when it has none: then
 * its answer (most likely its own error) is not cached. A method that throws or answers anything
 * but a non-empty string is treated alike: the source is asked, never another user's answer.
 */
function ownKey(source: AnySource, user: User): string | undefined {
  try {
    const key: unknown = source.cacheKey!(user)
    return typeof key === 'string' && key !== '' ? key : undefined
  } catch {
    return undefined
  }
}

function cacheKey(facet: Facet, issuer: string, subject: string): string {
  return `${facet}\n${issuer}\n${subject}`
}

/**
 * The users whose keys (from {@link cacheKey}) an invalidation names, each once: the four facets
 * of one `forgetUser` are one user to the sources. Issuers are URLs, without line breaks.
 */
function usersOf(keys: readonly string[]): { issuer: string; subject: string }[] {
  const users = new Map<string, { issuer: string; subject: string }>()
  for (const key of keys) {
    const user = key.slice(key.indexOf('\n') + 1)
    const split = user.indexOf('\n')
    if (split <= 0 || users.has(user)) continue
    users.set(user, { issuer: user.slice(0, split), subject: user.slice(split + 1) })
  }
  return [...users.values()]
}

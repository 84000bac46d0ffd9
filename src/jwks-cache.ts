// Key sets per jwks_uri: background refresh, single-flight fetches, kid-miss cooldown, stale-if-error.

import { elapsed, backoffMs } from './backoff.js'
import { defaultLogger } from './default-logger.js'
import { jwksChannel } from './diagnostics.js'
import { InvalidTokenError, keysUnavailable } from './errors.js'
import { fetchJson, type FetchFunction } from './fetch-json.js'
import { resolveJwksCacheOptions, type ResolvedJwksCacheOptions } from './jwks-cache-options.js'
import { keySuitsAlgorithm, type JwsAlgorithm, type VerificationKey } from './jwt.js'
import { importKeySet, MALFORMED_KEY, selectKey } from './key-set.js'
import { describeNoUsableKey, STALE_KEYS_DROPPED, type KeySetStatus } from './key-set-status.js'
import { readJwksCacheEnv } from './env.js'
import { scrubbedMessage, type Logger } from './logger.js'
import { Problems } from './options.js'

/** How key sets are fetched and kept. Every duration is in milliseconds. */
export interface JwksCacheOptions {
  /**
   * Refresh a set in the background once it is this old: at least `cooldownMs`, at most 24 h (a
   * withdrawn key stays trusted until then). Default 20 min (the process-wide cache and
   * `fromEnv()`'s read `JWKS_CACHE_INTERVAL`, in minutes).
   */
  refreshIntervalMs?: number
  /**
   * Refresh a set in the background after this many verifications. Default 1000 (the process-wide
   * cache and `fromEnv()`'s read `JWKS_CACHE_USAGES`).
   */
  refreshAfterUses?: number
  /**
   * Least time between two fetches of one set caused by unknown `kid`s or usage. Default 30 s. After
   * a failed fetch, unknown `kid`s wait the failure back-off instead (`failureBackoffMs`, doubling).
   */
  cooldownMs?: number
  /** A fetch is abandoned after this long. Default 5 s. */
  timeoutMs?: number
  /** A larger response is refused: a whole number of bytes, at most 16 MiB. Default 1 MiB. */
  maxResponseBytes?: number
  /**
   * How long past the refresh interval the last good keys serve while the endpoint fails: at most
   * 24 h (a withdrawn key serves as long), 0 for never. Default 1 h.
   */
  staleIfErrorMs?: number
  /**
   * First wait after a failed fetch before the next one; doubles up to `cooldownMs`, and may not
   * exceed it (the keys stay unavailable while it runs). Default 1 s.
   */
  failureBackoffMs?: number
  /** The fetch to use (a test issuer's in-memory fetch, a proxy agent). Default `globalThis.fetch`. */
  fetch?: FetchFunction
  /**
   * Where failed fetches (and discovery for these sets) are logged: a pino logger, or `false` for
   * none. Default: nowhere for a cache built with `new JwksCache()`; the process-wide cache, and a
   * cache a provider builds for itself (given `fetch` or `jwksCache` options), log to oidc-guard's
   * own pino logger at `AUTH_MIDDLEWARE_LOG_LEVEL`.
   */
  logger?: Logger | false
}

interface KeySetState {
  keys: readonly VerificationKey[] | undefined
  fetchedAt: number
  uses: number
  /** When the last fetch started, or when it failed: the cooldown and the back-off count from it. */
  lastAttemptAt: number
  failures: number
  /** Why the last answer, a JWK Set of no usable key, verifies nothing (for health reports). */
  noUsableKey: string | undefined
  /** Why the last fetch failed, as it happened: the cause of the 503 it leads to. */
  lastError: Error | undefined
  /** The same, scrubbed: what a health report, the `oidc-guard:jwks` channel and the log show. */
  lastErrorText: string | undefined
  inflight: Promise<void> | undefined
}

// A skipped-key warning names this many members; a hostile set of thousands is counted, not listed.
const MAX_SKIPPED_LOGGED = 10

/**
 * Holds the key sets of any number of `jwks_uri`s. A request never waits for a routine refresh;
 * it waits only when the set is missing or does not know the token's `kid`, and then shares the
 * one fetch in flight with every other request. An unknown `kid` causes at most one fetch per
 * cooldown (per failure back-off while fetches fail), so a flood of forged kids cannot become a
 * flood of requests to the identity provider.
 * A key that fails to verify never causes a fetch.
 */
export class JwksCache {
  readonly #options: ResolvedJwksCacheOptions
  // A plain Map, never evicted: URIs come only from configuration and discovery, never from a
  // token, and evicting a set would forget its cooldown and let a kid flood refetch at will.
  readonly #sets = new Map<string, KeySetState>()
  readonly #refreshAfterMs: number

  /** @throws {ConfigError} `ERR_AUTH_CONFIG` listing every invalid option. */
  constructor(options: JwksCacheOptions = {}) {
    this.#options = resolveJwksCacheOptions(options)
    // Never sooner than a cooldown after the last successful fetch, whatever the interval says.
    this.#refreshAfterMs = Math.max(this.#options.refreshIntervalMs, this.#options.cooldownMs)
  }

  /**
   * The key of `uri`'s set for a token's `alg` and `kid`; synchronous when the set is cached.
   *
   * @throws {InvalidTokenError} `ERR_AUTH_KEY_NOT_FOUND` when no key of the set fits the token.
   * @throws {UnavailableError} `ERR_AUTH_KEYS_UNAVAILABLE` when the set cannot be had.
   */
  getKey(
    uri: string,
    alg: JwsAlgorithm,
    kid: string | undefined,
  ): VerificationKey | Promise<VerificationKey> {
    const now = Date.now()
    const state = this.#state(uri)
    const keys = this.#currentKeys(uri, state, now)
    if (keys === undefined) return this.#afterFetch(uri, state, now, alg, kid)
    let key: VerificationKey | undefined
    try {
      key = selectKey(keys, alg, kid)
    } catch (error) {
      // A known kid with no key for this alg, or two keys under it: the issuer may have reused
      // the kid for a new key (another type, another alg). Refetched as an unknown kid is.
      if (!this.#mayRefetch(state, now)) throw error
    }
    if (key !== undefined) return key
    // An unknown kid: the issuer may have rotated its keys. Refetch, but at most once a cooldown.
    if (this.#mayRefetch(state, now)) return this.#afterFetch(uri, state, now, alg, kid)
    throw keyNotFound()
  }

  /** Whether a token no current key fits may have the set fetched again: see {@link #refetchGap}. */
  #mayRefetch(state: KeySetState, now: number): boolean {
    return (
      state.inflight !== undefined || elapsed(now, state.lastAttemptAt) >= this.#refetchGap(state)
    )
  }

  /**
   * Least time between two fetches caused by tokens no current key fits: a cooldown after an
   * answer, the failure back-off after a failure. A kid first seen during an outage is refused as
   * unknown (401, catalog JWKS-08); held to the full cooldown, it would stay refused that long
   * after the IdP recovers. The back-off, doubling up to the cooldown, still bounds a flood.
   */
  #refetchGap(state: KeySetState): number {
    return state.failures > 0 ? this.#backoff(state) : this.#options.cooldownMs
  }

  /**
   * Whether `key` is still in `uri`'s current set, for a verification remembered from earlier: a
   * key that left the set (rotated out, withdrawn) takes its tokens with it. Counts as a use, so
   * the set keeps being refreshed on schedule while only remembered tokens arrive.
   */
  isCurrent(uri: string, key: VerificationKey): boolean {
    const state = this.#sets.get(uri)
    if (state === undefined) return false
    return this.#currentKeys(uri, state, Date.now())?.includes(key) === true
  }

  /** Fetches `uri`'s set now (at start-up, to pre-warm); rejects with an {@link UnavailableError}. */
  async hydrate(uri: string): Promise<void> {
    const state = this.#state(uri)
    await this.#fetch(uri, state, Date.now())
    if (state.keys === undefined || state.lastError !== undefined)
      throw keysUnavailable(state.lastError)
  }

  /**
   * The state of `uri`'s set, for health reports: keys too stale to serve count as none, as they
   * would for the next token, so a quiet instance's probe does not stay green on keys it would refuse.
   */
  status(uri: string): KeySetStatus {
    const state = this.#sets.get(uri)
    if (state === undefined) return { keyCount: 0, fetchedAt: undefined, lastError: undefined }
    const keys = this.#usableKeys(state, Date.now())
    const expired = keys === undefined && state.fetchedAt > 0 // Set only by a successful fetch.
    return {
      keyCount: keys?.length ?? 0,
      fetchedAt: keys === undefined ? undefined : new Date(state.fetchedAt),
      lastError: state.lastErrorText ?? (expired ? STALE_KEYS_DROPPED : state.noUsableKey),
    }
  }

  /**
   * How many of `uri`'s usable keys suit one of `algorithms`: a set of RSA keys held by a provider
   * that accepts only ES256 holds keys, yet none a token could be verified with. For health
   * reports; it counts no use of the set and never fetches.
   */
  suitableKeyCount(uri: string, algorithms: Iterable<JwsAlgorithm>): number {
    const state = this.#sets.get(uri)
    const keys = state === undefined ? undefined : this.#usableKeys(state, Date.now())
    if (keys === undefined) return 0
    const accepted = [...algorithms]
    return keys.filter((key) => accepted.some((alg) => keySuitsAlgorithm(key, alg))).length
  }

  /**
   * Whether a health probe should fetch `uri`'s set now: it is missing, expired, empty or due for
   * refresh, and a request would be let fetch it too. A probe reachable from outside thus adds no
   * fetch beyond the failure back-off and the kid-miss cooldown that bound requests.
   */
  warmUpDue(uri: string): boolean {
    const state = this.#sets.get(uri)
    if (state === undefined) return true
    if (state.inflight !== undefined) return false
    const now = Date.now()
    const keys = this.#usableKeys(state, now)
    const since = elapsed(now, state.lastAttemptAt)
    // Missing, expired or due: the request path (#afterFetch, #currentKeys) waits out the back-off.
    if (keys === undefined || elapsed(now, state.fetchedAt) >= this.#options.refreshIntervalMs) {
      return since >= this.#backoff(state)
    }
    // An answer of no usable key is refetched as an unknown kid would be (once a cooldown).
    return keys.length === 0 && since >= this.#refetchGap(state)
  }

  /** How key sets are fetched, so that discovery for them goes the same way (a proxy's fetch). */
  get fetchOptions(): { readonly fetch: FetchFunction; readonly timeoutMs: number } {
    return { fetch: this.#options.fetch, timeoutMs: this.#options.timeoutMs }
  }

  /** Where failed fetches are logged, so that a failed discovery for these sets is logged there too. */
  get logger(): Logger {
    return this.#options.logger
  }

  #state(uri: string): KeySetState {
    let state = this.#sets.get(uri)
    if (state === undefined) {
      state = {
        keys: undefined,
        fetchedAt: 0,
        uses: 0,
        lastAttemptAt: 0,
        failures: 0,
        noUsableKey: undefined,
        lastError: undefined,
        lastErrorText: undefined,
        inflight: undefined,
      }
      this.#sets.set(uri, state)
    }
    return state
  }

  /** The usable keys of a set, counting the use and starting a background refresh when due. */
  #currentKeys(
    uri: string,
    state: KeySetState,
    now: number,
  ): readonly VerificationKey[] | undefined {
    const keys = this.#usableKeys(state, now)
    if (keys === undefined) return undefined
    state.uses += 1
    if (elapsed(now, state.fetchedAt) >= this.#refreshAfterMs) {
      this.#refreshInBackground(uri, state, now, this.#backoff(state))
    } else if (state.uses >= this.#options.refreshAfterUses) {
      this.#refreshInBackground(uri, state, now, this.#options.cooldownMs)
    }
    return keys
  }

  #usableKeys(state: KeySetState, now: number): readonly VerificationKey[] | undefined {
    if (state.keys === undefined) return undefined
    const limit = this.#options.refreshIntervalMs + this.#options.staleIfErrorMs
    if (now - state.fetchedAt < limit) return state.keys
    state.keys = undefined // Too stale to trust even through an outage.
    return undefined
  }

  #backoff(state: KeySetState): number {
    return backoffMs(state.failures, this.#options.failureBackoffMs, this.#options.cooldownMs)
  }

  async #afterFetch(
    uri: string,
    state: KeySetState,
    now: number,
    alg: JwsAlgorithm,
    kid: string | undefined,
  ): Promise<VerificationKey> {
    if (
      state.inflight === undefined &&
      state.keys === undefined &&
      elapsed(now, state.lastAttemptAt) < this.#backoff(state)
    ) {
      throw keysUnavailable(state.lastError) // The endpoint failed moments ago: answer at once, fetch later.
    }
    await this.#fetch(uri, state, now)
    const keys = this.#usableKeys(state, Date.now())
    if (keys === undefined) throw keysUnavailable(state.lastError)
    return selectKey(keys, alg, kid) ?? Promise.reject(keyNotFound())
  }

  #refreshInBackground(uri: string, state: KeySetState, now: number, minGapMs: number): void {
    if (state.inflight !== undefined || elapsed(now, state.lastAttemptAt) < minGapMs) return
    void this.#fetch(uri, state, now)
  }

  /** Takes a fetched document as the set's keys, or throws when it is a broken answer. */
  #keep(uri: string, state: KeySetState, document: unknown): void {
    const { keys, skipped } = importKeySet(document, state.keys)
    // A set of nothing but malformed members is a broken answer, not a rotation to "no keys":
    // the last good set keeps serving (catalog JWKS-11). An empty set, or one of keys that are
    // well-formed but not for us (use: enc…), is an answer (JWKS-04, JWKS-13).
    if (keys.length === 0 && skipped.some((key) => MALFORMED_KEY.has(key.reason))) {
      throw new Error('the JWK Set holds no well-formed key')
    }
    const { logger } = this.#options
    if (skipped.length > 0) {
      logger.warn(
        {
          jwksUri: uri,
          skippedCount: skipped.length,
          skipped: skipped.slice(0, MAX_SKIPPED_LOGGED),
        },
        'unusable keys skipped in JWK Set',
      )
    }
    const noUsableKey = keys.length === 0 ? describeNoUsableKey(skipped) : undefined
    // Every token is refused 401 while the set holds no usable key: said once per episode (and
    // in health reports), since an empty `{"keys":[]}` otherwise leaves no trace above debug.
    if (noUsableKey !== undefined && state.noUsableKey === undefined) {
      logger.warn(
        { jwksUri: uri, skippedCount: skipped.length, err: noUsableKey },
        'no usable key in JWK Set: every token is refused 401 until one is published',
      )
    }
    state.keys = keys
    state.fetchedAt = Date.now()
    state.uses = 0
    state.failures = 0
    state.noUsableKey = noUsableKey
    state.lastError = undefined
    state.lastErrorText = undefined
    logger.debug({ jwksUri: uri, keyCount: keys.length }, 'JWK Set fetched')
    if (jwksChannel.hasSubscribers) {
      jwksChannel.publish({ uri, outcome: 'fetched', keyCount: keys.length })
    }
  }

  /** Single-flight: concurrent callers share one fetch; it always resolves, recording the outcome. */
  #fetch(uri: string, state: KeySetState, now: number): Promise<void> {
    if (state.inflight !== undefined) return state.inflight
    state.lastAttemptAt = now
    state.inflight = fetchJson(uri, this.#options)
      .then((document) => this.#keep(uri, state, document))
      .catch((error: unknown) => {
        // The back-off runs from the failure, not from the start: a fetch that took the whole
        // time-out must not be retried by the very next request.
        state.lastAttemptAt = Date.now()
        state.failures += 1
        state.lastError = error instanceof Error ? error : new Error(String(error))
        // A fetch error may quote a URL with its credentials (a proxy's): shown only scrubbed.
        state.lastErrorText = scrubbedMessage(state.lastError)
        if (jwksChannel.hasSubscribers) {
          jwksChannel.publish({ uri, outcome: 'failed', error: state.lastErrorText })
        }
        // One warning per outage episode, then quiet until it recovers.
        const level = state.failures === 1 ? 'warn' : 'debug'
        this.#options.logger[level](
          { jwksUri: uri, err: state.lastErrorText },
          'JWK Set fetch failed',
        )
      })
      .finally(() => {
        state.inflight = undefined
      })
    return state.inflight
  }
}

function keyNotFound(): InvalidTokenError {
  return new InvalidTokenError('ERR_AUTH_KEY_NOT_FOUND', 'no signing key matches the token')
}

let shared: JwksCache | undefined

/**
 * The cache providers use unless given their own: one per process, so providers that share a
 * `jwks_uri` share its keys. Configured once from `JWKS_CACHE_INTERVAL`, `JWKS_CACHE_USAGES` and
 * `AUTH_MIDDLEWARE_LOG_LEVEL`.
 *
 * @throws {ConfigError} when one of those variables is invalid.
 */
export function sharedJwksCache(): JwksCache {
  if (shared === undefined) {
    const problems = new Problems()
    const options = readJwksCacheEnv(process.env, problems)
    problems.throwIfAny()
    shared = new JwksCache({ ...options, logger: defaultLogger() })
  }
  return shared
}

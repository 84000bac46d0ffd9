// A revocation store's answer held to its contract, and its failures logged: the store is the
// app's code (or Redis behind it); what it does wrong must never let a token pass, and its outage
// must reach the logs, since the 503 cannot say why.

import type { VerifiedToken } from './contracts.js'
import { AuthError, ConfigError, UnavailableError } from './errors.js'
import { safeError, type Logger } from './logger.js'
import { MAX_TIMER_MS } from './options.js'
import type { RevocationStore } from './revocation.js'

/**
 * Longest wait for a store's promise, in milliseconds, when the caller gives none: the default of
 * `sourceTimeoutMs`, which bounds every other lookup a request waits for.
 */
export const DEFAULT_STORE_TIMEOUT_MS = 5_000

/**
 * A revocation store's answer, held to its contract: `true`, `false`, or a promise of one. A store
 * that throws, rejects or answers anything else cannot say the token is not revoked, so the
 * request gets a 503 (its own `AuthError`, if it threw one other than a `ConfigError`): never a
 * pass, and never an error thrown out of the middleware, past `onError`, from the synchronous fast
 * path. Why it failed goes to `log`, since the 503 cannot say it.
 *
 * `issuers`, the token's group of issuers naming the same users (see `JwtProvider.issuerAliases`),
 * is handed to the store when there is one.
 *
 * A promise is waited for `timeoutMs` at most (the verifier's `sourceTimeoutMs`), then answered
 * as a store that cannot answer: a database call that never comes back must not hold every
 * request with it. A synchronous answer starts no timer (the hot path).
 */
export function askStore(
  store: RevocationStore,
  verified: VerifiedToken,
  log: StoreFailureLog,
  timeoutMs: number = DEFAULT_STORE_TIMEOUT_MS,
  issuers?: readonly string[],
): boolean | Promise<boolean> {
  let answer: unknown
  try {
    // Without a group, called as before: a store of one argument sees the call it always saw.
    answer = issuers === undefined ? store.isRevoked(verified) : store.isRevoked(verified, issuers)
  } catch (error) {
    return Promise.reject(storeFailure(error, log))
  }
  if (typeof answer === 'boolean') {
    log.answered()
    return answer
  }
  if (typeof (answer as PromiseLike<unknown> | null)?.then === 'function') {
    return awaited(answer as PromiseLike<unknown>, log, waitFor(store, timeoutMs))
  }
  return Promise.reject(storeFailure(notBoolean(), log))
}

// What a store that bounds its own answers is given on top of its bound: its answer, when it comes
// at the bound, must reach the request before this backstop fires.
const SELF_BOUNDED_GRACE_MS = 1_000

/** How long to wait for `store`'s promise: its own bound and a grace when it has one. */
function waitFor(store: RevocationStore, timeoutMs: number): number {
  const own = store.answersWithinMs
  // Clamped: past what a timer holds, Node fires it after 1 ms (a 503 at once, fail-open or not).
  return typeof own === 'number' && Number.isFinite(own) && own >= 0
    ? Math.min(own + SELF_BOUNDED_GRACE_MS, MAX_TIMER_MS)
    : timeoutMs
}

/**
 * The store's promised answer, or its failure past `timeoutMs`. What the store says after that is
 * dropped, not logged: the request was answered, and the time-out was logged as its failure.
 */
function awaited(
  answer: PromiseLike<unknown>,
  log: StoreFailureLog,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    let settled = false
    const timer = setTimeout(() => {
      settled = true
      reject(storeFailure(timedOut(timeoutMs), log))
    }, timeoutMs)
    const settle = (settleWith: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      settleWith()
    }
    Promise.resolve(answer).then(
      (value: unknown) =>
        settle(() => {
          if (typeof value !== 'boolean') return reject(storeFailure(notBoolean(), log))
          log.answered()
          resolve(value)
        }),
      (error: unknown) => settle(() => reject(storeFailure(error, log))),
    )
  })
}

function timedOut(timeoutMs: number): Error {
  return new Error(`the revocation store did not answer within ${timeoutMs} ms (sourceTimeoutMs)`)
}

function notBoolean(): TypeError {
  return new TypeError('the revocation store answered neither true nor false')
}

/** The store's own refusal as it is; anything else, logged, as the 503 of a store that cannot answer. */
function storeFailure(error: unknown, log: StoreFailureLog): AuthError {
  if (isRefusal(error)) return error
  log.failed(error)
  return new UnavailableError('ERR_AUTH_REVOCATION_UNAVAILABLE', 'revocation store unavailable', {
    cause: error,
  })
}

/**
 * Least time between two warnings of a failing store. A store that fails some of its calls (a
 * database timing out under load) would otherwise write a warning, and an "answers again", per
 * failure, on the request path, when the system is already stressed.
 */
export const STORE_WARNING_INTERVAL_MS = 60_000

/**
 * Logs why a revocation store could not answer (the client's 503 says only that it could not): a
 * warning at a failure after an answer, at most once a {@link STORE_WARNING_INTERVAL_MS} (counting
 * the failures in between), others at debug; "answers again" at info after a warned outage. A
 * store's own `AuthError` is its answer, logged by the store if at all (the Redis store logs its
 * outages itself). A `ConfigError` is no outage but a store that cannot work: logged as an error
 * every time, as a provider's is.
 */
export class StoreFailureLog {
  readonly #logger: Logger
  #down = false
  /** Whether this outage was warned of, so that its end is worth saying. */
  #warned = false
  #warnedAt = Number.NEGATIVE_INFINITY
  #unwarned = 0

  constructor(logger: Logger) {
    this.#logger = logger
  }

  answered(): void {
    if (!this.#down) return
    this.#down = false
    if (this.#warned) this.#logger.info('revocation store answers again')
    this.#warned = false
  }

  failed(error: unknown): void {
    if (error instanceof ConfigError) {
      this.#logger.error(
        { err: safeError(error) },
        'unexpected error from the revocation store; answering 503',
      )
      return
    }
    const now = Date.now()
    if (!this.#down && now - this.#warnedAt >= STORE_WARNING_INTERVAL_MS) {
      this.#logger.warn(
        { err: safeError(error), failuresSinceLastWarning: this.#unwarned },
        'revocation store failed; answering 503 until it answers',
      )
      this.#warned = true
      this.#warnedAt = now
      this.#unwarned = 0
    } else {
      this.#unwarned += 1
      if (this.#logger.isLevelEnabled('debug')) {
        this.#logger.debug({ err: safeError(error) }, 'revocation store failed again')
      }
    }
    this.#down = true
  }
}

/**
 * Whether a provider's or store's error is an answer for the client. A `ConfigError` is not: a
 * custom provider or store that finds its configuration wanting on first use would otherwise
 * write that configuration into the response. It is answered as any other unexpected error.
 */
export function isRefusal(error: unknown): error is AuthError {
  return error instanceof AuthError && !(error instanceof ConfigError)
}

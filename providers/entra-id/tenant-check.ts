// Asking an allowedTenants predicate: bounded in time, its refusals remembered for a minute.

import { LRUCache } from 'lru-cache'
import { safeError, UnavailableError, type Logger } from '../../src/spi.js'
import type { TenantPredicate } from './options.js'
import { tenantNotAllowed } from './token-rules.js'

/** How long a tenant the predicate refused is refused without asking again, in milliseconds. */
export const TENANT_REFUSAL_TTL_MS = 60_000
/** How many refused tenants are remembered; past it, the least recently refused is forgotten. */
export const MAX_REFUSED_TENANTS = 1_000

/**
 * An `allowedTenants` predicate, asked once a token's signature and claims hold. Anybody can create
 * a tenant for free and get a token for a multi-tenant app: were refusals forgotten, every request
 * with such a token would ask the predicate (a database query) again, since only accepted tokens
 * are remembered by the verifier. A refusal holds for {@link TENANT_REFUSAL_TTL_MS}, so a tenant
 * just added to the allowed set may wait that long to be admitted. Admissions are not kept here:
 * an admitted token is remembered by the verifier, and a new token asks again.
 */
export class TenantCheck {
  readonly #allows: TenantPredicate
  readonly #timeoutMs: number
  readonly #logger: Logger
  /** Whether the last question went unanswered: an outage is logged once, when it begins. */
  #failing = false
  readonly #refused = new LRUCache<string, true>({
    max: MAX_REFUSED_TENANTS,
    ttl: TENANT_REFUSAL_TTL_MS,
    // A refusal lasts a minute from when it was given, however often the tenant comes back.
    updateAgeOnGet: false,
    ttlResolution: 0,
    // A monotonic clock: a wall clock stepped back (an NTP correction) would stretch the minute.
    // Read through the global at each call, so that fake timers can move it in tests.
    perf: { now: () => performance.now() },
  })

  /** `logger` gets a warning when the predicate starts failing (the provider's logger). */
  constructor(allows: TenantPredicate, timeoutMs: number, logger: Logger) {
    this.#allows = allows
    this.#timeoutMs = timeoutMs
    this.#logger = logger
  }

  /**
   * Resolves when the predicate admits `tid`.
   *
   * @throws {InvalidTokenError} `ERR_AUTH_ISSUER_MISMATCH` when it refuses (or refused lately).
   * @throws {UnavailableError} `ERR_AUTH_SOURCE_UNAVAILABLE` when it throws or outlives the time-out.
   */
  async check(tid: string): Promise<void> {
    if (this.#refused.has(tid)) throw tenantNotAllowed()
    const allowed = await this.#ask(tid)
    // Only a plain `true` admits: a truthy string or object is a broken predicate.
    if (allowed === true) return
    this.#refused.set(tid, true)
    throw tenantNotAllowed()
  }

  /** The predicate's answer, bounded in time; its failure is an outage (503), not a refusal. */
  async #ask(tid: string): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined
    const timeoutMs = this.#timeoutMs
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
      timer.unref?.()
    })
    try {
      const answer = await Promise.race([Promise.resolve().then(() => this.#allows(tid)), timedOut])
      this.#failing = false
      return answer
    } catch (error) {
      this.#noteFailure(error, tid)
      throw new UnavailableError(
        'ERR_AUTH_SOURCE_UNAVAILABLE',
        'the tenant allow-list cannot be checked right now',
        { cause: error },
      )
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Every request is a 503 while the predicate fails, and the pipeline logs refusals at debug
   * only, without their cause: the first failure after an answer is a warning, with the cause
   * (scrubbed: a driver's error may quote a connection string) and the tenant asked for. The
   * rest of the outage is not logged again, so that a flood of requests is not a flood of lines.
   */
  #noteFailure(error: unknown, tid: string): void {
    if (this.#failing) return
    this.#failing = true
    this.#logger.warn(
      { err: safeError(error), tid },
      'allowedTenants predicate failed; answering 503 until it answers again',
    )
  }
}

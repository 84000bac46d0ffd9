// FailureLog and WarnOnce: why an AWS call answered 503, or why a request met a misconfiguration.

import { neverThrows, safeError, type Logger } from '../../src/spi.js'
import { awsErrorName } from './sdk.js'

/** How long a kind of failure is logged at debug after its warning: a storm stays one line a minute. */
const REPEAT_AFTER_MS = 60_000
/** Most kinds remembered; AWS has a few dozen error names, so this bound is only a safety net. */
const MAX_KINDS = 100

/**
 * Logs the scrubbed cause of each failure that answers 503: a mistyped pool id or a missing IAM
 * permission otherwise looks like an outage to the operator, who sees only the 503s. The first
 * failure of a kind (the AWS error's name: `ResourceNotFoundException`, `TooManyRequestsException`…;
 * else the error's type) is a warning, and so is the next one a minute later, with the number
 * logged at debug in between: throttling must not flood the logs.
 */
export class FailureLog {
  readonly #logger: Logger
  readonly #context: Readonly<Record<string, unknown>>
  readonly #message: string
  readonly #warnedAt = new Map<string, number>()
  readonly #since = new Map<string, number>()

  constructor(logger: Logger, context: Readonly<Record<string, unknown>>, message: string) {
    this.#logger = neverThrows(logger)
    this.#context = context
    this.#message = message
  }

  failed(error: unknown): void {
    const kind = awsErrorName(error) ?? (error instanceof Error ? error.name : typeof error)
    const now = Date.now()
    const warnedAt = this.#warnedAt.get(kind)
    const err = safeError(error)
    if (warnedAt !== undefined && now - warnedAt < REPEAT_AFTER_MS) {
      this.#since.set(kind, (this.#since.get(kind) ?? 0) + 1)
      this.#logger.debug({ ...this.#context, kind, err }, this.#message)
      return
    }
    if (!this.#warnedAt.has(kind) && this.#warnedAt.size >= MAX_KINDS) this.#forgetOldest()
    const repeats = this.#since.get(kind) ?? 0
    this.#warnedAt.set(kind, now)
    this.#since.set(kind, 0)
    this.#logger.warn(
      { ...this.#context, kind, err, ...(repeats > 0 ? { sinceLastWarning: repeats } : {}) },
      this.#message,
    )
  }

  #forgetOldest(): void {
    const oldest = this.#warnedAt.keys().next().value
    if (oldest === undefined) return
    this.#warnedAt.delete(oldest)
    this.#since.delete(oldest)
  }
}

/**
 * Any user pool's issuer, in either form (`https://cognito-idp.{region}.amazonaws.com/{userPoolId}`
 * or `https://issuer-cognito-idp.…`): a token of one is Cognito's, of some pool.
 */
const COGNITO_ISSUER =
  /^https:\/\/(?:issuer-)?cognito-idp\.[a-z]{2}(?:-[a-z]+)+-\d+\.amazonaws\.com\/[a-z]{2}(?:-[a-z]+)+-\d+_[0-9A-Za-z]+$/

/** Whether `iss` is the issuer of some Cognito user pool, in either form. */
export function isCognitoIssuer(iss: string): boolean {
  return COGNITO_ISSUER.test(iss)
}

/**
 * Logs a configuration mistake seen on a request, at warn the first time for each key, at debug
 * after: a mistyped pool id otherwise shows only as refusals or empty answers, but every request
 * of the app would repeat it. The keys are bounded, so a flood of distinct issuers stays at debug.
 */
export class WarnOnce {
  readonly #logger: Logger
  readonly #context: Readonly<Record<string, unknown>>
  readonly #warned = new Set<string>()

  constructor(logger: Logger, context: Readonly<Record<string, unknown>>) {
    this.#logger = neverThrows(logger)
    this.#context = context
  }

  warn(key: string, fields: Readonly<Record<string, unknown>>, message: string): void {
    const first = !this.#warned.has(key) && this.#warned.size < MAX_KINDS
    if (first) this.#warned.add(key)
    const entry = { ...this.#context, ...fields }
    if (first) this.#logger.warn(entry, message)
    else this.#logger.debug(entry, message)
  }
}

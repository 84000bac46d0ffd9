// What Microsoft Graph answers, read for the resolver: failures, their reasons, throttling windows.

import { isJsonObject } from '../../src/spi.js'

/** The most of a refusal's body read for its `error.code` and `error.message`, in bytes. */
const MAX_ERROR_BYTES = 4096
/** The longest `error.code` or `error.message` of Graph's kept for the log, in characters. */
const MAX_ERROR_TEXT = 300
/** Statuses whose `Retry-After` asks that Graph not be called before it is over (throttling). */
export const THROTTLED_STATUSES: ReadonlySet<number> = new Set([429, 503])
/** How many tenants' throttling windows are remembered; past it, the oldest is forgotten. */
export const MAX_THROTTLED_TENANTS = 1_000

/** A failed Graph exchange, for logs: the status or the reason, never the token. */
export class GraphFailure extends Error {
  override readonly name = 'GraphFailure'
  readonly retryAfterSec: number | undefined

  constructor(message: string, retryAfterSec?: number) {
    super(message)
    this.retryAfterSec = retryAfterSec
  }
}

/** The longest wait taken from Graph's `Retry-After`, in seconds: a longer one is cut to it. */
const MAX_RETRY_AFTER_SEC = 300
/**
 * How long Graph is left alone after a 429 without a usable `Retry-After`, in seconds. Graph asks
 * clients to back off then too; calling it again at once, on every overage request, would keep the
 * app throttled.
 */
export const UNSTATED_THROTTLE_SEC = 5
// RFC 9110 §5.6.7's IMF-fixdate, the only date form a sender may generate (`Sun, 06 Nov 1994
// 08:49:37 GMT`): Date.parse alone would read "2030" or "5 apples" as dates too.
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/

/**
 * The wait Graph's answer asks for, in whole seconds from 1 to {@link MAX_RETRY_AFTER_SEC}: its
 * `Retry-After` (RFC 9110 §10.2.3: seconds, or a date), or for a 429 without a usable one
 * {@link UNSTATED_THROTTLE_SEC}. `undefined` when the answer asks for none (a date already past
 * included).
 */
export function retryAfterOf(response: Response): number | undefined {
  const value = response.headers.get('retry-after')?.trim() ?? ''
  let seconds = Number.NaN
  if (/^\d+$/.test(value)) seconds = Number(value)
  else if (HTTP_DATE.test(value)) seconds = Math.ceil((Date.parse(value) - Date.now()) / 1000)
  if (seconds > 0) return Math.min(seconds, MAX_RETRY_AFTER_SEC)
  return response.status === 429 && !(seconds <= 0) ? UNSTATED_THROTTLE_SEC : undefined
}

/**
 * `: {error.code}: {error.message}` of Graph's refusal, read from at most {@link MAX_ERROR_BYTES}
 * of its body (what to change: a missing permission, a token of the wrong tenant), or `''`. Each
 * is cut short and freed of control characters: it goes into a log line.
 */
export async function graphErrorOf(response: Response): Promise<string> {
  let document: unknown
  try {
    document = JSON.parse(await readStart(response, MAX_ERROR_BYTES))
  } catch {
    return ''
  }
  const error = isJsonObject(document) ? document['error'] : undefined
  if (!isJsonObject(error)) return ''
  const parts = [error['code'], error['message']]
    .filter((part): part is string => typeof part === 'string')
    .map(printable)
    .filter((part) => part !== '')
  return parts.length === 0 ? '' : `: ${parts.join(': ')}`
}

/** The first `maxBytes` of a body (fewer if it ends or fails first); the rest is discarded. */
async function readStart(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } catch {
    // A body cut off (a reset, the lookup's time-out): what was read is all there is.
  } finally {
    reader.cancel().catch(() => undefined)
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8')
}

// Control characters (a forged log line), line and paragraph separators, and bidi overrides.
const UNPRINTABLE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]+/gu

/** `text` on one line, without control characters, at most {@link MAX_ERROR_TEXT} characters. */
function printable(text: string): string {
  const line = text.replace(UNPRINTABLE, ' ').replace(/\s+/g, ' ').trim()
  return line.length > MAX_ERROR_TEXT ? `${line.slice(0, MAX_ERROR_TEXT)}…` : line
}

/** Why `getGraphToken`'s answer is not a token, or `undefined` when it is one. */
export function tokenProblem(token: unknown): string | undefined {
  if (typeof token === 'string' && token !== '') return undefined
  if (token === undefined || token === null || token === '') {
    return 'getGraphToken returned no token'
  }
  if (typeof token === 'object') {
    return 'getGraphToken must return the access token string, got an object (did you return the MSAL result instead of its accessToken?)'
  }
  return `getGraphToken must return the access token string, got a ${typeof token}`
}

/**
 * When Graph's throttling of each tenant ends (`performance.now()`, monotonic): Graph throttles per
 * app and tenant, and calls made during the window keep the app throttled. Entries go when they are
 * over (read, or at the next throttling), and past {@link MAX_THROTTLED_TENANTS}, oldest first.
 */
export class ThrottleWindows {
  readonly #until = new Map<string, number>()

  /** The seconds left of Graph's throttling of `tenant`, or `undefined` when it is not throttled. */
  secondsLeft(tenant: string): number | undefined {
    const until = this.#until.get(tenant)
    if (until === undefined) return undefined
    const leftMs = until - performance.now()
    if (leftMs > 0) return Math.ceil(leftMs / 1000)
    this.#until.delete(tenant)
    return undefined
  }

  /** Graph asked that `tenant` wait `seconds`: its lookups answer 503 until then. */
  start(tenant: string, seconds: number): void {
    const now = performance.now()
    for (const [key, until] of this.#until) {
      if (until <= now) this.#until.delete(key)
    }
    this.#until.delete(tenant)
    if (this.#until.size >= MAX_THROTTLED_TENANTS) {
      this.#until.delete(this.#until.keys().next().value!)
    }
    this.#until.set(tenant, now + seconds * 1000)
  }
}

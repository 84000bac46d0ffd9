// OpenID Connect discovery (OIDC Discovery 1.0 §4): the issuer's jwks_uri, fetched once and kept.

import { backoffMs, elapsed } from './backoff.js'
import { keysUnavailable } from './errors.js'
import { fetchJson, isJsonObject, type FetchLimits } from './fetch-json.js'
import { neverThrows, scrubbedMessage, type Logger } from './logger.js'
import { urlProblem } from './options.js'

const FIRST_BACKOFF_MS = 1_000
const MAX_BACKOFF_MS = 30_000
// The document is the issuer's (or whoever answers in its place): what it says is quoted, cut short.
const MAX_QUOTED_LENGTH = 300

/**
 * A document that answers but cannot be used as it is: another issuer, no or an unsafe `jwks_uri`.
 * Retrying will not help until the configuration (ours or the issuer's) changes: an error, not an
 * outage.
 */
class UnusableDocument extends Error {}

function cut(text: string): string {
  return text.length > MAX_QUOTED_LENGTH ? `${text.slice(0, MAX_QUOTED_LENGTH)}…` : text
}

/** A value of the document, for a log line and a health report. */
function quoted(value: unknown): string {
  return cut(JSON.stringify(value) ?? String(value))
}

function discoveryUrl(issuer: string): string {
  // OIDC Discovery §4.1: the path is appended to the issuer, without doubling its trailing slash.
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`
}

/**
 * Finds an issuer's `jwks_uri` through its discovery document, once. The document's `issuer` must
 * equal the configured one (§4.3), and the `jwks_uri` must be a safe URL; otherwise the provider
 * is unusable (503) and the problem is logged as an error, naming both issuers. A failure of the
 * request (network, time-out, HTTP status) is logged as a warning, once per outage. Either is
 * retried after a short, growing back-off, never cached as an answer.
 */
export class Discovery {
  readonly #issuer: string
  readonly #documentIssuer: string
  readonly #httpsIssuer: boolean
  readonly #limits: FetchLimits & { production: boolean }
  readonly #logger: Logger
  #jwksUri: string | undefined
  #inflight: Promise<string> | undefined
  #failures = 0
  #lastFailureAt = 0
  /** Why the last discovery failed, as it happened: the cause of the 503 it leads to. */
  #lastError: unknown
  /** The same, scrubbed: what a health report and the log show. */
  #lastErrorText: string | undefined

  /**
   * @param issuer where discovery starts: `{issuer}/.well-known/openid-configuration`.
   * @param documentIssuer the `issuer` the document must name; by default `issuer` itself. Some
   *   vendors publish another, fixed string (a multi-tenant template, a tenant named by id where
   *   the URL names it by name): the provider that knows it says which, and nothing else passes.
   */
  constructor(
    issuer: string,
    limits: FetchLimits & { production: boolean },
    logger: Logger,
    documentIssuer: string = issuer,
  ) {
    this.#issuer = issuer
    this.#documentIssuer = documentIssuer
    this.#httpsIssuer = /^https:/i.test(issuer)
    this.#limits = limits
    this.#logger = neverThrows(logger)
  }

  /** The `jwks_uri` found so far, without starting discovery. */
  known(): string | undefined {
    return this.#jwksUri
  }

  /** Why the last discovery failed, until one succeeds (for health reports). */
  failure(): string | undefined {
    return this.#lastErrorText
  }

  /** The `jwks_uri`: a string once known, a promise while it is fetched. */
  jwksUri(): string | Promise<string> {
    if (this.#jwksUri !== undefined) return this.#jwksUri
    if (this.#inflight !== undefined) return this.#inflight
    const backoff = backoffMs(this.#failures, FIRST_BACKOFF_MS, MAX_BACKOFF_MS)
    if (elapsed(Date.now(), this.#lastFailureAt) < backoff) {
      return Promise.reject(keysUnavailable(this.#lastError))
    }
    this.#inflight = this.#discover().finally(() => {
      this.#inflight = undefined
    })
    return this.#inflight
  }

  async #discover(): Promise<string> {
    const url = discoveryUrl(this.#issuer)
    try {
      const document = await fetchJson(url, this.#limits)
      this.#jwksUri = this.#check(document)
      this.#failures = 0
      this.#lastError = undefined
      this.#lastErrorText = undefined
      return this.#jwksUri
    } catch (error) {
      const previous = this.#lastErrorText
      this.#failures += 1
      this.#lastFailureAt = Date.now()
      this.#lastError = error
      // A fetch error may quote a URL with its credentials (a proxy's): shown only scrubbed.
      this.#lastErrorText = scrubbedMessage(error)
      this.#log(url, error, previous)
      throw keysUnavailable(error)
    }
  }

  /**
   * An unusable document is an error, logged again only when what it says changes; a failed
   * request is a warning once per outage. Repeats go to debug, so a long outage or a lasting
   * misconfiguration does not flood the log at every retry.
   */
  #log(discoveryUrl: string, error: unknown, previous: string | undefined): void {
    const err = this.#lastErrorText
    if (error instanceof UnusableDocument) {
      const level = err === previous ? 'debug' : 'error'
      this.#logger[level](
        { discoveryUrl, err },
        'OIDC discovery document unusable: check the issuer',
      )
    } else {
      const level = this.#failures === 1 ? 'warn' : 'debug'
      this.#logger[level]({ discoveryUrl, err }, 'OIDC discovery failed')
    }
  }

  #check(document: unknown): string {
    if (!isJsonObject(document)) throw new Error('the discovery document is not a JSON object')
    const named = document['issuer']
    if (named !== this.#documentIssuer) {
      throw new UnusableDocument(
        `the discovery document names another issuer than the configured one: ` +
          `${named === undefined ? 'none' : quoted(named)} where ` +
          `${JSON.stringify(this.#documentIssuer)} is expected (compared exactly: a trailing slash matters)`,
      )
    }
    const jwksUri = document['jwks_uri']
    const strict = this.#limits.production || this.#httpsIssuer
    const problem = urlProblem(jwksUri, strict) ?? this.#downgrade(jwksUri as string)
    // urlProblem quotes the URL whole: cut short, as the document's words always are here.
    if (problem !== undefined) throw new UnusableDocument(`the discovered jwks_uri ${cut(problem)}`)
    return jwksUri as string
  }

  /**
   * A jwks_uri may not be weaker than the issuer: an https issuer never sends us to plain http,
   * not even on loopback: whoever can listen on that local port would then choose the keys.
   */
  #downgrade(jwksUri: string): string | undefined {
    if (!this.#httpsIssuer || new URL(jwksUri).protocol === 'https:') return undefined
    return `must use https, as the issuer does, got ${JSON.stringify(jwksUri)}`
  }
}

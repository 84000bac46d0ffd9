// RFC 6750 §2 token extraction: the Authorization header, and other transports only when opted in.

import { InvalidRequestError } from './errors.js'
import { afterSpaces, trimOws } from './http-field.js'
import type { Problems } from './options.js'

/** Where a token may come from besides the `Authorization` header. All off by default. */
export interface TokenLocations {
  /**
   * Read `?access_token=` (RFC 6750 §2.3). Off by default: URLs end up in logs and browser
   * history. `true` uses the name `access_token`; a string names another parameter.
   */
  query?: boolean | string
  /** Read `access_token` from a parsed `application/x-www-form-urlencoded` body (RFC 6750 §2.2). */
  formBody?: boolean
  /**
   * Read the token from this cookie (for browser apps that keep it in an HttpOnly cookie).
   *
   * **Warning:** browsers send cookies on cross-site requests, so a cookie token opens the API to
   * cross-site request forgery: set the cookie `SameSite=Strict` (or `Lax` with no state-changing
   * GET routes) and keep CSRF protection on unsafe methods.
   */
  cookie?: string
}

// RFC 9110 §5.6.2 token: what a cookie name is (RFC 6265 §4.1.1).
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// A query parameter name that can be matched: not empty, no separator or whitespace, and no `%`:
// Express decodes names before they are looked up, so `access%5Ftoken` would match no client.
// (`+` stays: a client sends it as `%2B`.)
const QUERY_NAME = /^[^\s&=#%]+$/

/**
 * Checks `tokenLocations` once, at construction: a misspelt setting (`formBody: 'true'`, a cookie
 * named `''`, `cookies`) would otherwise read nothing without a word, or something unintended.
 */
export function checkTokenLocations(problems: Problems, locations: unknown): void {
  if (locations === undefined) return
  if (typeof locations !== 'object' || locations === null || Array.isArray(locations)) {
    problems.add('tokenLocations must be an object: { query?, formBody?, cookie? }')
    return
  }
  const { query, formBody, cookie, ...others } = locations as Record<string, unknown>
  for (const name of Object.keys(others)) {
    problems.add(`tokenLocations.${name} is not a token location; use query, formBody or cookie`)
  }
  if (query !== undefined && typeof query !== 'boolean') {
    if (typeof query === 'string' && query.includes('%')) {
      problems.add(
        `tokenLocations.query must be the parameter name decoded (access_token, not access%5Ftoken): Express decodes names before they are read, so an encoded one matches no request; got ${JSON.stringify(query)}`,
      )
    } else if (typeof query !== 'string' || !QUERY_NAME.test(query)) {
      problems.add('tokenLocations.query must be true, false or a query parameter name')
    }
  }
  if (formBody !== undefined && typeof formBody !== 'boolean') {
    problems.add('tokenLocations.formBody must be true or false')
  }
  if (cookie !== undefined && (typeof cookie !== 'string' || !COOKIE_NAME.test(cookie))) {
    problems.add(
      "tokenLocations.cookie must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)",
    )
  }
}

/** A place other than the `Authorization` header that a token was read from. */
export type TokenLocation = 'query' | 'formBody' | 'cookie'

/** What a request offers to the extractor; the Express glue builds it, tests can too. */
export interface TokenCarrier {
  /** Every `Authorization` field value received (Node's `headersDistinct.authorization`). */
  authorization: readonly string[] | undefined
  query?: unknown
  formBody?: unknown
  cookieHeader?: string | undefined
  /**
   * Set by the extractor when the token came from somewhere other than the `Authorization` header:
   * the answer then needs `Cache-Control: private` (RFC 6750 §2.3), which a header token does not.
   */
  foundIn?: TokenLocation
}

/** Resolved extraction rules, built once by {@link createTokenExtractor}. */
export type TokenExtractor = (carrier: TokenCarrier) => string | undefined

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; b64token = 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/
// RFC 9110 §5.6.2 token characters: what an auth-scheme is made of.
const AUTH_SCHEME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/
// Three base64url segments: a JWT sent with no scheme or under a made-up one (`JWT …`, `Token …`).
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
// Schemes of other authentication methods: the request carries no bearer credentials (RFC 6750
// §3), another middleware may handle them, so they are neither parsed nor refused.
const OTHER_METHODS = new Set([
  'basic',
  'digest',
  'dpop',
  'negotiate',
  'ntlm',
  'hoba',
  'mutual',
  'scram-sha-1',
  'scram-sha-256',
  'vapid',
  'aws4-hmac-sha256',
  'apikey',
])

// A Bearer credential after another scheme's (`Basic eA==, Bearer x`): two schemes in one header.
// Tested with the scheme's quoted strings left out (`Digest username="acme, bearer dept"` is one).
const LATER_BEARER = /,[ \t]*bearer(?:[ \t]|$)/i

/**
 * `text` without its quoted strings (RFC 9110 §5.6.4, `\` escaping the next character), in one
 * pass: a regular expression retried from each quote of an unterminated string would take time
 * quadratic in a header an attacker writes.
 */
function outsideQuotes(text: string): string {
  let kept = ''
  let from = 0
  let quoted = false
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index]
    if (quoted && char === '\\') index += 1
    else if (char === '"') {
      if (!quoted) kept += text.slice(from, index)
      quoted = !quoted
      from = index + 1
    }
  }
  return quoted ? kept : kept + text.slice(from)
}

const MALFORMED = 'malformed Authorization header'

/**
 * Reads the bearer token of one `Authorization` field value.
 *
 * @returns the token, or `undefined` when the header is empty or names another authentication
 *   method (`Basic`, `DPoP`…).
 * @throws {InvalidRequestError} `ERR_AUTH_INVALID_REQUEST` for a Bearer header without a valid
 *   token (`Bearer`, `Bearer:x`, `Bearer a b`), for two schemes (`Bearer a, Basic b`,
 *   `Basic b, Bearer a`), and for a JWT sent without the Bearer scheme (a misconfigured client is
 *   told so rather than treated as anonymous).
 */
export function parseAuthorization(value: string): string | undefined {
  const header = trimOws(value)
  if (header === '') return undefined
  const scheme = AUTH_SCHEME.exec(header)?.[0]
  if (scheme === undefined) throw new InvalidRequestError(MALFORMED)
  const rest = header.slice(scheme.length)
  const lower = scheme.toLowerCase()
  if (lower !== 'bearer') {
    // Refused as `Bearer x, Basic y` is: a client that sends a bearer token is told its header is
    // malformed, rather than answered a bare challenge as if it had sent none.
    if (LATER_BEARER.test(outsideQuotes(rest))) {
      throw new InvalidRequestError(MALFORMED)
    }
    if (OTHER_METHODS.has(lower)) return undefined
    if (JWT_SHAPE.test(scheme) || JWT_SHAPE.test(rest.trim())) {
      throw new InvalidRequestError('the Authorization header must use the Bearer scheme')
    }
    return undefined
  }
  // One or more spaces, then exactly one b64token (a second credential or a tab is malformed).
  if (rest.charCodeAt(0) !== 0x20) throw new InvalidRequestError(MALFORMED)
  const token = afterSpaces(rest)
  if (token === '' || !B64TOKEN.test(token)) throw new InvalidRequestError(MALFORMED)
  return token
}

/**
 * The token of a header that is exactly `Bearer <token>`, unchecked: only for looking the token up
 * among tokens verified before. Every token a verifier accepts is made of base64url characters and
 * dots, for which {@link parseAuthorization} of the same header returns the same token; anything
 * not found must still go through it.
 */
export function bearerCandidate(value: string): string | undefined {
  return value.length > 7 && value.startsWith('Bearer ') && value.charCodeAt(7) !== 0x20
    ? value.slice(7)
    : undefined
}

/**
 * Builds the extractor for a set of opted-in locations. RFC 6750 §2 allows one method per
 * request: a token found in two places is `invalid_request`.
 */
export function createTokenExtractor(locations: TokenLocations = {}): TokenExtractor {
  const queryName = locations.query === true ? 'access_token' : locations.query || undefined
  const formBody = locations.formBody === true
  const cookieName = locations.cookie
  return function extractToken(carrier) {
    const values = carrier.authorization
    // Node keeps only the first of two Authorization headers in req.headers (RFC 9110 allows one).
    if (values !== undefined && values.length > 1) {
      throw new InvalidRequestError('more than one Authorization header')
    }
    let token = values?.[0] === undefined ? undefined : parseAuthorization(values[0])
    if (queryName !== undefined) {
      token = pickOne(carrier, token, fieldOf(carrier.query, queryName), 'query')
    }
    if (formBody) {
      token = pickOne(carrier, token, fieldOf(carrier.formBody, 'access_token'), 'formBody')
    }
    if (cookieName !== undefined) {
      token = pickOne(carrier, token, cookieValue(carrier.cookieHeader, cookieName), 'cookie')
    }
    return token
  }
}

/** The one token of the request, `found` in `location` if there; marks the carrier with where. */
function pickOne(
  carrier: TokenCarrier,
  current: string | undefined,
  found: string | undefined,
  location: TokenLocation,
): string | undefined {
  if (found === undefined) return current
  if (current !== undefined)
    throw new InvalidRequestError('more than one method used to send a token')
  carrier.foundIn = location
  return found
}

/**
 * The token of a query or form parameter. An empty one (`?access_token=`) is no token, as an empty
 * `Authorization` header is: a client that clears its token must not get a 400 on every route.
 */
function fieldOf(source: unknown, name: string): string | undefined {
  if (typeof source !== 'object' || source === null || !Object.hasOwn(source, name))
    return undefined
  const value: unknown = (source as Record<string, unknown>)[name]
  if (typeof value === 'string' && trimOws(value) === '') return undefined
  if (typeof value !== 'string' || !B64TOKEN.test(value)) {
    throw new InvalidRequestError(`malformed ${name} parameter`)
  }
  return value
}

/**
 * The token of the cookie `name`. An empty cookie (`token=`, what `document.cookie = 'token='` leaves
 * behind on log-out) is no token, as an empty `Authorization` header is, not a 400 on every route
 * until it expires. Two cookies of that name (set with different `Path` or `Domain`, which a
 * browser sends both of) are told apart from a malformed one, as two `Authorization` headers are.
 */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  let found: string | undefined
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue
    const value = unquoted(pair.slice(eq + 1).trim())
    if (value === '') continue
    if (found !== undefined) throw new InvalidRequestError(`more than one ${name} cookie`)
    if (!B64TOKEN.test(value)) throw new InvalidRequestError(`malformed ${name} cookie`)
    found = value
  }
  return found
}

/** RFC 6265 §4.1.1: cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE ). */
function unquoted(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
    ? value.slice(1, -1)
    : value
}

// The one error hierarchy of oidc-guard: stable codes, the HTTP status and the RFC 6750 challenge.

/** Codes of tokens that fail a check. Every one answers 401 `invalid_token`. */
export type InvalidTokenCode =
  | 'ERR_AUTH_TOKEN_MALFORMED'
  | 'ERR_AUTH_TOKEN_TOO_LARGE'
  | 'ERR_AUTH_ALG_NOT_ALLOWED'
  | 'ERR_AUTH_HEADER_INVALID'
  | 'ERR_AUTH_KEY_NOT_FOUND'
  | 'ERR_AUTH_SIGNATURE_INVALID'
  | 'ERR_AUTH_TOKEN_EXPIRED'
  | 'ERR_AUTH_TOKEN_NOT_YET_VALID'
  | 'ERR_AUTH_TOKEN_TOO_OLD'
  | 'ERR_AUTH_CLAIM_INVALID'
  | 'ERR_AUTH_ISSUER_UNKNOWN'
  | 'ERR_AUTH_ISSUER_MISMATCH'
  | 'ERR_AUTH_AUDIENCE_MISMATCH'
  | 'ERR_AUTH_TOKEN_TYPE_INVALID'
  | 'ERR_AUTH_TOKEN_REJECTED'
  | 'ERR_AUTH_TOKEN_REVOKED'

/** Codes of a dependency that cannot answer. Every one answers 503 `temporarily_unavailable`. */
export type UnavailableCode =
  | 'ERR_AUTH_KEYS_UNAVAILABLE'
  | 'ERR_AUTH_SOURCE_UNAVAILABLE'
  | 'ERR_AUTH_CREDENTIALS_UNAVAILABLE'
  | 'ERR_AUTH_REVOCATION_UNAVAILABLE'

/** Every code an {@link AuthError} can carry; stable across releases (see docs/errors.md). */
export type AuthErrorCode =
  | 'ERR_AUTH_INVALID_REQUEST'
  | 'ERR_AUTH_CREDENTIALS_REQUIRED'
  | InvalidTokenCode
  | 'ERR_AUTH_CREDENTIALS_INVALID'
  | 'ERR_AUTH_INSUFFICIENT_SCOPE'
  | 'ERR_AUTH_FORBIDDEN'
  | UnavailableCode
  | 'ERR_AUTH_CONFIG'

/** The `error` member of the JSON body (RFC 6750 §3.1 codes plus our own for 401/403/503). */
export type OAuthErrorName =
  | 'invalid_request'
  | 'unauthorized'
  | 'invalid_token'
  | 'invalid_credentials'
  | 'insufficient_scope'
  | 'forbidden'
  | 'temporarily_unavailable'
  | 'server_error'

/**
 * Base of every error oidc-guard throws. Each carries a stable `code`, the HTTP `status` to
 * answer with and the `headers` of that answer, so even Express's default error handler replies
 * correctly. `description` is a fixed text: it never contains the token, a key id or a stack.
 */
export abstract class AuthError extends Error {
  abstract readonly code: AuthErrorCode
  abstract readonly status: number
  abstract readonly error: OAuthErrorName
  /** Whether the response carries a `Bearer` challenge (RFC 6750 §3: 401, and 400/403 with a code). */
  abstract readonly challenges: boolean
  readonly description: string

  constructor(description: string, options?: { cause?: unknown }) {
    // Refusals are outcomes, not bugs: capturing a stack (V8 walks the async chain) would cost
    // more than checking the token's signature, for a trace nobody reads. Configuration errors
    // and outages keep theirs.
    const limit = Error.stackTraceLimit
    const kind: unknown = new.target
    if (kind !== ConfigError && kind !== UnavailableError) Error.stackTraceLimit = 0
    try {
      super(description, options)
    } finally {
      Error.stackTraceLimit = limit
    }
    this.description = description
  }

  override get name(): string {
    return this.constructor.name
  }

  /** Response headers for this error, with no realm (the middleware adds its realm). */
  get headers(): Record<string, string> {
    return responseHeaders(this, undefined)
  }

  /** The JSON body of the response. */
  toJSON(): { error: OAuthErrorName; error_description: string } {
    return { error: this.error, error_description: this.description }
  }
}

/** 400: the `Authorization` header (or another opted-in transport) is malformed or repeated. */
export class InvalidRequestError extends AuthError {
  readonly code = 'ERR_AUTH_INVALID_REQUEST'
  readonly status = 400
  readonly error = 'invalid_request'
  readonly challenges = true
}

/** 401 with a bare challenge: the route needs a token and the request carried none. */
export class CredentialsRequiredError extends AuthError {
  readonly code = 'ERR_AUTH_CREDENTIALS_REQUIRED'
  readonly status = 401
  readonly error = 'unauthorized'
  readonly challenges = true

  constructor(description = 'authentication required') {
    super(description)
  }
}

/** 401 `invalid_token`: the token failed a check; `code` says which one. */
export class InvalidTokenError extends AuthError {
  readonly code: InvalidTokenCode
  readonly status = 401
  readonly error = 'invalid_token'
  readonly challenges = true

  constructor(code: InvalidTokenCode, description: string, options?: { cause?: unknown }) {
    super(description, options)
    this.code = code
  }
}

/** 403 `insufficient_scope`: a valid token without a scope the route requires (RFC 6750 §3.1). */
export class InsufficientScopeError extends AuthError {
  readonly code = 'ERR_AUTH_INSUFFICIENT_SCOPE'
  readonly status = 403
  readonly error = 'insufficient_scope'
  readonly challenges = true
  /** The scopes the route requires, sent back in the challenge's `scope` attribute. */
  readonly scopes: readonly string[]

  constructor(scopes: readonly string[], description = 'the token lacks a required scope') {
    super(description)
    this.scopes = scopes
  }
}

/** 403 `forbidden`: a valid user without a required group, role or permission. */
export class ForbiddenError extends AuthError {
  readonly code = 'ERR_AUTH_FORBIDDEN'
  readonly status = 403
  readonly error = 'forbidden'
  readonly challenges = false

  constructor(description = 'access denied') {
    super(description)
  }
}

/** 503 `temporarily_unavailable`: keys or an authorization source could not be had; retry later. */
export class UnavailableError extends AuthError {
  readonly code: UnavailableCode
  readonly status = 503
  readonly error = 'temporarily_unavailable'
  readonly challenges = false
  readonly retryAfterSec: number

  constructor(
    code: UnavailableCode,
    description: string,
    options?: { cause?: unknown; retryAfterSec?: number },
  ) {
    super(description, options)
    this.code = code
    this.retryAfterSec = retryAfterOf(options?.retryAfterSec)
  }
}

/** The longest `Retry-After` sent: a day, as long as any time-out oidc-guard takes (SQL's). */
const MAX_RETRY_AFTER_SEC = 86_400

/**
 * A whole number of seconds from 1 to a day, or the header is not one (RFC 9110 §10.2.3): a
 * source's 1.5 or NaN must not reach it, nor 1e21, which `String` writes as `1e+21`. At least 1,
 * as Graph's own `Retry-After` is taken: 0 would have every client retry an outage at once.
 */
function retryAfterOf(given: unknown): number {
  if (typeof given !== 'number' || !Number.isFinite(given)) return 5
  return Math.min(MAX_RETRY_AFTER_SEC, Math.max(1, Math.ceil(given)))
}

/**
 * Invalid configuration, thrown at construction (never per request). `problems` lists every
 * problem found, each naming the option (and its environment variable) and what to change.
 */
export class ConfigError extends AuthError {
  readonly code = 'ERR_AUTH_CONFIG'
  readonly status = 500
  readonly error = 'server_error'
  readonly challenges = false
  readonly problems: readonly string[]

  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? `oidc-guard: ${problems[0]}`
        : `oidc-guard: ${problems.length} configuration problems:\n- ${problems.join('\n- ')}`,
    )
    this.problems = problems
  }
}

/** The 503 of a key set (or the discovery leading to it) that cannot be had; `cause` is for logs. */
export function keysUnavailable(cause: unknown): UnavailableError {
  return new UnavailableError(
    'ERR_AUTH_KEYS_UNAVAILABLE',
    'signing keys are temporarily unavailable',
    {
      cause,
    },
  )
}

/** Type guard for errors of this library. */
export function isAuthError(value: unknown): value is AuthError {
  return value instanceof AuthError
}

// RFC 6750 §3: attribute values are quoted strings of %x20-21 / %x23-5B / %x5D-7E only.
const UNSAFE_CHALLENGE_CHARS = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g

function quoted(value: string): string {
  return `"${value.replace(UNSAFE_CHALLENGE_CHARS, '')}"`
}

/**
 * The `WWW-Authenticate` value for an error: `Bearer realm="…"` alone when credentials were
 * missing (RFC 6750 §3: no error code), otherwise with `error`, `error_description` and `scope`.
 */
export function bearerChallenge(
  error: AuthError,
  realm: string | undefined,
  resourceMetadata?: string,
): string {
  const params: string[] = []
  if (realm !== undefined) params.push(`realm=${quoted(realm)}`)
  // RFC 9728 §5.1: tells clients where to learn which authorization servers issue tokens for us.
  if (resourceMetadata !== undefined) params.push(`resource_metadata=${quoted(resourceMetadata)}`)
  if (!(error instanceof CredentialsRequiredError)) {
    params.push(`error=${quoted(bearerErrorCode(error))}`)
    params.push(`error_description=${quoted(error.description)}`)
  }
  if (error instanceof InsufficientScopeError && error.scopes.length > 0) {
    params.push(`scope=${quoted(error.scopes.join(' '))}`)
  }
  return params.length === 0 ? 'Bearer' : `Bearer ${params.join(', ')}`
}

/**
 * The challenge's `error`: RFC 6750 §3.1 has no `invalid_credentials`. An API key refused under
 * `scheme: 'Bearer'` is a bearer token that is invalid, which OAuth clients act on.
 */
function bearerErrorCode(error: AuthError): OAuthErrorName {
  return error instanceof CredentialsInvalidError ? 'invalid_token' : error.error
}

/**
 * An answer about this request's credentials is for this request alone: no cache may keep it and
 * serve it to another (a route hidden with a 404, say, shown to a signed-in user). RFC 9111 lets
 * shared caches store a 404 or 501 heuristically.
 */
export const NO_STORE = 'no-store'

/**
 * Headers for the response to `error`: `Cache-Control: no-store`, the challenge where RFC 6750
 * wants one, `Retry-After` on 503.
 */
export function responseHeaders(
  error: AuthError,
  realm: string | undefined,
  resourceMetadata?: string,
): Record<string, string> {
  // Errors of another scheme (Basic, API keys) are challenged in their own scheme.
  const scheme = schemeOf(error)
  if (scheme !== undefined) return challengeHeaders(error, scheme)
  return bearerHeaders(error, realm, resourceMetadata)
}

/** {@link responseHeaders} under the Bearer scheme (RFC 6750 §3). */
function bearerHeaders(
  error: AuthError,
  realm: string | undefined,
  resourceMetadata?: string,
): Record<string, string> {
  const headers: Record<string, string> = { 'Cache-Control': NO_STORE }
  if (error.challenges) {
    headers['WWW-Authenticate'] = bearerChallenge(error, realm, resourceMetadata)
  }
  if (error instanceof UnavailableError) headers['Retry-After'] = String(error.retryAfterSec)
  return headers
}

/**
 * The challenge of a `basicAuth`/`apiKeyAuth` scheme (RFC 9110 §11.6.1): `Basic` (RFC 7617),
 * `ApiKey`…, or `Bearer`, whose error attributes RFC 6750 defines. `params` are extra auth-params,
 * such as `charset: 'UTF-8'`.
 */
export interface AuthChallenge {
  readonly scheme: string
  readonly realm?: string | undefined
  readonly params?: Readonly<Record<string, string>> | undefined
}

/** The `WWW-Authenticate` value of a challenge: `Basic realm="api", charset="UTF-8"`. */
export function schemeChallenge(challenge: AuthChallenge): string {
  const params: string[] = []
  if (challenge.realm !== undefined) params.push(`realm=${quoted(challenge.realm)}`)
  for (const [name, value] of Object.entries(challenge.params ?? {})) {
    params.push(`${name}=${quoted(value)}`)
  }
  return params.length === 0 ? challenge.scheme : `${challenge.scheme} ${params.join(', ')}`
}

/** The realm of a Basic challenge when none is configured. */
export const DEFAULT_BASIC_REALM = 'api'

/**
 * RFC 7617 §2.1: the Basic challenge, announcing that credentials are read as UTF-8. Its realm is
 * required (RFC 7617 §2), unlike Bearer's: `api` when none is configured.
 */
export function basicChallenge(realm: string | undefined): AuthChallenge {
  return { scheme: 'Basic', realm: realm ?? DEFAULT_BASIC_REALM, params: { charset: 'UTF-8' } }
}

/**
 * Headers for the response to `error` under a `basicAuth`/`apiKeyAuth` scheme: `Cache-Control:
 * no-store`, the scheme's challenge on every 401 (RFC 9110 §15.5.2 requires one), none on 400/403
 * (Basic has no error attributes to put in one), `Retry-After` on 503. `apiKeyAuth({ scheme:
 * 'Bearer' })` answers as `jwtAuth` does (RFC 6750 §3.1): `error="invalid_token"` for a refused
 * key, `insufficient_scope` on 403, a bare challenge for a missing one.
 */
export function challengeHeaders(
  error: AuthError,
  challenge: AuthChallenge,
): Record<string, string> {
  if (challenge.scheme.toLowerCase() === 'bearer') return bearerHeaders(error, challenge.realm)
  const headers: Record<string, string> = { 'Cache-Control': NO_STORE }
  if (error.status === 401) headers['WWW-Authenticate'] = schemeChallenge(challenge)
  if (error instanceof UnavailableError) headers['Retry-After'] = String(error.retryAfterSec)
  return headers
}

/**
 * 401 `invalid_credentials`: a username and password, or an API key, that do not match. One fixed
 * description for an unknown user and a wrong password, so the answer never tells which usernames
 * exist. Carries its scheme's challenge, so even Express's default error handler answers with it.
 */
export class CredentialsInvalidError extends AuthError {
  readonly code = 'ERR_AUTH_CREDENTIALS_INVALID'
  readonly status = 401
  readonly error = 'invalid_credentials'
  readonly challenges = true
  /** The challenge the 401 carries (`Basic realm="…", charset="UTF-8"`, `ApiKey realm="…"`). */
  readonly challenge: AuthChallenge

  constructor(challenge: AuthChallenge, description = 'invalid credentials') {
    super(description)
    this.challenge = challenge
  }
}

// Copies made by inScheme, and the challenge of the scheme each is answered under.
const SCHEMES = new WeakMap<AuthError, AuthChallenge>()

/** The non-Bearer challenge `error` is answered with, if any. */
function schemeOf(error: AuthError): AuthChallenge | undefined {
  return error instanceof CredentialsInvalidError ? error.challenge : SCHEMES.get(error)
}

/**
 * A copy of `error`: same class, code, status and description, own properties copied. For marks
 * that belong to one request and one route, since the error itself may be shared by concurrent
 * requests (a source's refusal, handed to every request that awaited the same lookup).
 */
export function copyError<E extends AuthError>(error: E): E {
  return Object.create(
    Object.getPrototypeOf(error) as object,
    Object.getOwnPropertyDescriptors(error),
  ) as E
}

/**
 * `error` as a `basicAuth`/`apiKeyAuth` answers it: a copy whose `headers` (and whose answer from
 * `authErrorHandler`) carry `challenge` instead of a Bearer one, so an `onError` that calls
 * `next(error)` still gets a browser to prompt for a password. An error that already carries a
 * scheme's challenge is returned as it is.
 */
export function inScheme<E extends AuthError>(error: E, challenge: AuthChallenge): E {
  if (schemeOf(error) !== undefined) return error
  const copy = copyError(error)
  SCHEMES.set(copy, challenge)
  return copy
}

/** The 503 of a credentials store (a `CredentialsRepository`, an API key repository) that failed. */
export function credentialsUnavailable(cause: unknown): UnavailableError {
  return new UnavailableError(
    'ERR_AUTH_CREDENTIALS_UNAVAILABLE',
    'credentials cannot be checked right now',
    { cause },
  )
}

/**
 * Whether a source's failure is a refusal that keeps its own answer rather than an outage: the
 * token itself refused (401, Cognito's GetUser after GlobalSignOut), or an answer that can never be
 * had for this token (403: Entra ID's group overage without a resolver, Cognito's GetUser without
 * its scope). A 503 for these would have the client retry what cannot succeed.
 */
export function isSourceRefusal(error: unknown): error is AuthError {
  return (
    error instanceof InvalidTokenError ||
    error instanceof ForbiddenError ||
    error instanceof InsufficientScopeError
  )
}

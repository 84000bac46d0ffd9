// Turns an AuthError into the HTTP answer: status, RFC 6750 challenge, Retry-After, JSON body.

import type { NextFunction, Request, Response } from 'express'
import { STATUS_CODES } from 'node:http'
import {
  challengeHeaders,
  copyError,
  inScheme,
  isAuthError,
  NO_STORE,
  responseHeaders,
  type AuthChallenge,
  type AuthError,
} from './errors.js'
import {
  checkNormalForm,
  checkOptionNames,
  checkRealm,
  checkUrl,
  isProduction,
  Problems,
  refuseUncalledFactory,
  type OptionFlags,
} from './options.js'

/** Replaces oidc-guard's error response (Starlette's `on_error`). Pass `next(error)` to use your own handler. */
export type OnAuthError = (
  error: AuthError,
  req: Request,
  res: Response,
  next: NextFunction,
) => unknown

/** How one `jwtAuth` answers failures; guards downstream answer the same way. */
export type ErrorResponder = (
  error: AuthError,
  req: Request,
  res: Response,
  next: NextFunction,
) => void

/**
 * Whether `error` is a fault of the server rather than an answer about the request: a
 * `ConfigError` (500), whose text describes the configuration, or any server status but the 503 of
 * an outage. Its text is never written to a client.
 */
function isServerFault(error: AuthError): boolean {
  return error.status >= 500 && error.status !== 503
}

// What a client is told of a server fault: nothing about the configuration.
const SERVER_FAULT_BODY = { error: 'server_error', error_description: 'internal server error' }

/**
 * Writes the response for `error` with the given realm. Does nothing once the headers are sent:
 * then hand the error to `next(error)`, whose final handler closes the connection. A `ConfigError`
 * is answered with a fixed text, never its own.
 *
 * Given neither `realm` nor `resourceMetadata`, the answer carries the error's own `headers`: in an
 * `onError`, those already hold the realm and resource metadata of the `jwtAuth` that raised it, so
 * `sendAuthError(res, error)` there answers what `jwtAuth` would have. Given one, the other is still
 * that `jwtAuth`'s: a realm of your own does not drop the `resource_metadata` MCP clients need.
 */
export function sendAuthError(
  res: Response,
  error: AuthError,
  realm?: string,
  resourceMetadata?: string,
): void {
  if (res.headersSent) return
  if (isServerFault(error)) {
    res.status(error.status).set('Cache-Control', NO_STORE).json(SERVER_FAULT_BODY)
    return
  }
  res.status(error.status)
  if (realm === undefined && resourceMetadata === undefined) {
    res.set(error.headers)
  } else {
    const raisedWith = CHALLENGE_PARAMETERS.get(error)
    res.set(
      responseHeaders(
        error,
        realm ?? raisedWith?.realm,
        resourceMetadata ?? raisedWith?.resourceMetadata,
      ),
    )
  }
  res.json(error.toJSON())
}

/**
 * Answers with a status a route chose instead of 401/403 (404 to hide it): a plain body named
 * after the status, and no challenge that would tell the route exists.
 */
export function sendPlainStatus(res: Response, status: number): void {
  if (res.headersSent) return
  const name = (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z0-9]+/g, '_')
  res.status(status).set('Cache-Control', NO_STORE).json({ error: name })
}

/** How an error is answered with no realm, `onError` or resource metadata: status, challenge, JSON. */
export const defaultErrorResponder: ErrorResponder = (error, _req, res, next) => {
  if (!passedOn(error, res, next)) sendAuthError(res, error)
}

/**
 * Hands `error` to Express's error handlers when it is not answered here, `onError` included:
 * - too late to answer (a handler before a guard sent the headers, a stream say): their last one
 *   closes the connection, rather than leave the response hanging until the server's time-out, or
 *   let an `onError` that ends it pass a cut-off response for a complete one;
 * - a server fault (a `ConfigError`, `app.use(requireUser)` say): its text describes the
 *   configuration, and Express's final handler answers a generic 500 in production.
 */
function passedOn(error: AuthError, res: Response, next: NextFunction): boolean {
  if (!res.headersSent && !isServerFault(error)) return false
  next(error)
  return true
}

/** Builds the responder of one middleware instance, with its realm and `onError` resolved once. */
export function createErrorResponder(
  realm: string | undefined,
  onError: OnAuthError | undefined,
  resourceMetadata?: string,
): ErrorResponder {
  if (onError === undefined) {
    if (realm === undefined && resourceMetadata === undefined) return defaultErrorResponder
    return (error, _req, res, next) => {
      if (!passedOn(error, res, next)) sendAuthError(res, error, realm, resourceMetadata)
    }
  }
  return (error, req, res, next) => {
    if (passedOn(error, res, next)) return
    try {
      const result = onError(withChallenge(error, realm, resourceMetadata), req, res, next)
      if (result instanceof Promise) result.catch(next)
    } catch (thrown) {
      next(thrown)
    }
  }
}

/** The Bearer challenge parameters of the `jwtAuth` that raised an error. */
interface ChallengeParameters {
  readonly realm: string | undefined
  readonly resourceMetadata: string | undefined
}

// Copies made by withChallenge, and the parameters their challenge was built with: an error handler
// given only some of them (authErrorHandler({ realm })) fills in the rest from these.
const CHALLENGE_PARAMETERS = new WeakMap<AuthError, ChallengeParameters>()

/**
 * `error` with `headers` that carry the middleware's realm and resource metadata: an `onError` that
 * calls `next(error)` leaves the answer to Express's default handler, which writes the error's own
 * headers, and a client must still learn where to get a token (RFC 9728 §5.1). A copy, since the
 * error may be shared by concurrent requests; the error itself when nothing changes (no realm, or
 * another scheme's challenge, which takes no Bearer parameters).
 */
function withChallenge<E extends AuthError>(
  error: E,
  realm: string | undefined,
  resourceMetadata: string | undefined,
): E {
  if (realm === undefined && resourceMetadata === undefined) return error
  const headers = responseHeaders(error, realm, resourceMetadata)
  if (headers['WWW-Authenticate'] === error.headers['WWW-Authenticate']) return error
  const copy = copyError(error)
  Object.defineProperty(copy, 'headers', { value: headers, enumerable: false })
  CHALLENGE_PARAMETERS.set(copy, { realm, resourceMetadata })
  return copy
}

/**
 * Writes the response for `error` under a non-Bearer scheme (Basic, API keys): the scheme's
 * challenge on 401, `Retry-After` on 503, the same JSON body as every other error.
 */
export function sendChallengedError(
  res: Response,
  error: AuthError,
  challenge: AuthChallenge,
): void {
  if (res.headersSent) return
  res.status(error.status)
  res.set(challengeHeaders(error, challenge))
  res.json(error.toJSON())
}

/**
 * Builds the responder of one `basicAuth`/`apiKeyAuth` instance: like {@link createErrorResponder},
 * with the scheme's challenge instead of Bearer's. Guards downstream answer through it too.
 * `onError` receives a copy of the error whose `headers` carry that challenge.
 */
export function createChallengeResponder(
  challenge: AuthChallenge,
  onError: OnAuthError | undefined,
): ErrorResponder {
  if (onError === undefined) {
    return (error, _req, res, next) => {
      if (!passedOn(error, res, next)) sendChallengedError(res, error, challenge)
    }
  }
  // An onError that calls next(error) leaves the answer to Express's handler or authErrorHandler,
  // which write the error's own headers: they must hold this scheme's challenge, not Bearer's.
  const respond = createErrorResponder(challenge.realm, onError)
  return (error, req, res, next) => respond(inScheme(error, challenge), req, res, next)
}

/** Options of {@link authErrorHandler}: what the challenges it writes carry. */
export interface AuthErrorHandlerOptions {
  /** The `realm` of the `WWW-Authenticate` challenge. */
  realm?: string
  /**
   * The URL of this API's protected resource metadata (RFC 9728), as `jwtAuth`'s option of that
   * name: MCP clients read it from the challenge of a 401 to find where to get a token.
   */
  resourceMetadata?: string
}

const AUTH_ERROR_HANDLER_OPTIONS = Object.keys({
  realm: true,
  resourceMetadata: true,
} as const satisfies OptionFlags<AuthErrorHandlerOptions>)

/**
 * An Express error handler for apps that route auth errors through `next(err)`: answers
 * `AuthError`s per RFC 6750 and passes anything else on, a `ConfigError` included (its text
 * describes the configuration: Express's final handler answers a generic 500).
 *
 * An option not given is taken from the `jwtAuth` that raised the error (its `onError` calling
 * `next(error)`): `authErrorHandler({ realm: 'api' })` keeps that `jwtAuth`'s `resourceMetadata`.
 *
 * @example app.use(authErrorHandler({ realm: 'api', resourceMetadata: metadata.url }))
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` for a realm a challenge cannot quote, a
 *   `resourceMetadata` that is not a usable URL in normal form, or an unknown option name
 *   (`resource_metadata`).
 */
export function authErrorHandler(options: AuthErrorHandlerOptions = {}) {
  refuseUncalledFactory('authErrorHandler', 'authErrorHandler()', options, 'error handler factory')
  const problems = new Problems()
  checkOptionNames(problems, 'authErrorHandler', options, AUTH_ERROR_HANDLER_OPTIONS)
  const { realm, resourceMetadata } = options ?? {}
  checkRealm(problems, 'realm', realm)
  if (resourceMetadata !== undefined) {
    checkUrl(problems, 'resourceMetadata', resourceMetadata, isProduction())
    checkNormalForm(problems, 'resourceMetadata', resourceMetadata)
  }
  problems.throwIfAny()
  return function oidcGuardErrorHandler(
    error: unknown,
    _req: Request,
    res: Response,
    next: NextFunction,
  ): void {
    if (isAuthError(error) && !res.headersSent && !isServerFault(error)) {
      sendAuthError(res, error, realm, resourceMetadata)
    } else next(error)
  }
}

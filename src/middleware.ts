// jwtAuth(): the Express glue over the verification pipeline; the per-request function only delegates.

import type { NextFunction, Request, RequestHandler, Response } from 'express'
import {
  bearerCandidate,
  checkTokenLocations,
  createTokenExtractor,
  type TokenCarrier,
  type TokenLocation,
  type TokenLocations,
} from './bearer.js'
import {
  createErrorResponder,
  defaultErrorResponder,
  type ErrorResponder,
  type OnAuthError,
} from './error-handler.js'
import { currentUserOf, installCurrentUser, readRequest, setCurrentUser } from './current-user.js'
import { resolveDisabled, warnDisabled, type DisabledOptions } from './disabled.js'
import { envOf } from './env.js'
import { AuthError, CredentialsRequiredError, InvalidTokenError } from './errors.js'
import type {} from './express-augment.js'
import { resolveLogger } from './logger.js'
import { keepPrivate } from './private-answer.js'
import {
  checkNormalForm,
  checkOptionNames,
  checkRealm,
  checkUrl,
  isProduction,
  Problems,
} from './options.js'
import { createVerifier, type Verifier } from './pipeline.js'
import { User } from './user.js'
import {
  type MIDDLEWARE_OPTION_NAMES,
  OPTION_NAMES,
  resolveLogLevel,
  type VerifierOptions,
} from './verifier-options.js'
import { warnOnce } from './warn-once.js'

/** Options of {@link jwtAuth}. */
export interface JwtAuthOptions extends VerifierOptions, DisabledOptions {
  /**
   * Answer 401 to requests without a token. Default `false`: they go on as the anonymous user.
   * CORS preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) go on as the
   * anonymous user either way, since browsers send them without credentials; any client can send
   * one, so guard handlers mounted with `app.all`/`app.use` (or mount CORS before authentication).
   */
  credentialsRequired?: boolean
  /**
   * What a bad token does. `'reject'` (default): 401 `invalid_token`. `'anonymous'`: the request
   * goes on as the anonymous user with the reason on `req.authError`, for pages that personalise
   * but must never break. Outages (503) and malformed headers (400) are answered either way.
   */
  invalidToken?: 'reject' | 'anonymous'
  /** The `realm` of the `WWW-Authenticate` challenge. */
  realm?: string
  /** Replaces the error response; call `next(error)` in it to hand errors to your own handler. */
  onError?: OnAuthError
  /** Other places a token may be read from; only the Authorization header by default. */
  tokenLocations?: TokenLocations
  /**
   * The URL of this API's protected resource metadata (RFC 9728), announced in every challenge
   * as `resource_metadata="…"`; `protectedResourceMetadata(...).url` gives it.
   */
  resourceMetadata?: string
}

// OPTION_NAMES, which both jwtAuth and createVerifier check keys against, is the verifier's options
// and MIDDLEWARE_OPTION_NAMES: those must be exactly the options above, or an option added here
// would be refused as a misspelling, or a name dropped here still accepted. A compile error if not.
type Unlisted = Exclude<
  keyof JwtAuthOptions,
  keyof VerifierOptions | (typeof MIDDLEWARE_OPTION_NAMES)[number]
>
type NotAnOption = Exclude<(typeof MIDDLEWARE_OPTION_NAMES)[number], keyof JwtAuthOptions>
const _namesMatchOptions: [Unlisted | NotAnOption] extends [never] ? true : never = true

// What earlierUser() answers for a user that basicAuth or apiKeyAuth signed in: no token to check.
const SIGNED_IN_WITHOUT_TOKEN = Symbol('signed in without a token')

/**
 * Who an earlier middleware signed in, for a jwtAuth that reads no token of its own on the
 * request: {@link SIGNED_IN_WITHOUT_TOKEN} for a user of basicAuth or apiKeyAuth (or of the
 * disabled switch), which goes on as it is; the bearer token of a user an earlier jwtAuth
 * verified, which this one must verify itself (its issuers, audience and rules may differ); else
 * `undefined`, as if no one were signed in: the anonymous user, and anything that is no `User`
 * (`{ isAuthenticated: true }` put there by other code vouches for nothing).
 */
function earlierUser(req: Request): string | typeof SIGNED_IN_WITHOUT_TOKEN | undefined {
  const user = currentUserOf(req)
  if (!(user instanceof User) || !user.isAuthenticated) return undefined
  const { token } = user
  if (token !== undefined) return token
  // The users of basicAuth and apiKeyAuth carry no claims; a user with claims but no token came
  // from a token no one kept (a provider's createUser that leaves it out): nothing to check it by.
  return user.claims.iss === undefined ? SIGNED_IN_WITHOUT_TOKEN : undefined
}

// Kept beside the request, not on it: a new own property of an Express request costs a new hidden
// class on every request (src/current-user.ts), a WeakMap entry far less.
const responders = new WeakMap<Request, ErrorResponder>()

/**
 * Makes `responder` the way errors are answered on this request (guards included): each
 * authentication middleware (`jwtAuth`, `basicAuth`, `apiKeyAuth`) sets its own.
 */
export function setErrorResponder(req: Request, responder: ErrorResponder): void {
  // The default is what a request without an entry gets, so most apps add no entry at all: a
  // WeakMap entry costs about 1,000 instructions per request, and the garbage collector's work on
  // the table besides. An entry an earlier middleware set is dropped, as a new one would replace it.
  if (responder === defaultErrorResponder) responders.delete(req)
  else responders.set(req, responder)
}

/** Answers `error` the way the `jwtAuth` that ran on this request would (its realm and `onError`). */
export function respondWithAuthError(
  error: AuthError,
  req: Request,
  res: Response,
  next: NextFunction,
): void {
  const respond = responders.get(req) ?? defaultErrorResponder
  respond(error, req, res, next)
}

/**
 * Every value of a request header, from the raw list so that a repeated header is seen
 * (`req.headers` keeps only the first Authorization header). `name` is lower case.
 */
export function headerValues(req: Request, name: string): readonly string[] | undefined {
  const raw = (readRequest(req, 'rawHeaders') as string[] | undefined) ?? []
  let first: string | undefined
  let values: string[] | undefined
  for (let index = 0; index < raw.length; index += 2) {
    if (!isHeaderName(raw[index]!, name)) continue
    if (first === undefined) first = raw[index + 1]!
    else (values ??= [first]).push(raw[index + 1]!)
  }
  if (values !== undefined) return values
  // One header at most: req.headers is the truth (adapters such as serverless-http leave
  // rawHeaders empty, and a gateway middleware may have rewritten the value).
  const value = (readRequest(req, 'headers') as Request['headers'])[name]
  if (value === undefined) return undefined
  return typeof value === 'string' ? [value] : value
}

/** Whether a raw header field is `name` (lower case), ignoring ASCII case, without a new string. */
function isHeaderName(field: string, name: string): boolean {
  if (field.length !== name.length) return false
  for (let index = 0; index < name.length; index += 1) {
    let code = field.charCodeAt(index)
    if (code >= 0x41 && code <= 0x5a) code += 0x20
    if (code !== name.charCodeAt(index)) return false
  }
  return true
}

/**
 * `tokenLocations.formBody` reads what a body parser put on `req.body`: with none before jwtAuth,
 * a form's token is never seen and the request goes on as anonymous. Said once per process as a
 * Node.js warning, visible whatever the log level.
 */
function warnUnparsedBody(): void {
  warnOnce(
    'OIDC_GUARD_FORM_BODY_UNPARSED',
    'tokenLocations.formBody is on but a form request reached jwtAuth unparsed (no body parser read it): mount express.urlencoded() before jwtAuth, or its access_token is not read',
  )
}

/**
 * Whether no body parser read this form. `req.body === undefined` is not the sign: body-parser 1.x
 * (Express 4) sets `req.body = {}` in every parser it runs, `express.json()` included, whatever the
 * content type. A parser that read the body leaves a mark instead: body-parser 1.x sets `req._body`,
 * and any parser (body-parser 2.x sets no flag) leaves the request stream ended. A body with fields
 * was parsed by someone (an adapter that hands the app a parsed body), whatever the stream says.
 */
function formUnparsed(req: Request): boolean {
  if (readRequest(req, '_body') === true || readRequest(req, 'readableEnded') === true) return false
  const body = readRequest(req, 'body')
  return typeof body !== 'object' || body === null || Object.keys(body).length === 0
}

// RFC 6750 §2.2: a token in the form body only with a method whose body has defined semantics
// (RFC 9110: POST, PUT, PATCH); "the GET method MUST NOT be used". Elsewhere the body is not read.
const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH'])

function carrierOf(
  req: Request,
  authorization: readonly string[] | undefined,
  locations: TokenLocations,
): TokenCarrier {
  const carrier: TokenCarrier = { authorization }
  if (locations.query !== undefined && locations.query !== false) carrier.query = req.query
  if (
    locations.formBody === true &&
    BODY_METHODS.has(req.method) &&
    req.is('application/x-www-form-urlencoded')
  ) {
    carrier.formBody = req.body
    if (formUnparsed(req)) warnUnparsedBody()
  }
  if (locations.cookie !== undefined) carrier.cookieHeader = req.headers.cookie
  return carrier
}

/** Whether a request is a browser's CORS preflight. */
export function isPreflight(req: Request): boolean {
  // A browser's CORS preflight never carries credentials; refusing it would break the real request.
  // It goes on as the anonymous user, so guards still refuse it: only a handler with no guard that
  // also answers OPTIONS (app.all, router.use) would run for it. A browser always sends Origin with
  // it (Fetch standard); an OPTIONS request without one is no preflight and is authenticated.
  // req.headers is built on first read: only an OPTIONS request pays for it here.
  return (
    req.method === 'OPTIONS' &&
    req.headers['access-control-request-method'] !== undefined &&
    req.headers.origin !== undefined
  )
}

function checkOptions(problems: Problems, options: JwtAuthOptions): void {
  const { realm, invalidToken, onError, credentialsRequired } = options
  checkRealm(problems, 'realm', realm)
  if (invalidToken !== undefined && invalidToken !== 'reject' && invalidToken !== 'anonymous') {
    problems.add(`invalidToken must be 'reject' or 'anonymous'`)
  }
  if (onError !== undefined && typeof onError !== 'function')
    problems.add('onError must be a function')
  checkTokenLocations(problems, options.tokenLocations)
  const { resourceMetadata } = options
  if (resourceMetadata !== undefined) {
    // An env option replaces process.env for reading settings, not for knowing where we run:
    // either one saying production applies production's check.
    const production = isProduction(process.env) || isProduction(envOf(options.env))
    checkUrl(problems, 'resourceMetadata', resourceMetadata, production)
    // It goes into the challenge as a quoted string, which only ASCII survives.
    checkNormalForm(problems, 'resourceMetadata', resourceMetadata)
  }
  if (credentialsRequired !== undefined && typeof credentialsRequired !== 'boolean') {
    problems.add('credentialsRequired must be true or false')
  }
  // Letting a bad token through as anonymous would let any junk token past credentialsRequired.
  if (credentialsRequired === true && invalidToken === 'anonymous') {
    problems.add(
      `credentialsRequired: true and invalidToken: 'anonymous' contradict each other; choose one`,
    )
  }
}

/**
 * Authenticates every request with a bearer token and sets `req.currentUser`. A request without a
 * token goes on as the anonymous user (or is answered 401 with `credentialsRequired`); a bad token
 * is answered 401 `invalid_token`; a malformed `Authorization` header 400 `invalid_request`; an
 * unreachable key set 503. Never a 500 for anything a client sends.
 *
 * @example
 * app.use(jwtAuth({ provider: new OidcProvider({ issuer, audience: 'orders-api' }) }))
 * app.get('/orders', requireUser(), (req, res) => res.json({ user: req.currentUser.id }))
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` at construction, listing every invalid option, and
 *   every unknown one (`credentialRequired`, misspelt, would otherwise leave routes public).
 */
export function jwtAuth(
  options: JwtAuthOptions,
): RequestHandler & { verifier: Verifier | undefined } {
  const problems = new Problems()
  checkOptionNames(problems, 'jwtAuth', options, OPTION_NAMES)
  checkOptions(problems, options ?? {})
  const disabled = resolveDisabled(problems, options ?? {})
  // Disabled, no verifier checks the level (createVerifier does otherwise, with its own options).
  if (disabled) resolveLogLevel(problems, options ?? {})
  problems.throwIfAny()
  if (disabled) return disabledMiddleware(options ?? {}, 'jwtAuth')
  installCurrentUser()
  const verify = createVerifier(options)
  const locations = options.tokenLocations ?? {}
  const extract = createTokenExtractor(locations)
  // With another place to read a token from, a request must be parsed whole: a second token there
  // is a 400, whatever the header holds.
  const headerOnly =
    !locations.query && locations.formBody !== true && locations.cookie === undefined
  const respond = createErrorResponder(options.realm, options.onError, options.resourceMetadata)
  const credentialsRequired = options.credentialsRequired === true
  const anonymousOnInvalid = options.invalidToken === 'anonymous'

  function jwtAuthMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (isPreflight(req)) return proceed(req, User.anonymous, next)
    const authorization = headerValues(req, 'authorization')
    // Most requests carry a token verified before: it is looked up before the header is parsed.
    const candidate =
      headerOnly && authorization?.length === 1 ? bearerCandidate(authorization[0]!) : undefined
    const early = candidate === undefined ? undefined : verify.fromCache(candidate)
    if (early !== undefined) return proceed(req, early, next)
    // Each outcome sets req.currentUser once (every assignment costs, docs/performance.md): the
    // anonymous user wherever the request is answered or goes on without a verified one.
    let token: string | undefined
    let foundIn: TokenLocation | undefined
    try {
      const carrier = carrierOf(req, authorization, locations)
      token = extract(carrier)
      foundIn = carrier.foundIn
    } catch (error) {
      // Only our errors are answered here; anything else (a throwing query parser) is the app's.
      if (error instanceof AuthError) return reject(error, req, res, next)
      return fail(error, req, next)
    }
    // Only a token from the query, a form or a cookie (src/private-answer.ts): a header token pays nothing for it.
    if (foundIn !== undefined) keepPrivate(res, foundIn === 'cookie' ? 'Cookie' : undefined)
    if (token === undefined) {
      const earlier = earlierUser(req)
      // Stacked after basicAuth or apiKeyAuth, which authenticated the request: it goes on as that
      // user, answered as that middleware answers, as they let a bearer user through. A bearer
      // token, when one is sent, is verified and decides.
      if (earlier === SIGNED_IN_WITHOUT_TOKEN) return next()
      if (earlier === undefined) {
        if (credentialsRequired) return reject(new CredentialsRequiredError(), req, res, next)
        return proceed(req, User.anonymous, next)
      }
      // An earlier jwtAuth's token, read where this one does not look (a cookie, say): its
      // issuer, audience and rules are not this one's, so this one verifies it as if sent here.
      token = earlier
    }
    if (token === candidate) {
      // The very string looked up above: verify, which knows that string just missed, then skips
      // the lookup with an identity check instead of comparing its 800 characters again.
      token = candidate
    } else {
      const remembered = verify.fromCache(token)
      if (remembered !== undefined) return proceed(req, remembered, next)
    }
    verify(token)
      .then(
        (user) => proceed(req, user, next),
        (error: unknown) => {
          if (!(error instanceof AuthError)) return fail(error, req, next)
          if (anonymousOnInvalid && error instanceof InvalidTokenError) {
            req.authError = error
            return proceed(req, User.anonymous, next)
          }
          reject(error, req, res, next)
        },
      )
      // A throw while answering (a response wrapper that throws, a read-only req.currentUser)
      // would otherwise be an unhandled rejection, which ends the process: Express's error
      // handlers answer it instead, on both majors, as the guards do.
      .catch(next)
  }

  // Each outcome names this middleware's way of answering errors for the guards after it (set
  // here rather than on entry, so that a request another middleware authenticated keeps its own).
  function proceed(req: Request, user: User, next: NextFunction): void {
    setErrorResponder(req, respond)
    setCurrentUser(req, user)
    next()
  }

  function reject(error: AuthError, req: Request, res: Response, next: NextFunction): void {
    setErrorResponder(req, respond)
    setCurrentUser(req, User.anonymous)
    respond(error, req, res, next)
  }

  function fail(error: unknown, req: Request, next: NextFunction): void {
    setErrorResponder(req, respond)
    setCurrentUser(req, User.anonymous)
    next(error)
  }
  return Object.assign(jwtAuthMiddleware, { verifier: verify as Verifier | undefined })
}

/**
 * The middleware of the disabled switch: no verification at all; every request is the synthetic
 * user, which every guard lets through. It warns once, at construction, where the logs will show it.
 *
 * @throws {ConfigError} when the log level (`logLevel`, else `AUTH_MIDDLEWARE_LOG_LEVEL`) is not
 *   one pino knows: authentication switched off is the one thing its warning must be seen for.
 */
export function disabledMiddleware(
  options: {
    logger?: JwtAuthOptions['logger']
    logLevel?: JwtAuthOptions['logLevel']
    env?: JwtAuthOptions['env']
    disabled?: unknown
  },
  name: string,
): RequestHandler & { verifier: undefined } {
  const problems = new Problems()
  const level = resolveLogLevel(problems, options)
  problems.throwIfAny()
  warnDisabled(
    resolveLogger(options.logger, level),
    name,
    options.disabled === true ? 'option' : 'env',
  )
  installCurrentUser()
  const respond = createErrorResponder(undefined, undefined)
  function authDisabled(req: Request, _res: Response, next: NextFunction): void {
    setErrorResponder(req, respond)
    setCurrentUser(req, User.synthetic())
    next()
  }
  return Object.assign(authDisabled, { verifier: undefined })
}

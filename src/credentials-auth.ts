// What basicAuth and apiKeyAuth share: their common options and checks, and the request path of a
// credentials middleware (read the credentials, look them up within a time-out, set the user or
// answer 400/401/503 as jwtAuth does), each middleware bringing its own reader and authenticator.

import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type {
  GroupsProvider,
  PermissionsProvider,
  ProfileProvider,
  RolesProvider,
} from './contracts.js'
import { MalformedRecordError } from './credentials.js'
import type { DisabledOptions } from './disabled.js'
import { Enrichment } from './enrichment.js'
import { checkSources } from './enrichment-options.js'
import type { Env } from './env.js'
import { createChallengeResponder, type OnAuthError } from './error-handler.js'
import {
  AuthError,
  CredentialsRequiredError,
  credentialsUnavailable,
  UnavailableError,
  type AuthChallenge,
} from './errors.js'
import {
  LOG_LEVELS,
  logLevelProblem,
  resolveLogger,
  safeError,
  type Logger,
  type LogLevel,
} from './logger.js'
import { currentUserOf, installCurrentUser, readRequest, setCurrentUser } from './current-user.js'
import {
  disabledMiddleware,
  isPreflight,
  respondWithAuthError,
  setErrorResponder,
} from './middleware.js'
import { checkRealm, checkTimeout, type OptionFlags, type Problems } from './options.js'
import { User, type UserSources } from './user.js'

/** Options every credentials middleware (`basicAuth`, `apiKeyAuth`) shares with `jwtAuth`. */
export interface CredentialsAuthOptions extends DisabledOptions {
  /**
   * The `realm` of the challenge. Default: `api` for `basicAuth` (RFC 7617 §2 requires one), none
   * for `apiKeyAuth`.
   */
  realm?: string
  /** Answer 401 to requests without credentials. Default `false`: they go on as the anonymous user. */
  credentialsRequired?: boolean
  /** Replaces the error response; call `next(error)` in it to hand errors to your own handler. */
  onError?: OnAuthError
  /** Source of `user.groups`; wins over the lists stored with the credentials. */
  groups?: GroupsProvider
  /** Source of `user.roles`; wins over the stored list. */
  roles?: RolesProvider
  /** Source of `user.permissions`; wins over the stored list. */
  permissions?: PermissionsProvider
  /** Source of `user.profile`. */
  profile?: ProfileProvider
  /** Longest wait for a source, in milliseconds; past it the facet answers 503. Default 5000. */
  sourceTimeoutMs?: number
  /**
   * Longest wait for the credentials repository (`basicAuth`'s `credentialsRepository`,
   * `apiKeyAuth`'s `repository`), in milliseconds; past it the request answers 503 with
   * `Retry-After`, as when the repository throws. Default 5000.
   */
  repositoryTimeoutMs?: number
  /** A pino logger to write to (a child is used), or `false` for none. Default: a new pino logger. */
  logger?: Logger | false
  /** Level of the logger oidc-guard creates. Default `AUTH_MIDDLEWARE_LOG_LEVEL`, else `info`. */
  logLevel?: LogLevel
  /** The environment read for defaults. Default `process.env`. */
  env?: Env
}

// Every option of each middleware; the compiler keeps the lists and the interfaces in step. A
// misspelt option is refused, never ignored: ignored, it falls back to its default, often the open
// one (`credentialRequired: true` leaves the routes public).
/** Every option each credentials middleware takes (see {@link CredentialsAuthOptions}). */
export const CREDENTIALS_AUTH_OPTIONS = {
  realm: true,
  credentialsRequired: true,
  onError: true,
  groups: true,
  roles: true,
  permissions: true,
  profile: true,
  sourceTimeoutMs: true,
  repositoryTimeoutMs: true,
  logger: true,
  logLevel: true,
  env: true,
  disabled: true,
  allowDisabledInProduction: true,
} as const satisfies OptionFlags<CredentialsAuthOptions>
const DEFAULT_REPOSITORY_TIMEOUT_MS = 5_000

/** Checks the options every credentials middleware shares. */
export function checkCredentialsAuthOptions(
  problems: Problems,
  options: CredentialsAuthOptions,
): void {
  const { realm, onError, credentialsRequired, logLevel } = options
  checkRealm(problems, 'realm', realm)
  if (onError !== undefined && typeof onError !== 'function') {
    problems.add('onError must be a function')
  }
  if (credentialsRequired !== undefined && typeof credentialsRequired !== 'boolean') {
    problems.add('credentialsRequired must be true or false')
  }
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel)) {
    problems.add(`logLevel must be one of ${LOG_LEVELS.join(', ')}`)
  }
  const levelProblem = logLevelProblem(options.logger, logLevel)
  if (levelProblem !== undefined) problems.add(levelProblem)
  const { groups, roles, permissions, profile } = options
  checkSources(problems, { groups, roles, permissions, profile })
  checkTimeout(problems, 'sourceTimeoutMs', options.sourceTimeoutMs)
  checkTimeout(problems, 'repositoryTimeoutMs', options.repositoryTimeoutMs)
}

/** What a credentials middleware resolves once: its logger, responder and wrapped sources. */
export interface CredentialsAuthBase {
  readonly logger: Logger
  readonly challenge: AuthChallenge
  readonly sources: UserSources
  readonly credentialsRequired: boolean
  /**
   * Asks the repository (`what` names it in the log), bounded by `repositoryTimeoutMs`: a throw
   * or a hang is `ERR_AUTH_CREDENTIALS_UNAVAILABLE` (503), never a 401 nor a request left waiting.
   */
  askRepository<T>(what: string, call: () => T | PromiseLike<T>): Promise<T>
  /**
   * Checks and copies the repository's answer with `read`: a malformed record, or a read that
   * throws (an ORM's lazy getter, a Proxy), is `ERR_AUTH_CREDENTIALS_UNAVAILABLE` (503), logged
   * with the field at fault (a {@link MalformedRecordError}'s problem) or the error thrown.
   */
  readAnswer<T>(what: string, read: () => T): T
  /**
   * Runs a request through the shared steps; `read` extracts the credentials (or throws), and
   * `authenticate` resolves to the user, or to `undefined` when the credentials turn out not to be
   * this middleware's after all (then the request goes on as one without credentials).
   */
  handle<C>(
    req: Request,
    res: Response,
    next: NextFunction,
    read: (req: Request) => C | undefined,
    authenticate: (credentials: C) => Promise<User | undefined>,
  ): void
}

/**
 * Resolves what `basicAuth` and `apiKeyAuth` share (after their options were checked) and the
 * request flow they share: a user an earlier middleware authenticated passes untouched; otherwise
 * no credentials → anonymous (or 401), malformed → 400, wrong → 401, store down → 503.
 */
export function credentialsAuthBase(
  options: CredentialsAuthOptions,
  challenge: AuthChallenge,
  level: LogLevel,
): CredentialsAuthBase {
  const logger = resolveLogger(options.logger, level)
  const { groups, roles, permissions, profile, sourceTimeoutMs } = options
  const enrichment = new Enrichment(
    sourceTimeoutMs === undefined
      ? { sourceCache: false }
      : { sourceCache: false, sourceTimeoutMs },
    logger,
  )
  const sources = enrichment.wrap({ groups, roles, permissions, profile })
  installCurrentUser()
  const respond = createChallengeResponder(challenge, options.onError)
  const credentialsRequired = options.credentialsRequired === true
  const repositoryTimeoutMs = options.repositoryTimeoutMs ?? DEFAULT_REPOSITORY_TIMEOUT_MS

  async function askRepository<T>(what: string, call: () => T | PromiseLike<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the ${what} did not answer within ${repositoryTimeoutMs} ms`)),
        repositoryTimeoutMs,
      )
      timer.unref?.()
    })
    try {
      // A synchronous throw is the repository failing too; race() also handles a late rejection.
      return await Promise.race([new Promise<T>((resolve) => resolve(call())), timedOut])
    } catch (error) {
      logger.warn({ err: safeError(error) }, `${what} failed; answering 503`)
      throw credentialsUnavailable(error)
    } finally {
      clearTimeout(timer)
    }
  }

  function readAnswer<T>(what: string, read: () => T): T {
    try {
      return read()
    } catch (thrown) {
      // checkedRecord wraps its failures already; whatever else a read throws is wrapped here.
      const error = thrown instanceof UnavailableError ? thrown : credentialsUnavailable(thrown)
      const cause: unknown = error.cause
      if (cause instanceof MalformedRecordError) {
        logger.error(
          { problem: cause.problem },
          `${what} returned a malformed record: %s; answering 503`,
          cause.problem,
        )
      } else {
        logger.warn(
          { err: safeError(cause) },
          `${what} returned a record that cannot be read; answering 503`,
        )
      }
      throw error
    }
  }

  function handle<C>(
    req: Request,
    res: Response,
    next: NextFunction,
    read: (req: Request) => C | undefined,
    authenticate: (credentials: C) => Promise<User | undefined>,
  ): void {
    // Stacked after jwtAuth (or another credentials middleware) that already authenticated. Only
    // an oidc-guard User: `{ isAuthenticated: true }` set by other code vouches for nothing.
    const earlier = currentUserOf(req)
    if (earlier instanceof User && earlier.isAuthenticated) return next()
    setCurrentUser(req, User.anonymous)
    if (isPreflight(req)) return withoutCredentials(req, res, next, false)
    let credentials: C | undefined
    try {
      credentials = read(req)
    } catch (error) {
      setErrorResponder(req, respond)
      if (!(error instanceof AuthError)) return next(error)
      return reject(error, req, res, next)
    }
    if (credentials === undefined) {
      return withoutCredentials(req, res, next, credentialsRequired)
    }
    authenticate(credentials)
      .then(
        (user) => {
          // Not this middleware's credentials: the responder an earlier jwtAuth set may still answer.
          if (user === undefined) return withoutCredentials(req, res, next, credentialsRequired)
          setErrorResponder(req, respond)
          setCurrentUser(req, user)
          next()
        },
        (error: unknown) => {
          setErrorResponder(req, respond)
          if (!(error instanceof AuthError)) return next(error)
          reject(error, req, res, next)
        },
      )
      // A throw while answering (a response wrapper that throws, a read-only req.currentUser)
      // would otherwise be an unhandled rejection, which ends the process: Express answers it.
      .catch(next)
  }

  function withoutCredentials(
    req: Request,
    res: Response,
    next: NextFunction,
    required: boolean,
  ): void {
    // A bearer token that an earlier jwtAuth refused under invalidToken: 'anonymous' is this
    // request's credentials: guards must answer with jwtAuth's error="invalid_token", which OAuth
    // clients act on, not this scheme's challenge (a browser's password prompt, for Basic).
    // Under credentialsRequired too: the answer is jwtAuth's, through the responder it set.
    const authError = readRequest(req, 'authError') as AuthError | undefined
    if (authError === undefined) setErrorResponder(req, respond)
    if (!required) return next()
    if (authError !== undefined) return respondWithAuthError(authError, req, res, next)
    respond(new CredentialsRequiredError(), req, res, next)
  }

  function reject(error: AuthError, req: Request, res: Response, next: NextFunction): void {
    // The code and the fixed description only: never the header, the username or the password.
    if (logger.isLevelEnabled('debug')) {
      logger.debug(
        { code: error.code, scheme: challenge.scheme },
        'credentials rejected: %s',
        error.description,
      )
    }
    respond(error, req, res, next)
  }
  return { logger, challenge, sources, credentialsRequired, askRepository, readAnswer, handle }
}

/**
 * The disabled switch (`disabled` or `AUTH_MIDDLEWARE_DISABLED`): every request, and every call
 * of `authenticate`, is the synthetic user; a warning is logged once, at construction.
 */
export function disabledCredentialsAuth<A extends unknown[]>(
  options: CredentialsAuthOptions,
  name: string,
): RequestHandler & { authenticate(...args: A): Promise<User> } {
  const middleware = disabledMiddleware(options, name)
  return Object.assign(middleware, { authenticate: async () => User.synthetic() })
}

/** Each facet: the explicit source, else the list stored with the credentials (never cached). */
export function sourcesWithStoredLists(
  explicit: UserSources,
  stored: {
    groups?: readonly string[] | undefined
    roles?: readonly string[] | undefined
    permissions?: readonly string[] | undefined
  },
): UserSources {
  const { groups, roles, permissions } = stored
  return {
    groups: explicit.groups ?? (groups && { fromToken: true, fetchGroups: () => groups }),
    roles: explicit.roles ?? (roles && { fromToken: true, fetchRoles: () => roles }),
    permissions:
      explicit.permissions ??
      (permissions && { fromToken: true, fetchPermissions: () => permissions }),
    profile: explicit.profile,
  }
}

// basicAuth(): HTTP Basic authentication (RFC 7617) against a CredentialsRepository, Express glue.

import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type {
  GroupsProvider,
  PermissionsProvider,
  ProfileProvider,
  RolesProvider,
} from './contracts.js'
import {
  checkedRecord,
  MalformedRecordError,
  parseBasicAuthorization,
  type BasicCredentials,
  type CredentialsRepository,
  type UserCredentials,
} from './credentials.js'
import { resolveDisabled, type DisabledOptions } from './disabled.js'
import { Enrichment } from './enrichment.js'
import { checkSources } from './enrichment-options.js'
import { readLogLevel, type Env } from './env.js'
import { createChallengeResponder, type OnAuthError } from './error-handler.js'
import {
  AuthError,
  basicChallenge,
  CredentialsInvalidError,
  CredentialsRequiredError,
  credentialsUnavailable,
  InvalidRequestError,
  UnavailableError,
  type AuthChallenge,
} from './errors.js'
import type {} from './express-augment.js'
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
  headerValues,
  isPreflight,
  respondWithAuthError,
  setErrorResponder,
} from './middleware.js'
import {
  checkCacheBounds,
  checkOptionNames,
  checkRealm,
  checkTimeout,
  Problems,
  type OptionFlags,
} from './options.js'
import {
  decoyHash,
  hashCostProblem,
  HashRefusedError,
  hashWork,
  isUnicodeText,
  parsePasswordHash,
  verifyParsedHash,
  VerifiedPasswordCache,
  type ParsedPasswordHash,
  type SaltedPasswordHash,
  type VerifiedPasswordCacheOptions,
} from './passwords.js'
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

/** Options of {@link basicAuth}. */
export interface BasicAuthOptions extends CredentialsAuthOptions {
  /** Where users and their password hashes are looked up. */
  credentialsRepository: CredentialsRepository
  /**
   * Remember successful checks for a while, so a client sending its password on every request
   * pays the hash once (keyed by an HMAC under a per-process random key; the password is never
   * kept). Failures are never remembered, and a changed stored hash misses at once. Concurrent
   * requests with the same credentials share the check in flight. `false` turns both off.
   * Default `{ ttlMs: 300_000, max: 1_000 }`.
   */
  verifiedCache?: VerifiedPasswordCacheOptions | false
  /**
   * Accept the seed's legacy unsalted SHA-256 hex digests. Default `false`.
   *
   * **Warning:** weak (fast to crack, no salt, and its fast check lets response times tell those
   * users apart). Only to migrate old files: rehash every password with `hashPassword`.
   */
  allowLegacySha256?: boolean
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
const BASIC_AUTH_OPTIONS = Object.keys({
  ...CREDENTIALS_AUTH_OPTIONS,
  credentialsRepository: true,
  verifiedCache: true,
  allowLegacySha256: true,
} as const satisfies OptionFlags<BasicAuthOptions>)
const VERIFIED_CACHE_OPTIONS = Object.keys({
  ttlMs: true,
  max: true,
} as const satisfies OptionFlags<VerifiedPasswordCacheOptions>)

const WARN_ONCE_LIMIT = 1_000
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

/**
 * Authenticates requests with HTTP Basic credentials (RFC 7617) checked against a
 * {@link CredentialsRepository}, and sets `req.currentUser` (provider `basic`). The same model as
 * `jwtAuth`: no `Basic` credentials (including a `Bearer` header) → the anonymous user, or 401 with
 * `credentialsRequired`, so guards decide; a wrong password or an unknown user → 401
 * `invalid_credentials` with one description for both and `WWW-Authenticate: Basic realm="…",
 * charset="UTF-8"`; malformed credentials or two `Authorization` headers → 400; a failing
 * repository → 503. Guards downstream answer with the Basic challenge too.
 *
 * An unknown user costs the same hash as a known one (a decoy with the highest cost seen), passwords
 * are compared with `crypto.timingSafeEqual`, and hashes run on the thread pool. Credentials are
 * never logged. Mounted after `jwtAuth`, a request `jwtAuth` authenticated passes untouched.
 *
 * **Warning:** Basic credentials are a password on every request: serve only over HTTPS. There is
 * no lockout: put a rate limiter in front of routes that accept passwords.
 *
 * @example
 * app.use(basicAuth({ credentialsRepository: new JsonCredentialsRepository({ path: 'users.json' }), realm: 'api' }))
 * app.get('/admin', requireGroups(['admin']), handler)
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` at construction, listing every invalid option and every
 *   option name it does not know (a misspelling would leave its default, often the open one).
 */
export function basicAuth(
  options: BasicAuthOptions,
): RequestHandler & { authenticate(username: string, password: string): Promise<User> } {
  const problems = new Problems()
  const given = options ?? ({} as BasicAuthOptions)
  checkOptionNames(problems, 'basicAuth', given, BASIC_AUTH_OPTIONS)
  checkCredentialsAuthOptions(problems, given)
  const repository: unknown = given.credentialsRepository
  if (
    typeof repository !== 'object' ||
    repository === null ||
    typeof (repository as CredentialsRepository).getCredentials !== 'function'
  ) {
    problems.add(
      'credentialsRepository is required: an object with getCredentials(username), such as new JsonCredentialsRepository({ path })',
    )
  }
  const { verifiedCache, allowLegacySha256 } = given
  // A string such as 'false' must not turn unsalted hashes on: only true does, so only booleans.
  if (allowLegacySha256 !== undefined && typeof allowLegacySha256 !== 'boolean') {
    problems.add('allowLegacySha256 must be true or false')
  }
  if (verifiedCache !== undefined && verifiedCache !== false) {
    if (typeof verifiedCache !== 'object' || verifiedCache === null) {
      problems.add('verifiedCache must be { ttlMs, max } or false')
    } else {
      checkOptionNames(problems, 'basicAuth verifiedCache', verifiedCache, VERIFIED_CACHE_OPTIONS)
      checkCacheBounds(problems, 'verifiedCache', verifiedCache)
    }
  }
  const level = given.logLevel ?? readLogLevel(given.env ?? process.env, problems)
  const disabled = resolveDisabled(problems, given)
  problems.throwIfAny()
  if (disabled) return disabledCredentialsAuth(given, 'basicAuth')

  const base = credentialsAuthBase(given, basicChallenge(given.realm), level)
  const authenticate = createBasicAuthenticator(given, base)
  function basicAuthMiddleware(req: Request, res: Response, next: NextFunction): void {
    base.handle(req, res, next, readBasic, ({ username, password }) =>
      authenticate(username, password),
    )
  }
  return Object.assign(basicAuthMiddleware, { authenticate })
}

function readBasic(req: Request): BasicCredentials | undefined {
  const values = headerValues(req, 'authorization')
  if (values === undefined) return undefined
  if (values.length > 1) throw new InvalidRequestError('more than one Authorization header')
  return parseBasicAuthorization(values[0]!)
}

/**
 * Refuses, as the header path refuses malformed credentials (400), what no `Basic` header can
 * carry: a value that is not a string, or text with a lone surrogate (no UTF-8 encodes it).
 */
function checkCredentialText(username: unknown, password: unknown): void {
  if (typeof username !== 'string' || typeof password !== 'string') {
    throw new InvalidRequestError('malformed Basic credentials')
  }
  if (!isUnicodeText(username) || !isUnicodeText(password)) {
    throw new InvalidRequestError('Basic credentials are not valid Unicode')
  }
}

function createBasicAuthenticator(
  options: BasicAuthOptions,
  base: CredentialsAuthBase,
): (username: string, password: string) => Promise<User> {
  const { credentialsRepository: repository } = options
  const allowLegacySha256 = options.allowLegacySha256 === true
  const { logger, challenge, sources } = base
  const cache =
    options.verifiedCache === false ? undefined : new VerifiedPasswordCache(options.verifiedCache)
  const warned = new Set<string>()
  // Checks in flight by cache key: at most one per concurrent request, each removed as it settles.
  const inFlight = new Map<string, Promise<boolean | HashRefusedError>>()
  // Unknown users are checked against a decoy as costly as the costliest known hash seen so far
  // (the default stands in until the first). From then on it only rises: no order of requests can
  // set it back to the cost of a user an attacker picked, to compare unknown names with that user.
  let decoy: ParsedPasswordHash = decoyHash()
  let decoyFromStore = false

  function raiseDecoy(known: SaltedPasswordHash): void {
    if (decoyFromStore && hashWork(known) <= hashWork(decoy)) return
    decoy = decoyHash(known)
    decoyFromStore = true
  }

  function warnOnce(id: string, problem: string): void {
    if (warned.has(id) || warned.size >= WARN_ONCE_LIMIT) return
    warned.add(id)
    logger.error(
      { user: id },
      'stored password hash of this user %s; the user cannot log in',
      problem,
    )
  }

  /** Verifies against `hash`; a hash the crypto library refuses answers the refusal, not a 500. */
  async function verifyOrRefusal(
    password: string,
    hash: ParsedPasswordHash,
  ): Promise<boolean | HashRefusedError> {
    try {
      return await verifyParsedHash(password, hash)
    } catch (error) {
      if (error instanceof HashRefusedError) return error
      throw error
    }
  }

  /**
   * Verifies against `target`, or the decoy: the same work whether the user is unknown or its
   * hash unusable. A hash the crypto library refuses costs the decoy's work too, as a wrong
   * password would.
   */
  async function check(
    password: string,
    target: ParsedPasswordHash | undefined,
  ): Promise<boolean | HashRefusedError> {
    const outcome = await verifyOrRefusal(password, target ?? decoy)
    if (outcome instanceof HashRefusedError && target !== undefined) {
      await verifyOrRefusal(password, decoy)
    }
    return outcome
  }

  /**
   * {@link check}, once for concurrent requests with the same credentials (the same cache key):
   * they await the check in flight instead of each paying the hash. Its outcome, a failure
   * included, is shared only while it runs; it is forgotten once settled (only a success is then
   * remembered, by the caller, in the verified cache).
   */
  function checkOnce(
    key: string | undefined,
    password: string,
    target: ParsedPasswordHash | undefined,
  ): Promise<boolean | HashRefusedError> {
    if (key === undefined) return check(password, target)
    const running = inFlight.get(key)
    if (running !== undefined) return running
    const started = check(password, target).finally(() => inFlight.delete(key))
    inFlight.set(key, started)
    return started
  }

  async function lookUp(username: string): Promise<UserCredentials | undefined> {
    const answer: unknown = await base.askRepository('credentials repository', () =>
      repository.getCredentials(username),
    )
    return base.readAnswer('credentials repository', () => checkedRecord(answer))
  }

  return async function authenticate(username: string, password: string): Promise<User> {
    // Before the cache: its HMAC would read a lone surrogate as U+FFFD, another password.
    checkCredentialText(username, password)
    // An empty user-id names nobody, whatever a repository answers for it: refused as an unknown
    // user is, with the same decoy work.
    const record = username === '' ? undefined : await lookUp(username)
    const id = record && (record.id || record.username || username)
    let target: ParsedPasswordHash | undefined
    if (id !== undefined) {
      target = parsePasswordHash(record!.passwordHash)
      if (target === undefined) {
        const cost = hashCostProblem(record!.passwordHash)
        warnOnce(
          id,
          cost === undefined ? 'is not a recognised hash' : `is refused for its cost (${cost})`,
        )
      } else if (target.kind === 'sha256_legacy') {
        if (!allowLegacySha256) {
          warnOnce(id, 'is a legacy unsalted SHA-256 (set allowLegacySha256 or rehash it)')
          target = undefined
        }
      }
    }
    let verified: boolean
    // An unknown user (or an unusable hash) is keyed too, with no stored hash, only to share its
    // decoy check in flight: a known user's must not be the only ones concurrent requests share.
    const key = cache?.key(username, target === undefined ? '' : record!.passwordHash, password)
    if (target !== undefined && key !== undefined && cache!.has(key)) {
      verified = true
    } else {
      const outcome = await checkOnce(key, password, target)
      if (outcome instanceof HashRefusedError && target !== undefined) {
        const code = (outcome.cause as NodeJS.ErrnoException | undefined)?.code ?? 'error'
        warnOnce(id!, `is refused by crypto (${code})`)
        target = undefined
      }
      verified = outcome === true && target !== undefined
    }
    // Only a hash the crypto library took may set the decoy's cost: a refused one would make every
    // unknown user's check fail differently from a wrong password's.
    if (target !== undefined && target.kind !== 'sha256_legacy') raiseDecoy(target)
    if (!verified || record === undefined || target === undefined) {
      throw new CredentialsInvalidError(challenge, 'invalid username or password')
    }
    if (key !== undefined) cache!.add(key)
    const { name, email, scopes } = record
    return new User(
      { provider: 'basic' },
      { id: id!, name, email, scopes },
      sourcesWithStoredLists(sources, record),
    )
  }
}

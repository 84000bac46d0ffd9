// basicAuth(): HTTP Basic authentication (RFC 7617) against a CredentialsRepository, Express glue.

import type { NextFunction, Request, RequestHandler, Response } from 'express'
import {
  checkCredentialsAuthOptions,
  CREDENTIALS_AUTH_OPTIONS,
  credentialsAuthBase,
  disabledCredentialsAuth,
  sourcesWithStoredLists,
  type CredentialsAuthBase,
  type CredentialsAuthOptions,
} from './credentials-auth.js'
import {
  checkedRecord,
  parseBasicAuthorization,
  refuseControlCharacters,
  type BasicCredentials,
  type CredentialsRepository,
  type UserCredentials,
} from './credentials.js'
import { resolveDisabled } from './disabled.js'
import { readLogLevel } from './env.js'
import { basicChallenge, CredentialsInvalidError, InvalidRequestError } from './errors.js'
import { headerValues } from './middleware.js'
import { checkCacheBounds, checkOptionNames, Problems, type OptionFlags } from './options.js'
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
import { User } from './user.js'

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

// Users with a broken stored hash are logged once each, up to this many.
const WARN_ONCE_LIMIT = 1_000

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
 * carry: a value that is not a string, text with a lone surrogate (no UTF-8 encodes it) or a
 * control character, or a username with a colon (the header's first colon ends the username).
 * Before the repository is asked: a NUL would otherwise reach a database, which fails on it (a
 * 503 and a logged warning on every call, an outage anyone could fake).
 */
function checkCredentialText(username: unknown, password: unknown): void {
  if (typeof username !== 'string' || typeof password !== 'string') {
    throw new InvalidRequestError('malformed Basic credentials')
  }
  if (!isUnicodeText(username) || !isUnicodeText(password)) {
    throw new InvalidRequestError('Basic credentials are not valid Unicode')
  }
  refuseControlCharacters(username)
  refuseControlCharacters(password)
  if (username.includes(':')) {
    throw new InvalidRequestError('a Basic username cannot contain ":"')
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

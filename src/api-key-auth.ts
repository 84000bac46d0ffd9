// apiKeyAuth(): API keys in a header or an Authorization scheme, stored hashed, looked up in constant time.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import {
  checkCredentialsAuthOptions,
  CREDENTIALS_AUTH_OPTIONS,
  credentialsAuthBase,
  disabledCredentialsAuth,
  sourcesWithStoredLists,
  type CredentialsAuthOptions,
} from './credentials-auth.js'
import { readRequest } from './current-user.js'
import { repositoryKey, resolveKeys, type StoredKey } from './api-key-record.js'
import { resolveDisabled } from './disabled.js'
import { afterSpaces, trimOws } from './http-field.js'
import { headerValues } from './middleware.js'
import { readLogLevel } from './env.js'
import {
  CredentialsInvalidError,
  InvalidRequestError,
  type AuthChallenge,
  type ConfigError,
} from './errors.js'
import { checkOptionNames, Problems, type OptionFlags } from './options.js'
import { isUnicodeText } from './passwords.js'
import { keepPrivate } from './private-answer.js'
import { User } from './user.js'

/** One API key, as configured: who it stands for and what it may do. Never the key itself. */
export interface ApiKeyRecord {
  /** The principal's id, on `req.currentUser.id` (two keys may share one while you rotate). */
  readonly id: string
  /**
   * `hashApiKey(key)`: the SHA-256 of the key, 64 hex digits (lower case in `keys`; a
   * repository's may be upper case too).
   */
  readonly hash: string
  readonly name?: string | undefined
  readonly groups?: readonly string[] | undefined
  readonly roles?: readonly string[] | undefined
  readonly permissions?: readonly string[] | undefined
  /** Scopes the key grants, as a token's `scope` would (for `requireScopes`). */
  readonly scopes?: readonly string[] | undefined
  /**
   * When the key stops working: a `Date`, an ISO 8601 string (one without `Z` or an offset is
   * UTC, on every host), or seconds since the epoch. From then on it is refused as an unknown key
   * is (401).
   */
  readonly expiresAt?: Date | string | number | undefined
}

/**
 * Finds API keys by hash, for keys kept in a database: resolve to the record whose `hash` is the
 * given one, or `undefined`, also for a key that is revoked, expired or disabled (select only live
 * keys). Throw when the store cannot answer (503, never 401).
 *
 * Fail-safe besides, a record is refused (401, as an unknown key) when it carries `revoked: true`,
 * a `revokedAt` or `revoked_at` that is not null, an `expiresAt` or `expires_at` in the past,
 * `disabled: true` or `active: false` (`1` and `0` read as `true` and `false`).
 *
 * @example
 * const repository: ApiKeyRepository = {
 *   async getApiKey(hash) {
 *     const { rows } = await pool.query(
 *       'select id::text, name, hash, scopes from api_keys where hash = $1 and revoked_at is null and (expires_at is null or expires_at > now())',
 *       [hash],
 *     )
 *     return rows[0]
 *   },
 * }
 */
export interface ApiKeyRepository {
  getApiKey(hash: string): Promise<ApiKeyRecord | undefined> | ApiKeyRecord | undefined
}

/** Options of {@link apiKeyAuth}. */
export interface ApiKeyAuthOptions extends CredentialsAuthOptions {
  /** Read the key from this header (`x-api-key: <key>`). The default when no `scheme` is given. */
  header?: string
  /**
   * Read the key from `Authorization: <scheme> <key>` instead (`ApiKey`, matched without case).
   * Not `Basic`. `Bearer` works after `jwtAuth({ invalidToken: 'anonymous' })` (docs/basic-auth.md),
   * or alone, answering as RFC 6750 §3.1 says: `error="invalid_token"` for a refused key.
   */
  scheme?: string
  /**
   * The keys, as records with hashes; a field `ApiKeyRecord` does not have is refused. Give `keys`
   * or `repository`.
   */
  keys?: readonly ApiKeyRecord[]
  /** Where keys are looked up by hash. */
  repository?: ApiKeyRepository
}

// Every option of apiKeyAuth; a misspelt one (`headerName`, `credentialRequired`) is refused.
const API_KEY_AUTH_OPTIONS = Object.keys({
  ...CREDENTIALS_AUTH_OPTIONS,
  header: true,
  scheme: true,
  keys: true,
  repository: true,
} as const satisfies OptionFlags<ApiKeyAuthOptions>)
const GENERATE_API_KEY_OPTIONS = ['prefix']

const DEFAULT_HEADER = 'x-api-key'
// RFC 9110 §5.6.2: header names and auth-schemes are tokens.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const AUTH_SCHEME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/
// A key is a b64token (RFC 6750 §2.1): what generateApiKey makes, UUIDs and most vendors' formats.
const KEY = /^[A-Za-z0-9\-._~+/]+=*$/
// A JWS in compact form (RFC 7515 §7.1): under scheme Bearer, likely jwtAuth's token, not a key.
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
const MAX_KEY_LENGTH = 1_024
const PREFIX = /^[A-Za-z0-9_-]{0,32}$/

// Why SHA-256 and not PBKDF2 or scrypt: an API key is 256 random bits, not a password a person
// chose, so a guess costs 2^255 tries on average whatever the hash's speed; a slow hash would add
// nothing but a per-request cost. A fast, unsalted hash also lets a store find a key by its hash
// (a Map here, an index in a database) instead of trying every key. Keys people invent are weak:
// make them with generateApiKey().
function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

/** Why no request could ever present `key` (the header path answers it 400), with its likely cause. */
function unusableKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key === '') return 'key must be a non-empty string'
  if (/\s$/.test(key)) {
    return 'key ends with white space (a trailing newline from a file, a CR from a CRLF .env? trim it: readFileSync(path, "utf8").trim())'
  }
  if (!isUnicodeText(key)) return 'key has a lone surrogate (UTF-8 would hash U+FFFD instead)'
  if (key.length > MAX_KEY_LENGTH) return `key is longer than ${MAX_KEY_LENGTH} characters`
  if (!KEY.test(key)) {
    return 'key must be a b64token (A-Z a-z 0-9 - . _ ~ + / and trailing =; no spaces, CR or non-ASCII): no request can send it. Make keys with generateApiKey()'
  }
  return undefined
}

/**
 * The hash to store for an API key: SHA-256, 64 lower-case hex digits (the same as
 * `printf %s "$KEY" | sha256sum`).
 *
 * @example const record = { id: 'billing-service', hash: hashApiKey(process.env.BILLING_KEY!) }
 * @throws {TypeError} for a key no request can send, as `apiKeyAuth` would answer it 400 (the
 *   hash would match nothing): not a b64token (a trailing newline from a file, a CR from a CRLF
 *   `.env`, spaces, non-ASCII), a lone surrogate, over 1,024 characters, or not a non-empty string.
 */
export function hashApiKey(key: string): string {
  const problem = unusableKeyProblem(key)
  if (problem !== undefined) throw new TypeError(`hashApiKey: ${problem}`)
  return digestOf(key).toString('hex')
}

/**
 * Makes a new API key: 32 random bytes in base64url after an optional `prefix` (which helps
 * secret scanners and people tell keys apart), and the hash to store. Give the key to the client
 * once; keep only the hash.
 *
 * @example
 * const { key, hash } = generateApiKey({ prefix: 'og_' })
 * // key: 'og_Xq3…' (to the client), hash: '5e88…' (to the configuration)
 * @throws {TypeError} when `options` is not an object or has a name other than `prefix`, or when
 *   `prefix` is not up to 32 of A-Z a-z 0-9 _ -.
 */
export function generateApiKey(options: { prefix?: string } = {}): { key: string; hash: string } {
  checkGenerateOptions(options)
  const { prefix = '' } = options
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new TypeError('prefix must be up to 32 of the characters A-Z a-z 0-9 _ -')
  }
  const key = `${prefix}${randomBytes(32).toString('base64url')}`
  return { key, hash: hashApiKey(key) }
}

/** `generateApiKey('og_')` or `{ prefx }` would make a key without the prefix, without a word. */
function checkGenerateOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const hint =
      typeof options === 'string'
        ? `; write generateApiKey({ prefix: ${JSON.stringify(options)} })`
        : ''
    throw new TypeError(`generateApiKey options must be an object such as { prefix: 'og_' }${hint}`)
  }
  const problems = new Problems()
  checkOptionNames(problems, 'generateApiKey', options, GENERATE_API_KEY_OPTIONS)
  try {
    problems.throwIfAny()
  } catch (error) {
    // A TypeError, as for a bad prefix: this helper's one convention for a wrong argument.
    throw new TypeError((error as ConfigError).problems.join('; '))
  }
}

function checkKey(key: string): string | undefined {
  if (key === '') return undefined
  if (key.length > MAX_KEY_LENGTH) throw new InvalidRequestError('API key is too long')
  if (!KEY.test(key)) throw new InvalidRequestError('malformed API key')
  return key
}

function headerReader(name: string): (req: Request) => string | undefined {
  return (req) => {
    const values = headerValues(req, name)
    if (values === undefined) return undefined
    if (values.length > 1) throw new InvalidRequestError(`more than one ${name} header`)
    return checkKey(trimOws(values[0]!))
  }
}

function schemeReader(scheme: string): (req: Request) => string | undefined {
  const lower = scheme.toLowerCase()
  const bearer = lower === 'bearer'
  return (req) => {
    const values = headerValues(req, 'authorization')
    if (values === undefined) return undefined
    if (values.length > 1) throw new InvalidRequestError('more than one Authorization header')
    const header = trimOws(values[0]!)
    const found = AUTH_SCHEME.exec(header)?.[0]
    // Another scheme (Bearer, Basic…) is no API key: another middleware may handle it.
    if (found === undefined || found.toLowerCase() !== lower) return undefined
    const rest = header.slice(found.length)
    if (rest.charCodeAt(0) !== 0x20) throw new InvalidRequestError('malformed API key')
    const key = afterSpaces(rest)
    if (key === '') throw new InvalidRequestError('malformed API key')
    // A bearer token longer than any key (a JWT, a JWE sent by mistake, an opaque token) is no
    // API key: jwtAuth's to answer, not a 400 about a key the client never sent.
    if (bearer && key.length > MAX_KEY_LENGTH) return undefined
    return checkKey(key)
  }
}

/** Checks the options of apiKeyAuth of its own (the shared ones are checked with basicAuth's). */
function checkApiKeyOptions(problems: Problems, options: ApiKeyAuthOptions): void {
  const { header, scheme, keys, repository } = options
  if (header !== undefined && scheme !== undefined) problems.add('give header or scheme, not both')
  if (header !== undefined && (typeof header !== 'string' || !TOKEN.test(header))) {
    problems.add('header must be a header name, such as x-api-key')
  } else if (header?.toLowerCase() === 'authorization') {
    problems.add(`header must not be authorization: use scheme: 'ApiKey' to read Authorization`)
  }
  if (scheme !== undefined && (typeof scheme !== 'string' || !TOKEN.test(scheme))) {
    problems.add('scheme must be an authentication scheme name, such as ApiKey')
  } else if (scheme?.toLowerCase() === 'basic') {
    // A browser answers a Basic challenge with its login dialog, and basicAuth reads Basic.
    problems.add(
      `scheme must not be Basic (browsers answer its challenge with a login dialog, and basicAuth reads it): use the default header x-api-key, or scheme: 'ApiKey'`,
    )
  }
  if ((keys === undefined) === (repository === undefined)) {
    problems.add(
      'give keys (a list of { id, hash }) or repository (with getApiKey(hash)), one of them',
    )
  }
  if (repository !== undefined && typeof repository?.getApiKey !== 'function') {
    problems.add('repository must be an object with a getApiKey(hash) method')
  }
  if (keys !== undefined && options.repositoryTimeoutMs !== undefined) {
    problems.add('repositoryTimeoutMs is read only with repository: drop it (keys are in memory)')
  }
}

/**
 * Authenticates requests with API keys (in `x-api-key`, another header, or `Authorization:
 * ApiKey <key>`) and sets `req.currentUser`: provider `api-key`, the key's `id` (never the key),
 * `name`, `scopes`, `isM2M: true`, and `groups`/`roles`/`permissions` from the key's record unless
 * a source is given. No key → the anonymous user (or 401 with `credentialsRequired`); an unknown,
 * expired or revoked key → 401 `invalid_credentials` (one answer for all); a malformed key or a
 * repeated header → 400; a failing repository, or a malformed record from it → 503. An answer to
 * a request with the key header gets `Cache-Control: private` (unless the app set one) and `Vary`
 * on the header. Keys are kept as SHA-256 hashes; a request's key is hashed, found by its hash,
 * and compared with `crypto.timingSafeEqual`: no secret is compared byte by byte.
 *
 * With `scheme: 'Bearer'`, mount it after `jwtAuth({ invalidToken: 'anonymous' })`: a token that
 * is no key here (a JWT, or one `jwtAuth` refused) is left to `jwtAuth`'s answer
 * (`error="invalid_token"`). Mounted before `jwtAuth`, API keys do not work: `jwtAuth` verifies
 * every bearer token it sees. Under `Bearer`, its own answers carry the Bearer challenge of
 * RFC 6750 §3.1 (`error="invalid_token"` for a refused key, `insufficient_scope` on 403).
 *
 * **Warning:** an API key is a bearer secret: serve only over HTTPS, and rate-limit failures.
 *
 * @example
 * app.use(apiKeyAuth({ header: 'x-api-key', keys: [{ id: 'billing', hash: process.env.BILLING_KEY_HASH!, scopes: ['invoices:write'] }] }))
 * app.post('/invoices', requireScopes(['invoices:write']), handler)
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` at construction, listing every invalid option and key,
 *   and every option name it does not know.
 */
export function apiKeyAuth(
  options: ApiKeyAuthOptions,
): RequestHandler & { authenticate(key: string): Promise<User> } {
  const problems = new Problems()
  const given = options ?? ({} as ApiKeyAuthOptions)
  checkOptionNames(problems, 'apiKeyAuth', given, API_KEY_AUTH_OPTIONS)
  checkCredentialsAuthOptions(problems, given)
  checkApiKeyOptions(problems, given)
  const { header, scheme, keys, repository } = given
  const byHash = keys === undefined ? undefined : resolveKeys(problems, keys)
  const level = given.logLevel ?? readLogLevel(given.env ?? process.env, problems)
  const disabled = resolveDisabled(problems, given)
  problems.throwIfAny()
  if (disabled) return disabledCredentialsAuth<[string]>(given, 'apiKeyAuth')

  const headerName = (header ?? DEFAULT_HEADER).toLowerCase()
  const challenge: AuthChallenge =
    scheme === undefined
      ? { scheme: 'ApiKey', realm: given.realm, params: { header: headerName } }
      : { scheme, realm: given.realm }
  const read = scheme === undefined ? headerReader(headerName) : schemeReader(scheme)
  const base = credentialsAuthBase(given, challenge, level)
  const { logger, sources } = base

  async function find(hash: string): Promise<StoredKey | undefined> {
    if (byHash !== undefined) return byHash.get(hash)
    const answer: unknown = await base.askRepository('API key repository', () =>
      repository!.getApiKey(hash),
    )
    if (answer === undefined || answer === null) return undefined
    return base.readAnswer('API key repository', () => repositoryKey(answer))
  }

  /** The record of a live key; `undefined` for an unknown, expired or revoked one alike. */
  async function liveRecord(key: string): Promise<ApiKeyRecord | undefined> {
    const digest = digestOf(key)
    const stored = await find(digest.toString('hex'))
    // The lookup compared hashes of the key, never the key; this re-check guards against a
    // repository answering a record for another hash.
    if (stored === undefined || !timingSafeEqual(Buffer.from(stored.record.hash, 'hex'), digest)) {
      return undefined
    }
    if (Date.now() < stored.refusedFromMs) return stored.record
    if (logger.isLevelEnabled('debug')) {
      logger.debug({ keyId: stored.record.id }, 'API key refused: expired, revoked or disabled')
    }
    return undefined
  }

  function userOf(record: ApiKeyRecord): User {
    return new User(
      { provider: 'api-key' },
      { id: record.id, name: record.name, scopes: record.scopes, isM2M: true, clientId: record.id },
      sourcesWithStoredLists(sources, record),
    )
  }

  async function authenticateKey(key: string): Promise<User> {
    const record = await liveRecord(key)
    if (record === undefined) throw new CredentialsInvalidError(challenge, 'invalid API key')
    return userOf(record)
  }

  async function authenticate(key: string): Promise<User> {
    // What the header path refuses (400), refused here too: a key no header can carry.
    if (typeof key !== 'string' || checkKey(key) === undefined) {
      throw new InvalidRequestError('malformed API key')
    }
    return authenticateKey(key)
  }

  /**
   * `scheme: 'Bearer'`: a token that is no key here may be jwtAuth's. Unknown, it is left to it
   * (no credentials of ours) when it is shaped as a JWT (a jwtAuth after this one decides) or when
   * an earlier `jwtAuth({ invalidToken: 'anonymous' })` refused it: guards, and
   * `credentialsRequired`, then answer jwtAuth's `invalid_token`, which OAuth clients act on.
   */
  async function authenticateBearer(req: Request, key: string): Promise<User | undefined> {
    const record = await liveRecord(key)
    const refusedByJwtAuth = readRequest(req, 'authError') !== undefined
    if (record !== undefined) {
      // The token was an API key after all: jwtAuth's refusal no longer describes the request.
      if (refusedByJwtAuth) Reflect.deleteProperty(req, 'authError')
      return userOf(record)
    }
    if (refusedByJwtAuth || JWT.test(key)) return undefined
    throw new CredentialsInvalidError(challenge, 'invalid API key')
  }

  const bearer = scheme?.toLowerCase() === 'bearer'
  function apiKeyAuthMiddleware(req: Request, res: Response, next: NextFunction): void {
    // A key in its own header: shared caches store such answers (src/private-answer.ts).
    if (scheme === undefined && headerValues(req, headerName) !== undefined) {
      keepPrivate(res, headerName)
    }
    if (bearer) return base.handle(req, res, next, read, (key) => authenticateBearer(req, key))
    base.handle(req, res, next, read, authenticateKey)
  }
  return Object.assign(apiKeyAuthMiddleware, { authenticate })
}

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
} from './basic-auth.js'
import { isOptionalStringList, presentFields } from './credentials.js'
import { resolveDisabled } from './disabled.js'
import { afterSpaces, trimOws } from './http-field.js'
import { headerValues } from './middleware.js'
import { readLogLevel } from './env.js'
import {
  CredentialsInvalidError,
  credentialsUnavailable,
  InvalidRequestError,
  type AuthChallenge,
} from './errors.js'
import { checkOptionNames, Problems, type OptionFlags } from './options.js'
import { isUnicodeText } from './passwords.js'
import { keepPrivate } from './private-answer.js'
import { User } from './user.js'

/** One API key, as configured: who it stands for and what it may do. Never the key itself. */
export interface ApiKeyRecord {
  /** The principal's id, on `req.currentUser.id` (two keys may share one while you rotate). */
  readonly id: string
  /** `hashApiKey(key)`: the SHA-256 of the key, 64 lower-case hex digits. */
  readonly hash: string
  readonly name?: string | undefined
  readonly groups?: readonly string[] | undefined
  readonly roles?: readonly string[] | undefined
  readonly permissions?: readonly string[] | undefined
  /** Scopes the key grants, as a token's `scope` would (for `requireScopes`). */
  readonly scopes?: readonly string[] | undefined
}

/**
 * Finds API keys by hash, for keys kept in a database: resolve to the record whose `hash` is the
 * given one, or `undefined`. Throw when the store cannot answer (503, never 401).
 */
export interface ApiKeyRepository {
  getApiKey(hash: string): Promise<ApiKeyRecord | undefined> | ApiKeyRecord | undefined
}

/** Options of {@link apiKeyAuth}. */
export interface ApiKeyAuthOptions extends CredentialsAuthOptions {
  /** Read the key from this header (`x-api-key: <key>`). The default when no `scheme` is given. */
  header?: string
  /** Read the key from `Authorization: <scheme> <key>` instead (`ApiKey`, matched without case). */
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

const DEFAULT_HEADER = 'x-api-key'
// RFC 9110 §5.6.2: header names and auth-schemes are tokens.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const AUTH_SCHEME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/
// A key is a b64token (RFC 6750 §2.1): what generateApiKey makes, UUIDs and most vendors' formats.
const KEY = /^[A-Za-z0-9\-._~+/]+=*$/
const MAX_KEY_LENGTH = 1_024
const HASH = /^[0-9a-f]{64}$/
const PREFIX = /^[A-Za-z0-9_-]{0,32}$/

// Why SHA-256 and not PBKDF2 or scrypt: an API key is 256 random bits, not a password a person
// chose, so a guess costs 2^255 tries on average whatever the hash's speed; a slow hash would add
// nothing but a per-request cost. A fast, unsalted hash also lets a store find a key by its hash
// (a Map here, an index in a database) instead of trying every key. Keys people invent are weak:
// make them with generateApiKey().
function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

/**
 * The hash to store for an API key: SHA-256, 64 lower-case hex digits (the same as
 * `printf %s "$KEY" | sha256sum`).
 *
 * @example const record = { id: 'billing-service', hash: hashApiKey(process.env.BILLING_KEY!) }
 * @throws {TypeError} when `key` is not a non-empty string.
 */
export function hashApiKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw new TypeError('key must be a non-empty string')
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
 * @throws {TypeError} when `prefix` is not up to 32 of A-Z a-z 0-9 _ -.
 */
export function generateApiKey(options: { prefix?: string } = {}): { key: string; hash: string } {
  const { prefix = '' } = options
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new TypeError('prefix must be up to 32 of the characters A-Z a-z 0-9 _ -')
  }
  const key = `${prefix}${randomBytes(32).toString('base64url')}`
  return { key, hash: hashApiKey(key) }
}

const LISTS = ['groups', 'roles', 'permissions', 'scopes'] as const
const RECORD_FIELDS = ['id', 'hash', 'name', ...LISTS] as const
const KNOWN_FIELDS = new Set<string>(RECORD_FIELDS)

/**
 * Why a record is unusable, or `undefined`. Used on configured keys and on repository answers;
 * `null` in an optional field is absent (a nullable column). Only configured keys are refused for
 * fields of their own (`strict`): a typo such as `scope` must not leave a key without its scopes,
 * while a database row may well carry columns of its own.
 */
function recordProblem(record: unknown, strict: boolean): string | undefined {
  if (typeof record !== 'object' || record === null) return 'must be an object { id, hash }'
  const fields = record as Record<string, unknown>
  if ('key' in fields) return 'holds a key: store hashApiKey(key) in hash, never the key'
  if (typeof fields['id'] !== 'string' || fields['id'] === '')
    return 'needs an id (a non-empty string)'
  if (typeof fields['hash'] !== 'string' || !HASH.test(fields['hash'])) {
    return 'needs a hash: hashApiKey(key), 64 lower-case hex digits'
  }
  if (fields['name'] != null && typeof fields['name'] !== 'string') return 'name must be a string'
  for (const list of LISTS) {
    if (!isOptionalStringList(fields[list])) return `${list} must be a list of strings`
  }
  const unknown = strict ? Object.keys(fields).find((field) => !KNOWN_FIELDS.has(field)) : undefined
  if (unknown !== undefined) {
    return `has an unknown field ${JSON.stringify(unknown)} (known: ${RECORD_FIELDS.join(', ')})`
  }
  return undefined
}

/** A checked record, as the authenticator reads it: its fields only, `null` ones dropped. */
function keyRecord(record: unknown): ApiKeyRecord {
  return presentFields(record as Record<string, unknown>, RECORD_FIELDS) as unknown as ApiKeyRecord
}

function resolveKeys(problems: Problems, keys: unknown): Map<string, ApiKeyRecord> {
  const byHash = new Map<string, ApiKeyRecord>()
  if (!Array.isArray(keys) || keys.length === 0) {
    problems.add('keys must be a non-empty list of { id, hash } (hash = hashApiKey(key))')
    return byHash
  }
  keys.forEach((record: unknown, index) => {
    const problem = recordProblem(record, true)
    if (problem !== undefined) return problems.add(`keys[${index}] ${problem}`)
    const { hash } = record as ApiKeyRecord
    if (byHash.has(hash)) return problems.add(`keys[${index}] has the same hash as another key`)
    byHash.set(hash, Object.freeze(keyRecord(record)))
  })
  return byHash
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
    return checkKey(key)
  }
}

/**
 * Authenticates requests with API keys (in `x-api-key`, another header, or `Authorization:
 * ApiKey <key>`) and sets `req.currentUser`: provider `api-key`, the key's `id` (never the key),
 * `name`, `scopes`, `isM2M: true`, and `groups`/`roles`/`permissions` from the key's record unless
 * a source is given. No key → the anonymous user (or 401 with `credentialsRequired`); an unknown
 * key → 401 `invalid_credentials`; a malformed key or a repeated header → 400; a failing
 * repository → 503. An answer to a request with the key header gets `Cache-Control: private`
 * (unless the app set one) and `Vary` on the header. Keys are kept as SHA-256 hashes; a request's
 * key is hashed, found by its hash, and compared with `crypto.timingSafeEqual`: no secret is
 * compared byte by byte.
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
  const { header, scheme, keys, repository } = given
  if (header !== undefined && scheme !== undefined) problems.add('give header or scheme, not both')
  if (header !== undefined && (typeof header !== 'string' || !TOKEN.test(header))) {
    problems.add('header must be a header name, such as x-api-key')
  } else if (header?.toLowerCase() === 'authorization') {
    problems.add(`header must not be authorization: use scheme: 'ApiKey' to read Authorization`)
  }
  if (scheme !== undefined && (typeof scheme !== 'string' || !TOKEN.test(scheme))) {
    problems.add('scheme must be an authentication scheme name, such as ApiKey')
  }
  if ((keys === undefined) === (repository === undefined)) {
    problems.add(
      'give keys (a list of { id, hash }) or repository (with getApiKey(hash)), one of them',
    )
  }
  const byHash = keys === undefined ? undefined : resolveKeys(problems, keys)
  if (repository !== undefined && typeof repository?.getApiKey !== 'function') {
    problems.add('repository must be an object with a getApiKey(hash) method')
  }
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

  async function find(hash: string): Promise<ApiKeyRecord | undefined> {
    if (byHash !== undefined) return byHash.get(hash)
    const answer: unknown = await base.askRepository('API key repository', () =>
      repository!.getApiKey(hash),
    )
    if (answer === undefined || answer === null) return undefined
    if (recordProblem(answer, false) !== undefined) {
      logger.error('API key repository returned a malformed record; answering 503')
      throw credentialsUnavailable(new TypeError('malformed API key record'))
    }
    return keyRecord(answer)
  }

  async function authenticate(key: string): Promise<User> {
    // What no header can carry: UTF-8 would hash a lone surrogate as U+FFFD, another key.
    if (!isUnicodeText(key)) throw new InvalidRequestError('malformed API key')
    const digest = digestOf(key)
    const record = await find(digest.toString('hex'))
    // The lookup compared hashes of the key, never the key; this re-check guards against a
    // repository answering a record for another hash.
    const stored = record && Buffer.from(record.hash, 'hex')
    if (record === undefined || !timingSafeEqual(stored!, digest)) {
      throw new CredentialsInvalidError(challenge, 'invalid API key')
    }
    return new User(
      { provider: 'api-key' },
      { id: record.id, name: record.name, scopes: record.scopes, isM2M: true, clientId: record.id },
      sourcesWithStoredLists(sources, record),
    )
  }

  function apiKeyAuthMiddleware(req: Request, res: Response, next: NextFunction): void {
    // A key in its own header: shared caches store such answers (src/private-answer.ts).
    if (scheme === undefined && headerValues(req, headerName) !== undefined) {
      keepPrivate(res, headerName)
    }
    base.handle(req, res, next, read, authenticate)
  }
  return Object.assign(apiKeyAuthMiddleware, { authenticate })
}

// Basic credentials: read from the Authorization header (RFC 7617), looked up in a CredentialsRepository.

import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { EnvReader, type Env } from './env.js'
import { credentialsUnavailable, InvalidRequestError } from './errors.js'
import { afterSpaces, trimOws } from './http-field.js'
import { Problems } from './options.js'
import { hashCostProblem, parsePasswordHash } from './passwords.js'

/**
 * One user's stored credentials. `passwordHash` is a {@link hashPassword} output (or a hash made by
 * the Python package `auth-middleware`); the lists feed `user.groups`/`roles`/`permissions` unless
 * `basicAuth` is given a source for that facet.
 */
export interface UserCredentials {
  /** The user's stable id, on `req.currentUser.id`. Default: `username`. */
  readonly id?: string | undefined
  readonly username: string
  readonly passwordHash: string
  readonly name?: string | undefined
  readonly email?: string | undefined
  readonly groups?: readonly string[] | undefined
  readonly roles?: readonly string[] | undefined
  readonly permissions?: readonly string[] | undefined
  /** Scopes granted to this user, as a token's `scope` would (for `requireScopes`). */
  readonly scopes?: readonly string[] | undefined
}

/**
 * Looks users up by username for `basicAuth` (the seed's `CredentialsRepository`). Resolve to
 * `undefined` for an unknown user; throw when the store cannot answer (the request gets 503, never
 * a 401 that would look like a wrong password). The password is never passed to a repository.
 *
 * @example
 * const repository: CredentialsRepository = {
 *   async getCredentials(username) {
 *     const row = await db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst()
 *     return row && { username: row.username, passwordHash: row.password_hash, groups: row.groups }
 *   },
 * }
 */
export interface CredentialsRepository {
  getCredentials(
    username: string,
  ): Promise<UserCredentials | undefined> | UserCredentials | undefined
}

/** A username and password read from a `Basic` header. */
export interface BasicCredentials {
  readonly username: string
  readonly password: string
}

// RFC 9110 §5.6.2 token characters: what an auth-scheme is made of.
const AUTH_SCHEME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/
// RFC 4648 §4 base64 with its padding, as RFC 7617 §2 specifies (the seed's decoder needs it too).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
// RFC 7617 §2: neither the user-id nor the password may contain control characters.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/
// Longer than any sane username and password; a hash of a megabyte is nobody's login.
const MAX_ENCODED_LENGTH = 8_192
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
/**
 * Reads the credentials of one `Authorization` value (RFC 7617): the scheme is matched without
 * case, the base64 must be canonical, the text valid UTF-8, and the first colon ends the username
 * (a password may contain colons).
 *
 * @returns the credentials, or `undefined` when the header is empty or names another scheme.
 * @throws {InvalidRequestError} `ERR_AUTH_INVALID_REQUEST` for a `Basic` header that is malformed:
 *   no credentials, bad base64, invalid UTF-8, no colon, control characters, over 8 KiB.
 */
export function parseBasicAuthorization(value: string): BasicCredentials | undefined {
  const header = trimOws(value)
  const scheme = AUTH_SCHEME.exec(header)?.[0]
  if (scheme === undefined || scheme.toLowerCase() !== 'basic') return undefined
  const rest = header.slice(scheme.length)
  // One or more spaces, then one token68: `Basic`, `Basic:x`, `Basic\tx` and `Basic a b` are not.
  if (rest.charCodeAt(0) !== 0x20) throw new InvalidRequestError('malformed Basic credentials')
  const encoded = afterSpaces(rest)
  if (encoded.length > MAX_ENCODED_LENGTH) {
    throw new InvalidRequestError('Basic credentials are too long')
  }
  if (encoded === '' || !BASE64.test(encoded) || !canonical(encoded)) {
    throw new InvalidRequestError('Basic credentials are not valid base64')
  }
  let decoded: string
  try {
    decoded = UTF8.decode(Buffer.from(encoded, 'base64'))
  } catch {
    throw new InvalidRequestError('Basic credentials are not valid UTF-8')
  }
  const colon = decoded.indexOf(':')
  if (colon === -1)
    throw new InvalidRequestError('Basic credentials have no ":" after the username')
  refuseControlCharacters(decoded)
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/**
 * Refuses Basic credentials with a control character (RFC 7617 §2 excludes them from both
 * user-id and password): the header path and `basicAuth(...).authenticate` refuse them alike.
 *
 * @throws {InvalidRequestError} `ERR_AUTH_INVALID_REQUEST`.
 */
export function refuseControlCharacters(text: string): void {
  if (CONTROL.test(text)) {
    throw new InvalidRequestError('Basic credentials contain control characters')
  }
}

function canonical(encoded: string): boolean {
  // Unused trailing bits must be zero: one credential, one encoding.
  return Buffer.from(encoded, 'base64').toString('base64') === encoded
}

/** Whether `value` is a list of strings; `undefined` and `null` (absent) count as one. */
export function isOptionalStringList(value: unknown): boolean {
  return value == null || (Array.isArray(value) && value.every((item) => typeof item === 'string'))
}

const RECORD_STRINGS = ['id', 'username', 'name', 'email'] as const
const RECORD_LISTS = ['groups', 'roles', 'permissions', 'scopes'] as const
const RECORD_FIELDS = ['passwordHash', ...RECORD_STRINGS, ...RECORD_LISTS] as const

/**
 * A repository answered a record it cannot have meant: `problem` names the field and what it holds
 * instead (its type, never its value), for the log of the 503 it becomes.
 */
export class MalformedRecordError extends TypeError {
  readonly problem: string

  constructor(what: string, problem: string) {
    super(`malformed ${what}: ${problem}`)
    this.name = 'MalformedRecordError'
    this.problem = problem
  }
}

/** What a value is, for a message that must not show it: `a number`, `bytes (a Buffer)`, `null`… */
export function describeType(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (value === '') return 'an empty string'
  if (Array.isArray(value)) return 'an array'
  if (value instanceof Uint8Array) return 'bytes (a Buffer)'
  if (value instanceof Date) return 'a Date'
  const type = typeof value
  return type === 'object' ? 'an object' : `a ${type}`
}

/**
 * A repository answer checked for shape; a broken answer is the store failing (503), never a login.
 * `null` in an optional field is absent, as SQL drivers return a nullable column (and as the users
 * file reads it). Each field is read once, here: a read that throws (an ORM's lazy getter, a Proxy)
 * is the store failing too.
 *
 * @throws {UnavailableError} `ERR_AUTH_CREDENTIALS_UNAVAILABLE`, its `cause` a
 *   {@link MalformedRecordError} naming the field, or the error the read threw.
 */
export function checkedRecord(value: unknown): UserCredentials | undefined {
  if (value === undefined || value === null) return undefined
  let record: Record<string, unknown>
  try {
    record = presentFields(value as Record<string, unknown>, RECORD_FIELDS)
  } catch (error) {
    throw credentialsUnavailable(error)
  }
  const problem = typeof value === 'object' ? credentialsProblem(record) : 'must be an object'
  if (problem !== undefined) {
    throw credentialsUnavailable(new MalformedRecordError('credentials record', problem))
  }
  return record as unknown as UserCredentials
}

/** Why a record read by {@link presentFields} is unusable (field names and types only), or undefined. */
function credentialsProblem(record: Readonly<Record<string, unknown>>): string | undefined {
  const passwordHash = record['passwordHash']
  if (typeof passwordHash !== 'string') {
    return `passwordHash must be a string, got ${describeType(passwordHash)}`
  }
  for (const field of RECORD_STRINGS) {
    const value = record[field]
    if (value !== undefined && typeof value !== 'string') {
      // An integer primary key is the usual one: the id is text on req.currentUser.
      const hint = typeof value === 'number' ? ` (convert it: String(row.${field}))` : ''
      return `${field} must be a string, got ${describeType(value)}${hint}`
    }
  }
  const list = RECORD_LISTS.find((field) => !isOptionalStringList(record[field]))
  return list === undefined ? undefined : `${list} must be a list of strings`
}

/**
 * A new object with the `fields` of `record` that are neither `undefined` nor `null`: a record
 * read once (getters included), its nulls gone, and nothing else the store returned. A getter that
 * throws throws here.
 */
export function presentFields(
  record: Readonly<Record<string, unknown>>,
  fields: readonly string[],
): Record<string, unknown> {
  const present: Record<string, unknown> = {}
  for (const field of fields) {
    const value = record[field]
    if (value != null) present[field] = value
  }
  return present
}

/** Options of {@link JsonCredentialsRepository}. */
export interface JsonCredentialsRepositoryOptions {
  /** The JSON file, relative to the working directory. Default `AUTH_MIDDLEWARE_JSON_REPOSITORY_PATH`. */
  path?: string
  /** The environment read for the default path. Default `process.env`. */
  env?: Env
}

const LISTS = ['groups', 'roles', 'permissions', 'scopes'] as const
const STRINGS = ['id', 'name', 'email'] as const
const KNOWN_FIELDS = new Set<string>(['passwordHash', 'hashed_pwd', ...STRINGS, ...LISTS])
// RFC 7617 §2: a user-id cannot contain a colon (the first colon ends it) or control characters.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const BAD_USERNAME = /[:\x00-\x1f\x7f]/

/**
 * Users from a JSON file, loaded and checked once at construction (the seed's
 * `JsonCredentialsRepository`, whose file format it reads). The file is an object keyed by
 * username:
 *
 * ```json
 * { "alice": { "passwordHash": "pbkdf2_sha256$600000$…$…", "name": "Alice", "email": "alice@example.com",
 *              "groups": ["admin"], "roles": [], "permissions": ["orders:read"], "scopes": [] } }
 * ```
 *
 * `hashed_pwd` (the seed's name) is accepted for `passwordHash`. Unlike the seed, `groups` are
 * kept, unknown fields are refused (a typo must not silently drop a list), and every hash must
 * parse. Changes to the file need a restart.
 *
 * @example
 * app.use(basicAuth({ credentialsRepository: new JsonCredentialsRepository({ path: 'users.json' }) }))
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` naming the file and each bad entry: file missing or not
 *   JSON, an entry without a valid hash, a list that is not a list of strings, an unknown field.
 *   Hash values are never echoed.
 */
export class JsonCredentialsRepository implements CredentialsRepository {
  /** The absolute path of the file read. */
  readonly path: string
  readonly #users: ReadonlyMap<string, UserCredentials>

  constructor(options: JsonCredentialsRepositoryOptions = {}) {
    const problems = new Problems()
    const env = new EnvReader(options.env ?? process.env, problems)
    const given =
      options.path ??
      env.string('AUTH_MIDDLEWARE_JSON_REPOSITORY_PATH', {
        required: 'when JsonCredentialsRepository has no path option',
      })
    if (given !== undefined && (typeof given !== 'string' || given.trim() === '')) {
      problems.add('JsonCredentialsRepository: path must be a non-empty string')
    }
    problems.throwIfAny()
    this.path = resolve(given!)
    this.#users = loadUsers(
      this.path,
      options.path === undefined ? 'AUTH_MIDDLEWARE_JSON_REPOSITORY_PATH' : 'path',
    )
  }

  /** How many users the file holds. */
  get size(): number {
    return this.#users.size
  }

  getCredentials(username: string): UserCredentials | undefined {
    return this.#users.get(username)
  }
}

function loadUsers(path: string, source: string): ReadonlyMap<string, UserCredentials> {
  const problems = new Problems()
  const where = `JsonCredentialsRepository: ${path} (from ${source})`
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    problems.add(`${where} cannot be read (${code ?? 'error'}); check the path and permissions`)
    problems.throwIfAny()
    throw error
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    // JSON.parse messages quote the file's content (hashes): keep only the position.
    const position = /position (\d+)/.exec(String((error as Error).message))?.[1]
    problems.add(`${where} is not valid JSON${position === undefined ? '' : at(text, position)}`)
    problems.throwIfAny()
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    problems.add(`${where} must hold a JSON object keyed by username`)
    problems.throwIfAny()
  }
  const users = new Map<string, UserCredentials>()
  for (const [username, entry] of Object.entries(data as Record<string, unknown>)) {
    const user = checkEntry(
      problems,
      `${where}: entry ${JSON.stringify(username)}`,
      username,
      entry,
    )
    if (user !== undefined) users.set(username, user)
  }
  problems.throwIfAny()
  return users
}

function at(text: string, position: string): string {
  const before = text.slice(0, Number(position))
  const line = before.split('\n').length
  return ` (line ${line}, column ${before.length - before.lastIndexOf('\n')})`
}

function checkEntry(
  problems: Problems,
  where: string,
  username: string,
  entry: unknown,
): UserCredentials | undefined {
  if (username === '' || BAD_USERNAME.test(username)) {
    problems.add(`${where}: a username must be non-empty, without ":" or control characters`)
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    problems.add(`${where} must be an object with a passwordHash`)
    return undefined
  }
  const fields = entry as Record<string, unknown>
  for (const field of Object.keys(fields)) {
    if (!KNOWN_FIELDS.has(field)) {
      problems.add(
        `${where} has an unknown field ${JSON.stringify(field)} (known: ${[...KNOWN_FIELDS].join(', ')})`,
      )
    }
  }
  if (fields['passwordHash'] !== undefined && fields['hashed_pwd'] !== undefined) {
    problems.add(`${where} has both passwordHash and hashed_pwd; keep one`)
  }
  const passwordHash = fields['passwordHash'] ?? fields['hashed_pwd']
  if (parsePasswordHash(passwordHash) === undefined) {
    const cost = hashCostProblem(passwordHash)
    problems.add(
      cost === undefined
        ? `${where}: passwordHash is missing or not a recognised hash (pbkdf2_sha256$<iterations>$<salt_hex>$<hash_hex>, scrypt$<N>$<r>$<p>$<salt_hex>$<hash_hex>, or a legacy SHA-256 hex digest); make one with hashPassword()`
        : `${where}: passwordHash is refused for its cost: ${cost}; rehash it with hashPassword()`,
    )
  }
  const user: Record<string, unknown> = { username, passwordHash }
  for (const field of STRINGS) {
    const value = fields[field]
    if (value === undefined || value === null) continue
    if (typeof value !== 'string' || value === '') {
      problems.add(`${where}: ${field} must be a non-empty string`)
    }
    user[field] = value
  }
  for (const field of LISTS) {
    const value = fields[field]
    if (value === undefined || value === null) continue
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== '')) {
      problems.add(`${where}: ${field} must be a list of non-empty strings`)
      continue
    }
    user[field] = Object.freeze([...(value as string[])])
  }
  return Object.freeze(user) as unknown as UserCredentials
}

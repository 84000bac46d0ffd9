// An API key's record, configured or from a repository: checked once (field names and types in
// every message, never a value), and read into what the authenticator needs: the record, and from
// when the key is refused (a revoked, disabled or expired row, fail closed).

import type { ApiKeyRecord } from './api-key-auth.js'
import {
  describeType,
  isOptionalStringList,
  MalformedRecordError,
  presentFields,
} from './credentials.js'
import type { Problems } from './options.js'

const HASH = /^[0-9a-f]{64}$/
const HASH_ANY_CASE = /^[0-9a-f]{64}$/i
const LISTS = ['groups', 'roles', 'permissions', 'scopes'] as const
const RECORD_FIELDS = ['id', 'hash', 'name', ...LISTS, 'expiresAt'] as const
const KNOWN_FIELDS = new Set<string>(RECORD_FIELDS)
// Columns a keys table commonly has: a repository's record is refused by them too (fail closed).
const FLAGS = ['revoked', 'disabled', 'active'] as const
const LIFECYCLE_FIELDS = [...FLAGS, 'revokedAt', 'revoked_at', 'expires_at'] as const
const REPOSITORY_FIELDS = [...RECORD_FIELDS, ...LIFECYCLE_FIELDS, 'key'] as const
// Seconds since the epoch up to the year 5138: beyond, it is milliseconds, which read as seconds
// would put the expiry tens of thousands of years away.
const MAX_EPOCH_SEC = 1e11
const ISO_DATE =
  /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/
// A date-time with neither `Z` nor an offset: ECMAScript reads it in the host's time zone.
const ZONE_LESS_TIME = /[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/
// An offset of whole hours (`+05`, as PostgreSQL writes one), which V8 reads only after a space.
const HOURS_OFFSET = /[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?[+-]\d{2}$/

/** A checked key: its record, and the time from which it is refused (ms; Infinity for never). */
export interface StoredKey {
  readonly record: ApiKeyRecord
  readonly refusedFromMs: number
}

/** When an expiry column says the key stops working, in ms; Infinity for none, NaN for unreadable. */
function expiryMs(value: unknown): number {
  if (value === undefined || value === null) return Infinity
  if (value instanceof Date) return value.getTime()
  if (typeof value === 'number') {
    return Number.isFinite(value) && Math.abs(value) < MAX_EPOCH_SEC ? value * 1_000 : NaN
  }
  return typeof value === 'string' && ISO_DATE.test(value) ? parseUtc(value) : NaN
}

/**
 * An ISO 8601 date or date-time in ms, one without a zone read as UTC, on every host: SQLite's
 * `datetime()` and `CURRENT_TIMESTAMP` write UTC that way, and a MySQL `DATETIME` read with
 * `dateStrings` comes that way. `Date.parse` alone would read it in the host's time zone, moving
 * the expiry by hours from one server to the next (west of UTC, an expired key kept working).
 */
function parseUtc(value: string): number {
  // A space before the time sends V8 to its legacy parser, which reads years 0000–0049 as 2000–2049
  // and takes offsets up to ±99 hours: the same value with `T` is read as ISO 8601 writes it.
  const iso = value.replace(' ', 'T')
  if (ZONE_LESS_TIME.test(iso)) return Date.parse(`${iso}Z`)
  return Date.parse(HOURS_OFFSET.test(iso) ? `${iso}:00` : iso)
}

/** A boolean column as drivers return it (`1`/`0` from MariaDB and SQLite); undefined if neither. */
function flagOf(value: unknown): boolean | undefined {
  if (value === undefined || value === null) return false
  if (value === true || value === 1) return true
  if (value === false || value === 0) return false
  return undefined
}

function lifecycleProblem(fields: Readonly<Record<string, unknown>>): string | undefined {
  for (const field of ['expiresAt', 'expires_at']) {
    if (Number.isNaN(expiryMs(fields[field]))) {
      return `${field} must be a valid Date, an ISO 8601 string or seconds since the epoch (not milliseconds), got ${describeType(fields[field])}`
    }
  }
  const flag = FLAGS.find((name) => flagOf(fields[name]) === undefined)
  return flag === undefined
    ? undefined
    : `${flag} must be true or false, got ${describeType(fields[flag])}`
}

/**
 * Why a record is unusable (field names and types, never values), or `undefined`. Used on
 * configured keys and on repository answers; `null` in an optional field is absent (a nullable
 * column). Only configured keys are `strict`: refused for fields of their own (a typo such as
 * `scope` must not leave a key without its scopes) and for an upper-case hash, while a database
 * row may well carry columns of its own.
 */
function recordProblem(record: unknown, strict: boolean): string | undefined {
  if (typeof record !== 'object' || record === null) return 'must be an object { id, hash }'
  const fields = record as Record<string, unknown>
  if (fields['key'] != null) return 'holds a key: store hashApiKey(key) in hash, never the key'
  const { id, hash } = fields
  if (typeof id !== 'string' || id === '') {
    const hint = typeof id === 'number' ? ' (convert it: String(row.id), or id::text in SQL)' : ''
    return `needs an id (a non-empty string), got ${describeType(id)}${hint}`
  }
  if (typeof hash !== 'string' || !(strict ? HASH : HASH_ANY_CASE).test(hash)) {
    return hashProblem(hash, strict)
  }
  if (fields['name'] != null && typeof fields['name'] !== 'string') {
    return `name must be a string, got ${describeType(fields['name'])}`
  }
  for (const list of LISTS) {
    if (!isOptionalStringList(fields[list])) return `${list} must be a list of strings`
  }
  const unknown = strict ? Object.keys(fields).find((field) => !KNOWN_FIELDS.has(field)) : undefined
  if (unknown !== undefined) {
    return `has an unknown field ${JSON.stringify(unknown)} (known: ${RECORD_FIELDS.join(', ')})`
  }
  return lifecycleProblem(fields)
}

function hashProblem(hash: unknown, strict: boolean): string {
  const wanted = `needs a hash: hashApiKey(key), 64 ${strict ? 'lower-case ' : ''}hex digits as a string`
  if (typeof hash === 'string') return `${wanted}, got ${hash.length} characters`
  const hint = hash instanceof Uint8Array ? " (a bytea column? select encode(hash, 'hex'))" : ''
  return `${wanted}, got ${describeType(hash)}${hint}`
}

/** A checked record, as the authenticator reads it: its fields only, `null` ones dropped. */
function storedKey(fields: Readonly<Record<string, unknown>>): StoredKey {
  const record = presentFields(fields, RECORD_FIELDS) as unknown as ApiKeyRecord
  const { active } = fields
  const revoked =
    flagOf(fields['revoked']) === true ||
    flagOf(fields['disabled']) === true ||
    (active != null && flagOf(active) === false) ||
    fields['revokedAt'] != null ||
    fields['revoked_at'] != null
  const refusedFromMs = revoked
    ? -Infinity
    : Math.min(expiryMs(fields['expiresAt']), expiryMs(fields['expires_at']))
  return { record, refusedFromMs }
}

/**
 * A repository answer, read once (a getter or a Proxy that throws throws here, and the caller
 * makes that the store failing), then checked.
 *
 * @throws {MalformedRecordError} naming the field at fault.
 */
export function repositoryKey(answer: unknown): StoredKey {
  const fields = presentFields(answer as Record<string, unknown>, REPOSITORY_FIELDS)
  const problem = recordProblem(typeof answer === 'object' ? fields : answer, false)
  if (problem !== undefined) throw new MalformedRecordError('API key record', problem)
  return storedKey(fields)
}

export function resolveKeys(problems: Problems, keys: unknown): Map<string, StoredKey> {
  const byHash = new Map<string, StoredKey>()
  if (!Array.isArray(keys) || keys.length === 0) {
    problems.add('keys must be a non-empty list of { id, hash } (hash = hashApiKey(key))')
    return byHash
  }
  keys.forEach((record: unknown, index) => {
    const problem = recordProblem(record, true)
    if (problem !== undefined) return problems.add(`keys[${index}] ${problem}`)
    const { hash } = record as ApiKeyRecord
    if (byHash.has(hash)) return problems.add(`keys[${index}] has the same hash as another key`)
    const stored = storedKey(record as Record<string, unknown>)
    byHash.set(hash, { ...stored, record: Object.freeze(stored.record) })
  })
  return byHash
}

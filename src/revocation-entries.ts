// What a revocation names, checked before it is stored: the entry of a token (its id, until its
// own expiry) or of a subject (tokens issued before a time), and the ids a verified token is
// looked up by. Every store, in memory or in Redis, keeps the same entries.

import { MAX_CLOCK_TOLERANCE_SEC } from './claims.js'
import type { JwtClaims } from './jwt.js'
import { DEFAULT_MAX_TOKEN_LENGTH, parseJwt } from './jwt.js'
import { closestName, isPlainObject } from './options.js'
import type { RevocationEntry } from './revocation.js'

/**
 * How long a revocation is kept past the end of what it covers. A verifier accepts a token until
 * `exp` plus its clock tolerance (5 s by default), and an entry dropped at `exp` would let a
 * revoked token pass again inside that window. Five minutes covers every tolerance up to there.
 */
export const REVOCATION_GRACE_SEC = 300

/**
 * The longest a revocation of a token read for its `exp` is kept, when `maxTokenLifetimeSec` is
 * shorter. The `exp` is trusted over `maxTokenLifetimeSec` (an entry dropped before `exp` lets the
 * revoked token pass again); this ceiling only keeps an absurd `exp` (a far-future typo) from
 * pinning the entry, and its memory, in every instance for ever. No access token lives a year; a
 * token that does is reported by the stores' lifetime warning, whose remedy (a larger
 * `maxTokenLifetimeSec`) raises this ceiling too.
 */
export const MAX_TOKEN_ENTRY_SEC = 365 * 86_400

/** The longest a revocation by the token itself is kept (past its `exp`, the grace aside). */
export function tokenEntryCeilingSec(maxLifetimeSec: number): number {
  return Math.max(maxLifetimeSec, MAX_TOKEN_ENTRY_SEC)
}

/**
 * The longest `jti`, issuer or subject a revocation may name: the longest token the verifier
 * accepts by default, so no claim of an accepted token is longer. Every instance keeps each
 * revocation, and the Redis store publishes it: a value of megabytes (a request body passed by
 * mistake) would overflow Redis's pub/sub output buffer and cut every instance's subscriber.
 */
export const MAX_REVOCATION_ID_LENGTH = DEFAULT_MAX_TOKEN_LENGTH

/**
 * What `revokeToken(tokenOrJti)` revokes: a compact token is read (unverified: revoking more than
 * asked is safe) for its id and `exp`; anything else is taken as a `jti`. The id is the token's
 * `jti`, else Entra ID's `uti` (its access tokens carry no `jti`), else Cognito's `origin_jti`. A
 * token without any cannot be revoked by id: revoke its subject instead. A value is a token when
 * its first segment is a JOSE header; any other value, dots or not, is a `jti`.
 *
 * @throws {TypeError} for a value that cannot name what a token carries: empty, longer than
 *   {@link MAX_REVOCATION_ID_LENGTH}, holding whitespace or a `Bearer ` prefix (an Authorization
 *   header's value), an encrypted token (a refresh token: revoke it at the identity provider), a
 *   token with no `jti`/`uti`/`origin_jti`, or a token whose payload cannot be read.
 */
export function jtiEntry(
  tokenOrJti: string,
  maxLifetimeSec: number,
  nowSec: number,
): RevocationEntry {
  if (typeof tokenOrJti !== 'string' || tokenOrJti === '') {
    throw new TypeError('revokeToken needs a token or a jti')
  }
  checkRevocable(tokenOrJti)
  if (!isCompactJws(tokenOrJti)) {
    return {
      kind: 'jti',
      jti: checkedLength('revokeToken', 'jti', tokenOrJti),
      expiresAtSec: nowSec + maxLifetimeSec + REVOCATION_GRACE_SEC,
    }
  }
  const payload = readablePayload(tokenOrJti)
  const jti = tokenIdOf(payload) ?? stringOf(payload, 'origin_jti')
  if (jti === undefined) {
    throw new TypeError('the token has no jti, uti or origin_jti: revoke its subject instead')
  }
  checkedLength('revokeToken', "the token's jti", jti)
  const { exp } = payload
  const ends =
    typeof exp === 'number' && Number.isFinite(exp)
      ? Math.min(exp, nowSec + tokenEntryCeilingSec(maxLifetimeSec))
      : nowSec + maxLifetimeSec
  return { kind: 'jti', jti, expiresAtSec: ends + REVOCATION_GRACE_SEC }
}

/**
 * Refuses what no token carries, which would be stored and match nothing while the caller
 * believes the token revoked: an Authorization header's value (`revokeToken(req.headers
 * .authorization)`), a value with whitespace around or in it (a bearer token has none, RFC 6750
 * §2.1), and an encrypted token: a compact JWE (five segments) is a refresh token (Cognito's),
 * which the identity provider honours whatever this store holds.
 */
function checkRevocable(value: string): void {
  if (/^bearer\s/i.test(value)) {
    throw new TypeError(
      "revokeToken: pass the token without its 'Bearer ' prefix (req.currentUser.token), not " +
        'the Authorization header',
    )
  }
  if (/\s/.test(value)) {
    throw new TypeError(
      'revokeToken: the value holds whitespace (a space, a line break): pass the token or jti ' +
        'alone, trimmed (a jti holding whitespace is revoked by passing its token)',
    )
  }
  const segments = value.split('.', 6)
  if (segments.length === 5 && typeof joseHeader(segments[0]!)?.['enc'] === 'string') {
    throw new TypeError(
      'revokeToken: a refresh token (JWE) cannot be revoked here: revoke it at the identity ' +
        'provider, and revoke its access tokens or their subject here',
    )
  }
}

/** `value`, unless it is longer than {@link MAX_REVOCATION_ID_LENGTH}: no token carries it. */
function checkedLength(call: string, what: string, value: string): string {
  if (value.length <= MAX_REVOCATION_ID_LENGTH) return value
  throw new TypeError(
    `${call}: the ${what} is ${value.length} characters long, more than ${MAX_REVOCATION_ID_LENGTH} ` +
      '(the longest token accepted by default): no token carries it',
  )
}

/**
 * Whether a value is a compact token rather than a `jti`: three segments, the first a JOSE header
 * (a JSON object naming its `alg`, RFC 7515 §4.1.1). Counting dots is not enough: an id may hold
 * dots (`urn:x.y.z`, `1.2.3`) and must be revoked as the id it is.
 */
function isCompactJws(value: string): boolean {
  const segments = value.split('.', 4)
  return segments.length === 3 && typeof joseHeader(segments[0]!)?.['alg'] === 'string'
}

/** The JSON object a token's first segment decodes to, or `undefined`. */
function joseHeader(segment: string): Record<string, unknown> | undefined {
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return typeof header === 'object' && header !== null
      ? (header as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/** The claims of a token given to `revokeToken`, or a `TypeError`: bad input, not a 401. */
function readablePayload(token: string): Record<string, unknown> {
  try {
    return parseJwt(token, Number.MAX_SAFE_INTEGER).payload
  } catch (cause) {
    throw new TypeError(
      'revokeToken: the value has a token header but its payload cannot be read; pass its jti',
      { cause },
    )
  }
}

/**
 * What `revokeSubject(issuer, subject, options)` revokes: `subject` is matched with the token's
 * `sub` claim, kept until `before + maxLifetimeSec` (each token's own `exp` is not known here).
 * `before` may be ahead of now by as much as a clock tolerance (an IdP whose clock runs ahead
 * stamps tokens issued before now with a later `iat`), no more: a date far ahead would lock the
 * subject out, and pin its entry in every instance, until then. The options are checked here, for
 * every store alike (see {@link revokedBefore}).
 */
export function subjectEntry(
  issuer: string,
  subject: string,
  options: unknown,
  maxLifetimeSec: number,
): RevocationEntry {
  if (
    typeof issuer !== 'string' ||
    issuer === '' ||
    typeof subject !== 'string' ||
    subject === ''
  ) {
    throw new TypeError('revokeSubject needs an issuer and a subject')
  }
  checkedLength('revokeSubject', 'issuer', issuer)
  checkedLength('revokeSubject', 'subject', subject)
  const beforeSec = revokedBefore(options).getTime() / 1000
  const aheadSec = beforeSec - Date.now() / 1000
  if (aheadSec > MAX_CLOCK_TOLERANCE_SEC) {
    throw new TypeError(
      `revokeSubject: before is ${Math.round(aheadSec)} s ahead of now, more than ` +
        `${MAX_CLOCK_TOLERANCE_SEC} s (the largest clock tolerance): pass now plus your ` +
        "identity provider's clock skew at most",
    )
  }
  const expiresAtSec = beforeSec + maxLifetimeSec + REVOCATION_GRACE_SEC
  return { kind: 'subject', issuer, subject, beforeSec, expiresAtSec }
}

const REVOKE_SUBJECT_OPTIONS: readonly string[] = ['before']

/**
 * The `before` of `revokeSubject`'s options (now when left out). Anything else is a `TypeError`,
 * never "now": a date passed directly (`revokeSubject(iss, sub, date)`), a misspelt name
 * (`{ befor: date }`) or a `before` of `null` would otherwise revoke at the current time, which
 * covers less than asked (the skew a `before` ahead of now was to cover) or more (the sessions
 * opened since a `before` in the past). No value is shown, only its kind.
 */
function revokedBefore(options: unknown): Date {
  if (options === undefined) return new Date()
  if (!isPlainObject(options)) {
    throw new TypeError(
      options instanceof Date
        ? 'revokeSubject takes its date as an option: revokeSubject(issuer, subject, { before: date })'
        : `revokeSubject: the options must be an object such as { before: date }, got ${kindOf(options)}`,
    )
  }
  const unknown = Object.keys(options).filter((key) => !REVOKE_SUBJECT_OPTIONS.includes(key))
  if (unknown.length > 0) {
    throw new TypeError(`revokeSubject: ${unknown.map(unknownOption).join('; ')}`)
  }
  const { before } = options
  if (before === undefined) return new Date()
  if (!(before instanceof Date) || Number.isNaN(before.getTime())) {
    throw new TypeError(`revokeSubject: before must be a valid Date, got ${kindOf(before)}`)
  }
  return before
}

function unknownOption(key: string): string {
  const closest = closestName(key, REVOKE_SUBJECT_OPTIONS)
  const hint = closest === undefined ? '' : ` (did you mean ${closest}?)`
  return `${JSON.stringify(key)} is not an option${hint}; the only option is before`
}

/** What a value is, for an error that must not show it. */
function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (value instanceof Date) return 'an invalid Date'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'object'}`
  return /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`
}

/**
 * The ids a token can be revoked by: its own (`jti`, else Entra ID's `uti`: see
 * {@link tokenIdOf}) and Cognito's `origin_jti`.
 */
export function revocableIds(claims: JwtClaims): string[] {
  const ids: string[] = []
  const own = tokenIdOf(claims)
  const origin = stringOf(claims, 'origin_jti')
  if (own !== undefined) ids.push(own)
  if (origin !== undefined) ids.push(origin)
  return ids
}

/**
 * A token's own id: its `jti`, else its `uti`. Entra ID's access tokens carry no `jti` but a
 * `uti`, its unique token identifier; a token with both is revoked by its `jti`, as before `uti`
 * was read. Stores read it where they check a token too, so that what `revokeToken` stored is
 * what they look up.
 */
export function tokenIdOf(claims: JwtClaims): string | undefined {
  return stringOf(claims, 'jti') ?? stringOf(claims, 'uti')
}

function stringOf(claims: JwtClaims, name: string): string | undefined {
  const value = claims[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

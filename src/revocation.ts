// Token revocation: refuse tokens (or every token of a subject) before they expire on their own.

import type { VerifiedToken } from './contracts.js'
import { InvalidTokenError } from './errors.js'
import type { HasHealth } from './health.js'
import type { JwtClaims } from './jwt.js'
import { checkOptionNames, Problems } from './options.js'
import { jtiEntry, subjectEntry, tokenEntryCeilingSec, tokenIdOf } from './revocation-entries.js'

/**
 * Decides whether a verified token was revoked. Consulted after the signature and the claims hold,
 * on every request, remembered tokens included. May answer synchronously (the hot path stays
 * synchronous) or with a promise; a store that cannot answer throws an `UnavailableError` (503)
 * unless it was built to fail open. Any other failure (another error, a rejection, an answer that
 * is not `true` or `false`) is a 503 `ERR_AUTH_REVOCATION_UNAVAILABLE` too: never a pass.
 */
export interface RevocationStore extends HasHealth {
  /**
   * @param issuers when the token's issuer is one of a group whose tokens name the same users
   *   (its provider's `issuerAliases`: Cognito's regional and global forms of one pool), every
   *   issuer of that group, the token's own included; `undefined` otherwise. A store keyed by
   *   issuer and subject checks the subject's revocation under each of them, so that a user
   *   revoked under one form is refused under every form. A store that ignores it covers only the
   *   form each revocation names.
   */
  isRevoked(verified: VerifiedToken, issuers?: readonly string[]): boolean | Promise<boolean>
  /**
   * For a store that bounds its own promised answers (its time-out and its down-policy decide, as
   * the Redis store's `timeoutMs` and `onRevocationStoreDown` do): the longest they take, in
   * milliseconds. The verifier then waits that long plus a second before answering 503, instead
   * of `sourceTimeoutMs`, which would otherwise cut the store's own wait (and its fail-open) short.
   */
  readonly answersWithinMs?: number
}

/** Options of {@link RevocationStore} implementations that keep entries for a bounded time. */
export interface RevocationOptions {
  /**
   * The longest lifetime a token of your issuers has, in seconds: a subject revoked at T must stay
   * revoked until every token issued before T has expired, and a revocation by a bare `jti` (no
   * token to read `exp` from) is kept this long. A revocation by the token itself is kept until
   * its `exp`, but at most this long or a year, whichever is longer. Default 86 400 (one day).
   *
   * Warning: a subject revocation lapses after this time even if the tokens it covers live on. A
   * store that sees a token living longer logs a warning (once, and once more for a token living
   * longer than a year): raise this value then.
   */
  maxTokenLifetimeSec?: number
}

/** What a revocation names, normalised for any store. */
export type RevocationEntry =
  | { readonly kind: 'jti'; readonly jti: string; readonly expiresAtSec: number }
  | {
      readonly kind: 'subject'
      readonly issuer: string
      readonly subject: string
      readonly beforeSec: number
      readonly expiresAtSec: number
    }

export const DEFAULT_MAX_TOKEN_LIFETIME_SEC = 86_400

// Writes between two sweeps of a store's entries, at least.
const PRUNE_AFTER_WRITES = 256

// A sweep for ended entries runs at most this often on time alone (as the Redis copy's check).
const SWEEP_CHECK_SEC = 60

/** The revocation error: 401 `invalid_token` "token revoked". */
export function tokenRevoked(): InvalidTokenError {
  return new InvalidTokenError('ERR_AUTH_TOKEN_REVOKED', 'token revoked')
}

/**
 * Whether a subject revocation issued at `beforeSec` covers a token: tokens issued before it (and
 * tokens without `iat`, whose age cannot be told) are revoked; tokens issued after it are not.
 * `iat` counts whole seconds, so a token of the same second as a fractional `beforeSec` is revoked:
 * refusing a token issued just after is the safe side of not knowing.
 */
export function issuedBefore(claims: JwtClaims, beforeSec: number): boolean {
  return typeof claims.iat !== 'number' || claims.iat < beforeSec
}

/**
 * Which revocations may end while a token is still valid, judged by its lifetime (`exp` − `iat`,
 * or `exp` − now without `iat`):
 * - `'subject'`: it lives longer than `maxLifetimeSec`, which a subject revocation (and one by a
 *   bare `jti`) is kept;
 * - `'token'`: it lives longer than a revocation by the token itself is kept too (its `exp`, but
 *   at most max(`maxLifetimeSec`, one year)), subject revocations included;
 * - `undefined`: none.
 */
export function outlivesRevocations(
  claims: JwtClaims,
  maxLifetimeSec: number,
  now: () => number,
): 'subject' | 'token' | undefined {
  const { exp, iat } = claims
  if (typeof exp !== 'number') return undefined
  const lifetimeSec = exp - (typeof iat === 'number' ? iat : now())
  if (lifetimeSec > tokenEntryCeilingSec(maxLifetimeSec)) return 'token'
  return lifetimeSec > maxLifetimeSec ? 'subject' : undefined
}

/**
 * What ends before such tokens expire, for the lifetime warning: subject revocations, and, for a
 * token living longer than a year, revocations by the token itself, which are capped there.
 */
function outlivedRevocations(outlived: 'subject' | 'token'): string {
  return outlived === 'subject'
    ? 'subject revocations may end before such tokens expire'
    : 'subject revocations, and revocations by the token itself (kept until its exp, but at most ' +
        'max(maxTokenLifetimeSec, one year)), may end before such tokens expire'
}

/** The warning given (once per store and kind) when {@link outlivesRevocations} holds. */
function outlivesRevocationsWarning(maxLifetimeSec: number, outlived: 'subject' | 'token'): string {
  return (
    `a token lives longer than ${outlived === 'token' ? 'a year and ' : ''}maxTokenLifetimeSec ` +
    `(${maxLifetimeSec} s): ${outlivedRevocations(outlived)}, which then pass again; raise ` +
    'maxTokenLifetimeSec to the longest lifetime of your tokens'
  )
}

const MEMORY_STORE_OPTIONS: readonly string[] = ['maxTokenLifetimeSec']

/**
 * The `maxTokenLifetimeSec` of a memory store's options, checked as the Redis store checks it: a
 * `ConfigError` (500, like every construction mistake), not a `TypeError` an error handler would
 * not recognise. An unknown name (`maxTokenLifetimeSecs`) is refused, not left at the default.
 */
function checkedLifetime(options: RevocationOptions | null): number {
  const problems = new Problems()
  if (options !== null && typeof options !== 'object') {
    problems.add(
      'MemoryRevocationStore takes an options object such as { maxTokenLifetimeSec: 3600 }, ' +
        `got a ${typeof options}`,
    )
    problems.throwIfAny()
  }
  checkOptionNames(problems, 'MemoryRevocationStore', options, MEMORY_STORE_OPTIONS)
  const { maxTokenLifetimeSec = DEFAULT_MAX_TOKEN_LIFETIME_SEC } = options ?? {}
  const valid =
    typeof maxTokenLifetimeSec === 'number' &&
    Number.isFinite(maxTokenLifetimeSec) &&
    maxTokenLifetimeSec > 0
  if (!valid) {
    const seen =
      typeof maxTokenLifetimeSec === 'string'
        ? JSON.stringify(maxTokenLifetimeSec)
        : String(maxTokenLifetimeSec)
    problems.add(
      'maxTokenLifetimeSec must be a positive number of seconds, the longest lifetime of your ' +
        `tokens (default ${DEFAULT_MAX_TOKEN_LIFETIME_SEC}), got ${seen}`,
    )
  }
  problems.throwIfAny()
  return maxTokenLifetimeSec
}

/**
 * Revocations kept in this process: for a single instance, or tests. Same API as the Redis store
 * of `oidc-guard/redis`, which shares revocations between instances. A token living longer than
 * `maxTokenLifetimeSec` is reported once with a process warning (`OIDC_GUARD_REVOCATION_LIFETIME`).
 *
 * @example
 * const revocations = new MemoryRevocationStore()
 * app.use(jwtAuth({ provider, revocation: revocations }))
 * // Synchronous: nothing to catch on Express 4 (the Redis store's promise is: see its example).
 * app.post('/logout', requireUser(), (req, res) => {
 *   // The token's `sub`, not `user.id`: that may be another claim (Entra ID: `oid`).
 *   revocations.revokeSubject(req.currentUser.claims.iss!, req.currentUser.claims.sub!)
 *   res.status(204).end()
 * })
 */
export class MemoryRevocationStore implements RevocationStore {
  readonly #maxLifetimeSec: number
  readonly #jtis = new Map<string, number>()
  readonly #subjects = new Map<string, { beforeSec: number; expiresAtSec: number }>()
  #writes = 0
  #pruneAfterWrites = PRUNE_AFTER_WRITES
  // No entry held ends before this (it may end later, extended): sweeping before it drops nothing.
  #earliestEndSec = Number.POSITIVE_INFINITY
  #sweptAtSec = Number.NEGATIVE_INFINITY
  // What the lifetime warning said so far: once for subject revocations, once more for those by
  // token (capped at a year), so a first warning of a one-week token hides no two-year one.
  #warned: 'subject' | 'token' | undefined

  /**
   * @throws {ConfigError} `ERR_AUTH_CONFIG` for options that are not an object, an option it does
   *   not know (`maxTokenLifetimeSecs`, `onRevocationStoreDown`), or a `maxTokenLifetimeSec` that
   *   is not a positive, finite number.
   */
  constructor(options: RevocationOptions = {}) {
    this.#maxLifetimeSec = checkedLifetime(options)
  }

  /**
   * Revokes one token, by the token itself or its `jti` (Entra ID's `uti` for a token without
   * `jti`, Cognito's `origin_jti` too), until the token expires: its `exp`, but at most
   * max(`maxTokenLifetimeSec`, one year); a bare `jti` for `maxTokenLifetimeSec`. A value is taken
   * as a token when it starts with a JOSE header; any other (`urn:x.y.z` too) is a `jti`. Pass the
   * token alone, not the Authorization header's `Bearer …`.
   *
   * @throws {TypeError} for an empty value, one over 16 KiB, with whitespace or a `Bearer `
   *   prefix, a refresh token (JWE: revoke it at the identity provider), a token with no
   *   `jti`/`uti`/`origin_jti`, or a token whose payload cannot be read.
   */
  revokeToken(tokenOrJti: string): void {
    const entry = jtiEntry(tokenOrJti, this.#maxLifetimeSec, nowSec()) as {
      jti: string
      expiresAtSec: number
    }
    const until = Math.max(entry.expiresAtSec, this.#jtis.get(entry.jti) ?? 0)
    this.#jtis.set(entry.jti, until)
    this.#wrote(until)
  }

  /**
   * Revokes every token of a subject issued before `before` (default: now): "log out everywhere".
   *
   * `iat` counts whole seconds: a token issued in the same second as `before` (a new login right
   * after "log out everywhere") is refused too, for its whole life. Let the user sign in again from
   * the next whole second on, or pass a `before` in the past.
   *
   * Warning: `iat` is the IdP's clock. One running ahead stamps a token issued just before the
   * call with a later `iat`, which escapes it; pass `before: new Date(Date.now() + skewMs)` to
   * cover that skew (at most 300 s ahead).
   *
   * @param subject the tokens' `sub` claim (`user.claims.sub`). Not `user.id`, which a provider may
   *   take from another claim (Entra ID: `oid`): such a revocation would match no token.
   * @throws {TypeError} for an empty issuer or subject, one over 16 KiB, options that are not an
   *   object (a Date passed directly), an option other than `before` (`befor`), a `before` that is
   *   not a valid Date (`null`), or a `before` more than 300 s ahead of now.
   */
  revokeSubject(issuer: string, subject: string, options?: { before?: Date }): void {
    const entry = subjectEntry(issuer, subject, options, this.#maxLifetimeSec)
    if (entry.kind !== 'subject') return
    const key = subjectKey(issuer, subject)
    const existing = this.#subjects.get(key)
    if (existing === undefined || existing.beforeSec < entry.beforeSec) {
      this.#subjects.set(key, { beforeSec: entry.beforeSec, expiresAtSec: entry.expiresAtSec })
      this.#wrote(entry.expiresAtSec)
    } else {
      this.#wrote(existing.expiresAtSec)
    }
  }

  /** How many revocations are kept (expired ones are dropped as they are met). */
  get size(): number {
    return this.#jtis.size + this.#subjects.size
  }

  // Entries end when the tokens they cover have expired; sweep now and then so memory stays
  // bounded by the revocations of one token lifetime, not by every revocation ever made. A sweep
  // walks every entry: after as many writes as it left entries (256 at least), so n revocations
  // cost linear time, not quadratic, as in the Redis store's copy. After a burst that alone would
  // keep its ended entries until as many new writes arrive, so a write also sweeps once an entry
  // may have ended, 256 writes and a minute after the last sweep: at most one more walk a minute,
  // never one per 256 writes while entries end every second. No timer: a store receiving no
  // writes drops ended entries as checks meet them, as before.
  #wrote(endsAtSec: number): void {
    this.#earliestEndSec = Math.min(this.#earliestEndSec, endsAtSec)
    this.#writes += 1
    if (this.#writes < PRUNE_AFTER_WRITES) return
    const now = nowSec()
    const ended = now >= this.#earliestEndSec && now - this.#sweptAtSec >= SWEEP_CHECK_SEC
    if (ended || this.#writes >= this.#pruneAfterWrites) this.#sweep(now)
  }

  #sweep(now: number): void {
    let earliest = Number.POSITIVE_INFINITY
    for (const [id, until] of this.#jtis) {
      if (until <= now) this.#jtis.delete(id)
      else earliest = Math.min(earliest, until)
    }
    for (const [key, entry] of this.#subjects) {
      if (entry.expiresAtSec <= now) this.#subjects.delete(key)
      else earliest = Math.min(earliest, entry.expiresAtSec)
    }
    this.#earliestEndSec = earliest
    this.#sweptAtSec = now
    this.#writes = 0
    this.#pruneAfterWrites = Math.max(PRUNE_AFTER_WRITES, this.size)
  }

  /**
   * @param issuers the token's group of issuers naming the same users, if any: its subject is
   *   looked up under each (see {@link RevocationStore.isRevoked}).
   */
  isRevoked(verified: VerifiedToken, issuers?: readonly string[]): boolean {
    // The common case (nothing revoked) builds nothing, and reads the clock only for a token
    // without `iat` (its lifetime, until the warning was given).
    const { claims } = verified
    if (this.#warned !== 'token') this.#warnIfOutlives(claims)
    if (this.#jtis.size > 0) {
      if (this.#jtiRevoked(tokenIdOf(claims)) || this.#jtiRevoked(claims['origin_jti'])) {
        return true
      }
    }
    if (this.#subjects.size === 0) return false
    const { iss, sub } = claims
    if (typeof iss !== 'string' || typeof sub !== 'string') return false
    if (issuers === undefined) return this.#subjectRevoked(claims, iss, sub)
    for (const issuer of issuers) if (this.#subjectRevoked(claims, issuer, sub)) return true
    return false
  }

  #subjectRevoked(claims: JwtClaims, issuer: string, subject: string): boolean {
    const key = subjectKey(issuer, subject)
    const entry = this.#subjects.get(key)
    if (entry === undefined) return false
    if (entry.expiresAtSec <= nowSec()) {
      this.#subjects.delete(key)
      return false
    }
    return issuedBefore(claims, entry.beforeSec)
  }

  #warnIfOutlives(claims: JwtClaims): void {
    const outlived = outlivesRevocations(claims, this.#maxLifetimeSec, nowSec)
    if (outlived === undefined || outlived === this.#warned) return
    this.#warned = outlived
    // This store has no logger: a process warning reaches stderr by default, once per store.
    process.emitWarning(outlivesRevocationsWarning(this.#maxLifetimeSec, outlived), {
      code: 'OIDC_GUARD_REVOCATION_LIFETIME',
    })
  }

  #jtiRevoked(id: unknown): boolean {
    if (typeof id !== 'string') return false
    const until = this.#jtis.get(id)
    if (until === undefined) return false
    if (until > nowSec()) return true
    this.#jtis.delete(id)
    return false
  }
}

export function subjectKey(issuer: string, subject: string): string {
  return `${issuer}\n${subject}`
}

function nowSec(): number {
  return Date.now() / 1000
}

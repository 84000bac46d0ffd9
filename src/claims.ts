// Registered-claim rules (RFC 7519 §4.1, RFC 9068 §2.2): types, times, issuer and audience.

import { InvalidTokenError } from './errors.js'
import type { JwtClaims } from './jwt.js'

/** How a provider checks `iss`: one exact string, or a rule for templated issuers (Entra). */
export type IssuerRule = string | ((iss: string, claims: JwtClaims) => boolean)

/** Claim rules a provider resolves once, at construction. */
export interface ClaimsPolicy {
  readonly issuer: IssuerRule
  /** Accepted audiences (any one must be in `aud`); `null` skips the audience check deliberately. */
  readonly audience: readonly string[] | null
  readonly clockToleranceSec: number
  /** Refuse tokens whose `iat` is older than this; requires `iat`. */
  readonly maxTokenAgeSec: number | undefined
  /** Refuse tokens meant to live longer than this (`exp` − `iat`); requires `iat`. */
  readonly maxTokenLifetimeSec?: number | undefined
  /** Claims that must be present (beyond `iss` and `exp`, which always are). */
  readonly requiredClaims: readonly string[]
}

/**
 * The largest clock tolerance a provider accepts. Clocks synchronised by NTP differ by
 * milliseconds; a tolerance of minutes is what a skewed host needs at worst, and anything larger
 * (most likely milliseconds given where seconds were meant) would keep expired tokens valid.
 */
export const MAX_CLOCK_TOLERANCE_SEC = 300

// Claims that, when present, must be strings: a list or object there is an attack or a bug.
const STRING_CLAIMS = ['jti', 'client_id', 'azp', 'sid', 'typ'] as const

function invalidClaim(name: string, problem = 'invalid'): InvalidTokenError {
  return new InvalidTokenError('ERR_AUTH_CLAIM_INVALID', `${problem} ${name} claim`)
}

function isNumericDate(value: unknown): value is number {
  // RFC 7519 §2: a JSON number; non-finite values (`1e400` parses to Infinity) never are.
  return typeof value === 'number' && Number.isFinite(value)
}

function isStringList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}

/**
 * Checks `exp`, `nbf`, `iat` (and the token's age) at `now`, in seconds, with the policy's leeway.
 *
 * @throws {InvalidTokenError} when the token is not valid at `now`.
 */
export function checkTimes(
  claims: JwtClaims,
  policy: Pick<ClaimsPolicy, 'clockToleranceSec' | 'maxTokenAgeSec' | 'maxTokenLifetimeSec'>,
  now: number,
): void {
  const { exp, nbf, iat } = claims
  const tolerance = policy.clockToleranceSec
  if (exp === undefined) throw invalidClaim('exp', 'missing')
  if (!isNumericDate(exp)) throw invalidClaim('exp')
  if (nbf !== undefined && !isNumericDate(nbf)) throw invalidClaim('nbf')
  if (iat !== undefined && !isNumericDate(iat)) throw invalidClaim('iat')
  if (now >= exp + tolerance) {
    throw new InvalidTokenError('ERR_AUTH_TOKEN_EXPIRED', 'token expired')
  }
  if (nbf !== undefined && nbf > now + tolerance) {
    throw new InvalidTokenError('ERR_AUTH_TOKEN_NOT_YET_VALID', 'token not yet valid')
  }
  // jose only checks iat when maxTokenAge is set; a token from the future is never valid.
  if (iat !== undefined && iat > now + tolerance) {
    throw new InvalidTokenError('ERR_AUTH_TOKEN_NOT_YET_VALID', 'token issued in the future')
  }
  if (policy.maxTokenAgeSec !== undefined) {
    if (iat === undefined) throw invalidClaim('iat', 'missing')
    if (now - iat > policy.maxTokenAgeSec + tolerance) {
      throw new InvalidTokenError('ERR_AUTH_TOKEN_TOO_OLD', 'token too old')
    }
  }
  // A token minted to live until the year 9999 is a stolen signing key's favourite (catalog CLM-07).
  if (policy.maxTokenLifetimeSec !== undefined) {
    if (iat === undefined) throw invalidClaim('iat', 'missing')
    if (exp - iat > policy.maxTokenLifetimeSec + tolerance) {
      throw new InvalidTokenError('ERR_AUTH_CLAIM_INVALID', 'token lifetime too long')
    }
  }
}

function checkIssuer(claims: JwtClaims, rule: IssuerRule): void {
  const { iss } = claims
  if (typeof iss !== 'string') throw invalidClaim('iss', iss === undefined ? 'missing' : 'invalid')
  const matches = typeof rule === 'string' ? iss === rule : rule(iss, claims)
  if (!matches) throw new InvalidTokenError('ERR_AUTH_ISSUER_MISMATCH', 'issuer mismatch')
}

function checkAudience(claims: JwtClaims, expected: readonly string[] | null): void {
  const { aud } = claims
  if (aud === undefined) {
    if (expected === null) return
    throw invalidClaim('aud', 'missing')
  }
  const list = typeof aud === 'string' ? [aud] : aud
  if (!isStringList(list) || list.length === 0 || list.includes('')) throw invalidClaim('aud')
  if (expected !== null && !expected.some((audience) => list.includes(audience))) {
    throw new InvalidTokenError('ERR_AUTH_AUDIENCE_MISMATCH', 'audience mismatch')
  }
}

function checkShapes(claims: JwtClaims, policy: ClaimsPolicy): void {
  const { sub } = claims
  if (sub !== undefined && (typeof sub !== 'string' || sub === '')) throw invalidClaim('sub')
  for (const name of STRING_CLAIMS) {
    const value = claims[name]
    if (value !== undefined && typeof value !== 'string') throw invalidClaim(name)
  }
  // Scopes: a space-delimited string (RFC 8693 §4.2) or a list of strings (Okta's `scp`).
  for (const name of ['scope', 'scp'] as const) {
    const value = claims[name]
    if (value !== undefined && typeof value !== 'string' && !isStringList(value)) {
      throw invalidClaim(name)
    }
  }
  // RFC 9449 §7.2 / RFC 8705 §3: a sender-constrained token is not a bearer token.
  if (claims['cnf'] !== undefined) {
    throw new InvalidTokenError(
      'ERR_AUTH_TOKEN_REJECTED',
      'sender-constrained token sent as bearer',
    )
  }
  // Own claims only: `constructor` or `toString` read through Object.prototype is never missing.
  for (const name of policy.requiredClaims) {
    if (!Object.hasOwn(claims, name) || claims[name] === undefined) {
      throw invalidClaim(name, 'missing')
    }
  }
}

/**
 * Validates the registered claims of a token whose signature has been checked. `now` is in
 * seconds. Runs cheapest first; every failure is an {@link InvalidTokenError} with a fixed text.
 */
export function validateClaims(claims: JwtClaims, policy: ClaimsPolicy, now: number): void {
  // A security event token (a back-channel logout token among them) carries `events`: it is a
  // message about a session, never a credential (OIDC Back-Channel Logout §2.4, catalog TYP-02).
  if (claims['events'] !== undefined) {
    throw new InvalidTokenError(
      'ERR_AUTH_TOKEN_TYPE_INVALID',
      'security event token, not an access token',
    )
  }
  checkTimes(claims, policy, now)
  checkIssuer(claims, policy.issuer)
  checkAudience(claims, policy.audience)
  checkShapes(claims, policy)
}

/** Scopes granted by `scope` or `scp`, as a list. */
export function scopesOf(claims: JwtClaims): readonly string[] {
  const value = claims.scope ?? claims.scp
  if (value === undefined) return []
  return typeof value === 'string' ? splitScope(value) : value
}

/**
 * A `scope` string's scopes: split on spaces (RFC 6749 §3.3), nothing trimmed, so that every
 * reader of a scope (requireScopes, the claim sources) takes the same values from it.
 */
export function splitScope(text: string): string[] {
  return text.split(' ').filter((scope) => scope !== '')
}

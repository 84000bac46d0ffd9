// One token's verification in a fixed order: structure, header, key, signature, then claims.

import { checkTimes, validateClaims, type ClaimsPolicy } from './claims.js'
import type { VerifiedToken } from './contracts.js'
import { InvalidTokenError } from './errors.js'
import {
  checkHeader,
  parseJwt,
  signatureIsValid,
  type HeaderPolicy,
  type JwsAlgorithm,
  type ParsedJwt,
  type VerificationKey,
} from './jwt.js'

/** Finds the key for a token; synchronous when the key set is cached. */
export interface KeySource {
  getKey(alg: JwsAlgorithm, kid: string | undefined): VerificationKey | Promise<VerificationKey>
  /** Whether a key returned earlier is still in the current set; lets verifications be reused. */
  isCurrent?(key: VerificationKey): boolean
}

/** Everything a provider checks, resolved once at construction. */
export interface VerificationPolicy extends HeaderPolicy, ClaimsPolicy {
  readonly maxTokenLength: number
}

/**
 * Verifies a compact JWS against a provider's policy and keys. Nothing about the claims is
 * trusted, or reported, before the signature holds: a forged token carrying every scope and an
 * expired `exp` answers "signature verification failed", not "token expired".
 *
 * @throws {InvalidTokenError} for any failed check (401).
 * @throws {UnavailableError} when the keys cannot be had (503).
 */
export async function verifyJwt(
  token: string,
  parsed: ParsedJwt | undefined,
  policy: VerificationPolicy,
  keys: KeySource,
): Promise<VerifiedToken> {
  if (token.length > policy.maxTokenLength) {
    throw new InvalidTokenError('ERR_AUTH_TOKEN_TOO_LARGE', 'token too large')
  }
  const jwt = parsed ?? parseJwt(token, policy.maxTokenLength)
  const { alg, kid } = checkHeader(jwt.header, policy)
  const found = keys.getKey(alg, kid)
  const key = found instanceof Promise ? await found : found
  if (!signatureIsValid(jwt, alg, key)) {
    throw new InvalidTokenError('ERR_AUTH_SIGNATURE_INVALID', 'signature verification failed')
  }
  const claims = jwt.payload
  validateClaims(claims, policy, Date.now() / 1000)
  if (keys.isCurrent === undefined) return { token, header: jwt.header, claims }
  const isCurrent = keys.isCurrent.bind(keys)
  // Re-checked on every reuse: time passes (a remembered token must fail the second it expires)
  // and keys leave the set.
  const revalidate = (nowSec: number): boolean => {
    try {
      checkTimes(claims, policy, nowSec)
    } catch {
      return false
    }
    return isCurrent(key)
  }
  return { token, header: jwt.header, claims, revalidate }
}

// One token's verification in a fixed order: structure, header, key, signature, then claims.

import { validateClaims, type ClaimsPolicy } from './claims.js'
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
  validateClaims(jwt.payload, policy, Date.now() / 1000)
  return { token, header: jwt.header, claims: jwt.payload }
}

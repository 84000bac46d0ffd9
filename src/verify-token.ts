// One token's verification in a fixed order: structure, header, key, signature, then claims.

import { validateClaims, type ClaimsPolicy } from './claims.js'
import type { VerifiedToken } from './contracts.js'
import { InvalidTokenError } from './errors.js'
import type { UserIdentity } from './user.js'
import {
  checkHeader,
  freezeVerified,
  parseJwt,
  signatureIsValid,
  signatureIsValidOffThread,
  SIGNATURES_OFF_THREAD,
  type HeaderPolicy,
  type JwsAlgorithm,
  type JwtClaims,
  type JwtHeader,
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
 * Synchronous when it can be: with the key at hand and the signature checked inline (one core),
 * the verified token comes back as it is and a failure is thrown. Otherwise (the key set being
 * fetched, the signature checked on the thread pool) it returns a promise, which rejects with the
 * same errors. A caller in an `async` function awaits it only when it is a promise: each promise
 * spared is an allocation and a turn of the microtask queue per new token.
 *
 * @throws {InvalidTokenError} for any failed check (401), or the promise rejects with it.
 * @throws {UnavailableError} when the keys cannot be had (503), as a rejection.
 */
export function verifyJwt(
  token: string,
  parsed: ParsedJwt | undefined,
  policy: VerificationPolicy,
  keys: KeySource,
): VerifiedToken | Promise<VerifiedToken> {
  if (token.length > policy.maxTokenLength) {
    throw new InvalidTokenError('ERR_AUTH_TOKEN_TOO_LARGE', 'token too large')
  }
  const jwt = parsed ?? parseJwt(token, policy.maxTokenLength)
  const { alg, kid } = checkHeader(jwt.header, policy)
  const found = keys.getKey(alg, kid)
  if (found instanceof Promise || SIGNATURES_OFF_THREAD) {
    return verifyWhenReady(token, jwt, alg, found, policy, keys)
  }
  return accept(token, jwt, signatureIsValid(jwt, alg, found), policy, keys, found)
}

/** The rest of {@link verifyJwt} once the key has come and the signature's check has answered. */
async function verifyWhenReady(
  token: string,
  jwt: ParsedJwt,
  alg: JwsAlgorithm,
  found: VerificationKey | Promise<VerificationKey>,
  policy: VerificationPolicy,
  keys: KeySource,
): Promise<VerifiedToken> {
  const key = await found
  const valid = SIGNATURES_OFF_THREAD
    ? await signatureIsValidOffThread(jwt, alg, key)
    : signatureIsValid(jwt, alg, key)
  return accept(token, jwt, valid, policy, keys, key)
}

/** The signature's answer, then the claims: the verified token, or the first failed check thrown. */
function accept(
  token: string,
  jwt: ParsedJwt,
  valid: boolean,
  policy: VerificationPolicy,
  keys: KeySource,
  key: VerificationKey,
): VerifiedToken {
  if (!valid) {
    throw new InvalidTokenError('ERR_AUTH_SIGNATURE_INVALID', 'signature verification failed')
  }
  freezeVerified(jwt)
  const claims = jwt.payload
  validateClaims(claims, policy, Date.now() / 1000)
  if (keys.isCurrent === undefined) return { token, header: jwt.header, claims }
  return new Verification(token, jwt.header, claims, policy, keys as CurrentKeys, key)
}

type CurrentKeys = KeySource & Required<Pick<KeySource, 'isCurrent'>>

/**
 * A token that passed every check, which may be remembered for its token string: a class rather
 * than a closure per token, since one is built for every new token on the hot path.
 *
 * A token used once, as every token is when each request brings a new one, should leave as little
 * as it can in the token cache, where the garbage collector copies each entry out of the young
 * generation and marks it in the old one until it is evicted. So what can be made again from the
 * token is kept only from its second use: the user identity the provider maps from the claims, and
 * the decoded claims themselves (see {@link Verification.releaseClaims}). The validity window is
 * kept as numbers, read once: a reuse checks it without reading the claims.
 */
export class Verification implements VerifiedToken {
  /**
   * The user identity the provider mapped from the claims, kept once the token is used a second
   * time, so that a remembered token is not mapped again; `null` after its first use: about a
   * third of an entry's objects (the identity, its scope list and the list's storage).
   */
  identity: UserIdentity | null | undefined = undefined
  #claims: JwtClaims | undefined
  readonly #expiresSec: number
  // The latest of nbf and iat (a token is not valid before either), -Infinity without them.
  readonly #startsSec: number
  readonly #issuedSec: number
  readonly #policy: VerificationPolicy
  readonly #keys: CurrentKeys
  readonly #key: VerificationKey

  /** @param claims claims that passed {@link validateClaims} under `policy`: `exp` is a number. */
  constructor(
    readonly token: string,
    readonly header: JwtHeader,
    claims: JwtClaims,
    policy: VerificationPolicy,
    keys: CurrentKeys,
    key: VerificationKey,
  ) {
    const { exp, nbf, iat } = claims
    this.#claims = claims
    this.#expiresSec = exp as number
    this.#startsSec = Math.max(nbf ?? -Infinity, iat ?? -Infinity)
    this.#issuedSec = iat ?? Number.NaN
    this.#policy = policy
    this.#keys = keys
    this.#key = key
  }

  /** The verified claims: those the checks read, or, once released, the token's payload decoded again. */
  get claims(): JwtClaims {
    if (this.#claims === undefined) {
      const { payload } = parseJwt(this.token, this.#policy.maxTokenLength)
      freezeVerified({ header: this.header, payload })
      this.#claims = payload
    }
    return this.#claims
  }

  /**
   * Lets the decoded claims go once the first request has its user (which holds them): the object
   * and its strings are most of an entry's objects besides the token. A second use decodes the
   * payload again (about 2 µs, once) and keeps it: the token is the one verified, so its payload
   * is the same text.
   */
  releaseClaims(): void {
    this.#claims = undefined
  }

  /**
   * Re-checked on every reuse: time passes (a remembered token must fail the second it expires)
   * and keys leave the set. The comparisons are `checkTimes`'s, on the numbers it read.
   */
  revalidate(nowSec: number): boolean {
    const { clockToleranceSec: tolerance, maxTokenAgeSec } = this.#policy
    if (nowSec >= this.#expiresSec + tolerance || this.#startsSec > nowSec + tolerance) return false
    if (maxTokenAgeSec !== undefined && !(nowSec - this.#issuedSec <= maxTokenAgeSec + tolerance)) {
      return false
    }
    return this.#keys.isCurrent(this.#key)
  }
}

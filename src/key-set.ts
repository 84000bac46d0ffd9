// A JWK Set turned into imported public keys once, and the choice of one key for a token.

import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { InvalidTokenError } from './errors.js'
import { isJsonObject } from './fetch-json.js'
import {
  isJwsAlgorithm,
  keySuitsAlgorithm,
  type JwsAlgorithm,
  type VerificationKey,
} from './jwt.js'

// Members that only private or symmetric keys have: such a key is never used to verify.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const
const MIN_RSA_BITS = 2048
// The curves of ES256, ES384 and ES512: a key on another (secp256k1) would verify no token.
const EC_CURVES: ReadonlySet<string> = new Set(['P-256', 'P-384', 'P-521'])

/**
 * The most members a JWK Set may list: 100. Issuers publish a handful (a current key, the next,
 * the last); each member costs an import, which blocks the event loop, and every token's key
 * lookup walks the list. Thousands fit in the 1 MiB response cap, so the count is capped too.
 */
export const MAX_JWKS_MEMBERS = 100

const NO_KEY_TYPE = 'not a JWK (no kty)'

// RFC 8032 §5.1.2: an Ed25519 public key is y (255 bits, little-endian) with x's sign in the top
// bit. Node takes a key whose point has small order (the identity, say), and a y ≥ p: against
// such a key, R = that point and S = 0 is a valid signature of any token, made with no private
// key. The sign bit is left out of the check, so each y below covers both of its encodings: the
// two points of each order-8 y and of y = 0, and y = 1 and p − 1 with a sign bit set (x = 0 there,
// an encoding RFC 8032 refuses).
const ED25519_P = 2n ** 255n - 19n
const SMALL_ORDER_Y: ReadonlySet<bigint> = new Set([
  0n, // order 4
  1n, // the identity, order 1
  ED25519_P - 1n, // order 2
  0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n, // order 8
  0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n, // order 8
])

/** Reasons for skipping that mean the member is broken, rather than a key meant for someone else. */
export const MALFORMED_KEY: ReadonlySet<string> = new Set([
  'not an object',
  NO_KEY_TYPE,
  'unparseable key',
])

/** Why a JWK was left out of a set; logged once per fetch so misconfigured sets are visible. */
export type SkippedKey = { kid: string | undefined; reason: string }

function importKey(jwk: Record<string, unknown>, source: string): VerificationKey | string {
  const { kty, use, key_ops: keyOps, alg, kid, crv } = jwk
  // RFC 7517 §4.1: kty is required. Without it the member is no key at all (`{}`, an error
  // object in the list), not a key of a type meant for someone else: checked before anything.
  if (typeof kty !== 'string') return NO_KEY_TYPE
  if (use !== undefined && use !== 'sig') return 'not a signing key (use)'
  if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes('verify'))) {
    return 'not a verification key (key_ops)'
  }
  if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP') return 'unsupported key type'
  if (PRIVATE_MEMBERS.some((member) => jwk[member] !== undefined)) return 'private key material'
  if (kid !== undefined && typeof kid !== 'string') return 'kid is not a string'
  if (alg !== undefined && !isJwsAlgorithm(alg)) return 'unsupported alg'
  if (kty === 'OKP' && crv !== 'Ed25519') return 'unsupported curve'
  // A missing or non-string crv is left to the import, which refuses it as unparseable: broken.
  if (kty === 'EC' && typeof crv === 'string' && !EC_CURVES.has(crv)) return 'unsupported curve'
  let keyObject
  try {
    keyObject = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
  } catch {
    return 'unparseable key'
  }
  if (kty === 'RSA') {
    const details = keyObject.asymmetricKeyDetails
    // RFC 8725 §3.5 / RFC 7518 §3.3: RSA keys below 2048 bits, and tiny exponents, are weak.
    if ((details?.modulusLength ?? 0) < MIN_RSA_BITS) return 'RSA key shorter than 2048 bits'
    if ((details?.publicExponent ?? 0n) < 65537n) return 'RSA public exponent too small'
  }
  if (kty === 'OKP' && isWeakEd25519(keyObject)) return 'small-order or non-canonical Ed25519 key'
  return {
    kid,
    alg,
    kty,
    crv: typeof crv === 'string' ? crv : undefined,
    issuer: typeof jwk['issuer'] === 'string' ? jwk['issuer'] : undefined,
    keyObject,
    source,
  }
}

/** Whether a signature under this Ed25519 key proves nothing (see SMALL_ORDER_Y). */
function isWeakEd25519(keyObject: KeyObject): boolean {
  // The bytes Node imported, not the JWK's text: its base64url decoding skips stray characters.
  const { x } = keyObject.export({ format: 'jwk' })
  const bytes = Buffer.from(x ?? '', 'base64url').reverse() // big-endian from here on
  if (bytes.length !== 32) return true
  bytes[0] = bytes[0]! & 0x7f // the sign of x
  const y = BigInt(`0x${bytes.toString('hex')}`)
  return y >= ED25519_P || SMALL_ORDER_Y.has(y)
}

/**
 * Imports every usable key of a JWK Set document. Keys that cannot verify (encryption keys,
 * private or symmetric keys, unknown types, weak RSA and Ed25519 keys) are skipped, not fatal
 * (RFC 7517 §5).
 *
 * @throws {Error} when the document is not a JWK Set (`{ "keys": [...] }`), or lists more than
 *   {@link MAX_JWKS_MEMBERS} members: nothing of it is imported.
 */
export function importKeySet(
  document: unknown,
  previous: readonly VerificationKey[] = [],
): {
  keys: VerificationKey[]
  skipped: SkippedKey[]
} {
  if (!isJsonObject(document) || !Array.isArray(document['keys'])) {
    throw new Error(notAKeySet(document))
  }
  const count = document['keys'].length
  // Refused whole, before any import: a broken answer, so the last good keys keep serving.
  if (count > MAX_JWKS_MEMBERS) {
    throw new Error(
      `the JWK Set lists ${count} members, more than the ${MAX_JWKS_MEMBERS} accepted: ` +
        'an issuer publishes a handful of keys',
    )
  }
  const keys: VerificationKey[] = []
  const skipped: SkippedKey[] = []
  // A refresh that brings the same key keeps the same object: verified tokens cached against it
  // stay trusted, while a key that left the set takes its tokens with it.
  const known = new Map(previous.map((key) => [key.source, key]))
  // A set that lists one key twice, byte for byte, holds it once. Entries of one key that differ
  // in metadata stay apart here; selectKey tells them from different keys sharing a kid.
  const seen = new Set<string>()
  for (const jwk of document['keys'] as unknown[]) {
    if (!isJsonObject(jwk)) {
      skipped.push({ kid: undefined, reason: 'not an object' })
      continue
    }
    const source = JSON.stringify(jwk)
    if (seen.has(source)) continue
    seen.add(source)
    const kept = known.get(source)
    if (kept !== undefined) {
      keys.push(kept)
      continue
    }
    const result = importKey(jwk, source)
    if (typeof result === 'string') {
      skipped.push({ kid: typeof jwk['kid'] === 'string' ? jwk['kid'] : undefined, reason: result })
    } else {
      keys.push(result)
    }
  }
  return { keys, skipped }
}

/**
 * Why a document is no JWK Set. A discovery document is the usual mistake (its URL given as the
 * jwks_uri): said so, with the way out.
 */
function notAKeySet(document: unknown): string {
  const discovery =
    isJsonObject(document) && document['issuer'] !== undefined && document['jwks_uri'] !== undefined
  return discovery
    ? 'the response is not a JWK Set: this is a discovery document: use OidcProvider with its ' +
        'issuer, or its jwks_uri'
    : 'the response is not a JWK Set'
}

/**
 * Chooses the key for a token: the one key with the token's `kid` (or, with no `kid`, the one
 * key of the set) that suits the algorithm. Entries that each suit it and hold the same key
 * material, bound to the same issuer, are that one key listed twice (once with `use`, once with
 * `alg`): the first of them is chosen. Nothing is merged, so no entry lends another a permission:
 * the token's algorithm is one that every entry chosen from allows on its own.
 *
 * @returns the key, or `undefined` when the set does not know the `kid` (a refetch may help).
 * @throws {InvalidTokenError} `ERR_AUTH_KEY_NOT_FOUND` when the `kid` is known but no key suits
 *   the algorithm, or when different keys match (never "first key wins", RFC 7517 §4.5).
 */
export function selectKey(
  keys: readonly VerificationKey[],
  alg: JwsAlgorithm,
  kid: string | undefined,
): VerificationKey | undefined {
  let match: VerificationKey | undefined
  let kidKnown = false
  for (const key of keys) {
    if (kid !== undefined && key.kid !== kid) continue
    kidKnown = true
    if (!keySuitsAlgorithm(key, alg)) continue
    if (match === undefined) match = key
    else if (!sameKey(match, key)) {
      throw new InvalidTokenError('ERR_AUTH_KEY_NOT_FOUND', 'no unique signing key for the token')
    }
  }
  if (match === undefined && kidKnown) {
    throw new InvalidTokenError('ERR_AUTH_KEY_NOT_FOUND', 'no suitable signing key for the token')
  }
  return match
}

// Compared only when a second entry matches, which is rare: the hot path pays nothing.
function sameKey(a: VerificationKey, b: VerificationKey): boolean {
  return a.issuer === b.issuer && a.keyObject.equals(b.keyObject)
}

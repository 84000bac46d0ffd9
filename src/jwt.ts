// Compact JWS parsing, signature checks with node:crypto KeyObjects, and registered-claim rules.

import {
  constants,
  verify as cryptoVerify,
  type KeyObject,
  type VerifyKeyObjectInput,
  type VerifyPublicKeyInput,
} from 'node:crypto'
import { isUtf8 } from 'node:buffer'
import { availableParallelism } from 'node:os'
import { InvalidTokenError } from './errors.js'
import { pkcs1SignatureIsValid, type Pkcs1Hash } from './pkcs1.js'

/** Claims of a verified token. Registered claims are typed; vendor claims are `unknown`. */
export interface JwtClaims {
  readonly iss?: string
  readonly sub?: string
  readonly aud?: string | readonly string[]
  readonly exp?: number
  readonly nbf?: number
  readonly iat?: number
  readonly jti?: string
  readonly scope?: string | readonly string[]
  readonly scp?: string | readonly string[]
  readonly client_id?: string
  readonly azp?: string
  readonly [claim: string]: unknown
}

/** The JOSE header members the verifier reads. */
export interface JwtHeader {
  readonly alg?: unknown
  readonly kid?: unknown
  readonly typ?: unknown
  readonly crit?: unknown
  readonly [member: string]: unknown
}

/** A token split and decoded, not yet verified. */
export interface ParsedJwt {
  readonly header: JwtHeader
  readonly payload: JwtClaims
  /** `base64url(header) + '.' + base64url(payload)`: the bytes the signature covers. */
  readonly signingInput: string
  readonly signature: Buffer
}

/** Asymmetric JWS algorithms (RFC 7518 §3, RFC 8037). HMAC and `none` are never accepted. */
export type JwsAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA'

/** A public key from a key set, imported once. */
export interface VerificationKey {
  readonly kid: string | undefined
  /** The JWK's `alg`, when the set names one (Entra's keys do not). */
  readonly alg: string | undefined
  readonly kty: 'RSA' | 'EC' | 'OKP'
  readonly crv: string | undefined
  /** The JWK's `issuer` member (Entra publishes it): keys may be bound to one issuer. */
  readonly issuer: string | undefined
  readonly keyObject: KeyObject
  /** The JWK as published (its JSON text), to recognise the same key across refreshes. */
  readonly source?: string
}

interface AlgorithmSpec {
  readonly kty: VerificationKey['kty']
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null
  readonly crv?: string
  /** Exact signature length in bytes where it is fixed (ECDSA r||s, Ed25519). */
  readonly signatureLength?: number
  readonly pss?: boolean
  /** RSASSA-PKCS1-v1_5 (RS256, RS384, RS512): checked by {@link pkcs1SignatureIsValid} inline. */
  readonly pkcs1?: Pkcs1Hash
}

const ALGORITHMS: Readonly<Record<JwsAlgorithm, AlgorithmSpec>> = {
  RS256: { kty: 'RSA', hash: 'sha256', pkcs1: 'sha256' },
  RS384: { kty: 'RSA', hash: 'sha384', pkcs1: 'sha384' },
  RS512: { kty: 'RSA', hash: 'sha512', pkcs1: 'sha512' },
  PS256: { kty: 'RSA', hash: 'sha256', pss: true },
  PS384: { kty: 'RSA', hash: 'sha384', pss: true },
  PS512: { kty: 'RSA', hash: 'sha512', pss: true },
  ES256: { kty: 'EC', hash: 'sha256', crv: 'P-256', signatureLength: 64 },
  ES384: { kty: 'EC', hash: 'sha384', crv: 'P-384', signatureLength: 96 },
  ES512: { kty: 'EC', hash: 'sha512', crv: 'P-521', signatureLength: 132 },
  EdDSA: { kty: 'OKP', hash: null, crv: 'Ed25519', signatureLength: 64 },
}

/** Every algorithm the verifier implements; the default allow-list of a JWKS provider. */
export const ASYMMETRIC_ALGORITHMS: readonly JwsAlgorithm[] = Object.freeze(
  Object.keys(ALGORITHMS) as JwsAlgorithm[],
)

/** Whether `alg` names an algorithm this verifier implements. */
export function isJwsAlgorithm(alg: unknown): alg is JwsAlgorithm {
  return typeof alg === 'string' && Object.hasOwn(ALGORITHMS, alg)
}

/** Default cap on a token's length: Entra tokens with 200 group ids reach ~12 KB. */
export const DEFAULT_MAX_TOKEN_LENGTH = 16 * 1024
const MAX_KID_LENGTH = 1024

function malformed(description = 'malformed token'): InvalidTokenError {
  return new InvalidTokenError('ERR_AUTH_TOKEN_MALFORMED', description)
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
// Bits the last character of a segment of length 4n+2 / 4n+3 carries beyond the data.
const SPARE_BITS = [0, 0, 0b1111, 0b11] as const

/**
 * Whether a token is made of ASCII characters other than `+` and `/`, which base64's own alphabet
 * has and Node's base64url decoder also takes; checked once for the whole token, so that
 * {@link decodeSegment} need not scan each segment with a regular expression (half a
 * microsecond for a token of 800 characters, on every new token). A character past U+00FF would
 * reach that decoder cut to its low byte, and could pass for a letter.
 */
function hasBase64UrlCharacters(token: string): boolean {
  return (
    Buffer.byteLength(token, 'utf8') === token.length &&
    !token.includes('+') &&
    !token.includes('/')
  )
}

/** Decodes one segment of a token that passed {@link hasBase64UrlCharacters}. */
function decodeSegment(segment: string): Buffer {
  // RFC 7515 §2: unpadded base64url. A length of 4n+1 cannot be base64 at all.
  const rest = segment.length % 4
  if (rest === 1) throw malformed()
  // Canonical encoding only (RFC 4648 §3.5): decoders ignore spare bits, so without this check 16
  // strings would carry one signature and defeat anything keyed on the token text.
  const last = BASE64URL_ALPHABET.indexOf(segment.charAt(segment.length - 1))
  if ((last & SPARE_BITS[rest as 0 | 2 | 3]) !== 0) throw malformed()
  const bytes = Buffer.from(segment, 'base64url')
  // The decoder skips any character outside the alphabet (`=` included) and drops a last group of
  // one: a segment gives every byte its length promises only when all of it is base64url.
  if (bytes.length !== (segment.length * 3) >>> 2) throw malformed()
  return bytes
}

function decodeJsonObject(segment: string): Record<string, unknown> {
  const bytes = decodeSegment(segment)
  // Valid UTF-8 only (RFC 7515 §7.1, RFC 8259 §8.1): a lone surrogate or an overlong form is refused.
  if (!isUtf8(bytes)) throw malformed()
  // A leading byte order mark is skipped, as TextDecoder and jose do.
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8', start))
  } catch {
    throw malformed()
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed()
  return value as Record<string, unknown>
}

// An issuer signs every token with one of a few headers: each distinct header text is decoded once.
// Its decoding depends on the text alone, so a remembered header is the one a fresh decoding would
// give; bounded, and emptied when full, so distinct headers (garbage) cannot grow it. Nothing here
// changes a header, and a verified token's is frozen (freezeVerified) before anyone else sees it.
const HEADER_MEMO_MAX = 64
const MAX_MEMO_HEADER_LENGTH = 512
const headers = new Map<string, JwtHeader>()

function decodeHeader(segment: string): JwtHeader {
  if (segment.length > MAX_MEMO_HEADER_LENGTH) return decodeJsonObject(segment)
  let header = headers.get(segment)
  if (header === undefined) {
    header = decodeJsonObject(segment)
    if (headers.size >= HEADER_MEMO_MAX) headers.clear()
    headers.set(segment, header)
  }
  return header
}

/** How many decoded headers are remembered (for tests of the bound). */
export function headerMemoSize(): number {
  return headers.size
}

/**
 * Freezes a verified token's header and payload, all the way down. A decoded header is shared by
 * every token that carries its text, and a verified payload by every request that brings its token
 * while the token cache remembers it: a reader that changed one (`claims.roles.push('admin')`,
 * `claims.exp = …`) would change it for the requests after it, the cache's own expiry check
 * included. Frozen, the change throws in strict-mode code and does nothing elsewhere.
 *
 * Only once the signature holds: freezing costs about 0.1 µs per object, and a forged or junk token
 * of 16 KiB can hold thousands of them (4,000 empty objects: 0.12 ms to parse, 0.5 ms with the
 * freeze), which no one should get to spend for free. About 0.2 µs for a real payload holding a
 * list, next to 0.65 µs for its `JSON.parse`.
 */
export function freezeVerified(jwt: Pick<ParsedJwt, 'header' | 'payload'>): void {
  // A remembered header is frozen by the first token verified with it.
  if (!Object.isFrozen(jwt.header)) freezeJson(jwt.header)
  freezeJson(jwt.payload)
}

/**
 * Freezes what `JSON.parse` made, all the way down. Fresh `JSON.parse` output has no cycles and no
 * frozen parts, so nothing is checked twice.
 */
function freezeJson<T extends object>(value: T): T {
  // A loop, not recursion: a header or payload may nest thousands of arrays deep within the size cap.
  let pending: object[] | undefined
  let current: object | undefined = Object.freeze(value)
  while (current !== undefined) {
    if (Array.isArray(current)) {
      for (let index = 0; index < current.length; index += 1) {
        const member: unknown = current[index]
        if (typeof member === 'object' && member !== null) {
          ;(pending ??= []).push(Object.freeze(member))
        }
      }
    } else {
      for (const name in current) {
        // Own members only: an enumerable property put on Object.prototype is not the token's.
        if (!Object.hasOwn(current, name)) continue
        const member: unknown = (current as Record<string, unknown>)[name]
        if (typeof member === 'object' && member !== null) {
          ;(pending ??= []).push(Object.freeze(member))
        }
      }
    }
    current = pending?.pop()
  }
  return value
}

/**
 * Splits and decodes a compact JWS (RFC 7515 §7.1) without verifying it. Strict: exactly three
 * segments of unpadded base64url, a header and a payload that are JSON objects in valid UTF-8.
 * JWE (five segments) and JSON serialisations are refused before any decoding. The header may be
 * shared with other tokens of the same header text: never change it. The verifier freezes both
 * once the signature holds ({@link freezeVerified}).
 *
 * @throws {InvalidTokenError} `ERR_AUTH_TOKEN_TOO_LARGE`, `ERR_AUTH_TOKEN_MALFORMED`.
 */
export function parseJwt(token: string, maxLength = DEFAULT_MAX_TOKEN_LENGTH): ParsedJwt {
  if (token.length > maxLength) {
    throw new InvalidTokenError('ERR_AUTH_TOKEN_TOO_LARGE', 'token too large')
  }
  const firstDot = token.indexOf('.')
  const secondDot = token.indexOf('.', firstDot + 1)
  if (firstDot <= 0 || secondDot === -1 || token.indexOf('.', secondDot + 1) !== -1) {
    throw malformed()
  }
  if (!hasBase64UrlCharacters(token)) throw malformed()
  const signatureSegment = token.slice(secondDot + 1)
  if (signatureSegment === '') throw malformed('token is not signed')
  return {
    header: decodeHeader(token.slice(0, firstDot)),
    payload: decodeJsonObject(token.slice(firstDot + 1, secondDot)),
    signingInput: token.slice(0, secondDot),
    signature: decodeSegment(signatureSegment),
  }
}

/** Header rules a provider resolves once. */
export interface HeaderPolicy {
  readonly algorithms: ReadonlySet<JwsAlgorithm>
  /** Required `typ` (RFC 9068 `at+jwt`), already normalised; `undefined` skips the check. */
  readonly typ: string | undefined
}

/** Lower-cases a media type and drops an `application/` prefix (RFC 7515 §4.1.9). */
export function normaliseTyp(typ: string): string {
  const lower = typ.toLowerCase()
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower
}

// Back-channel logout tokens, security event tokens, DPoP proofs and ID tokens typed as such.
const FOREIGN_TYPES = new Set(['logout+jwt', 'secevent+jwt', 'dpop+jwt', 'id_token+jwt'])

/**
 * Checks the header before any key lookup: the algorithm against the allow-list, `crit`, the
 * type of `kid`, and `typ` when required. `jku`, `x5u`, `jwk` and `x5c` are never read: keys come
 * only from the provider's configured key set (RFC 8725 §3.10).
 *
 * @returns the algorithm and key id to look the key up with.
 */
export function checkHeader(
  header: JwtHeader,
  policy: HeaderPolicy,
): { alg: JwsAlgorithm; kid: string | undefined } {
  const { alg, kid } = header
  if (!isJwsAlgorithm(alg) || !policy.algorithms.has(alg)) {
    throw new InvalidTokenError('ERR_AUTH_ALG_NOT_ALLOWED', 'signing algorithm not allowed')
  }
  // RFC 7515 §4.1.11: no extension is understood here, so any `crit` makes the token invalid.
  if (header.crit !== undefined) {
    throw new InvalidTokenError('ERR_AUTH_HEADER_INVALID', 'unsupported critical header parameter')
  }
  if (kid !== undefined && (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH)) {
    throw new InvalidTokenError('ERR_AUTH_HEADER_INVALID', 'invalid kid header parameter')
  }
  if (policy.typ !== undefined) {
    if (typeof header.typ !== 'string' || normaliseTyp(header.typ) !== policy.typ) {
      throw new InvalidTokenError('ERR_AUTH_HEADER_INVALID', 'unexpected token type (typ)')
    }
  } else if (typeof header.typ === 'string' && FOREIGN_TYPES.has(normaliseTyp(header.typ))) {
    // Tokens of other kinds share issuer, keys and audience with access tokens; their explicit
    // typ is never accepted as one (RFC 8725 §3.11, catalog TYP-02).
    throw new InvalidTokenError('ERR_AUTH_TOKEN_TYPE_INVALID', 'not an access token (typ)')
  }
  return { alg, kid }
}

/** Whether a key may check a signature made with `alg`: key type, curve, and the JWK's own `alg`. */
export function keySuitsAlgorithm(key: VerificationKey, alg: JwsAlgorithm): boolean {
  const spec = ALGORITHMS[alg]
  if (key.kty !== spec.kty || (key.alg !== undefined && key.alg !== alg)) return false
  return spec.crv === undefined || key.crv === spec.crv
}

/** What node:crypto needs to check one signature, once the cheap refusals are passed. */
interface SignatureCheck {
  readonly hash: AlgorithmSpec['hash']
  readonly data: Buffer
  readonly key: KeyObject | VerifyKeyObjectInput | VerifyPublicKeyInput
  readonly signature: Buffer
}

/** The crypto.verify arguments, or undefined when the key or the signature's length cannot fit. */
function signatureCheck(
  parsed: ParsedJwt,
  alg: JwsAlgorithm,
  key: VerificationKey,
): SignatureCheck | undefined {
  const spec = ALGORITHMS[alg]
  // Defence in depth: node would check an RS256 signature with any RSA key given a null digest.
  if (!keySuitsAlgorithm(key, alg)) return undefined
  if (spec.signatureLength !== undefined && parsed.signature.length !== spec.signatureLength) {
    return undefined
  }
  const data = Buffer.from(parsed.signingInput, 'latin1')
  const { signature } = parsed
  if (spec.kty === 'EC') {
    return {
      hash: spec.hash,
      data,
      key: { key: key.keyObject, dsaEncoding: 'ieee-p1363' },
      signature,
    }
  }
  if (spec.pss === true) {
    const pss = {
      key: key.keyObject,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    }
    return { hash: spec.hash, data, key: pss, signature }
  }
  return { hash: spec.hash, data, key: key.keyObject, signature }
}

/**
 * Checks the signature synchronously with node:crypto: a verification costs one public-key
 * operation and no promise. RS256/384/512 are checked by encoding and comparing (src/pkcs1.ts),
 * which spares OpenSSL's per-call verification set-up; the thread-pool path below and every other
 * algorithm use crypto.verify. ECDSA signatures must be the fixed-length r||s form (RFC 7518
 * §3.4); DER, short, long and all-zero signatures fail.
 */
export function signatureIsValid(
  parsed: ParsedJwt,
  alg: JwsAlgorithm,
  key: VerificationKey,
): boolean {
  const { pkcs1 } = ALGORITHMS[alg]
  if (pkcs1 !== undefined) {
    const modulusBits = key.keyObject.asymmetricKeyDetails?.modulusLength
    return (
      keySuitsAlgorithm(key, alg) &&
      modulusBits !== undefined &&
      pkcs1SignatureIsValid(
        pkcs1,
        parsed.signingInput,
        parsed.signature,
        key.keyObject,
        Math.ceil(modulusBits / 8),
      )
    )
  }
  const check = signatureCheck(parsed, alg, key)
  if (check === undefined) return false
  try {
    return cryptoVerify(check.hash, check.data, check.key, check.signature)
  } catch {
    // OpenSSL refuses some malformed inputs by throwing instead of answering false.
    return false
  }
}

/**
 * {@link signatureIsValid} on libuv's thread pool (node:crypto's callback form): the same checks,
 * while the event loop goes on serving requests. Worth its hand-off only when the process has a
 * core to spare; see {@link SIGNATURES_OFF_THREAD}.
 */
export function signatureIsValidOffThread(
  parsed: ParsedJwt,
  alg: JwsAlgorithm,
  key: VerificationKey,
): Promise<boolean> {
  const check = signatureCheck(parsed, alg, key)
  if (check === undefined) return Promise.resolve(false)
  return new Promise((resolve) => {
    try {
      cryptoVerify(check.hash, check.data, check.key, check.signature, (error, valid) => {
        resolve(error === null && valid === true)
      })
    } catch {
      resolve(false) // Refused before it reached the pool, as the synchronous form throws.
    }
  })
}

/**
 * Whether new tokens' signatures are checked on the thread pool rather than the event loop: when
 * this process may run on more than one core (`os.availableParallelism()` follows the CPU
 * affinity, so a process pinned to one core checks them inline, where the hand-off would only
 * add work). An RSA-2048 check costs about 22 µs of CPU; off the loop it runs beside the HTTP
 * work of other requests (docs/performance.md).
 */
export const SIGNATURES_OFF_THREAD = availableParallelism() > 1

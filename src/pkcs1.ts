// RSASSA-PKCS1-v1_5 signatures (RS256, RS384, RS512) checked by encoding and comparing (RFC 8017
// §8.2.2), on the event loop.
//
// crypto.verify sets up a digest-and-verify context in OpenSSL on every call, which costs about
// 0.5 µs of an RS256 check's 18.5 µs. Recovering the signed block with the public key and comparing
// it with the one the token's own digest gives does the same modular exponentiation and none of
// that set-up. Nothing is parsed out of the recovered block: OpenSSL checks its padding
// (00 01 FF…FF 00, at least eight FF), and every byte after it must equal the DigestInfo this
// algorithm's hash and the token's signing input make. A forged block that parses (Bleichenbacher
// 2006: garbage after the digest, parameters left out) is a different byte string, so it fails.

import { hash, publicDecrypt, type KeyObject } from 'node:crypto'

export type Pkcs1Hash = 'sha256' | 'sha384' | 'sha512'

// The DER prefix of DigestInfo for each hash, parameters NULL included (RFC 8017 §9.2, note 1).
const DIGEST_INFO_PREFIX: Readonly<Record<Pkcs1Hash, Buffer>> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
}
const DIGEST_LENGTH: Readonly<Record<Pkcs1Hash, number>> = { sha256: 32, sha384: 48, sha512: 64 }

/**
 * Whether `signature` is a PKCS #1 v1.5 signature of `signingInput` with `hashName` under the RSA
 * public key `key`, whose modulus is `modulusBytes` long. `signingInput` is ASCII (the first two
 * segments of a token that passed parseJwt), so its UTF-8 bytes are the ones signed.
 */
export function pkcs1SignatureIsValid(
  hashName: Pkcs1Hash,
  signingInput: string,
  signature: Buffer,
  key: KeyObject,
  modulusBytes: number,
): boolean {
  // RFC 8017 §8.2.2 step 1: exactly k octets. OpenSSL would take a shorter one as a smaller number.
  if (signature.length !== modulusBytes) return false
  let recovered: Buffer
  try {
    // publicDecrypt's padding is RSA_PKCS1_PADDING: the type-1 block's padding is checked and
    // stripped. A block that is not one (or a signature not below the modulus) throws.
    recovered = publicDecrypt(key, signature)
  } catch {
    return false
  }
  const prefix = DIGEST_INFO_PREFIX[hashName]
  const digestLength = DIGEST_LENGTH[hashName]
  if (recovered.length !== prefix.length + digestLength) return false
  if (recovered.compare(prefix, 0, prefix.length, 0, prefix.length) !== 0) return false
  const digest = hash(hashName, signingInput, 'buffer')
  return recovered.compare(digest, 0, digestLength, prefix.length, recovered.length) === 0
}

// Compact JWS signing for the test kit: every algorithm, HMAC and `none`, lying headers, and the
// ways a signed token is damaged.

import { KeyObject, constants, createHmac, sign as cryptoSign } from 'node:crypto'

/** A private key, or an HMAC secret (for key-confusion tokens). */
export type SigningMaterial = KeyObject | { hmacSecret: string | Buffer }

/** The curve each ECDSA algorithm signs with. */
export const EC_CURVES = new Map([
  ['ES256', 'prime256v1'],
  ['ES384', 'secp384r1'],
  ['ES512', 'secp521r1'],
])
const DIGEST_BITS = new Set(['256', '384', '512'])
/**
 * Sign a compact JWS with the algorithm named by `header.alg` (`'none'` gives an empty signature).
 * Throws a TypeError when the alg is unknown or does not suit the key.
 *
 * @example
 * const token = signJwt({ alg: 'HS256' }, { sub: 'x' }, { hmacSecret: 'secret' })
 */
export function signJwt(
  header: Record<string, unknown>,
  payload: string | Record<string, unknown>,
  key: KeyObject | { hmacSecret: string | Buffer },
): string {
  const alg = header.alg
  if (typeof alg !== 'string') throw new TypeError('signJwt: header.alg must be a string')
  return signCompact(
    header,
    typeof payload === 'string' ? payload : JSON.stringify(payload),
    key,
    alg,
  )
}

function keyKind(material: SigningMaterial): string | undefined {
  if (!(material instanceof KeyObject) || material.type === 'secret') return 'secret'
  return material.asymmetricKeyType
}

export function suits(alg: string, material: SigningMaterial): boolean {
  const kind = keyKind(material)
  if (alg === 'EdDSA') return kind === 'ed25519' || kind === 'ed448'
  if (alg.length !== 5 || !DIGEST_BITS.has(alg.slice(2))) return false
  switch (alg.slice(0, 2)) {
    case 'HS':
      return kind === 'secret'
    case 'RS':
      return kind === 'rsa'
    case 'PS':
      return kind === 'rsa' || kind === 'rsa-pss'
    case 'ES':
      return (
        material instanceof KeyObject &&
        kind === 'ec' &&
        material.asymmetricKeyDetails?.namedCurve === EC_CURVES.get(alg)
      )
    default:
      return false
  }
}

/** The algorithm a key signs with when the header names one that does not suit it. */
export function naturalAlg(material: SigningMaterial): string {
  const kind = keyKind(material)
  if (kind === 'secret') return 'HS256'
  if (kind === 'rsa') return 'RS256'
  if (kind === 'rsa-pss') return 'PS256'
  if (kind === 'ed25519' || kind === 'ed448') return 'EdDSA'
  for (const alg of EC_CURVES.keys()) if (suits(alg, material)) return alg
  throw new TypeError(`mint: cannot sign with a ${String(kind)} key`)
}

export function signingAlgFor(headerAlg: unknown, material: SigningMaterial): string {
  if (headerAlg === 'none') return 'none'
  if (typeof headerAlg === 'string' && suits(headerAlg, material)) return headerAlg
  return naturalAlg(material)
}

export function signCompact(
  header: Record<string, unknown>,
  payload: string,
  material: SigningMaterial,
  alg: string,
): string {
  const input = `${base64url(JSON.stringify(header))}.${base64url(payload)}`
  return `${input}.${signBytes(alg, Buffer.from(input), material).toString('base64url')}`
}

function signBytes(alg: string, data: Buffer, material: SigningMaterial): Buffer {
  if (alg === 'none') return Buffer.alloc(0)
  if (!suits(alg, material)) throw new TypeError(`signJwt: alg ${alg} does not suit the key`)
  const digest = `sha${alg.slice(2)}`
  if (!(material instanceof KeyObject)) {
    return createHmac(digest, material.hmacSecret).update(data).digest()
  }
  if (material.type === 'secret') return createHmac(digest, material).update(data).digest()
  if (alg === 'EdDSA') return cryptoSign(null, data, material)
  if (alg.startsWith('ES'))
    return cryptoSign(digest, data, { key: material, dsaEncoding: 'ieee-p1363' })
  if (alg.startsWith('PS')) {
    const saltLength = Number(alg.slice(2)) / 8
    return cryptoSign(digest, data, {
      key: material,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength,
    })
  }
  return cryptoSign(digest, data, { key: material, padding: constants.RSA_PKCS1_PADDING })
}

export function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url')
}

/** Like `Object.assign`, except undefined removes a member and `__proto__` stays a plain member. */
export function merge(
  base: Record<string, unknown>,
  overrides: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (value === undefined) delete out[name]
    else
      Object.defineProperty(out, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      })
  }
  return out
}

/** How `mint` damages a signed token; see `MintOptions.tamper`. */
export type TamperMode = 'signature' | 'payload' | 'strip-signature' | 'drop-signature-segment'

/** `token` damaged as `mode` says (unchanged when undefined). */
export function tamper(
  token: string,
  mode: TamperMode | undefined,
  claims: Record<string, unknown>,
): string {
  const [header = '', payload = '', signature = ''] = token.split('.')
  switch (mode) {
    case undefined:
      return token
    case 'signature':
      return `${header}.${payload}.${flipBit(signature)}`
    case 'payload':
      return `${header}.${forgedPayload(claims)}.${signature}`
    case 'strip-signature':
      return `${header}.${payload}.`
    case 'drop-signature-segment':
      return `${header}.${payload}`
    default:
      throw new TypeError(`mint: unknown tamper mode ${String(mode)}`)
  }
}

/**
 * The signed claims with `sub: 'attacker'`, encoded; `sub: 'attacker-2'` when that is what was
 * signed, so the tampered token never carries its own claims (and a valid signature) back.
 */
function forgedPayload(claims: Record<string, unknown>): string {
  const sub = claims['sub'] === 'attacker' ? 'attacker-2' : 'attacker'
  return base64url(JSON.stringify({ ...claims, sub }))
}

/**
 * The claims a raw payload parses to, for `tamper: 'payload'` to forge from what was signed
 * (forged from the default claims instead, the token had nothing of the raw payload left).
 */
export function rawClaims(rawPayload: string): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(rawPayload)
  } catch {
    // Not JSON: refused below, as is JSON that is not an object.
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    return parsed as Record<string, unknown>
  }
  throw new TypeError(
    "mint: tamper: 'payload' changes the sub of the signed claims, but rawPayload is not a JSON object; sign the changed text yourself, or use tamper: 'signature'",
  )
}

// Flipping a bit of the decoded bytes, not a base64url character: a last character's spare bits
// decode to the same signature, and a lenient decoder would then accept the "tampered" token.
function flipBit(signature: string): string {
  const bytes = Buffer.from(signature, 'base64url')
  if (bytes.length === 0) return 'AA'
  const at = bytes.length >> 1
  bytes.writeUInt8(bytes.readUInt8(at) ^ 1, at)
  return bytes.toString('base64url')
}

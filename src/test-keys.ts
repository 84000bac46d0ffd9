// The test issuer's signing keys: one key pair per algorithm, with its kid and public JWK.

import { generateKeyPair, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import type { JwsAlgorithm } from './jwt.js'
import { EC_CURVES } from './test-signer.js'

type KeyPair = { publicKey: KeyObject; privateKey: KeyObject }

/** A signing key of the test issuer, with the public JWK it serves. */
export interface SigningKey {
  readonly alg: JwsAlgorithm
  readonly kid: string
  readonly privateKey: KeyObject
  readonly jwk: Record<string, unknown>
}

/** A new key pair for `alg`: RSA 2048 for RS and PS, the ES curve, or Ed25519. */
export function newKeyPairSync(alg: JwsAlgorithm): KeyPair {
  const namedCurve = EC_CURVES.get(alg)
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519')
  if (namedCurve !== undefined) return generateKeyPairSync('ec', { namedCurve })
  return generateKeyPairSync('rsa', { modulusLength: 2048 })
}

/** {@link newKeyPairSync} on the libuv pool, so several RSA prime searches run in parallel. */
export function newKeyPairAsync(alg: JwsAlgorithm): Promise<KeyPair> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
      if (error === null) resolve({ publicKey, privateKey })
      else reject(error)
    }
    const namedCurve = EC_CURVES.get(alg)
    if (alg === 'EdDSA') generateKeyPair('ed25519', undefined, done)
    else if (namedCurve !== undefined) generateKeyPair('ec', { namedCurve }, done)
    else generateKeyPair('rsa', { modulusLength: 2048 }, done)
  })
}

/** A key pair as the issuer holds it: a random kid and the public JWK it serves. */
export function toSigningKey(alg: JwsAlgorithm, pair: KeyPair): SigningKey {
  const kid = `${alg.toLowerCase()}-${randomBytes(8).toString('base64url')}`
  const exported: Record<string, unknown> = { ...pair.publicKey.export({ format: 'jwk' }) }
  return { alg, kid, privateKey: pair.privateKey, jwk: { ...exported, kid, use: 'sig', alg } }
}

/** The keys by algorithm. */
export function keyMap(keys: readonly SigningKey[]): Map<string, SigningKey> {
  return new Map(keys.map((key) => [key.alg, key]))
}

// Weak Ed25519 keys (small order, non-canonical y) are skipped at import like weak RSA keys: against
// such a key, R = the point and S = 0 verifies any token, with no private key at all.

import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createVerifier, InvalidTokenError } from '../../src/index.js'
import { importKeySet } from '../../src/key-set.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'

const WEAK = 'small-order or non-canonical Ed25519 key'
const P = 2n ** 255n - 19n

/** The 32-byte encoding of y (little-endian) with x's sign in the top bit. */
function encode(y: bigint, sign = false): string {
  const bytes = Buffer.from(y.toString(16).padStart(64, '0'), 'hex').reverse()
  if (sign) bytes[31] = bytes[31]! | 0x80
  return bytes.toString('base64url')
}

const hex = (text: string): string => Buffer.from(text, 'hex').toString('base64url')

// The eight small-order points and y = p + 1, as the review's blocklist script lists them.
const SMALL_ORDER: readonly [string, string][] = [
  ['order 1 (identity)', hex('01'.padEnd(64, '0'))],
  ['order 2 (y = p-1)', hex(`ec${'ff'.repeat(30)}7f`)],
  ['order 4 (y = 0)', hex('00'.repeat(32))],
  ['order 4 (y = 0, sign)', hex(`${'00'.repeat(31)}80`)],
  ['order 8 a', hex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05')],
  ['order 8 b', hex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85')],
  ['order 8 c', hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a')],
  ['order 8 d', hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa')],
  ['non-canonical y = p+1 (= identity)', hex(`ee${'ff'.repeat(30)}7f`)],
]

// The check is on y with the sign bit cleared, so these are refused too: x = 0 with a sign bit
// set (RFC 8032 refuses that encoding, Node takes it), and every y ≥ p, of either sign.
const SIGN_AND_NON_CANONICAL: readonly [string, string][] = [
  ['identity with the sign bit', encode(1n, true)],
  ['y = p-1 with the sign bit', encode(P - 1n, true)],
  ['y = p (= 0)', encode(P)],
  ['y = p with the sign bit', encode(P, true)],
  ['y = p+1 with the sign bit', encode(P + 1n, true)],
  ['y = p+2', encode(P + 2n)],
  ['y = 2^255-1', encode(2n ** 255n - 1n)],
  ['y = 2^255-1 with the sign bit', encode(2n ** 255n - 1n, true)],
]

describe('importKeySet and weak Ed25519 keys', () => {
  it.each([...SMALL_ORDER, ...SIGN_AND_NON_CANONICAL])(
    'skips %s with its reason, and keeps the good key beside it',
    (_label, x) => {
      const good = {
        ...generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }),
        kid: 'good',
      }
      const { keys, skipped } = importKeySet({
        keys: [{ kty: 'OKP', crv: 'Ed25519', x, kid: 'weak' }, good],
      })
      expect(keys.map((key) => key.kid)).toEqual(['good'])
      expect(skipped).toEqual([{ kid: 'weak', reason: WEAK }])
    },
  )

  it('keeps real Ed25519 keys, whatever the sign of x', () => {
    const jwks = Array.from({ length: 64 }, (_, index) => ({
      ...generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }),
      kid: `k${index}`,
    }))
    const { keys, skipped } = importKeySet({ keys: jwks })
    expect(skipped).toEqual([])
    expect(keys).toHaveLength(64)
  })
})

describe('a small-order Ed25519 key in an issuer’s set', () => {
  let idp: TestIssuer

  beforeAll(async () => {
    idp = await createTestIssuer({
      listen: false,
      issuer: 'https://idp.example',
      algorithms: ['RS256', 'EdDSA'],
    })
  })

  afterAll(() => idp.close())

  it('a token forged with R = identity and S = 0 gets 401, real EdDSA tokens still pass', async () => {
    const identity = Buffer.alloc(32)
    identity[0] = 1
    idp.setJwks({
      keys: [
        ...idp.jwks().keys,
        { kty: 'OKP', crv: 'Ed25519', x: identity.toString('base64url'), kid: 'ed-1' },
      ],
    })
    const verify = createVerifier({
      provider: new JwksProvider({
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: idp.audience,
        fetch: idp.fetch,
      }),
      logger: false,
    })
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const now = Math.floor(Date.now() / 1000)
    const forged = [
      b64({ alg: 'EdDSA', kid: 'ed-1' }),
      b64({ iss: idp.issuer, aud: idp.audience, sub: 'admin', iat: now, exp: now + 3600 }),
      Buffer.concat([identity, Buffer.alloc(32)]).toString('base64url'),
    ].join('.')
    const refusal = await verify(forged).then(
      (user) => user,
      (error: unknown) => error,
    )
    expect(refusal).toBeInstanceOf(InvalidTokenError)
    expect(refusal).toMatchObject({ status: 401, message: 'no signing key matches the token' })
    const user = await verify(idp.mint({ sub: 'alice' }, { alg: 'EdDSA' }))
    expect(user).toMatchObject({ isAuthenticated: true, id: 'alice' })
  })
})

// Proves JWK Set import (what is kept, what is skipped and why) and the choice of one key per token.
import { generateKeyPairSync } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { InvalidTokenError } from '../../src/errors.js'
import type { JwsAlgorithm, VerificationKey } from '../../src/jwt.js'
import { importKeySet, selectKey } from '../../src/key-set.js'

type Jwk = Record<string, unknown>

function publicJwk(key: KeyObject, members: Jwk = {}): Jwk {
  return { ...(key.export({ format: 'jwk' }) as Jwk), ...members }
}

/** 'accepted' with the key's kid, or the code of the InvalidTokenError thrown. */
function selection(
  keys: readonly VerificationKey[],
  alg: JwsAlgorithm,
  kid: string | undefined,
): string {
  try {
    const key = selectKey(keys, alg, kid)
    return key === undefined ? 'undefined' : `key ${String(key.kid)}`
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTokenError)
    return (error as InvalidTokenError).code
  }
}

let jwk: {
  rsa: Jwk
  rsa2: Jwk
  rsaPrivate: Jwk
  rsa1024: Jwk
  rsaE3: Jwk
  ec256: Jwk
  ec256Private: Jwk
  ec384: Jwk
  ed25519: Jwk
  ed448: Jwk
  x25519: Jwk
}

beforeAll(() => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const rsa2 = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  jwk = {
    rsa: publicJwk(rsa.publicKey),
    rsa2: publicJwk(rsa2.publicKey),
    rsaPrivate: publicJwk(rsa.privateKey),
    rsa1024: publicJwk(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey),
    rsaE3: publicJwk(
      generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey,
    ),
    ec256: publicJwk(ec256.publicKey),
    ec256Private: publicJwk(ec256.privateKey),
    ec384: publicJwk(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey),
    ed25519: publicJwk(generateKeyPairSync('ed25519').publicKey),
    ed448: publicJwk(generateKeyPairSync('ed448').publicKey),
    x25519: publicJwk(generateKeyPairSync('x25519').publicKey),
  }
})

describe('importKeySet', () => {
  it.each([{}, { keys: 'x' }, null, [], undefined, 'keys', 42, { keys: null }, { keys: {} }])(
    'JWKS refuses the document %j: not a JWK Set',
    (document) => {
      expect(() => importKeySet(document)).toThrow('not a JWK Set')
    },
  )

  it('JWKS imports a good key with its members', () => {
    const { keys, skipped } = importKeySet({
      keys: [{ ...jwk.rsa, kid: 'r1', alg: 'RS256', use: 'sig' }],
    })
    expect(skipped).toEqual([])
    expect(keys).toHaveLength(1)
    expect(keys[0]).toMatchObject({ kid: 'r1', alg: 'RS256', kty: 'RSA', crv: undefined })
    expect(keys[0]?.keyObject.type).toBe('public')
  })

  // Each bad key sits beside a good one: the bad key is skipped with the reason, the good one kept.
  const BAD_KEYS: ReadonlyArray<{ rule: string; key: () => unknown; reason: RegExp }> = [
    { rule: 'a string instead of a key', key: () => 'not a key', reason: /not an object/ },
    { rule: 'null instead of a key', key: () => null, reason: /not an object/ },
    { rule: 'an array instead of a key', key: () => [jwk.rsa], reason: /not an object/ },
    {
      rule: 'an encryption key (use: enc)',
      key: () => ({ ...jwk.rsa, use: 'enc' }),
      reason: /use/,
    },
    { rule: 'use of another type', key: () => ({ ...jwk.rsa, use: ['sig'] }), reason: /use/ },
    {
      rule: 'key_ops without verify',
      key: () => ({ ...jwk.rsa, key_ops: ['encrypt'] }),
      reason: /key_ops/,
    },
    {
      rule: 'key_ops not a list',
      key: () => ({ ...jwk.rsa, key_ops: 'verify' }),
      reason: /key_ops/,
    },
    {
      rule: 'a symmetric key (kty: oct)',
      key: () => ({ kty: 'oct', k: 'c2VjcmV0', alg: 'HS256' }),
      reason: /key type/,
    },
    { rule: 'an RSA private key (d)', key: () => jwk.rsaPrivate, reason: /private/ },
    { rule: 'an EC private key (d)', key: () => jwk.ec256Private, reason: /private/ },
    {
      rule: 'an unknown key type (XYZ)',
      key: () => ({ ...jwk.rsa, kty: 'XYZ' }),
      reason: /key type/,
    },
    {
      rule: 'an RSA key without n',
      key: () => ({ ...jwk.rsa, n: undefined }),
      reason: /unparseable/,
    },
    {
      rule: 'an EC key without y',
      key: () => ({ ...jwk.ec256, y: undefined }),
      reason: /unparseable/,
    },
    { rule: 'an X25519 key (OKP, ECDH only)', key: () => jwk.x25519, reason: /curve/ },
    { rule: 'an Ed448 key (OKP, not supported)', key: () => jwk.ed448, reason: /curve/ },
    { rule: 'alg RSA-OAEP', key: () => ({ ...jwk.rsa, alg: 'RSA-OAEP' }), reason: /alg/ },
    { rule: 'alg HS256 on an RSA key', key: () => ({ ...jwk.rsa, alg: 'HS256' }), reason: /alg/ },
    {
      rule: 'alg "toString" (a prototype member)',
      key: () => ({ ...jwk.rsa, alg: 'toString' }),
      reason: /alg/,
    },
    { rule: 'a non-string kid', key: () => ({ ...jwk.rsa, kid: 123 }), reason: /kid/ },
    { rule: 'a 1024-bit RSA key', key: () => jwk.rsa1024, reason: /2048/ },
    { rule: 'an RSA key with e = 3', key: () => jwk.rsaE3, reason: /exponent/ },
  ]

  it.each(BAD_KEYS.map((row) => [row.rule, row] as const))(
    'JWKS-18 skips %s and keeps the good key beside it',
    (_, { key, reason }) => {
      const bad = key()
      const good = { ...jwk.ec256, kid: 'good', alg: 'ES256', use: 'sig' }
      const { keys, skipped } = importKeySet({ keys: [bad, good] })
      expect(keys.map((kept) => kept.kid)).toEqual(['good'])
      expect(skipped).toHaveLength(1)
      expect(skipped[0]?.reason).toMatch(reason)
    },
  )

  it('JWKS-18 reports the kid of a skipped key when it is a string', () => {
    const { skipped } = importKeySet({
      keys: [
        { ...jwk.rsa, kid: 'enc-1', use: 'enc' },
        { ...jwk.rsa, kid: 7 },
      ],
    })
    expect(skipped).toEqual([
      { kid: 'enc-1', reason: expect.any(String) },
      { kid: undefined, reason: expect.any(String) },
    ])
  })

  it('JWKS-18 skips every bad key of one set and keeps the good one', () => {
    const bad = BAD_KEYS.map(({ key }) => key())
    const good = { ...jwk.rsa, kid: 'good' }
    const { keys, skipped } = importKeySet({ keys: [...bad.slice(0, 9), good, ...bad.slice(9)] })
    expect(keys.map((kept) => kept.kid)).toEqual(['good'])
    expect(skipped).toHaveLength(BAD_KEYS.length)
  })

  it.each([
    ['RSA', () => jwk.rsa, undefined],
    ['EC P-256', () => jwk.ec256, 'P-256'],
    ['EC P-384', () => jwk.ec384, 'P-384'],
    ['OKP Ed25519', () => jwk.ed25519, 'Ed25519'],
  ])('JWKS-19 keeps a %s key without use and alg', (kty, key, crv) => {
    const { keys, skipped } = importKeySet({ keys: [{ ...key(), kid: 'k' }] })
    expect(skipped).toEqual([])
    expect(keys).toHaveLength(1)
    expect(keys[0]).toMatchObject({ kid: 'k', alg: undefined, kty: kty.split(' ')[0], crv })
  })

  it('JWKS-19 keeps a key with key_ops including verify', () => {
    const { keys } = importKeySet({ keys: [{ ...jwk.rsa, key_ops: ['verify'] }] })
    expect(keys).toHaveLength(1)
  })

  it('JWKS-17 holds a key listed twice, byte for byte, once, so its kid stays usable', () => {
    const key = { ...jwk.rsa, kid: 'a', use: 'sig' }
    const { keys, skipped } = importKeySet({ keys: [key, { ...key }, { ...key, use: 'sig' }] })
    expect(skipped).toEqual([])
    expect(keys).toHaveLength(1)
    expect(selection(keys, 'RS256', 'a')).toBe('key a')
    // The same key with one member more is another entry, but the same key: both allow RS256, so
    // the kid is not ambiguous (two different keys under one kid still are: JWKS-17 further down).
    const twice = importKeySet({ keys: [key, { ...key, alg: 'RS256' }] }).keys
    expect(selection(twice, 'RS256', 'a')).toBe('key a')
  })

  it('JWKS keeps the Entra-style issuer member on the key', () => {
    const issuer = 'https://login.microsoftonline.com/{tenantid}/v2.0'
    const { keys } = importKeySet({
      keys: [
        { ...jwk.rsa, kid: 'entra', use: 'sig', issuer },
        { ...jwk.rsa2, kid: 'other', issuer: 42 },
      ],
    })
    expect(keys.map((key) => [key.kid, key.issuer])).toEqual([
      ['entra', issuer],
      ['other', undefined],
    ])
  })
})

describe('selectKey', () => {
  let rsaA: VerificationKey
  let rsaB: VerificationKey
  let ec: VerificationKey
  let sharedRsa: VerificationKey
  let sharedEc: VerificationKey
  let noAlgRsa: VerificationKey
  let skippedEncKidSet: VerificationKey[]

  beforeAll(() => {
    ;[rsaA, rsaB, ec, sharedRsa, sharedEc, noAlgRsa] = importKeySet({
      keys: [
        { ...jwk.rsa, kid: 'a', alg: 'RS256', use: 'sig' },
        { ...jwk.rsa2, kid: 'b', alg: 'RS256', use: 'sig' },
        { ...jwk.ec256, kid: 'e', alg: 'ES256', use: 'sig' },
        { ...jwk.rsa, kid: 'shared', alg: 'RS256' },
        { ...jwk.ec256, kid: 'shared', alg: 'ES256' },
        { ...jwk.rsa2, kid: 'n' },
      ],
    }).keys as [
      VerificationKey,
      VerificationKey,
      VerificationKey,
      VerificationKey,
      VerificationKey,
      VerificationKey,
    ]
    const encOnly = importKeySet({
      keys: [
        { ...jwk.rsa2, kid: 'enc', use: 'enc' },
        { ...jwk.rsa, kid: 'a', alg: 'RS256', use: 'sig' },
      ],
    })
    expect(encOnly.skipped.map((key) => key.kid)).toEqual(['enc'])
    skippedEncKidSet = encOnly.keys
  })

  const ROWS: ReadonlyArray<{
    rule: string
    keys: () => readonly VerificationKey[]
    alg: JwsAlgorithm
    kid: string | undefined
    expected: string
  }> = [
    {
      rule: 'picks the key with the kid',
      keys: () => [rsaA, rsaB, ec],
      alg: 'RS256',
      kid: 'b',
      expected: 'key b',
    },
    {
      rule: 'JWKS-01 picks the one suitable key when the token has no kid',
      keys: () => [rsaA, ec],
      alg: 'ES256',
      kid: undefined,
      expected: 'key e',
    },
    {
      rule: 'JWKS-01 picks the only key of a one-key set when the token has no kid',
      keys: () => [rsaA],
      alg: 'RS256',
      kid: undefined,
      expected: 'key a',
    },
    {
      rule: 'JWKS-02 refuses a token without kid when two keys suit',
      keys: () => [rsaA, rsaB, ec],
      alg: 'RS256',
      kid: undefined,
      expected: 'ERR_AUTH_KEY_NOT_FOUND',
    },
    {
      rule: 'JWKS-02 refuses a token without kid when no key of the set suits',
      keys: () => [rsaA, rsaB],
      alg: 'ES256',
      kid: undefined,
      expected: 'ERR_AUTH_KEY_NOT_FOUND',
    },
    {
      rule: 'JWKS-17 refuses a kid that two suitable keys share',
      keys: () => [rsaA, { ...rsaB, kid: 'a' }],
      alg: 'RS256',
      kid: 'a',
      expected: 'ERR_AUTH_KEY_NOT_FOUND',
    },
    {
      rule: 'picks the one suitable key among keys sharing a kid',
      keys: () => [sharedRsa, sharedEc],
      alg: 'ES256',
      kid: 'shared',
      expected: 'key shared',
    },
    {
      rule: 'JWKS-15 refuses a known kid whose key has another alg (RS256 key, PS256 token)',
      keys: () => [rsaA, ec],
      alg: 'PS256',
      kid: 'a',
      expected: 'ERR_AUTH_KEY_NOT_FOUND',
    },
    {
      rule: 'JWKS-16 refuses a known kid whose key has another kty (EC key, RS256 token)',
      keys: () => [rsaA, ec],
      alg: 'RS256',
      kid: 'e',
      expected: 'ERR_AUTH_KEY_NOT_FOUND',
    },
    {
      rule: 'JWKS-16 refuses a known kid whose key has another curve (P-256 key, ES384 token)',
      keys: () => [ec],
      alg: 'ES384',
      kid: 'e',
      expected: 'ERR_AUTH_KEY_NOT_FOUND',
    },
    {
      rule: 'JWKS-15 answers undefined for the kid of an enc-only key, which was skipped',
      keys: () => skippedEncKidSet,
      alg: 'RS256',
      kid: 'enc',
      expected: 'undefined',
    },
    {
      rule: 'accepts a key without alg for any algorithm of its kty',
      keys: () => [noAlgRsa, ec],
      alg: 'PS384',
      kid: 'n',
      expected: 'key n',
    },
    {
      rule: 'answers undefined for an unknown kid (the cache refetches)',
      keys: () => [rsaA, rsaB, ec],
      alg: 'RS256',
      kid: 'unknown',
      expected: 'undefined',
    },
    {
      rule: 'answers undefined for an empty set (with a kid)',
      keys: () => [],
      alg: 'RS256',
      kid: 'a',
      expected: 'undefined',
    },
    {
      rule: 'answers undefined for an empty set (without kid)',
      keys: () => [],
      alg: 'RS256',
      kid: undefined,
      expected: 'undefined',
    },
  ]

  it.each(ROWS.map((row) => [row.rule, row] as const))(
    'SELECT %s',
    (_, { keys, alg, kid, expected }) => {
      expect(selection(keys(), alg, kid)).toBe(expected)
    },
  )

  it('SELECT returns the very key object of the set', () => {
    expect(selectKey([rsaA, rsaB, ec], 'RS256', 'a')).toBe(rsaA)
  })
})

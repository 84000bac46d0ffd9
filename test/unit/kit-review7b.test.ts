// The test kit after the seventh review: the Entra stand-in's host read as the provider reads
// authorityHost, a B2C stand-in on its tenant's b2clogin.com host by default, and misspelt or
// mistyped options of mint, respondWith and rotateKeys refused instead of ignored.

import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createVerifier } from '../../src/index.js'
import { createTestIssuer, entra, type TestIssuer } from '../../src/testing.js'
import { EntraIdProvider } from '../../providers/entra-id/index.js'

const payloadOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())

describe('the Entra stand-in reads host as EntraIdProvider reads authorityHost', () => {
  it.each([
    'login.microsoftonline.us',
    'https://login.microsoftonline.us',
    'https://login.microsoftonline.us/',
    'LOGIN.microsoftonline.us',
    'login.microsoftonline.us:443',
    'HTTPS://Login.MicrosoftOnline.us:443',
  ])('%s: tokens name https://login.microsoftonline.us and verify', async (host) => {
    const tenant = await createTestIssuer({ kind: 'entra-id', host })
    try {
      expect(tenant.providerOptions.authorityHost).toBe('login.microsoftonline.us')
      const token = tenant.v2()
      expect(payloadOf(token)['iss']).toBe(`https://login.microsoftonline.us/${tenant.tid}/v2.0`)
      const verify = createVerifier({
        provider: new EntraIdProvider(tenant.providerOptions),
        logger: false,
      })
      await expect(verify(token)).resolves.toMatchObject({ id: entra.JANE.oid })
    } finally {
      await tenant.close()
    }
  })

  it('leaves authorityHost out for the public cloud, however it is written', async () => {
    const tenant = await createTestIssuer({
      kind: 'entra-id',
      host: 'https://LOGIN.microsoftonline.com:443',
    })
    try {
      expect(tenant.providerOptions).not.toHaveProperty('authorityHost')
      expect(payloadOf(tenant.v2())['iss']).toBe(
        `https://login.microsoftonline.com/${tenant.tid}/v2.0`,
      )
    } finally {
      await tenant.close()
    }
  })

  it.each([
    ['login.microsoftonline.us/'],
    ['https://login.microsoftonline.us/tenant'],
    ['https://login.microsoftonline.us?x=1'],
    ['http://login.microsoftonline.us'],
    ['http://127.0.0.1:8080'],
    ['https://user@login.microsoftonline.us'],
    ['login microsoftonline us'],
    [''],
    [42],
  ])('refuses %j with a TypeError naming host', async (host) => {
    const start = createTestIssuer({ kind: 'entra-id', host: host as string })
    await expect(start).rejects.toThrow(TypeError)
    await expect(start).rejects.toThrow(/^createTestIssuer: host must be a host name .* an https/)
  })
})

describe('a B2C stand-in defaults to its tenant’s b2clogin.com host', () => {
  it('serves and signs as contoso.b2clogin.com, which a B2C provider reaches', async () => {
    const b2c = await createTestIssuer({ kind: 'entra-id', b2cTenantName: 'contoso' })
    try {
      expect(b2c.context().host).toBe('contoso.b2clogin.com')
      expect(b2c.providerOptions.authorityHost).toBe('contoso.b2clogin.com')
      const token = b2c.mint(
        entra.b2cAccessTokenClaims({ host: '', ...b2c.context() }, entra.JANE, 'B2C_1_signin'),
      )
      const provider = new EntraIdProvider({
        ...b2c.providerOptions,
        b2c: { tenantName: 'contoso', policies: ['B2C_1_signin'] },
      })
      const verify = createVerifier({ provider, logger: false })
      await expect(verify(token)).resolves.toMatchObject({ id: entra.JANE.oid })
      expect(b2c.requested).toEqual([
        'https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin/v2.0/.well-known/openid-configuration',
        'https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin/discovery/v2.0/keys',
      ])
    } finally {
      await b2c.close()
    }
  })

  it('keeps a host given beside b2cTenantName', async () => {
    const b2c = await createTestIssuer({
      kind: 'entra-id',
      b2cTenantName: 'contoso',
      host: 'login.contoso.com',
    })
    try {
      expect(b2c.context().host).toBe('login.contoso.com')
    } finally {
      await b2c.close()
    }
  })
})

describe('mint, respondWith and rotateKeys refuse options they do not know', () => {
  let idp: TestIssuer

  beforeAll(async () => {
    idp = await createTestIssuer({ listen: false })
  })

  afterAll(() => idp.close())

  const BEHAVIOURS = 'its options: status, body, headers, delayMs, hang'
  it.each([
    [{ statusCode: 503 }, `respondWith: statusCode is not an option (${BEHAVIOURS})`],
    [{ status: 503, delay: 50 }, `respondWith: delay is not an option (${BEHAVIOURS})`],
    [{ code: 503 }, `respondWith: code is not an option (${BEHAVIOURS})`],
    [{ hang: 'yes' }, 'respondWith: hang must be true or false, got "yes"'],
    [{ hang: 1 }, 'respondWith: hang must be true or false, got 1'],
    [{ headers: { 'retry-after': 5 } }, /^respondWith: headers must be an object of header names/],
    [{ headers: 'retry-after: 5' }, /^respondWith: headers must be an object of header names/],
    ['down', 'respondWith: options must be an object, got "down"'],
    [null, 'respondWith: options must be an object, got null'],
  ])('respondWith(jwks, %j) throws a TypeError naming it', async (behaviour, message) => {
    expect(() => idp.respondWith('jwks', behaviour as never)).toThrow(TypeError)
    expect(() => idp.respondWith('jwks', behaviour as never)).toThrow(message)
    // Nothing was set: the route answers normally.
    expect((await idp.fetch(idp.jwksUri)).status).toBe(200)
  })

  it('still takes every documented behaviour, and undefined members', async () => {
    idp.respondWith('jwks', {
      status: 503,
      body: { error: 'down' },
      headers: { 'retry-after': '5' },
      delayMs: 0,
      hang: false,
      ...{ extra: undefined },
    })
    const answer = await idp.fetch(idp.jwksUri)
    expect([answer.status, answer.headers.get('retry-after')]).toEqual([503, '5'])
    idp.respondWith('jwks', undefined)
    expect((await idp.fetch(idp.jwksUri)).status).toBe(200)
  })

  const MINTS = 'its options: alg, kid, header, expiresInSec, rawPayload, key, hmacSecret, tamper'
  it.each([
    [{ expiresIn: -60 }, `mint: expiresIn is not an option (${MINTS})`],
    [{ exp: 0 }, `mint: exp is not an option (${MINTS})`],
    [{ expiresInSec: '60' }, /^mint: expiresInSec must be a number of seconds .*, got "60"$/],
    [{ expiresInSec: Number.NaN }, /^mint: expiresInSec must be a number of seconds/],
    [{ alg: 256 }, /^mint: alg must be an algorithm name/],
    [{ kid: 7 }, 'mint: kid must be a string, or null to omit it, got 7'],
    [{ header: 'x' }, 'mint: header must be an object of header members, got "x"'],
    [{ rawPayload: {} }, 'mint: rawPayload must be a string, got {}'],
    [{ key: 'pem' }, /^mint: key must be a KeyObject/],
    [{ hmacSecret: 42 }, 'mint: hmacSecret must be a string or a Buffer, got 42'],
    ['RS256', 'mint: options must be an object, got "RS256"'],
  ])('mint({}, %j) throws a TypeError naming it', (options, message) => {
    expect(() => idp.mint({}, options as never)).toThrow(TypeError)
    expect(() => idp.mint({}, options as never)).toThrow(message)
  })

  it('still mints with every documented option', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const tokens = [
      idp.mint({}, { alg: 'RS256', kid: null, header: { typ: 'at+jwt' }, expiresInSec: -60 }),
      idp.mint({}, { rawPayload: '{"sub":"a"}', tamper: 'signature' }),
      idp.mint({}, { key: privateKey, alg: 'ES256' }),
      idp.mint({}, { hmacSecret: Buffer.from('secret') }),
      idp.mint({}, { hmacSecret: 'secret' }),
    ]
    expect(tokens.every((token) => token.split('.').length === 3)).toBe(true)
    const now = Math.floor(Date.now() / 1000)
    expect(payloadOf(tokens[0]!)['exp']).toBeLessThanOrEqual(now - 59)
  })

  it.each([
    [{ keepold: true }, 'rotateKeys: keepold is not an option (its options: keepOld)'],
    [{ keepOld: 'yes' }, 'rotateKeys: keepOld must be true or false, got "yes"'],
    [true, 'rotateKeys: options must be an object, got true'],
  ])('rotateKeys(%j) throws a TypeError and keeps the keys', (options, message) => {
    const before = idp.jwks()
    expect(() => idp.rotateKeys(options as never)).toThrow(TypeError)
    expect(() => idp.rotateKeys(options as never)).toThrow(message)
    expect(idp.jwks()).toEqual(before)
  })

  it('still rotates with keepOld', () => {
    const before = idp.jwks().keys.map((key) => key['kid'])
    idp.rotateKeys({ keepOld: true })
    expect(idp.jwks().keys.map((key) => key['kid'])).toEqual(expect.arrayContaining(before))
    idp.rotateKeys()
    expect(idp.jwks().keys.some((key) => before.includes(key['kid']))).toBe(false)
  })

  it('refuses an Entra preset it does not have, naming the presets', async () => {
    const tenant = await createTestIssuer({ kind: 'entra-id' })
    try {
      for (const preset of ['v3', 'toString']) {
        expect(() => tenant.mint({}, { preset: preset as never })).toThrow(
          `mint: preset must be 'v2', 'v1' or 'app', got "${preset}"`,
        )
      }
      // Misspelt base options reach the issuer's check through the stand-in too.
      expect(() => tenant.mint({}, { preset: 'v2', expiresIn: 60 } as never)).toThrow(
        /^mint: expiresIn is not an option/,
      )
    } finally {
      await tenant.close()
    }
  })
})

// The test kit after the eleventh review: options that another one silently dropped (key beside
// hmacSecret, claims and expiresInSec beside rawPayload) refused, tamper: 'payload' forging from
// the raw payload actually signed, setDiscovery and respondWith refusing what they cannot serve,
// the Cognito stand-in's fetch rejecting instead of throwing, and Entra's v1.0 x5t following kid.

import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createVerifier } from '../../src/index.js'
import { createTestIssuer, type MintOptions, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'

const part = (token: string, at: 0 | 1): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[at]!, 'base64url').toString('utf8'))
const headerOf = (token: string) => part(token, 0)
const payloadOf = (token: string) => part(token, 1)
const rawPayloadOf = (token: string) => Buffer.from(token.split('.')[1]!, 'base64url').toString()

let idp: TestIssuer
beforeAll(async () => {
  idp = await createTestIssuer({ listen: false })
})
afterAll(() => idp.close())

describe('mint: key and hmacSecret', () => {
  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey

  it('refuses both, rather than signing with the secret and dropping the key', () => {
    expect(() => idp.mint({}, { key: attacker, hmacSecret: 'abc' })).toThrow(
      new TypeError(
        'mint: give key or hmacSecret, not both: key signs with a private key, hmacSecret with HMAC',
      ),
    )
  })

  it('still signs with either alone', () => {
    expect(headerOf(idp.mint({}, { hmacSecret: 'abc' }))['alg']).toBe('HS256')
    expect(headerOf(idp.mint({}, { key: attacker, alg: 'ES256' }))['alg']).toBe('ES256')
  })
})

describe('mint: rawPayload replaces the claims', () => {
  it.each<[string, Record<string, unknown>]>([
    ['a claim', { sub: 'bob' }],
    ['a removal', { aud: undefined }],
  ])('refuses %s beside it', (_, claims) => {
    expect(() => idp.mint(claims, { rawPayload: '{"sub":"x"}' })).toThrow(
      /^mint: claims \((sub|aud)\) are given with rawPayload, which is signed instead of them/,
    )
  })

  it('refuses expiresInSec beside it: the token would have no exp', () => {
    expect(() => idp.mint({}, { rawPayload: '{"sub":"x"}', expiresInSec: -60 })).toThrow(
      'mint: expiresInSec is given with rawPayload, which is signed as is (no exp is added)',
    )
  })

  it('signs it verbatim when given alone', () => {
    const raw = '{"sub":"x","sub":"y"}'
    expect(rawPayloadOf(idp.mint({}, { rawPayload: raw }))).toBe(raw)
    // An undefined member is not given, as everywhere in the kit's options.
    const unset = { rawPayload: raw, expiresInSec: undefined } as unknown as MintOptions
    expect(rawPayloadOf(idp.mint(undefined, unset))).toBe(raw)
  })
})

describe("mint: tamper: 'payload' with rawPayload", () => {
  it('forges from the raw payload that was signed, and the token is refused', async () => {
    const exp = Math.floor(Date.now() / 1000) + 60
    const raw = JSON.stringify({ iss: idp.issuer, aud: idp.audience, sub: 'raw', exp })
    const verify = createVerifier({
      provider: new JwksProvider(idp.providerOptions),
      logger: false,
    })
    expect((await verify(idp.mint({}, { rawPayload: raw }))).id).toBe('raw')
    const token = idp.mint({}, { rawPayload: raw, tamper: 'payload' })
    expect(payloadOf(token)).toEqual({ ...JSON.parse(raw), sub: 'attacker' })
    await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_AUTH_SIGNATURE_INVALID' })
  })

  it("changes sub when the raw payload already says 'attacker', however it is spaced", () => {
    for (const raw of ['{"sub":"attacker"}', '{ "sub" : "attacker" }']) {
      expect(payloadOf(idp.mint({}, { rawPayload: raw, tamper: 'payload' }))).toEqual({
        sub: 'attacker-2',
      })
    }
  })

  it.each(['not json', '[1]', '"text"', 'null'])(
    'refuses a raw payload %s that is not a JSON object',
    (raw) => {
      expect(() => idp.mint({}, { rawPayload: raw, tamper: 'payload' })).toThrow(
        "mint: tamper: 'payload' changes the sub of the signed claims, but rawPayload is not a JSON object",
      )
      // Other damage needs no claims.
      expect(rawPayloadOf(idp.mint({}, { rawPayload: raw, tamper: 'signature' }))).toBe(raw)
    },
  )
})

describe('rawPayload on the vendor stand-ins', () => {
  it('Cognito: signed alone, refused beside claims, a preset, a token method or issuerForm', async () => {
    const pool = await createTestIssuer({ kind: 'cognito' })
    try {
      const token = pool.mint({}, { rawPayload: '{"sub":"raw"}' })
      expect([rawPayloadOf(token), headerOf(token)['typ']]).toEqual(['{"sub":"raw"}', undefined])
      const rawPayload = '{"sub":"raw"}'
      expect(() => pool.mint({ sub: 'x' }, { rawPayload })).toThrow('mint: claims (sub)')
      expect(() => pool.mint({}, { rawPayload, expiresInSec: 60 })).toThrow('expiresInSec')
      expect(() => pool.mint({}, { rawPayload, preset: 'access' })).toThrow(
        `mint: preset "access" builds the token's claims, which rawPayload would replace`,
      )
      expect(() => pool.access(undefined, {}, { rawPayload })).toThrow('access() builds')
      expect(() => pool.id(undefined, {}, { rawPayload })).toThrow('id() builds')
      expect(() => pool.m2m(undefined, {}, { rawPayload })).toThrow('m2m() builds')
      expect(() => pool.mint({}, { rawPayload, issuerForm: 'global' })).toThrow(
        'mint: issuerForm is given with rawPayload',
      )
    } finally {
      await pool.close()
    }
  })

  it('Entra: signed alone, refused beside a preset or a token method', async () => {
    const tenant = await createTestIssuer({ kind: 'entra-id' })
    const b2c = await createTestIssuer({ kind: 'entra-id', b2cTenantName: 'contoso' })
    try {
      const rawPayload = '{"sub":"raw"}'
      expect(rawPayloadOf(tenant.mint({}, { rawPayload }))).toBe(rawPayload)
      expect(() => tenant.mint({ ver: '1.0' }, { rawPayload })).toThrow('mint: claims (ver)')
      for (const preset of ['v2', 'v1', 'app'] as const) {
        expect(() => tenant.mint({}, { rawPayload, preset })).toThrow(
          `mint: preset "${preset}" builds the token's claims`,
        )
      }
      expect(() => tenant.v2(undefined, {}, { rawPayload })).toThrow('v2() builds')
      expect(() => tenant.v1(undefined, {}, { rawPayload })).toThrow('v1() builds')
      expect(() => tenant.app(undefined, {}, { rawPayload })).toThrow('app() builds')
      expect(() => b2c.b2c(undefined, {}, { rawPayload })).toThrow('b2c() builds')
    } finally {
      await Promise.all([tenant.close(), b2c.close()])
    }
  })
})

describe('setDiscovery takes a plain object or undefined', () => {
  const served = async (): Promise<Record<string, unknown>> =>
    (await idp.fetch(idp.discoveryUri)).json() as Promise<Record<string, unknown>>

  it.each<[string, unknown]>([
    ['a string', 'xyz'],
    ['null', null],
    ['an array', [['issuer', 'x']]],
    ['a Map', new Map([['issuer', 'x']])],
    ['a number', 7],
  ])('refuses %s, and keeps what it served', async (_, overrides) => {
    idp.setDiscovery({ issuer: 'https://kept.test' })
    try {
      expect(() => idp.setDiscovery(overrides as Record<string, unknown>)).toThrow(
        /^setDiscovery: overrides must be an object of discovery members, or undefined to drop all overrides, got /,
      )
      expect((await served())['issuer']).toBe('https://kept.test')
    } finally {
      idp.setDiscovery(undefined)
    }
  })

  it('refuses a member JSON cannot encode', () => {
    expect(() => idp.setDiscovery({ issuer: 1n })).toThrow(
      'setDiscovery: overrides must be JSON values, got one JSON cannot encode',
    )
  })

  it('still applies an object, also one without a prototype, and undefined drops it', async () => {
    const overrides = Object.assign(Object.create(null) as Record<string, unknown>, { x: 1 })
    idp.setDiscovery(overrides)
    expect((await served())['x']).toBe(1)
    idp.setDiscovery(undefined)
    expect(await served()).not.toHaveProperty('x')
  })
})

describe('setJwks refuses a value JSON cannot encode', () => {
  it('throws at the call, rather than failing every fetch of the keys', async () => {
    expect(() => idp.setJwks({ keys: [], n: 10n })).toThrow(
      'setJwks: value must be a JSON value, got one JSON cannot encode',
    )
    expect((await idp.fetch(idp.jwksUri)).status).toBe(200)
  })
})

describe('respondWith refuses headers and bodies it cannot send', () => {
  const cyclic: Record<string, unknown> = {}
  cyclic['self'] = cyclic

  it.each<[string, Record<string, unknown>, string]>([
    ['a header name with a space', { headers: { 'bad header': 'x' } }, 'headers must be sendable'],
    ['an empty header name', { headers: { '': 'x' } }, 'headers must be sendable'],
    ['a header value with a line break', { headers: { 'x-a': 'a\r\nb: c' } }, 'headers must be'],
    ['a header value beyond Latin-1', { headers: { 'x-a': 'caf\u20ac' } }, 'headers must be'],
    ['a BigInt body', { body: 10n }, 'body must be a string or a JSON value'],
    ['a cyclic body', { body: cyclic }, 'body must be a string or a JSON value'],
    ['a function body', { body: () => 1 }, 'body must be a string or a JSON value'],
  ])('%s: a TypeError at the call, not an outage later', async (_, behaviour, message) => {
    idp.respondWith('jwks', { status: 503 })
    try {
      expect(() => idp.respondWith('jwks', behaviour)).toThrow(
        expect.objectContaining({ name: 'TypeError', message: expect.stringContaining(message) }),
      )
      // The refused call changed nothing.
      expect((await idp.fetch(idp.jwksUri)).status).toBe(503)
    } finally {
      idp.respondWith('jwks', undefined)
    }
  })

  it('serves valid headers and a body encoded at the call, over HTTP and in memory', async () => {
    const server = await createTestIssuer()
    try {
      const body = { keys: [] as unknown[] }
      server.respondWith('jwks', {
        headers: { 'Cache-Control': 'max-age=5', 'x-note': 'caf\u00e9' },
        body,
      })
      body.keys.push('changed later')
      for (const fetcher of [globalThis.fetch, server.fetch]) {
        const res = await fetcher(server.jwksUri)
        expect(res.headers.get('cache-control')).toBe('max-age=5')
        expect(res.headers.has('x-note')).toBe(true)
        expect(await res.text()).toBe('{"keys":[]}')
      }
    } finally {
      await server.close()
    }
  })
})

describe("the Cognito stand-in's fetch rejects, as fetch does", () => {
  it('returns a rejected promise for a bad URL instead of throwing', async () => {
    const pool = await createTestIssuer({ kind: 'cognito' })
    try {
      let answer: Promise<Response> | undefined
      expect(() => {
        answer = pool.fetch('/relative')
      }).not.toThrow()
      await expect(answer).rejects.toThrow(TypeError)
      let caught: unknown
      await pool.fetch('not a url').catch((error: unknown) => (caught = error))
      expect(caught).toBeInstanceOf(TypeError)
      // Its routes still answer.
      expect((await pool.fetch(pool.pool.jwksUri)).status).toBe(200)
    } finally {
      await pool.close()
    }
  })
})

describe("Entra's v1.0 x5t repeats the kid actually used", () => {
  it.each<[string, Record<string, unknown>, string | undefined | 'current']>([
    ['the current key', {}, 'current'],
    ['a kid override', { kid: 'other' }, 'other'],
    ['kid: null', { kid: null }, undefined],
    ['a header kid', { header: { kid: 'from-header' } }, 'from-header'],
    ['a header kid removed', { kid: 'other', header: { kid: undefined } }, undefined],
  ])('%s', async (_, options, expected) => {
    const tenant = await createTestIssuer({ kind: 'entra-id' })
    try {
      const current = tenant.idp.jwks().keys[0]?.['kid']
      const kid = expected === 'current' ? current : expected
      for (const token of [
        tenant.mint({}, { preset: 'v1', ...options }),
        tenant.v1(undefined, {}, options),
      ]) {
        const header = headerOf(token)
        expect([header['kid'], header['x5t']]).toEqual([kid, kid])
        if (kid === undefined) expect(header).not.toHaveProperty('x5t')
      }
      // v2.0 tokens carry none, whatever the kid.
      expect(headerOf(tenant.v2(undefined, {}, options))).not.toHaveProperty('x5t')
    } finally {
      await tenant.close()
    }
  })

  it('follows the new kid after a rotation, and an explicit x5t still wins', async () => {
    const tenant = await createTestIssuer({ kind: 'entra-id' })
    try {
      tenant.idp.rotateKeys({ keepOld: true })
      const header = headerOf(tenant.v1())
      expect(header['x5t']).toBe(tenant.idp.jwks().keys[0]?.['kid'])
      expect(header['x5t']).toBe(header['kid'])
      expect(headerOf(tenant.v1(undefined, {}, { kid: 'a', header: { x5t: 'b' } }))).toMatchObject({
        kid: 'a',
        x5t: 'b',
      })
    } finally {
      await tenant.close()
    }
  })
})

// The test kit after the thirteenth review: respondWith refusing the headers the server frames the
// body with (HTTP and in-memory answers differed), token methods refusing mint options put among
// their claim overrides, mint checking its claims, setJwks refusing a function or Symbol, Entra's
// setAppKeys checking its key set, and algorithms quoting what was given.

import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createVerifier } from '../../src/index.js'
import { MINT_OPTION_NAMES } from '../../src/test-kit-options.js'
import {
  cognito,
  createTestIssuer,
  entra,
  type CognitoTestIssuer,
  type EntraTestIssuer,
  type TestIssuer,
} from '../../src/testing.js'
import { EntraIdProvider } from '../../providers/entra-id/index.js'

const payloadOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))

let idp: TestIssuer
let pool: CognitoTestIssuer
let tenant: EntraTestIssuer
let b2c: EntraTestIssuer
beforeAll(async () => {
  ;[idp, pool, tenant, b2c] = await Promise.all([
    createTestIssuer({ listen: false }),
    createTestIssuer({ kind: 'cognito' }),
    createTestIssuer({ kind: 'entra-id' }),
    createTestIssuer({ kind: 'entra-id', b2cTenantName: 'contoso' }),
  ])
})
afterAll(() => Promise.all([idp, pool, tenant, b2c].map((issuer) => issuer.close())))

describe('respondWith: headers the server sends itself', () => {
  it.each([
    ['content-length', '1'],
    ['content-length', 'abc'],
    ['Content-Length', '100000'],
    ['transfer-encoding', 'gzip'],
    ['Transfer-Encoding', 'chunked'],
    ['content-encoding', 'gzip'],
    ['trailer', 'x-checksum'],
    ['connection', 'close'],
    ['keep-alive', 'timeout=1'],
    ['proxy-connection', 'close'],
    ['te', 'trailers'],
    ['upgrade', 'websocket'],
  ])('refuses %s: %s at the call', (name, value) => {
    expect(() => idp.respondWith('jwks', { headers: { [name]: value } })).toThrow(
      new RegExp(`^respondWith: headers cannot set "${name}": it .* drop it$`),
    )
  })

  it('takes a content-length that is the body’s own byte length, served alike over HTTP and in memory', async () => {
    const served = await createTestIssuer()
    try {
      const body = '{"keys":[],"note":"é"}' // é is two bytes: the length is in bytes, not characters
      const length = String(Buffer.byteLength(body))
      expect(() =>
        served.respondWith('jwks', { body, headers: { 'content-length': String(body.length) } }),
      ).toThrow(/content-length/)
      expect(() => served.respondWith('jwks', { headers: { 'content-length': length } })).toThrow(
        /content-length/,
      )
      served.respondWith('jwks', { body, headers: { 'Content-Length': length } })
      const answers = await Promise.all(
        [fetch, served.fetch].map(async (get) => {
          const res = await get(served.jwksUri)
          return [res.status, res.headers.get('content-length'), await res.text()]
        }),
      )
      expect(answers[0]).toEqual([200, length, body])
      expect(answers[1]).toEqual(answers[0])
    } finally {
      await served.close()
    }
  })

  it('still takes the headers a test may want', () => {
    const headers = { 'cache-control': 'max-age=0', 'content-type': 'text/html', 'x-trace': '1' }
    expect(() => idp.respondWith('discovery', { headers })).not.toThrow()
    idp.respondWith('discovery', undefined)
  })

  it('serves the same over HTTP and in memory, since what differed is refused', async () => {
    const served = await createTestIssuer()
    try {
      expect(() => served.respondWith('jwks', { headers: { 'content-length': '1' } })).toThrow(
        TypeError,
      )
      served.respondWith('jwks', { status: 503, headers: { 'retry-after': '7' } })
      const answers = await Promise.all(
        [fetch, served.fetch].map(async (get) => {
          const res = await get(served.jwksUri)
          return [res.status, res.headers.get('retry-after'), (await res.text()).length]
        }),
      )
      expect(answers[0]).toEqual(answers[1])
      expect(answers[0]?.[0]).toBe(503)
    } finally {
      await served.close()
    }
  })
})

describe('token methods: mint options among the claim overrides', () => {
  // The members of MintOptions; the first test keeps the kit's own list equal to it.
  const mintNames = [
    'alg',
    'kid',
    'header',
    'expiresInSec',
    'rawPayload',
    'key',
    'hmacSecret',
    'tamper',
  ]
  const cognitoNames = [...mintNames, 'issuerForm']
  const values: Record<string, unknown> = {
    alg: 'RS256',
    kid: 'k',
    header: { typ: 'at+jwt' },
    expiresInSec: -60,
    rawPayload: '{}',
    key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    hmacSecret: 'secret',
    tamper: 'signature',
    issuerForm: 'global',
  }

  it('takes the names from MintOptions', () => {
    expect(MINT_OPTION_NAMES).toEqual(mintNames)
  })

  it.each(cognitoNames)('Cognito access(), id(), m2m() refuse %s', (name) => {
    const overrides = { [name]: values[name] }
    const message = (method: string) =>
      `${method}: ${name} is a mint option, not a claim: pass it in the options, the third argument of ${method}, not in the overrides`
    expect(() => pool.access(cognito.JANE, overrides)).toThrow(new TypeError(message('access()')))
    expect(() => pool.id(cognito.JANE, overrides)).toThrow(new TypeError(message('id()')))
    expect(() => pool.m2m('orders/read', overrides)).toThrow(new TypeError(message('m2m()')))
  })

  it.each(mintNames)('Entra v2(), v1(), app() and b2c() refuse %s', (name) => {
    const overrides = { [name]: values[name] }
    expect(() => tenant.v2(entra.JANE, overrides)).toThrow(/^v2\(\): .* is a mint option/)
    expect(() => tenant.v1(entra.JANE, overrides)).toThrow(/^v1\(\): .* is a mint option/)
    expect(() => tenant.app({}, overrides)).toThrow(/^app\(\): .* is a mint option/)
    expect(() => b2c.b2c(entra.JANE, overrides)).toThrow(/^b2c\(\): .* is a mint option/)
  })

  it('refuses preset, pointing at mint', () => {
    // @ts-expect-error preset is mint's option, refused by the types too
    expect(() => pool.access(cognito.JANE, { preset: 'id' })).toThrow(
      'access(): preset is an option of mint, not a claim: access() mints its own token shape; for another, mint(claims, { preset })',
    )
    // @ts-expect-error preset is mint's option, refused by the types too
    expect(() => tenant.v2(entra.JANE, { preset: 'v1' })).toThrow(/^v2\(\): preset is an option/)
  })

  it('mints what the options say once they are in the third argument', async () => {
    const global = pool.access(cognito.JANE, {}, { issuerForm: 'global' })
    expect(payloadOf(global)['iss']).toBe(pool.pool.globalIssuer)
    const verify = createVerifier({
      provider: new EntraIdProvider(tenant.providerOptions),
      logger: false,
    })
    await expect(verify(tenant.v2(entra.JANE, {}, { tamper: 'signature' }))).rejects.toMatchObject({
      status: 401,
    })
  })

  it('still takes real claims, undefined members and a Record<string, unknown>', () => {
    const claims: Record<string, unknown> = { scope: 'orders/write', 'cognito:groups': ['x'] }
    expect(payloadOf(pool.access(cognito.JANE, claims))['scope']).toBe('orders/write')
    expect(payloadOf(pool.id(cognito.JANE, { alg: undefined }))).not.toHaveProperty('alg')
    expect(payloadOf(tenant.v2(entra.JANE, { roles: ['A'] }))['roles']).toEqual(['A'])
    // mint() signs any claim, a mint option's name included, for a test that wants one.
    expect(payloadOf(pool.mint({ alg: 'x' }, { preset: 'access' }))['alg']).toBe('x')
  })

  it('refuses overrides that are not an object of claims', () => {
    expect(() => pool.access(cognito.JANE, 'abc' as never)).toThrow(
      'access(): overrides must be an object of claims, or undefined (the defaults), got "abc"',
    )
    expect(() => tenant.v1(entra.JANE, null as never)).toThrow(/^v1\(\): overrides must be/)
  })

  it('is refused by the types too', () => {
    // @ts-expect-error issuerForm is an option, not a claim
    expect(() => pool.access(cognito.JANE, { issuerForm: 'global' })).toThrow(TypeError)
    // @ts-expect-error expiresInSec is an option, not a claim
    expect(() => tenant.v2(entra.JANE, { expiresInSec: -60 })).toThrow(TypeError)
  })
})

describe('mint: claims', () => {
  it.each<[string, unknown, string]>([
    ['a string', 'abc', '"abc"'],
    ['an array', ['a'], '["a"]'],
    ['null', null, 'null'],
    ['a number', 5, '5'],
    ['a Map', new Map([['sub', 'x']]), '{}'],
  ])('refuses %s', (_, claims, shown) => {
    const message = `mint: claims must be an object of claims, or undefined (the defaults), got ${shown}`
    expect(() => idp.mint(claims as never)).toThrow(new TypeError(message))
    expect(() => pool.mint(claims as never)).toThrow(new TypeError(message))
    expect(() => tenant.mint(claims as never)).toThrow(new TypeError(message))
  })

  it('refuses null beside rawPayload with its own message', () => {
    expect(() => idp.mint(null as never, { rawPayload: '{}' })).toThrow(
      'mint: claims must be an object of claims, or undefined (the defaults), got null',
    )
  })

  it.each<[string, Record<string, unknown>, string]>([
    ['a BigInt', { n: 1n }, 'claim "n" must be a JSON value, got a bigint'],
    ['a nested BigInt', { a: { b: [2n] } }, 'claim "a" must be a JSON value, got a bigint'],
    ['a function', { f: () => 1 }, 'claim "f" must be a JSON value, got a function'],
    ['a Symbol', { s: Symbol('x') }, 'claim "s" must be a JSON value, got a symbol'],
  ])('refuses %s, naming mint and the claim', (_, claims, message) => {
    expect(() => idp.mint(claims)).toThrow(new TypeError(`mint: ${message}`))
    expect(() => tenant.mint(claims, { preset: 'v2' })).toThrow(new TypeError(`mint: ${message}`))
  })

  it('refuses a cycle, naming the claim', () => {
    const self: Record<string, unknown> = {}
    self['self'] = self
    expect(() => idp.mint({ self })).toThrow(
      /^mint: claim "self" must be a JSON value, got one JSON cannot encode \(Converting circular/,
    )
  })

  it('still signs plain objects, a null-prototype one and undefined', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { sub: 'bare' })
    expect(payloadOf(idp.mint(bare))['sub']).toBe('bare')
    expect(payloadOf(idp.mint(undefined, { expiresInSec: 60 }))['sub']).toBe('user-1')
    expect(payloadOf(idp.mint({ at: new Date(0) }))['at']).toBe('1970-01-01T00:00:00.000Z')
  })
})

describe('setJwks: what JSON cannot encode', () => {
  it.each<[string, unknown, string]>([
    ['a function', () => 1, '() => 1'],
    ['a Symbol', Symbol('x'), 'Symbol(x)'],
  ])('refuses %s, as respondWith refuses it as a body', (_, value, shown) => {
    expect(() => idp.setJwks(value)).toThrow(
      new TypeError(`setJwks: value must be a JSON value, got ${shown}`),
    )
  })

  it('still serves null and goes back with undefined', async () => {
    idp.setJwks(null)
    expect(await (await idp.fetch(idp.jwksUri)).text()).toBe('null')
    idp.setJwks(undefined)
    expect(
      ((await (await idp.fetch(idp.jwksUri)).json()) as { keys: unknown[] }).keys,
    ).toHaveLength(1)
  })
})

describe("Entra's setAppKeys", () => {
  const keysUrl = (appId: string) =>
    `https://login.microsoftonline.com/${tenant.tid}/discovery/v2.0/keys?appid=${appId}`
  const served = async (appId: string) =>
    (await (await tenant.fetch(keysUrl(appId))).json()) as {
      keys: Record<string, unknown>[]
    }

  it.each<[string, unknown, RegExp]>([
    ['null', null, /^setAppKeys: jwks must be a key set, .*, got null$/],
    ['a string', 'keys', /^setAppKeys: jwks must be a key set/],
    ['keys that are not an array', { keys: 'x' }, /^setAppKeys: jwks must be a key set/],
    ['keys that are not objects', { keys: [1] }, /^setAppKeys: jwks must be a key set/],
    ['a BigInt', { keys: [{ n: 1n }] }, /^setAppKeys: jwks must be a key set JSON can encode/],
  ])('refuses %s at the call', (_, jwks, message) => {
    expect(() => tenant.setAppKeys('app-1', jwks as never)).toThrow(message)
  })

  it('refuses an appId that is not a non-empty string', () => {
    expect(() => tenant.setAppKeys('', { keys: [] })).toThrow(
      'setAppKeys: appId must be a non-empty string, got ""',
    )
    expect(() => tenant.setAppKeys(5 as never, { keys: [] })).toThrow(/got 5$/)
  })

  it('serves the set as given, and the tenant keys again after undefined', async () => {
    const tenantKid = (await served('other')).keys[0]?.['kid']
    const set = { keys: [{ kty: 'RSA', kid: 'app-key', n: 'AQAB', e: 'AQAB' }] }
    tenant.setAppKeys('app-2', set)
    set.keys.push({ kty: 'RSA', kid: 'added-later', n: 'AQAB', e: 'AQAB' })
    expect((await served('app-2')).keys.map((key) => key['kid'])).toEqual(['app-key'])
    tenant.setAppKeys('app-2', undefined)
    expect((await served('app-2')).keys.map((key) => key['kid'])).toEqual([tenantKid])
  })
})

describe('createTestIssuer: algorithms', () => {
  it.each<[string, unknown[], string]>([
    ['null', [null], 'got null'],
    ['null after a good one', ['RS256', null], 'got null'],
    ['an empty name', [''], 'got ""'],
    ['an object', [{}], 'got {}'],
    ['HMAC', ['HS256'], 'got "HS256"'],
  ])('quotes %s in the message', async (_, algorithms, got) => {
    const message = `createTestIssuer: algorithms must be among RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (no HMAC or none: a JWKS cannot publish them), ${got}`
    await expect(
      createTestIssuer({ algorithms: algorithms as never, listen: false }),
    ).rejects.toThrow(new TypeError(message))
  })

  it('still starts with good ones, each once', async () => {
    const twice = await createTestIssuer({ algorithms: ['ES256', 'ES256'], listen: false })
    expect(twice.jwks().keys).toHaveLength(1)
    await twice.close()
  })
})

// The Cognito and Entra stand-ins of oidc-guard/testing: expiresInSec reaches their presets, and
// setJwks, setDiscovery and respondWith are served as given at their vendor URLs.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CognitoProvider } from '../../providers/cognito/index.js'
import { EntraIdProvider } from '../../providers/entra-id/index.js'
import { cognito, entra, type CognitoTestIssuer, type EntraTestIssuer } from '../../src/testing.js'

const NOW = () => Math.floor(Date.now() / 1000)

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'))
}

const HTML = { body: '<html>sign in</html>', headers: { 'content-type': 'text/html' } }

let pool: CognitoTestIssuer
let tenant: EntraTestIssuer
let b2c: EntraTestIssuer

beforeAll(async () => {
  ;[pool, tenant, b2c] = await Promise.all([
    cognito.createCognitoIssuer(),
    entra.createEntraIssuer(),
    entra.createEntraIssuer({ host: 'contoso.b2clogin.com', b2cTenantName: 'contoso' }),
  ])
})

afterAll(async () => {
  await Promise.all([pool.close(), tenant.close(), b2c.close()])
})

afterEach(() => {
  for (const { idp } of [pool, tenant, b2c]) {
    idp.setJwks(undefined)
    idp.setDiscovery(undefined)
    idp.respondWith('jwks', undefined)
    idp.respondWith('discovery', undefined)
  }
})

describe('expiresInSec on the Cognito presets', () => {
  const tokens: [string, (options: cognito.CognitoTokenOptions) => string][] = [
    ['access', (options) => pool.access(cognito.JANE, {}, options)],
    ['id', (options) => pool.id(cognito.JANE, {}, options)],
    ['m2m', (options) => pool.m2m(undefined, {}, options)],
    ['mint access', (options) => pool.mint({}, { ...options, preset: 'access' })],
    ['mint id', (options) => pool.mint({}, { ...options, preset: 'id' })],
    ['mint m2m', (options) => pool.mint({}, { ...options, preset: 'm2m' })],
  ]

  it.each(tokens)('%s: exp = iat + expiresInSec, and the provider refuses it', async (_, mint) => {
    const token = mint({ expiresInSec: -60 })
    const { iat, exp } = payloadOf(token)
    expect(exp).toBe(Number(iat) - 60)
    const provider = new CognitoProvider({ ...pool.providerOptions, tokenUse: 'any' })
    await expect(provider.verifyToken(token)).rejects.toMatchObject({
      code: 'ERR_AUTH_TOKEN_EXPIRED',
    })
    // Without it, Cognito's own hour.
    const fresh = payloadOf(mint({}))
    expect(fresh['exp']).toBe(Number(fresh['iat']) + 3600)
  })

  it('an exp claim wins over expiresInSec, with either issuer form', () => {
    const exp = NOW() + 123
    expect(payloadOf(pool.access(cognito.JANE, { exp }, { expiresInSec: -60 }))['exp']).toBe(exp)
    expect(payloadOf(pool.mint({ exp }, { preset: 'id', expiresInSec: -60 }))['exp']).toBe(exp)
    const global = payloadOf(
      pool.access(cognito.JANE, {}, { issuerForm: 'global', expiresInSec: 5 }),
    )
    expect([global['iss'], global['exp']]).toEqual([
      pool.pool.globalIssuer,
      Number(global['iat']) + 5,
    ])
  })
})

describe('expiresInSec on the Entra presets', () => {
  const tokens: [string, (options: entra.EntraMintOptions) => string][] = [
    ['v2', (options) => tenant.v2(entra.JANE, {}, options)],
    ['v1', (options) => tenant.v1(entra.JANE, {}, options)],
    ['app', (options) => tenant.app({}, {}, options)],
    ['mint v2', (options) => tenant.mint({}, { ...options, preset: 'v2' })],
    ['mint v1', (options) => tenant.mint({}, { ...options, preset: 'v1' })],
    ['mint app', (options) => tenant.mint({}, { ...options, preset: 'app' })],
  ]

  it.each(tokens)('%s: exp = iat + expiresInSec, nbf = iat, refused', async (_, mint) => {
    const token = mint({ expiresInSec: -60 })
    const { iat, nbf, exp } = payloadOf(token)
    expect([exp, nbf]).toEqual([Number(iat) - 60, iat])
    const provider = new EntraIdProvider({ ...tenant.providerOptions, acceptV1: true })
    await expect(provider.verifyToken(token)).rejects.toMatchObject({
      code: 'ERR_AUTH_TOKEN_EXPIRED',
    })
    // Without it, Entra's usual 65 minutes.
    const fresh = payloadOf(mint({}))
    expect(fresh['exp']).toBe(Number(fresh['iat']) + 3900)
  })

  it('an exp claim wins over expiresInSec', () => {
    const exp = NOW() + 123
    expect(payloadOf(tenant.v2(entra.JANE, { exp }, { expiresInSec: -60 }))['exp']).toBe(exp)
    expect(payloadOf(tenant.mint({ exp }, { preset: 'app', expiresInSec: -60 }))['exp']).toBe(exp)
  })
})

describe("the Entra stand-in serves the idp's overrides at Entra's URLs", () => {
  const base = `https://login.microsoftonline.com`
  const keysUrls = [
    `${base}/${entra.TENANT}/discovery/v2.0/keys`,
    `${base}/organizations/discovery/v2.0/keys`,
    `${base}/${entra.TENANT}/discovery/v2.0/keys?appid=${entra.CLIENT_ID}`,
  ]
  const discoveryUrl = `${base}/${entra.TENANT}/v2.0/.well-known/openid-configuration`
  const b2cBase = 'https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin'

  it.each(keysUrls)('setJwks: %s serves the value as given', async (url) => {
    tenant.idp.setJwks({ keys: [] })
    expect(await (await tenant.fetch(url)).json()).toEqual({ keys: [] })
    tenant.idp.setJwks(undefined)
    const { keys } = (await (await tenant.fetch(url)).json()) as { keys: object[] }
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) expect(key).not.toHaveProperty('alg')
  })

  it.each(keysUrls)('respondWith: %s serves the body, headers and status given', async (url) => {
    tenant.idp.respondWith('jwks', HTML)
    const html = await tenant.fetch(url)
    expect([html.status, html.headers.get('content-type'), await html.text()]).toEqual([
      200,
      'text/html',
      HTML.body,
    ])
    tenant.idp.respondWith('jwks', { status: 503, body: 'down' })
    const down = await tenant.fetch(url)
    expect([down.status, await down.text()]).toEqual([503, 'down'])
  })

  it('discovery: setDiscovery members and a respondWith body are served as given', async () => {
    tenant.idp.setDiscovery({
      jwks_uri: 'https://keys.example/jwks',
      cloud_instance_name: undefined,
    })
    const document = (await (await tenant.fetch(discoveryUrl)).json()) as Record<string, unknown>
    expect(document['issuer']).toBe(entra.v2Issuer(entra.TENANT))
    expect(document['jwks_uri']).toBe('https://keys.example/jwks')
    expect(document).not.toHaveProperty('cloud_instance_name')
    tenant.idp.respondWith('discovery', HTML)
    const html = await tenant.fetch(discoveryUrl)
    expect([html.headers.get('content-type'), await html.text()]).toEqual(['text/html', HTML.body])
  })

  it('B2C user flows: setJwks, setDiscovery and respondWith apply too', async () => {
    b2c.idp.setJwks({ keys: [] })
    const keys = await b2c.fetch(`${b2cBase}/discovery/v2.0/keys`)
    expect(await keys.json()).toEqual({ keys: [] })
    b2c.idp.setDiscovery({ jwks_uri: 'https://keys.example/b2c' })
    const discovery = await b2c.fetch(`${b2cBase}/v2.0/.well-known/openid-configuration`)
    expect(((await discovery.json()) as Record<string, unknown>)['jwks_uri']).toBe(
      'https://keys.example/b2c',
    )
    b2c.idp.respondWith('discovery', HTML)
    const html = await b2c.fetch(`${b2cBase}/v2.0/.well-known/openid-configuration`)
    expect(await html.text()).toBe(HTML.body)
  })

  it('counts the requests, and a provider meets the overridden answer', async () => {
    tenant.idp.resetCounts()
    tenant.idp.respondWith('jwks', HTML)
    const provider = new EntraIdProvider(tenant.providerOptions)
    await expect(provider.verifyToken(tenant.v2())).rejects.toMatchObject({ status: 503 })
    expect(tenant.idp.counts.discovery).toBeGreaterThan(0)
    expect(tenant.idp.counts.jwks).toBeGreaterThan(0)
  })

  it("the issuer's own key URL keeps Entra's key shape", async () => {
    const { keys } = (await (await tenant.fetch(tenant.idp.jwksUri)).json()) as {
      keys: Record<string, unknown>[]
    }
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) expect(key).not.toHaveProperty('alg')
  })
})

describe('the Cognito stand-in serves the same overrides under both issuer forms', () => {
  const urls = () => [pool.pool.jwksUri, pool.pool.globalJwksUri]

  it('setJwks and respondWith reach the regional and global key URLs', async () => {
    pool.idp.setJwks({ keys: [] })
    for (const url of urls()) expect(await (await pool.fetch(url)).json()).toEqual({ keys: [] })
    pool.idp.respondWith('jwks', HTML)
    for (const url of urls()) {
      const html = await pool.fetch(url)
      expect([html.headers.get('content-type'), await html.text()]).toEqual([
        'text/html',
        HTML.body,
      ])
    }
  })
})

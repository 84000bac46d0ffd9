// The Cognito stand-in of oidc-guard/testing (review 9): its factory's options, mint's preset and
// issuerForm checked by name, and Cognito's own discovery document under each issuer form.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createVerifier } from '../../src/index.js'
import { OidcProvider } from '../../providers/jwks/index.js'
import { cognito, createTestIssuer, type CognitoTestIssuer } from '../../src/testing.js'

let pool: CognitoTestIssuer

beforeAll(async () => {
  pool = await createTestIssuer({ kind: 'cognito' })
})

afterAll(() => pool.close())

describe('createCognitoIssuer checks its options by name', () => {
  it('refuses { lisen: true } with a TypeError naming it', async () => {
    const started = cognito.createCognitoIssuer(undefined, undefined, { lisen: true } as never)
    await expect(started).rejects.toThrow(TypeError)
    await expect(started).rejects.toThrow('createCognitoIssuer: lisen is not an option')
  })

  it('still takes listen and allowInProduction', async () => {
    const other = await cognito.createCognitoIssuer(undefined, undefined, {
      listen: false,
      allowInProduction: false,
    })
    await other.close()
  })
})

describe('mint checks preset and issuerForm', () => {
  it.each(['ID', 'refresh', 'toString', 'constructor', '__proto__'])(
    'refuses preset %j, naming the presets',
    (preset) => {
      expect(() => pool.mint({}, { preset: preset as never })).toThrow(
        `mint: preset must be 'access', 'id' or 'm2m', got "${preset}"`,
      )
    },
  )

  it.each<[string, () => string]>([
    ['mint', () => pool.mint({}, { issuerForm: 'Global' as never })],
    ['mint with a preset', () => pool.mint({}, { preset: 'id', issuerForm: 'Global' as never })],
    ['access', () => pool.access(cognito.JANE, {}, { issuerForm: 'Global' as never })],
    ['m2m', () => pool.m2m(undefined, {}, { issuerForm: 'GLOBAL' as never })],
  ])('%s refuses a misspelt issuerForm rather than minting the regional issuer', (_, mint) => {
    expect(mint).toThrow(TypeError)
    expect(mint).toThrow("issuerForm must be 'regional' (the default) or 'global'")
  })

  it('mints both forms as before', () => {
    const issOf = (token: string) =>
      JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).iss
    expect(issOf(pool.mint({}, { preset: 'access', issuerForm: 'global' }))).toBe(
      pool.pool.globalIssuer,
    )
    expect(issOf(pool.mint({}, { issuerForm: 'regional' }))).toBe(pool.pool.issuer)
  })
})

describe('each issuer form has Cognito’s discovery document', () => {
  it.each<['regional' | 'global']>([['regional'], ['global']])(
    '%s: names that issuer and its own jwks_uri, which serves the keys',
    async (form) => {
      const issuer = cognito.issuerOf(pool.pool, form)
      const answer = await pool.fetch(`${issuer}/.well-known/openid-configuration`)
      const discovery = (await answer.json()) as Record<string, unknown>
      expect(discovery).toMatchObject({ issuer, jwks_uri: `${issuer}/.well-known/jwks.json` })
      const keys = (await (await pool.fetch(String(discovery['jwks_uri']))).json()) as {
        keys: unknown[]
      }
      expect(keys.keys).toEqual(pool.idp.jwks().keys)
    },
  )

  it.each<['regional' | 'global']>([['regional'], ['global']])(
    'OidcProvider discovers the %s issuer in memory',
    async (form) => {
      const provider = new OidcProvider({
        issuer: cognito.issuerOf(pool.pool, form),
        audience: pool.clientId,
        fetch: pool.fetch,
      })
      const verify = createVerifier({ provider, logger: false })
      const user = await verify(pool.id(cognito.JANE, {}, { issuerForm: form }))
      expect(user.id).toBe(cognito.JANE.sub)
    },
  )

  it('counts, and takes setDiscovery and respondWith, as the issuer’s own route', async () => {
    const url = `${pool.pool.globalIssuer}/.well-known/openid-configuration`
    pool.idp.resetCounts()
    pool.idp.setDiscovery({ jwks_uri: 'https://keys.example/jwks' })
    try {
      expect(((await (await pool.fetch(url)).json()) as { jwks_uri: string }).jwks_uri).toBe(
        'https://keys.example/jwks',
      )
      pool.idp.respondWith('discovery', { status: 503 })
      expect((await pool.fetch(new Request(url))).status).toBe(503)
      expect(pool.idp.counts.discovery).toBe(2)
    } finally {
      pool.idp.setDiscovery(undefined)
      pool.idp.respondWith('discovery', undefined)
    }
  })
})

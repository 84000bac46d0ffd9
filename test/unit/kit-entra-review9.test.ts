// The Entra stand-in of oidc-guard/testing (review 9): one pairwise `sub` per user and app, its
// factory's and app preset's options checked by name, B2C stand-ins minting and verifying B2C's
// tokens only, and `x5t` in v1.0 headers only.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createVerifier } from '../../src/index.js'
import { EntraIdProvider } from '../../providers/entra-id/index.js'
import { createTestIssuer, entra, type EntraTestIssuer } from '../../src/testing.js'

const partsOf = (token: string) =>
  token
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')))
const headerOf = (token: string): Record<string, unknown> => partsOf(token)[0]
const payloadOf = (token: string): Record<string, unknown> => partsOf(token)[1]

let tenant: EntraTestIssuer
let b2c: EntraTestIssuer

beforeAll(async () => {
  ;[tenant, b2c] = await Promise.all([
    createTestIssuer({ kind: 'entra-id' }),
    createTestIssuer({ kind: 'entra-id', b2cTenantName: 'contoso' }),
  ])
})

afterAll(async () => {
  await Promise.all([tenant.close(), b2c.close()])
})

describe('an Entra user keeps one sub per app, as Entra’s pairwise sub', () => {
  const BOB: entra.EntraTestUser = { ...entra.JANE, oid: '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b' }

  it('is the same on every token of one user for one API, 43 characters', () => {
    const first = payloadOf(tenant.v2()).sub
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(payloadOf(tenant.v2()).sub).toBe(first)
    expect(payloadOf(tenant.mint({}, { preset: 'v2' })).sub).toBe(first)
    // v1.0 tokens name the same API by its App ID URI: the same app, the same sub.
    expect(payloadOf(tenant.v1()).sub).toBe(first)
    expect(payloadOf(tenant.mint({}, { preset: 'v1' })).sub).toBe(first)
    // Another user, another API or another tenant: another sub.
    expect(payloadOf(tenant.v2(BOB)).sub).not.toBe(first)
    const context = tenant.context()
    const sub = (ctx: entra.EntraTokenContext) => entra.v2AccessTokenClaims(ctx, entra.JANE).sub
    expect(sub(context)).toBe(first)
    expect(sub({ ...context, appId: 'another-api', audience: 'another-api' })).not.toBe(first)
    expect(sub({ ...context, tid: entra.OTHER_TENANT })).not.toBe(first)
  })

  it('is the user’s own sub when given', () => {
    const user = { ...entra.JANE, sub: 'fixed-pairwise-sub' }
    expect(payloadOf(tenant.v2(user)).sub).toBe('fixed-pairwise-sub')
    expect(payloadOf(tenant.v1(user)).sub).toBe('fixed-pairwise-sub')
    expect(payloadOf(b2c.b2c(user)).sub).toBe('fixed-pairwise-sub')
    expect(payloadOf(b2c.b2c()).sub).toBe(entra.JANE.oid) // B2C's default: the object id
  })

  it('gives idClaim: sub one user id across tokens', async () => {
    const provider = new EntraIdProvider({ ...tenant.providerOptions, idClaim: 'sub' })
    const verify = createVerifier({ provider, logger: false })
    const ids = [(await verify(tenant.v2())).id, (await verify(tenant.v2())).id]
    expect(ids[0]).toBe(ids[1])
  })
})

describe('createEntraIssuer and the app preset check their options by name', () => {
  it('takes tenantId as createTestIssuer does, and names the option the caller gave', async () => {
    const other = await entra.createEntraIssuer({ tenantId: entra.OTHER_TENANT })
    try {
      expect(other.tid).toBe(entra.OTHER_TENANT)
      expect(payloadOf(other.v2()).tid).toBe(entra.OTHER_TENANT)
    } finally {
      await other.close()
    }
    await expect(entra.createEntraIssuer({ tid: 'Contoso' })).rejects.toThrow(
      'createTestIssuer: tid must be a tenant id',
    )
    await expect(entra.createEntraIssuer({ tenantId: 'Contoso' })).rejects.toThrow(
      'createTestIssuer: tenantId must be a tenant id',
    )
    await expect(createTestIssuer({ kind: 'entra-id', tenantId: 'Contoso' })).rejects.toThrow(
      'createTestIssuer: tenantId must be a tenant id',
    )
    await expect(
      entra.createEntraIssuer({ tid: entra.TENANT, tenantId: entra.OTHER_TENANT }),
    ).rejects.toThrow('give the tenant as tid or as tenantId, not both')
  })

  it.each([
    [{ tenant: entra.TENANT }, 'tenant'],
    [{ b2cTenant: 'contoso' }, 'b2cTenant'],
  ])('refuses %j with a TypeError naming it', async (options, name) => {
    const started = entra.createEntraIssuer(options as never)
    await expect(started).rejects.toThrow(TypeError)
    await expect(started).rejects.toThrow(`createEntraIssuer: ${name} is not an option`)
  })

  it.each<[Record<string, unknown>, string]>([
    [{ role: ['Orders.Export'] }, 'appOnlyTokenClaims: role is not an option'],
    [{ version: '2' }, `appOnlyTokenClaims: version must be '1.0' or '2.0', got "2"`],
    [{ idtyp: 'app' }, 'appOnlyTokenClaims: idtyp must be true or false'],
    [{ oid: 7 }, 'appOnlyTokenClaims: oid must be a string'],
  ])('app(%j) throws a TypeError naming it', (options, message) => {
    expect(() => tenant.app(options as never)).toThrow(message)
    expect(() => entra.appOnlyTokenClaims(tenant.context(), options as never)).toThrow(message)
  })

  it('app() still takes its options', () => {
    const claims = payloadOf(tenant.app({ roles: ['A'], version: '1.0', idtyp: false, oid: 'x' }))
    expect(claims).toMatchObject({ roles: ['A'], ver: '1.0', oid: 'x', sub: 'x' })
    expect(claims['idtyp']).toBeUndefined()
  })
})

describe('a B2C stand-in is a B2C tenant', () => {
  it('gives providerOptions of a B2C provider, which verifies its b2c preset', async () => {
    expect(b2c.providerOptions.b2c).toEqual({
      tenantName: 'contoso',
      policies: [entra.B2C_POLICY],
    })
    const verify = createVerifier({
      provider: new EntraIdProvider(b2c.providerOptions),
      logger: false,
    })
    for (const token of [b2c.mint({}, { preset: 'b2c' }), b2c.b2c()]) {
      expect(payloadOf(token)).toMatchObject({
        iss: `https://contoso.b2clogin.com/${b2c.tid}/v2.0/`,
        tfp: entra.B2C_POLICY,
        ver: '1.0',
      })
      expect(await verify(token)).toMatchObject({ id: entra.JANE.oid, scopes: ['orders.read'] })
    }
    // Its raw mint takes the user flows' issuer too.
    expect(payloadOf(b2c.mint()).iss).toBe(`https://contoso.b2clogin.com/${b2c.tid}/v2.0/`)
    // An Entra ID-shaped token of the b2clogin.com host is refused, as B2C never issues one.
    const entraShaped = b2c.mint(
      entra.v2AccessTokenClaims({ ...b2c.context(), host: 'contoso.b2clogin.com' }, entra.JANE),
    )
    await expect(verify(entraShaped)).rejects.toMatchObject({ code: 'ERR_AUTH_ISSUER_UNKNOWN' })
  })

  it.each<[string, () => string]>([
    ['mint v2', () => b2c.mint({}, { preset: 'v2' })],
    ['mint v1', () => b2c.mint({}, { preset: 'v1' })],
    ['mint app', () => b2c.mint({}, { preset: 'app' })],
    ['v2()', () => b2c.v2()],
    ['v1()', () => b2c.v1()],
    ['app()', () => b2c.app()],
  ])('refuses %s, pointing at the b2c preset', (_, mint) => {
    expect(mint).toThrow(TypeError)
    expect(mint).toThrow("preset 'b2c'")
  })

  it('names b2c as its only preset when one is misspelt', () => {
    expect(() => b2c.mint({}, { preset: 'B2C' as never })).toThrow(
      `mint: preset must be 'b2c' (a B2C stand-in), got "B2C"`,
    )
  })

  it('is the only kind with a b2c preset', () => {
    expect(() => tenant.mint({}, { preset: 'b2c' })).toThrow('needs a B2C stand-in')
    expect(() => tenant.b2c()).toThrow('needs a B2C stand-in')
  })
})

describe('x5t, a v1.0 header member', () => {
  it.each<[string, boolean, () => string]>([
    ['v2 preset', false, () => tenant.mint({}, { preset: 'v2' })],
    ['v2()', false, () => tenant.v2()],
    ['app preset (v2.0)', false, () => tenant.mint({}, { preset: 'app' })],
    ['v1 preset', true, () => tenant.mint({}, { preset: 'v1' })],
    ['v1()', true, () => tenant.v1()],
    ['app() v1.0', true, () => tenant.app({ version: '1.0' })],
    ['b2c preset (ver 1.0)', false, () => b2c.mint({}, { preset: 'b2c' })],
  ])('%s: x5t in the header: %s', (_, has, mint) => {
    const header = headerOf(mint())
    expect(header['x5t']).toBe(has ? header['kid'] : undefined)
  })

  it('is still set or removed through header', () => {
    expect(headerOf(tenant.v2(undefined, {}, { header: { x5t: 'k' } }))['x5t']).toBe('k')
    expect(headerOf(tenant.v1(undefined, {}, { header: { x5t: undefined } }))['x5t']).toBe(
      undefined,
    )
  })
})

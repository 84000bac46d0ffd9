// EntraIdProvider on Entra-shaped v1/v2 tokens: options, tenants, issuers, audiences, keys, identity, B2C.

import { generateKeyPairSync } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  AuthError,
  ConfigError,
  createVerifier,
  InvalidTokenError,
  JwksCache,
  UnavailableError,
} from '../../src/index.js'
import { EntraIdProvider, type EntraIdProviderOptions } from '../../providers/entra-id/index.js'
import {
  APP_ID_URI,
  b2cAccessTokenClaims,
  b2cIssuer,
  CLIENT_APP,
  CLIENT_ID,
  CONSUMER_TENANT,
  createEntraIssuer,
  entraJwks,
  GRAPH_APP_ID,
  JANE,
  OTHER_TENANT,
  TENANT,
  v1AccessTokenClaims,
  v1Issuer,
  v2AccessTokenClaims,
  v2Issuer,
  type EntraTestIssuer,
  type EntraTestUser,
} from '../fake-idp/entra.js'

const BOB: EntraTestUser = {
  oid: '7d8e9f00-1a2b-4c3d-8e4f-5a6b7c8d9e0f',
  name: 'Bob',
  username: 'bob@fabrikam.example',
}

let entra: EntraTestIssuer

beforeAll(async () => {
  entra = await createEntraIssuer()
})

afterAll(() => entra.close())

afterEach(() => {
  entra.setKeyIssuer(undefined)
  entra.idp.respondWith('discovery', undefined)
  entra.idp.respondWith('jwks', undefined)
})

function entraProvider(options: Partial<EntraIdProviderOptions> = {}): EntraIdProvider {
  return new EntraIdProvider({
    tenantId: TENANT,
    audience: CLIENT_ID,
    fetch: entra.fetch,
    // The failures these tests provoke are read from the answers; a test of the logs passes one.
    logger: false,
    ...options,
  })
}

/** A v2 token of `user` in tenant `tid`, signed by the stand-in. */
function v2Of(tid: string, user: EntraTestUser = JANE, overrides: Record<string, unknown> = {}) {
  return entra.mint({ ...v2AccessTokenClaims(entra.context(tid), user), ...overrides })
}

async function failure(promise: Promise<unknown>): Promise<AuthError> {
  const error = await promise.then(
    () => expect.unreachable('the token was accepted'),
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(AuthError)
  return error as AuthError
}

async function refusal(promise: Promise<unknown>, description: string, code?: string) {
  const error = await failure(promise)
  expect(error).toBeInstanceOf(InvalidTokenError)
  expect(error.description).toBe(description)
  if (code !== undefined) expect(error.code).toBe(code)
}

function configProblems(options: Partial<EntraIdProviderOptions>): readonly string[] {
  try {
    new EntraIdProvider(options as EntraIdProviderOptions)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  return expect.unreachable('the options were accepted')
}

describe('EntraIdProvider options', () => {
  it('names itself entra-id and lists the single tenant’s accepted issuers', () => {
    const provider = entraProvider({ acceptV1: true })
    expect(provider.name).toBe('entra-id')
    expect(provider.authority).toBe('https://login.microsoftonline.com')
    expect(provider.issuers).toEqual([v1Issuer(TENANT), v2Issuer(TENANT)])
    expect(entraProvider().issuers).toEqual([v2Issuer(TENANT)])
    expect(entraProvider({ tenantId: 'organizations', allowedTenants: '*' }).issuers).toEqual([])
  })

  it('accepts api://{clientId} beside a client id given alone (v1 tokens carry the App ID URI)', () => {
    expect(entraProvider().audience).toEqual([CLIENT_ID, `api://${CLIENT_ID}`])
    expect(entraProvider({ audience: [APP_ID_URI] }).audience).toEqual([APP_ID_URI])
  })

  it('reports every problem at once', () => {
    const problems = configProblems({
      tenantId: 'contoso.onmicrosoft.com',
      audience: [],
      acceptV1: false,
      acceptV2: false,
      authorityHost: 'https://login.microsoftonline.com/tenant',
      idClaim: 'email' as 'oid',
      appSigningKeys: 'not-a-guid',
      tenantCheckTimeoutMs: 0,
    })
    expect(problems).toEqual([
      expect.stringContaining('idClaim (AUTH_PROVIDER_AZURE_ENTRA_ID_ID_CLAIM) must be oid or sub'),
      expect.stringContaining(
        'tenantId (AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID) must be the directory (tenant) ID',
      ),
      expect.stringContaining('authorityHost (AUTH_PROVIDER_AZURE_ENTRA_ID_AUTHORITY_HOST)'),
      expect.stringContaining('acceptV1 and acceptV2 are both false'),
      expect.stringContaining(
        'audience (AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID) must be a non-empty',
      ),
      expect.stringContaining('tenantCheckTimeoutMs bounds an allowedTenants predicate'),
      expect.stringContaining('appSigningKeys must be true, false or an application (client) ID'),
    ])
  })

  it.each<[string, Partial<EntraIdProviderOptions>, string]>([
    [
      'tenantCheckTimeoutMs for a single tenant',
      { tenantCheckTimeoutMs: 2_000 },
      'tenantCheckTimeoutMs bounds an allowedTenants predicate, and this configuration has none: remove it',
    ],
    [
      'tenantCheckTimeoutMs with a list of tenants',
      { tenantId: 'organizations', allowedTenants: [TENANT], tenantCheckTimeoutMs: 2_000 },
      'tenantCheckTimeoutMs bounds an allowedTenants predicate, and this configuration has none: remove it',
    ],
    [
      "tenantCheckTimeoutMs with '*'",
      { tenantId: 'organizations', allowedTenants: '*', tenantCheckTimeoutMs: 2_000 },
      'tenantCheckTimeoutMs bounds an allowedTenants predicate, and this configuration has none: remove it',
    ],
    [
      'discoveryTimeoutMs with jwksUri',
      { jwksUri: 'http://127.0.0.1:1/keys', discoveryTimeoutMs: 2_000 },
      "discoveryTimeoutMs bounds discovery, which jwksUri skips: remove it (the key cache's timeoutMs bounds the key fetch)",
    ],
  ])('an option that would do nothing is refused: %s', (_case, options, problem) => {
    expect(configProblems({ tenantId: TENANT, audience: CLIENT_ID, ...options })).toEqual([problem])
  })

  it('the time-outs are taken where they bound something', () => {
    const predicate = async () => true
    expect(() =>
      entraProvider({
        tenantId: 'organizations',
        allowedTenants: predicate,
        tenantCheckTimeoutMs: 2_000,
        discoveryTimeoutMs: 2_000,
      }),
    ).not.toThrow()
    expect(() =>
      entraProvider({
        tenantId: 'organizations',
        allowedTenants: predicate,
        tenantCheckTimeoutMs: 0,
      }),
    ).toThrow(/tenantCheckTimeoutMs must be/)
  })

  it.each<[string, Partial<EntraIdProviderOptions>, string]>([
    [
      'ENT-02: multi-tenant without allowedTenants',
      { tenantId: 'organizations' },
      'allowedTenants (AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS) is required with tenantId organizations',
    ],
    [
      'an empty allow-list',
      { tenantId: 'common', allowedTenants: [] },
      'must be a non-empty list of tenant ids',
    ],
    [
      'tenant names in the allow-list',
      { tenantId: 'common', allowedTenants: ['contoso.onmicrosoft.com'] },
      'must be a non-empty list of tenant ids',
    ],
    [
      'an allow-list on a single-tenant app',
      { allowedTenants: [OTHER_TENANT] },
      'is for multi-tenant apps',
    ],
    [
      'the personal-accounts tenant with organizations',
      { tenantId: 'organizations', allowedTenants: [CONSUMER_TENANT] },
      'which tenantId organizations never accepts',
    ],
    [
      'no audience',
      { audience: undefined as unknown as string },
      'audience (AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID) is required',
    ],
    ['a null audience', { audience: null as unknown as string }, 'cannot be null for Entra ID'],
    ['Graph as the audience', { audience: GRAPH_APP_ID }, 'names Microsoft Graph'],
    ['plain http authority', { authorityHost: 'http://login.example.com' }, 'must be a host name'],
    [
      'appSigningKeys without a client id',
      { audience: APP_ID_URI, appSigningKeys: true },
      'needs the application (client) ID in audience',
    ],
    [
      'a jwksUri with a query',
      { jwksUri: 'https://keys.example/keys?x=1' },
      'jwksUri (AUTH_PROVIDER_AZURE_ENTRA_ID_JWKS_URI) must not have a query',
    ],
    [
      'B2C without policies',
      { b2c: { tenantName: 'contoso', policies: [] } },
      'b2c.policies (AUTH_PROVIDER_AZURE_ENTRA_ID_B2C_POLICIES) must list',
    ],
    [
      'B2C with v1 tokens',
      { b2c: { tenantName: 'contoso', policies: ['B2C_1_susi'] }, acceptV1: true },
      'acceptV1 (1.0 in AUTH_PROVIDER_AZURE_ENTRA_ID_TOKEN_VERSIONS) does not apply to B2C',
    ],
    [
      'client apps that are not a list',
      { allowedClientApps: 7 as unknown as string[] },
      'allowedClientApps (AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_CLIENT_APPS) must be a non-empty list',
    ],
    [
      'a resolver that is not one',
      { groupOverageResolver: {} as never },
      'groupOverageResolver must be',
    ],
  ])('%s is a ConfigError', (_name, options, problem) => {
    expect(
      configProblems({ tenantId: TENANT, audience: CLIENT_ID, ...options }).join('\n'),
    ).toContain(problem)
  })

  it('accepts an upper-case tenant id and consumers', () => {
    expect(entraProvider({ tenantId: TENANT.toUpperCase() }).issuers).toEqual([v2Issuer(TENANT)])
    expect(entraProvider({ tenantId: 'consumers' }).issuers).toEqual([v2Issuer(CONSUMER_TENANT)])
  })

  it('takes allowedTenants GUIDs in any case: an upper-case one still accepts its lower-case tid', async () => {
    const provider = entraProvider({
      tenantId: 'organizations',
      allowedTenants: [TENANT.toUpperCase()],
    })
    await expect(provider.verifyToken(v2Of(TENANT))).resolves.toBeDefined()
    await refusal(provider.verifyToken(v2Of(OTHER_TENANT, BOB)), 'tenant is not allowed')
  })

  it('takes client ids in any case (tokens carry them in lower case); App ID URIs as given', async () => {
    const upper = CLIENT_ID.toUpperCase()
    const provider = entraProvider({
      audience: [upper, 'api://Orders'],
      allowedClientApps: [CLIENT_APP.toUpperCase()],
      acceptV1: true,
    })
    expect(provider.audience).toEqual([CLIENT_ID, 'api://Orders', `api://${CLIENT_ID}`])
    await expect(provider.verifyToken(entra.v2())).resolves.toBeDefined()
    await expect(
      provider.verifyToken(entra.v1(JANE, { aud: `api://${CLIENT_ID}` })),
    ).resolves.toBeDefined()
    await refusal(
      provider.verifyToken(entra.v1(JANE, { aud: 'api://orders' })),
      'audience mismatch',
    )
  })

  it('names an app signing key set by the lower-case app id, whatever the case given', async () => {
    const jwksUri = `https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys`
    const provider = entraProvider({ jwksUri, appSigningKeys: CLIENT_ID.toUpperCase() })
    await provider.hydrate()
    expect(provider.health()).toMatchObject({ jwksUri: `${jwksUri}?appid=${CLIENT_ID}` })
  })
})

describe('EntraIdProvider: a single tenant', () => {
  it('accepts a v2 token of its tenant (keys from the tenant’s discovery) and maps the user', async () => {
    const provider = entraProvider()
    const verifier = createVerifier({ provider, logger: false })
    const user = await verifier(entra.v2())
    expect(user.toJSON()).toEqual({
      id: JANE.oid,
      name: 'Jane Doe',
      email: 'jane@contoso.example',
      scopes: ['Orders.Read'],
      isM2M: false,
      clientId: CLIENT_APP,
      provider: 'entra-id',
      isAuthenticated: true,
    })
    expect(entra.requested).toContain(
      `https://login.microsoftonline.com/${TENANT}/v2.0/.well-known/openid-configuration`,
    )
    expect(entra.requested).toContain(
      `https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys`,
    )
  })

  it('JWKS-19: Entra’s keys carry no alg (and an issuer), and verify', async () => {
    const answer = await entra.fetch(
      `https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys`,
    )
    const { keys } = (await answer.json()) as { keys: Record<string, unknown>[] }
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) {
      expect(key).not.toHaveProperty('alg')
      expect(key['issuer']).toBe(v2Issuer(TENANT))
    }
    await expect(entraProvider().verifyToken(entra.v2())).resolves.toBeDefined()
  })

  it('ENT-01: refuses a valid token of another tenant', async () => {
    const token = v2Of(OTHER_TENANT)
    await refusal(entraProvider().verifyToken(token), 'issuer mismatch', 'ERR_AUTH_ISSUER_MISMATCH')
    const verifier = createVerifier({ provider: entraProvider(), logger: false })
    await refusal(verifier(token), 'token issuer is not trusted', 'ERR_AUTH_ISSUER_UNKNOWN')
  })

  it.each([
    ['without its trailing slash', `https://sts.windows.net/${TENANT}`],
    ['with a v2.0 path', `https://sts.windows.net/${TENANT}/v2.0`],
    ['on another host', `https://sts.windows.example/${TENANT}/`],
    ['with a port', `https://sts.windows.net:443/${TENANT}/`],
    ['with another character in place of its trailing slash', `https://sts.windows.net/${TENANT}x`],
    ['naming the tenant by its domain', 'https://sts.windows.net/contoso.onmicrosoft.com/'],
  ])(
    'a near miss of the v1 issuer (%s) is no Entra issuer, even to a provider taking every tenant',
    async (_case, iss) => {
      const open = entraProvider({
        tenantId: 'organizations',
        allowedTenants: '*',
        acceptV1: true,
        audience: [CLIENT_ID, APP_ID_URI],
      })
      const verifier = createVerifier({ provider: open, logger: false })
      await expect(verifier(entra.v1(JANE))).resolves.toBeDefined()
      expect(open.claimsIssuer(iss)).toBe(false)
      await refusal(
        verifier(entra.v1(JANE, { iss })),
        'token issuer is not trusted',
        'ERR_AUTH_ISSUER_UNKNOWN',
      )
    },
  )

  it.each([
    ['tid of another tenant', { tid: OTHER_TENANT }],
    ['iss of another tenant', { iss: v2Issuer(OTHER_TENANT) }],
  ])('ENT-03: iss and tid must agree (%s)', async (_name, overrides) => {
    const token = v2Of(TENANT, JANE, overrides)
    const multi = entraProvider({ tenantId: 'organizations', allowedTenants: '*' })
    await refusal(
      multi.verifyToken(token),
      "issuer does not match the token's tenant (tid)",
      'ERR_AUTH_ISSUER_MISMATCH',
    )
  })

  it.each<[string, Record<string, unknown>, string]>([
    ['a tid that is not a GUID', { tid: 'contoso' }, 'invalid tid claim'],
    ['no tid', { tid: undefined }, 'missing tid claim'],
    ['common in iss', { iss: 'https://login.microsoftonline.com/common/v2.0' }, 'issuer mismatch'],
    [
      'organizations in iss',
      { iss: 'https://login.microsoftonline.com/organizations/v2.0' },
      'issuer mismatch',
    ],
    [
      'consumers in iss',
      { iss: 'https://login.microsoftonline.com/consumers/v2.0' },
      'issuer mismatch',
    ],
    [
      '{tenantid} in iss',
      { iss: 'https://login.microsoftonline.com/{tenantid}/v2.0' },
      'issuer mismatch',
    ],
  ])('ENT-04: refuses %s', async (_name, overrides, description) => {
    const token = v2Of(TENANT, JANE, overrides)
    await refusal(entraProvider().verifyToken(token), description)
    const multi = entraProvider({ tenantId: 'common', allowedTenants: '*' })
    await refusal(multi.verifyToken(token), description)
  })

  it.each([
    ['a trailing slash on v2', `${v2Issuer(TENANT)}/`],
    ['v1 without its trailing slash', v1Issuer(TENANT).slice(0, -1)],
    ['http', v2Issuer(TENANT).replace('https:', 'http:')],
    ['an upper-case host', v2Issuer(TENANT).replace('login', 'LOGIN')],
    ['an upper-case tenant', v2Issuer(TENANT.toUpperCase())],
    ['port 443', v2Issuer(TENANT).replace('.com/', '.com:443/')],
    ['a v1.0 path', `https://login.microsoftonline.com/${TENANT}/v1.0`],
  ])('CLM-15: refuses an issuer near-miss (%s)', async (_name, iss) => {
    const provider = entraProvider({ acceptV1: true, audience: [CLIENT_ID, APP_ID_URI] })
    await refusal(provider.verifyToken(v2Of(TENANT, JANE, { iss })), 'issuer mismatch')
  })

  it('ENT-05: v1 and v2 tokens, with both audience forms, when v1 is accepted', async () => {
    const provider = entraProvider({ acceptV1: true, audience: [CLIENT_ID, APP_ID_URI] })
    const verifier = createVerifier({ provider, logger: false })
    const v1 = await verifier(entra.v1())
    expect(v1.toJSON()).toMatchObject({
      id: JANE.oid,
      name: 'Jane Doe',
      email: 'jane@contoso.example',
      clientId: CLIENT_APP,
      scopes: ['Orders.Read'],
    })
    await expect(verifier(entra.v2())).resolves.toMatchObject({ id: JANE.oid })
    const slashless = entra.v1(JANE, { iss: v1Issuer(TENANT).slice(0, -1) })
    await refusal(verifier(slashless), 'token issuer is not trusted')
  })

  it('ENT-05: v1 tokens only when asked for, and ver must match the issuer form', async () => {
    const audience = [CLIENT_ID, APP_ID_URI]
    await refusal(
      entraProvider({ audience }).verifyToken(entra.v1()),
      'v1.0 tokens are not accepted',
      'ERR_AUTH_TOKEN_TYPE_INVALID',
    )
    // Routed to the provider even so, to say why, rather than "issuer not trusted".
    const verifier = createVerifier({ provider: entraProvider({ audience }), logger: false })
    await refusal(verifier(entra.v1()), 'v1.0 tokens are not accepted')
    await refusal(
      entraProvider({ audience, acceptV1: true, acceptV2: false }).verifyToken(entra.v2()),
      'v2.0 tokens are not accepted',
    )
    await refusal(
      entraProvider().verifyToken(entra.v2(JANE, { ver: '1.0' })),
      'ver claim does not match the issuer',
      'ERR_AUTH_CLAIM_INVALID',
    )
  })

  it('ENT-05: a client id alone accepts v1 tokens for api://{clientId}, not other audiences', async () => {
    const provider = entraProvider({ acceptV1: true })
    const v1 = entra.mint(v1AccessTokenClaims(entra.context(TENANT, `api://${CLIENT_ID}`), JANE))
    await expect(provider.verifyToken(v1)).resolves.toBeDefined()
    await refusal(
      provider.verifyToken(entra.v1()),
      'audience mismatch',
      'ERR_AUTH_AUDIENCE_MISMATCH',
    )
    const other = entra.v2(JANE, { aud: 'b1f0c2d3-0000-4000-8000-0000000000aa' })
    await refusal(provider.verifyToken(other), 'audience mismatch')
  })

  it.each<[string, Record<string, unknown>]>([
    ['the Graph app id (v1, with a nonce header)', { aud: GRAPH_APP_ID }],
    ['the Graph URL', { aud: 'https://graph.microsoft.com' }],
    ['Graph among others', { aud: [CLIENT_ID, 'https://graph.microsoft.com/'] }],
  ])('ENT-07: refuses a token for Microsoft Graph: %s', async (_name, overrides) => {
    const token = entra.v1(JANE, overrides, { header: { nonce: 'bm9uY2U' } })
    const verifier = createVerifier({ provider: entraProvider(), logger: false })
    const description = 'token was issued for Microsoft Graph, not this API'
    await refusal(verifier(token), description, 'ERR_AUTH_AUDIENCE_MISMATCH')
    await refusal(entraProvider().verifyToken(token), description)
  })

  it('ENT-08: refuses an ID token (neither scp nor roles), unless told not to', async () => {
    const idToken = entra.v2(BOB, { scp: undefined, nonce: 'n-0S6_WzA2Mj' })
    await refusal(
      entraProvider().verifyToken(idToken),
      'token has neither scp nor roles: not an access token for this API',
      'ERR_AUTH_TOKEN_TYPE_INVALID',
    )
    await expect(
      entraProvider({ requireScopeOrRole: false }).verifyToken(idToken),
    ).resolves.toBeDefined()
  })

  it.each([
    ['v2 with idtyp', { version: '2.0' as const }],
    ['v2 without idtyp (no scp, oid = sub)', { version: '2.0' as const, idtyp: false }],
    ['v1 (idp = iss is not a guest)', { version: '1.0' as const, idtyp: false }],
  ])('ENT-09: an app-only token is M2M with its app roles: %s', async (_name, options) => {
    const audience = [CLIENT_ID, APP_ID_URI]
    const provider = entraProvider({ audience, acceptV1: true })
    const verifier = createVerifier({ provider, logger: false })
    const user = await verifier(entra.app(options))
    expect(user.isM2M).toBe(true)
    expect(user.scopes).toEqual([])
    expect(user.clientId).toBe(CLIENT_APP)
    expect(await user.roles).toEqual(['Orders.Export'])
  })

  it('a delegated token is never M2M, whatever its roles', async () => {
    const user = await createVerifier({ provider: entraProvider(), logger: false })(entra.v2())
    expect(user.isM2M).toBe(false)
    expect(await user.roles).toEqual(['Orders.Approver'])
  })

  it('ENT-11: only approved client applications, by azp (v2) or appid (v1)', async () => {
    const provider = entraProvider({
      allowedClientApps: [CLIENT_APP],
      acceptV1: true,
      audience: [CLIENT_ID, APP_ID_URI],
    })
    await expect(provider.verifyToken(entra.v2())).resolves.toBeDefined()
    await expect(provider.verifyToken(entra.v1())).resolves.toBeDefined()
    const intruder = '99999999-8888-4777-8666-555555555555'
    await refusal(
      provider.verifyToken(entra.v2(JANE, { azp: intruder })),
      'client application is not allowed',
      'ERR_AUTH_TOKEN_REJECTED',
    )
    await refusal(
      provider.verifyToken(entra.v1(JANE, { appid: intruder })),
      'client application is not allowed',
    )
  })

  it('ENT-12: users of two tenants sharing an email and username get different ids', async () => {
    const verifier = createVerifier({
      provider: entraProvider({ tenantId: 'organizations', allowedTenants: '*' }),
      logger: false,
    })
    const twin: EntraTestUser = { ...BOB, username: JANE.username, email: 'jane@contoso.example' }
    const jane = await verifier(v2Of(TENANT, JANE, { email: 'jane@contoso.example' }))
    const impostor = await verifier(v2Of(OTHER_TENANT, twin))
    expect(jane.email).toBe(impostor.email)
    expect([jane.id, impostor.id]).toEqual([JANE.oid, BOB.oid])
  })

  it('refuses an oversized token before reading it, even outside the pipeline', async () => {
    const token = entra.v2(JANE, { padding: 'x'.repeat(20_000) })
    await refusal(entraProvider().verifyToken(token), 'token too large', 'ERR_AUTH_TOKEN_TOO_LARGE')
  })

  it('idClaim sub uses the per-app subject; a token without oid is refused by default', async () => {
    const token = entra.v2(JANE, { sub: 'pairwise-subject-1' })
    const user = await createVerifier({
      provider: entraProvider({ idClaim: 'sub' }),
      logger: false,
    })(token)
    expect(user.id).toBe('pairwise-subject-1')
    await refusal(
      entraProvider().verifyToken(entra.v2(JANE, { oid: undefined })),
      'missing oid claim',
      'ERR_AUTH_CLAIM_INVALID',
    )
  })

  it('prefers email over preferred_username, and never takes a username without @ as email', async () => {
    const verifier = createVerifier({ provider: entraProvider(), logger: false })
    const withEmail = await verifier(entra.v2(JANE, { email: 'jane.doe@contoso.example' }))
    expect(withEmail.email).toBe('jane.doe@contoso.example')
    const bare = await verifier(entra.v2(JANE, { preferred_username: 'jane' }))
    expect(bare.email).toBeUndefined()
    expect(bare.name).toBe('Jane Doe')
  })

  it.each<[string, Record<string, unknown>]>([
    ['acct 1', { acct: 1 }],
    ['acct "1"', { acct: '1' }],
    ['an idp of another tenant', { idp: `https://sts.windows.net/${OTHER_TENANT}/` }],
    ['a personal account idp', { idp: 'live.com' }],
  ])('refuses guests (%s) unless allowGuestUsers', async (_name, overrides) => {
    const token = entra.v2(JANE, overrides)
    await refusal(
      entraProvider().verifyToken(token),
      'guest users are not allowed',
      'ERR_AUTH_TOKEN_REJECTED',
    )
    await expect(entraProvider({ allowGuestUsers: true }).verifyToken(token)).resolves.toBeDefined()
  })

  it('a member’s idp naming its own tenant is not a guest', async () => {
    const token = entra.v2(JANE, { acct: 0, idp: v1Issuer(TENANT) })
    await expect(entraProvider().verifyToken(token)).resolves.toBeDefined()
  })
})

describe('EntraIdProvider: keys', () => {
  it('checks a key’s issuer property against the token’s issuer', async () => {
    entra.setKeyIssuer(v2Issuer(OTHER_TENANT))
    await refusal(
      entraProvider().verifyToken(entra.v2()),
      'signing key is not valid for the token issuer',
      'ERR_AUTH_ISSUER_MISMATCH',
    )
  })

  it('substitutes {tenantid} in a key’s issuer, and lets v1 tokens use v2-form key issuers', async () => {
    entra.setKeyIssuer('https://login.microsoftonline.com/{tenantid}/v2.0')
    const provider = entraProvider({ acceptV1: true, audience: [CLIENT_ID, APP_ID_URI] })
    await expect(provider.verifyToken(entra.v2())).resolves.toBeDefined()
    await expect(provider.verifyToken(entra.v1())).resolves.toBeDefined()
    entra.setKeyIssuer(null)
    await expect(entraProvider().verifyToken(entra.v2())).resolves.toBeDefined()
  })

  it('ENT-06: refuses issuers of other clouds and B2C hosts', async () => {
    const verifier = createVerifier({
      provider: entraProvider({ acceptV1: true, audience: [CLIENT_ID, APP_ID_URI] }),
      logger: false,
    })
    for (const iss of [
      `https://login.microsoftonline.us/${TENANT}/v2.0`,
      `https://login.partner.microsoftonline.cn/${TENANT}/v2.0`,
      `https://sts.chinacloudapi.cn/${TENANT}/`,
      b2cIssuer('contoso.b2clogin.com', TENANT),
    ]) {
      await refusal(verifier(entra.v2(JANE, { iss })), 'token issuer is not trusted')
      await refusal(entraProvider().verifyToken(entra.v2(JANE, { iss })), 'issuer mismatch')
    }
  })

  it('ENT-14: app-specific signing keys only with appSigningKeys (…/keys?appid=)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const appKey = { ...publicKey.export({ format: 'jwk' }), kid: 'app-key-1' }
    entra.setAppKeys(CLIENT_ID, entraJwks([appKey], v2Issuer(TENANT)))
    const token = entra.v2(JANE, {}, { key: privateKey, kid: 'app-key-1' })
    // Its kid is in no set the provider knows: refused after one refetch.
    const error = await failure(entraProvider().verifyToken(token))
    expect(error.code).toBe('ERR_AUTH_KEY_NOT_FOUND')
    await expect(entraProvider({ appSigningKeys: true }).verifyToken(token)).resolves.toBeDefined()
    expect(entra.requested).toContain(
      `https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys?appid=${CLIENT_ID}`,
    )
  })

  it('ENT-14: appid is appended to a configured jwksUri too', async () => {
    const provider = entraProvider({
      jwksUri: `https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys`,
      appSigningKeys: CLIENT_ID,
    })
    await provider.hydrate()
    expect(provider.health()).toMatchObject({
      ok: true,
      jwksUri: `https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys?appid=${CLIENT_ID}`,
    })
  })

  it('answers 503 while discovery fails, and refuses a document naming another issuer', async () => {
    entra.idp.respondWith('discovery', { status: 500 })
    const down = await failure(entraProvider().verifyToken(entra.v2()))
    expect(down).toBeInstanceOf(UnavailableError)
    expect(down.code).toBe('ERR_AUTH_KEYS_UNAVAILABLE')
    entra.idp.respondWith('discovery', undefined)
    const lying: typeof fetch = async (input, init) =>
      String(input).endsWith('openid-configuration')
        ? Response.json({ issuer: v2Issuer(OTHER_TENANT), jwks_uri: 'https://evil.example/keys' })
        : entra.fetch(input, init)
    const error = await failure(entraProvider({ fetch: lying }).verifyToken(entra.v2()))
    expect(error.code).toBe('ERR_AUTH_KEYS_UNAVAILABLE')
  })

  it("multi-tenant: the document must name Entra's {tenantid} template, not the URL it came from", async () => {
    const naming =
      (issuer: string): typeof fetch =>
      async (input, init) =>
        String(input).endsWith('openid-configuration')
          ? Response.json({
              issuer,
              jwks_uri: 'https://login.microsoftonline.com/organizations/discovery/v2.0/keys',
            })
          : entra.fetch(input, init)
    const multi = (fetch: typeof globalThis.fetch) =>
      entraProvider({ tenantId: 'organizations', allowedTenants: '*', fetch })
    const template = 'https://login.microsoftonline.com/{tenantid}/v2.0'
    await expect(multi(naming(template)).verifyToken(entra.v2())).resolves.toBeDefined()
    const own = 'https://login.microsoftonline.com/organizations/v2.0'
    const error = await failure(multi(naming(own)).verifyToken(entra.v2()))
    expect(error.code).toBe('ERR_AUTH_KEYS_UNAVAILABLE')
  })

  it('hydrates ahead of the first token and reports its key set', async () => {
    const provider = entraProvider()
    expect(provider.health()).toMatchObject({ ok: false })
    await provider.hydrate()
    expect(provider.health()).toMatchObject({
      ok: true,
      jwksUri: `https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys`,
    })
  })

  it('sovereign clouds: login.microsoftonline.us issues and publishes its own keys', async () => {
    const gov = await createEntraIssuer({ host: 'login.microsoftonline.us' })
    try {
      const provider = entraProvider({
        authorityHost: 'login.microsoftonline.us',
        fetch: gov.fetch,
      })
      expect(provider.issuers).toEqual([`https://login.microsoftonline.us/${TENANT}/v2.0`])
      await expect(provider.verifyToken(gov.v2())).resolves.toBeDefined()
      expect(gov.requested[0]).toBe(
        `https://login.microsoftonline.us/${TENANT}/v2.0/.well-known/openid-configuration`,
      )
      const publicCloud = createVerifier({ provider: entraProvider(), logger: false })
      await refusal(publicCloud(gov.v2()), 'token issuer is not trusted')
    } finally {
      await gov.close()
    }
  })

  it('External ID: {tenant}.ciamlogin.com, whose tokens name https://{tid}.ciamlogin.com/{tid}/v2.0', async () => {
    const ciam = await createEntraIssuer({ host: 'contoso.ciamlogin.com' })
    try {
      const provider = entraProvider({ authorityHost: 'contoso.ciamlogin.com', fetch: ciam.fetch })
      expect(provider.issuers).toEqual([`https://${TENANT}.ciamlogin.com/${TENANT}/v2.0`])
      await expect(provider.verifyToken(ciam.v2())).resolves.toBeDefined()
    } finally {
      await ciam.close()
    }
  })
})

describe('EntraIdProvider: discovery goes the way the keys go', () => {
  /** `entra.fetch` standing for a proxy's, recording the paths asked for. */
  function viaProxy(): typeof fetch & { paths: string[] } {
    const paths: string[] = []
    const proxied: typeof fetch = (input, init) => {
      paths.push(new URL(String(input)).pathname)
      return entra.fetch(input, init)
    }
    return Object.assign(proxied, { paths })
  }

  it.each([
    ['options', (proxied: typeof fetch) => ({ fetch: proxied })],
    ['a JwksCache instance', (proxied: typeof fetch) => new JwksCache({ fetch: proxied })],
  ])('jwksCache given as %s with a fetch: discovery uses it too', async (_, jwksCache) => {
    const direct = vi
      .spyOn(globalThis, 'fetch')
      .mockRejectedValue(new TypeError('around the proxy'))
    try {
      const proxied = viaProxy()
      const provider = new EntraIdProvider({
        tenantId: TENANT,
        audience: CLIENT_ID,
        jwksCache: jwksCache(proxied),
      })
      await provider.hydrate()
      expect(proxied.paths).toEqual([
        `/${TENANT}/v2.0/.well-known/openid-configuration`,
        expect.stringMatching(/\/keys$/),
      ])
      expect(direct).not.toHaveBeenCalled()
    } finally {
      direct.mockRestore()
    }
  })

  it('discovery times out with the key cache’s timeoutMs unless discoveryTimeoutMs is given', async () => {
    const asked: string[] = []
    const hanging: typeof fetch = (input, init) => {
      asked.push(new URL(String(input)).pathname)
      return new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true })
      })
    }
    const options = { tenantId: TENANT, audience: CLIENT_ID }
    let started = performance.now()
    const cached = new EntraIdProvider({ ...options, jwksCache: { fetch: hanging, timeoutMs: 50 } })
    await expect(cached.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(asked).toEqual([`/${TENANT}/v2.0/.well-known/openid-configuration`])
    expect(performance.now() - started).toBeLessThan(2_000) // not the 5 s default
    started = performance.now()
    const own = new EntraIdProvider({
      ...options,
      fetch: hanging,
      jwksCache: { timeoutMs: 60_000 },
      discoveryTimeoutMs: 50,
    })
    await expect(own.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    expect(performance.now() - started).toBeLessThan(2_000)
  })
})

describe('EntraIdProvider: several tenants', () => {
  it('discovers keys at organizations, whose document names {tenantid}', async () => {
    const provider = entraProvider({ tenantId: 'organizations', allowedTenants: [OTHER_TENANT] })
    await expect(provider.verifyToken(v2Of(OTHER_TENANT))).resolves.toBeDefined()
    expect(entra.requested).toContain(
      'https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration',
    )
  })

  it('ENT-02: an allow-list lets its tenants in and says so of the others', async () => {
    const provider = entraProvider({ tenantId: 'organizations', allowedTenants: [OTHER_TENANT] })
    const verifier = createVerifier({ provider, logger: false })
    await expect(verifier(v2Of(OTHER_TENANT, BOB))).resolves.toMatchObject({ id: BOB.oid })
    await refusal(verifier(v2Of(TENANT)), 'tenant is not allowed', 'ERR_AUTH_ISSUER_MISMATCH')
  })

  it("ENT-02: '*' accepts every tenant, deliberately", async () => {
    const provider = entraProvider({ tenantId: 'common', allowedTenants: '*' })
    for (const tid of [TENANT, OTHER_TENANT, CONSUMER_TENANT]) {
      await expect(provider.verifyToken(v2Of(tid))).resolves.toBeDefined()
    }
  })

  it('ENT-15: personal accounts only where the configuration takes them', async () => {
    const consumer = v2Of(CONSUMER_TENANT, BOB)
    for (const allowedTenants of ['*' as const, [OTHER_TENANT]]) {
      await refusal(
        entraProvider({ tenantId: 'organizations', allowedTenants }).verifyToken(consumer),
        'personal Microsoft accounts are not accepted',
      )
    }
    await refusal(
      entraProvider({ tenantId: 'common', allowedTenants: [OTHER_TENANT] }).verifyToken(consumer),
      'tenant is not allowed',
    )
    await expect(
      entraProvider({ tenantId: 'consumers' }).verifyToken(consumer),
    ).resolves.toBeDefined()
    await refusal(
      entraProvider({ tenantId: 'consumers' }).verifyToken(entra.v2()),
      'issuer mismatch',
    )
  })

  it('asks an async predicate once per new token, with the token’s tid', async () => {
    const asked: string[] = []
    const allowedTenants = async (tid: string) => {
      asked.push(tid)
      return tid === OTHER_TENANT
    }
    const provider = entraProvider({ tenantId: 'organizations', allowedTenants })
    const verifier = createVerifier({ provider, logger: false })
    const token = v2Of(OTHER_TENANT)
    await verifier(token)
    await verifier(token)
    await refusal(verifier(v2Of(TENANT)), 'tenant is not allowed')
    expect(asked).toEqual([OTHER_TENANT, TENANT])
  })

  it.each<[string, (tid: string) => unknown]>([
    ['a truthy non-boolean', () => 'yes'],
    ['false', () => false],
  ])('a predicate answering %s refuses the tenant', async (_name, allows) => {
    const provider = entraProvider({
      tenantId: 'organizations',
      allowedTenants: allows as (tid: string) => boolean,
    })
    await refusal(provider.verifyToken(v2Of(OTHER_TENANT)), 'tenant is not allowed')
  })

  it('a predicate that throws is an outage (503), not a refusal', async () => {
    const provider = entraProvider({
      tenantId: 'organizations',
      allowedTenants: () => Promise.reject(new Error('database down')),
    })
    const error = await failure(provider.verifyToken(v2Of(OTHER_TENANT)))
    expect(error).toBeInstanceOf(UnavailableError)
    expect(error.code).toBe('ERR_AUTH_SOURCE_UNAVAILABLE')
    expect(error.description).toBe('the tenant allow-list cannot be checked right now')
  })

  it('a predicate that never answers is a 503 after tenantCheckTimeoutMs', async () => {
    let asked!: () => void
    const predicateCalled = new Promise<void>((resolve) => (asked = resolve))
    const provider = entraProvider({
      tenantId: 'organizations',
      allowedTenants: () => {
        asked()
        return new Promise<boolean>(() => undefined)
      },
      tenantCheckTimeoutMs: 2_000,
    })
    await provider.hydrate()
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const pending = failure(provider.verifyToken(v2Of(OTHER_TENANT)))
    // The signature may be checked on the thread pool: the clock moves once the predicate waits.
    await predicateCalled
    await vi.advanceTimersByTimeAsync(2_000)
    expect((await pending).code).toBe('ERR_AUTH_SOURCE_UNAVAILABLE')
  })

  it('routes templated issuers next to an exact single-tenant provider', async () => {
    const single = entraProvider({ name: 'home' })
    const multi = entraProvider({
      tenantId: 'organizations',
      allowedTenants: [OTHER_TENANT],
      name: 'customers',
    })
    const verifier = createVerifier({ providers: [single, multi], logger: false })
    await expect(verifier(entra.v2())).resolves.toMatchObject({ provider: 'home' })
    await expect(verifier(v2Of(OTHER_TENANT))).resolves.toMatchObject({ provider: 'customers' })
  })
})

describe('EntraIdProvider: Azure AD B2C', () => {
  const HOST = 'contoso.b2clogin.com'
  let b2c: EntraTestIssuer

  beforeAll(async () => {
    b2c = await createEntraIssuer({ host: HOST, b2cTenantName: 'contoso' })
  })

  afterAll(() => b2c.close())

  const b2cProvider = () =>
    new EntraIdProvider({
      tenantId: TENANT,
      audience: CLIENT_ID,
      b2c: { tenantName: 'contoso', policies: ['B2C_1_signupsignin', 'B2C_1A_PASSWORDRESET'] },
      fetch: b2c.fetch,
    })
  const b2cToken = (policy: string, overrides: Record<string, unknown> = {}) =>
    b2c.mint({
      ...b2cAccessTokenClaims({ ...b2c.context(TENANT), host: HOST }, JANE, policy),
      ...overrides,
    })

  it('accepts a user flow’s token (policy names compared without case), keys from its discovery', async () => {
    const provider = b2cProvider()
    expect(provider.issuers).toEqual([`https://${HOST}/${TENANT}/v2.0/`])
    const user = await createVerifier({ provider, logger: false })(b2cToken('B2C_1_SignUpSignIn'))
    expect(user).toMatchObject({ id: JANE.oid, scopes: ['orders.read'], clientId: CLIENT_APP })
    expect(b2c.requested).toContain(
      `https://${HOST}/contoso.onmicrosoft.com/B2C_1_signupsignin/v2.0/.well-known/openid-configuration`,
    )
    const acr = b2cToken('x', { tfp: undefined, acr: 'b2c_1a_passwordreset' })
    await expect(provider.verifyToken(acr)).resolves.toBeDefined()
    expect(b2c.requested).toContain(
      `https://${HOST}/contoso.onmicrosoft.com/B2C_1A_PASSWORDRESET/v2.0/.well-known/openid-configuration`,
    )
  })

  it.each<[string, () => string, string]>([
    [
      'another user flow',
      () => b2cToken('B2C_1_profileedit'),
      'user flow (policy) is not accepted',
    ],
    ['no tfp or acr', () => b2cToken('x', { tfp: undefined }), 'missing tfp or acr claim'],
    [
      'an issuer without its trailing slash',
      () => b2cToken('B2C_1_signupsignin', { iss: `https://${HOST}/${TENANT}/v2.0` }),
      'issuer mismatch',
    ],
    [
      'another tenant in tid',
      () => b2cToken('B2C_1_signupsignin', { tid: OTHER_TENANT }),
      'tenant is not allowed',
    ],
  ])('refuses %s', async (_name, token, description) => {
    await refusal(b2cProvider().verifyToken(token()), description)
  })
})

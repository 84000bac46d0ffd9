// Entra ID over HTTP on Express 4 and 5: tenants, versions, Graph tokens, scopes vs roles, groups and overage.

import type { Express } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jwtAuth, type JwtAuthOptions } from '../../src/index.js'
import { requireGroups, requireRoles, requireScopes, requireUser } from '../../src/guards.js'
import {
  EntraIdProvider,
  GraphGroupResolver,
  type EntraIdProviderOptions,
} from '../../providers/entra-id/index.js'
import { EXPRESS_MAJORS, startCanary, whoAmI } from '../helpers/http.js'
import { startFakeGraph, type FakeGraph } from '../fake-graph/server.js'
import {
  APP_ID_URI,
  CLIENT_ID,
  CONSUMER_TENANT,
  createEntraIssuer,
  GRAPH_APP_ID,
  JANE,
  OTHER_TENANT,
  TENANT,
  v2AccessTokenClaims,
  withGroupOverage,
  type EntraTestIssuer,
} from '../fake-idp/entra.js'

const GRAPH_TOKEN = 'app-token-for-graph'
const GRAPH_GROUP = '4d3c2b1a-5555-4e6f-9a8b-7c6d5e4f3a2b'

let entra: EntraTestIssuer
let graph: FakeGraph
let canary: Awaited<ReturnType<typeof startCanary>>

beforeAll(async () => {
  ;[entra, graph, canary] = await Promise.all([
    createEntraIssuer(),
    startFakeGraph({ token: GRAPH_TOKEN, members: { [JANE.oid]: [GRAPH_GROUP] } }),
    startCanary(),
  ])
})

afterAll(() => Promise.all([entra.close(), graph.close(), canary.close()]))

const challenge = (description: string) =>
  `Bearer realm="api", error="invalid_token", error_description="${description}"`

describe.each(EXPRESS_MAJORS)('Entra ID on %s', (_name, createApp) => {
  function appWith(
    providerOptions: Partial<EntraIdProviderOptions> = {},
    options: Partial<JwtAuthOptions> = {},
  ): Express {
    const provider = new EntraIdProvider({
      tenantId: TENANT,
      audience: [CLIENT_ID, APP_ID_URI],
      fetch: entra.fetch,
      ...providerOptions,
    })
    const app = createApp()
    app.use(jwtAuth({ provider, realm: 'api', logger: false, ...options }))
    app.get('/me', requireUser(), whoAmI())
    app.get('/orders', requireScopes(['Orders.Read']), whoAmI())
    app.get('/data', requireScopes(['Data.Write']), whoAmI())
    app.get('/data-role', requireRoles(['Data.Write']), whoAmI())
    app.get('/approve', requireRoles(['Orders.Approver']), whoAmI())
    app.get('/export', requireRoles(['Orders.Export']), whoAmI())
    app.get('/jobs', requireUser({ kind: 'm2m' }), whoAmI())
    app.get('/team', requireGroups([(JANE.groups as string[])[0]!]), whoAmI())
    app.get('/graph-team', requireGroups([GRAPH_GROUP]), whoAmI())
    app.get('/whoami', requireUser(), async (req, res) => {
      const { id, name, email, isM2M, clientId, scopes } = req.currentUser
      const [groups, roles] = await Promise.all([req.currentUser.groups, req.currentUser.roles])
      res.json({ id, name, email, isM2M, clientId, scopes, groups, roles })
    })
    return app
  }

  const get = (app: Express, path: string, token: string) =>
    request(app).get(path).set('Authorization', `Bearer ${token}`)

  async function expectRefused(app: Express, token: string, description: string) {
    const res = await get(app, '/me', token)
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe(challenge(description))
    expect(res.body).toEqual({ error: 'invalid_token', error_description: description })
  }

  const overage = (endpoint?: string) =>
    entra.mint(
      withGroupOverage(v2AccessTokenClaims(entra.context(), JANE), 'claim_names', endpoint),
    )

  it('a v2 token of the tenant: 200 with the user, roles and groups from the token', async () => {
    const res = await get(appWith(), '/whoami', entra.v2())
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      id: JANE.oid,
      name: 'Jane Doe',
      email: 'jane@contoso.example',
      isM2M: false,
      clientId: '2a7e9d1c-4b3f-4e8a-9c6d-1f0e2d3c4b5a',
      scopes: ['Orders.Read'],
      groups: JANE.groups,
      roles: JANE.roles,
    })
  })

  it('ENT-01: a token of another tenant is 401', async () => {
    const token = entra.mint(v2AccessTokenClaims(entra.context(OTHER_TENANT), JANE))
    await expectRefused(appWith(), token, 'token issuer is not trusted')
  })

  it('ENT-02: a tenant outside the allow-list is 401 saying so', async () => {
    const app = appWith({ tenantId: 'organizations', allowedTenants: [OTHER_TENANT] })
    await expectRefused(app, entra.v2(), 'tenant is not allowed')
    const allowed = entra.mint(v2AccessTokenClaims(entra.context(OTHER_TENANT), JANE))
    expect((await get(app, '/me', allowed)).status).toBe(200)
  })

  it('ENT-15: a personal account with tenantId organizations is 401', async () => {
    const app = appWith({ tenantId: 'organizations', allowedTenants: '*' })
    const token = entra.mint(v2AccessTokenClaims(entra.context(CONSUMER_TENANT), JANE))
    await expectRefused(app, token, 'personal Microsoft accounts are not accepted')
  })

  it('ENT-05: v1 tokens only when accepted', async () => {
    await expectRefused(appWith(), entra.v1(), 'v1.0 tokens are not accepted')
    expect((await get(appWith({ acceptV1: true }), '/me', entra.v1())).status).toBe(200)
  })

  it('ENT-07: a Microsoft Graph token is 401 with a clear description', async () => {
    const token = entra.v1(JANE, { aud: GRAPH_APP_ID }, { header: { nonce: 'bm9uY2U' } })
    await expectRefused(appWith(), token, 'token was issued for Microsoft Graph, not this API')
  })

  it('ENT-08: an ID token sent to the API is 401', async () => {
    const token = entra.v2({ ...JANE, roles: undefined }, { scp: undefined })
    await expectRefused(
      appWith(),
      token,
      'token has neither scp nor roles: not an access token for this API',
    )
  })

  it('a guest is 401 unless allowGuestUsers', async () => {
    const token = entra.v2(JANE, { acct: 1 })
    await expectRefused(appWith(), token, 'guest users are not allowed')
    expect((await get(appWith({ allowGuestUsers: true }), '/me', token)).status).toBe(200)
  })

  it('ENT-09: an app-only token is M2M: scopes 403, its app role and m2m routes 200', async () => {
    const app = appWith()
    const token = entra.app()
    const scoped = await get(app, '/orders', token)
    expect(scoped.status).toBe(403)
    expect(scoped.headers['www-authenticate']).toContain('error="insufficient_scope"')
    expect(scoped.headers['www-authenticate']).toContain('scope="Orders.Read"')
    expect((await get(app, '/export', token)).status).toBe(200)
    expect((await get(app, '/jobs', token)).status).toBe(200)
    expect((await get(app, '/jobs', entra.v2())).status).toBe(403)
  })

  it('ENT-10: a delegated scope is not a role, and an app role is not a scope', async () => {
    const app = appWith()
    const delegated = entra.v2({ ...JANE, roles: undefined }, { scp: 'Data.Write' })
    const asRole = await get(app, '/data-role', delegated)
    expect(asRole.status).toBe(403)
    expect(asRole.body.error).toBe('forbidden')
    expect((await get(app, '/data', delegated)).status).toBe(200)
    const daemon = entra.app({ roles: ['Data.Write'] })
    const asScope = await get(app, '/data', daemon)
    expect(asScope.status).toBe(403)
    expect(asScope.body.error).toBe('insufficient_scope')
    expect((await get(app, '/data-role', daemon)).status).toBe(200)
  })

  it('roles and groups through the guards: 200 with them, 403 without', async () => {
    const app = appWith()
    expect((await get(app, '/approve', entra.v2())).status).toBe(200)
    expect((await get(app, '/team', entra.v2())).status).toBe(200)
    const nobody = entra.v2({ ...JANE, groups: [], roles: ['Reader'] })
    expect((await get(app, '/approve', nobody)).status).toBe(403)
    expect((await get(app, '/team', nobody)).status).toBe(403)
  })

  it('ENT-13: overage without a resolver answers 403 saying why, on the groups route only', async () => {
    const app = appWith()
    const res = await get(app, '/team', overage(`${canary.url}/users/x/getMemberObjects`))
    // For good, not an outage: no Retry-After that would have clients retry for ever.
    expect(res.status).toBe(403)
    expect(res.headers['retry-after']).toBeUndefined()
    expect(res.body).toEqual({
      error: 'forbidden',
      error_description:
        'group membership is too large for the token; configure a group overage resolver',
    })
    expect((await get(app, '/approve', overage())).status).toBe(200)
    expect(canary.hits()).toBe(0)
  })

  it('ENT-13: overage resolved through Microsoft Graph; the token’s endpoint is never called', async () => {
    const resolver = new GraphGroupResolver({
      getGraphToken: () => GRAPH_TOKEN,
      graphEndpoint: graph.endpoint,
    })
    const app = appWith({ groupOverageResolver: resolver })
    const token = overage(`${canary.url}/users/x/getMemberObjects`)
    expect((await get(app, '/graph-team', token)).status).toBe(200)
    expect((await get(app, '/team', token)).status).toBe(403)
    expect(canary.hits()).toBe(0)
    expect(graph.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: `/v1.0/users/${JANE.oid}/getMemberObjects`,
    })
  })

  it('ENT-13: a Graph outage is 503, never an empty list', async () => {
    const resolver = new GraphGroupResolver({
      getGraphToken: () => GRAPH_TOKEN,
      graphEndpoint: graph.endpoint,
      cache: false,
    })
    graph.fail({ status: 503, retryAfter: '11' })
    try {
      const res = await get(appWith({ groupOverageResolver: resolver }), '/graph-team', overage())
      expect(res.status).toBe(503)
      expect(res.headers['retry-after']).toBe('11')
      expect(res.body.error).toBe('temporarily_unavailable')
    } finally {
      graph.fail(undefined)
    }
  })
})

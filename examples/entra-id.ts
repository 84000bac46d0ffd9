// Microsoft Entra ID example: an API taking a tenant's v1/v2 access tokens, against a local stand-in (no Microsoft).
//
//   npx tsx examples/entra-id.ts          makes each call below, prints the answers, and exits
//   npx tsx examples/entra-id.ts --serve  keeps serving and prints curl commands to try

import express, { type Express } from 'express'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import { exitIfPortInUse, listenOn } from './app.js'
import { call, runExample, type ExampleCall } from './calls.js'
// In your app: from 'oidc-guard', 'oidc-guard/providers/entra-id' and 'oidc-guard/testing'.
import { jwtAuth, requireGroups, requireRoles, requireScopes, requireUser } from '../src/index.js'
import { EntraIdProvider, GraphGroupResolver } from '../providers/entra-id/index.js'
import { createTestIssuer, type TestIssuer } from '../src/testing.js'

// The values of the API's app registration (Overview page of the Azure portal).
const TENANT_ID = 'f8cdef31-a31e-4b4a-93e4-5f571e91255a' // Directory (tenant) ID
const CLIENT_ID = '6e74172b-be56-4843-9ff4-e66a39bb12e3' // Application (client) ID
const APP_ID_URI = 'api://orders' // Expose an API > Application ID URI
const SPA_CLIENT = '2a7e9d1c-4b3f-4e8a-9c6d-1f0e2d3c4b5a' // the front end calling the API
const FINANCE_GROUP = '0b5d4a3e-1111-4c2b-9a8f-7e6d5c4b3a21' // a security group's object id

/** The API: who am I, orders (delegated scope), approvals (user role), exports (app role), reports (group). */
export function createEntraApp(provider: EntraIdProvider): Express {
  const app = express()
  app.use(jwtAuth({ provider, realm: 'example' }))
  app.get('/me', requireUser(), async (req, res) => {
    const { id, name, email, isM2M, clientId, scopes } = req.currentUser
    res.json({ id, name, email, isM2M, clientId, scopes, roles: await req.currentUser.roles })
  })
  app.get('/orders', requireScopes(['Orders.Read']), (_req, res) => res.json({ orders: [] }))
  app.post('/orders/42/approve', requireRoles(['Orders.Approver']), (_req, res) => {
    res.json({ approved: true })
  })
  app.get('/orders/export', requireRoles(['Orders.Export']), (req, res) => {
    res.json({ exportedFor: req.currentUser.clientId })
  })
  app.get('/reports', requireGroups([FINANCE_GROUP]), (_req, res) => res.json({ reports: [] }))
  return app
}

/** Tokens shaped like Entra's, signed by the local stand-in for the tenant. */
function entraTokens(tenant: TestIssuer) {
  const now = Math.floor(Date.now() / 1000)
  const times = { iat: now, nbf: now, exp: now + 3600 }
  const v2 = (tid: string) => `https://login.microsoftonline.com/${tid}/v2.0`
  const jane = {
    oid: '00a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b',
    sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
    name: 'Jane Doe',
    roles: ['Orders.Approver'],
  }
  // Entra's tokens carry no jti; the stand-in would add one.
  const mint = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    tenant.mint({ jti: undefined, ...times, ...claims }, { header })
  const delegated = {
    ...jane,
    aud: CLIENT_ID,
    iss: v2(TENANT_ID),
    azp: SPA_CLIENT,
    preferred_username: 'jane@contoso.example',
    scp: 'Orders.Read',
    tid: TENANT_ID,
    ver: '2.0',
  }
  const daemon = randomUUID()
  return {
    v2: mint({ ...delegated, groups: [FINANCE_GROUP] }),
    // accessTokenAcceptedVersion null: the App ID URI as audience, the v1 issuer, appid and upn.
    v1: mint({
      ...jane,
      aud: APP_ID_URI,
      iss: `https://sts.windows.net/${TENANT_ID}/`,
      appid: SPA_CLIENT,
      upn: 'jane@contoso.example',
      scp: 'Orders.Read',
      tid: TENANT_ID,
      ver: '1.0',
    }),
    otherTenant: mint({
      ...delegated,
      iss: v2('3c2b1a09-8f7e-4d6c-b5a4-93827160f5e4'),
      tid: '3c2b1a09-8f7e-4d6c-b5a4-93827160f5e4',
    }),
    graph: mint(
      { ...delegated, aud: '00000003-0000-0000-c000-000000000000', ver: '1.0' },
      { nonce: 'bm9uY2U' },
    ),
    daemon: mint({
      aud: CLIENT_ID,
      iss: v2(TENANT_ID),
      azp: SPA_CLIENT,
      idtyp: 'app',
      oid: daemon,
      sub: daemon,
      roles: ['Orders.Export'],
      tid: TENANT_ID,
      ver: '2.0',
    }),
    // More than 200 groups: Entra leaves them out and says so.
    overage: mint({ ...delegated, _claim_names: { groups: 'src1' } }),
  }
}

/** Microsoft Graph's getMemberObjects, answered in memory: your app would reach the real one. */
const localGraph = async (): Promise<Response> => Response.json({ value: [FINANCE_GROUP] })

/** A request to try, with the answer it gets. */
export interface RunningEntraExample {
  readonly url: string
  readonly calls: readonly ExampleCall[]
  close(): Promise<void>
}

/** Starts the stand-in tenant and the API on 127.0.0.1; `port` 0 picks a free one. */
export async function startEntraExample(port: number): Promise<RunningEntraExample> {
  const tenant = await createTestIssuer({
    issuer: `https://login.microsoftonline.com/${TENANT_ID}/v2.0`,
  })
  // Entra's key sets name no alg, and bind each key to an issuer.
  tenant.setJwks({
    keys: tenant.jwks().keys.map(({ alg: _alg, ...key }) => ({
      ...key,
      issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0',
    })),
  })
  const provider = new EntraIdProvider({
    tenantId: TENANT_ID,
    audience: [CLIENT_ID, APP_ID_URI],
    acceptV1: true,
    groupOverageResolver: new GraphGroupResolver({
      getGraphToken: () => 'a token from MSAL (client credentials)',
      fetch: localGraph,
    }),
    // Only because the tenant is local: with Entra, leave jwksUri out (discovery finds it).
    jwksUri: tenant.jwksUri,
  })
  await provider.hydrate()
  const server = await listenOn(createEntraApp(provider), port).catch(async (error: unknown) => {
    await tenant.close() // nothing may keep the process alive after a failed start
    throw error
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const token = entraTokens(tenant)
  return {
    url,
    calls: [
      call('no token', 'GET', '/me', undefined, 401),
      call("Jane's v2 access token", 'GET', '/me', token.v2, 200),
      call("Jane's v1 access token (App ID URI audience)", 'GET', '/me', token.v1, 200),
      call('a token of another tenant', 'GET', '/me', token.otherTenant, 401),
      call('a token for Microsoft Graph', 'GET', '/me', token.graph, 401),
      call('Jane has the Orders.Read scope', 'GET', '/orders', token.v2, 200),
      call('Jane has the Orders.Approver role', 'POST', '/orders/42/approve', token.v2, 200),
      call('Jane has no Orders.Export app role', 'GET', '/orders/export', token.v2, 403),
      call('a daemon with the Orders.Export app role', 'GET', '/orders/export', token.daemon, 200),
      call('a daemon has no delegated scopes', 'GET', '/orders', token.daemon, 403),
      call('Jane is in the finance group', 'GET', '/reports', token.v2, 200),
      call('too many groups: asked of Graph', 'GET', '/reports', token.overage, 200),
    ],
    async close() {
      await new Promise((resolve) => server.close(resolve))
      await tenant.close()
    },
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runExample(startEntraExample).catch(exitIfPortInUse)
}

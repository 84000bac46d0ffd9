// AWS Cognito example: an API taking a user pool's access tokens, against a local stand-in for the pool (no AWS).
//
//   npx tsx examples/cognito.ts          makes each call below, prints the answers, and exits
//   npx tsx examples/cognito.ts --serve  keeps serving and prints curl commands to try

import express, { type Express } from 'express'
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import { exitIfPortInUse, listenOn } from './app.js'
import { call, runExample, type ExampleCall } from './calls.js'
// In your app: from 'oidc-guard', 'oidc-guard/providers/cognito' and 'oidc-guard/testing'.
import { jwtAuth, requireGroups, requireRoles, requireScopes, requireUser } from '../src/index.js'
import { CognitoGroupsAsRolesProvider, CognitoProvider } from '../providers/cognito/index.js'
import { createTestIssuer, type TestIssuer } from '../src/testing.js'

const USER_POOL_ID = 'eu-west-1_Example1'
const CLIENT_ID = '1example2client3id4abcd5'
const ISSUER = `https://cognito-idp.eu-west-1.amazonaws.com/${USER_POOL_ID}`

/** The API: who am I, an admin route (group), a role route, and a machine-to-machine route (scope). */
export function createCognitoApp(provider: CognitoProvider): Express {
  const app = express()
  app.use(jwtAuth({ provider, roles: new CognitoGroupsAsRolesProvider(), realm: 'example' }))
  app.get('/me', requireUser(), async (req, res) => {
    const { id, name, email, isM2M, clientId, scopes } = req.currentUser
    res.json({ id, name, email, isM2M, clientId, scopes, groups: await req.currentUser.groups })
  })
  app.get('/admin', requireGroups(['admin']), (_req, res) => res.json({ admin: true }))
  app.post('/refunds', requireRoles(['finance']), (_req, res) => res.json({ refunded: true }))
  app.get('/orders/export', requireScopes(['orders/read']), (req, res) => {
    res.json({ exportedFor: req.currentUser.clientId })
  })
  return app
}

/** Tokens shaped like Cognito's, signed by the local stand-in for the pool. */
function cognitoTokens(pool: TestIssuer) {
  const day = 24 * 3600
  const now = Math.floor(Date.now() / 1000)
  // Cognito's header is { kid, alg: 'RS256' }; its access tokens have no aud.
  const mint = (claims: Record<string, unknown>) =>
    pool.mint(
      { aud: undefined, iat: now, auth_time: now, exp: now + day, ...claims },
      { header: { typ: undefined } },
    )
  const jane = {
    sub: '6b3c9f2e-6a1d-4c8e-9f0a-1b2c3d4e5f60',
    'cognito:groups': ['admin'],
    origin_jti: '0f0e0d0c-0b0a-4909-8807-060504030201',
    event_id: '11112222-3333-4444-8555-666677778888',
  }
  return {
    access: mint({
      ...jane,
      client_id: CLIENT_ID,
      token_use: 'access',
      scope: 'openid email',
      username: 'jane',
    }),
    id: mint({
      ...jane,
      aud: CLIENT_ID,
      token_use: 'id',
      'cognito:username': 'jane',
      email: 'jane@example.com',
    }),
    otherClient: mint({
      ...jane,
      client_id: '9another8app7client6id5',
      token_use: 'access',
      username: 'jane',
    }),
    machine: mint({
      sub: CLIENT_ID,
      client_id: CLIENT_ID,
      token_use: 'access',
      scope: 'orders/read',
    }),
  }
}

/** A request to try, with the answer it gets. */
export interface RunningCognitoExample {
  readonly url: string
  readonly calls: readonly ExampleCall[]
  close(): Promise<void>
}

/** Starts the stand-in pool and the API on 127.0.0.1; `port` 0 picks a free one. */
export async function startCognitoExample(port: number): Promise<RunningCognitoExample> {
  const pool = await createTestIssuer({ issuer: ISSUER, algorithms: ['RS256'] })
  const provider = new CognitoProvider({
    userPoolId: USER_POOL_ID,
    clientId: CLIENT_ID,
    tokenUse: 'access',
    // Only because the pool is local: with a real pool, leave jwksUri out.
    jwksUri: pool.jwksUri,
  })
  await provider.hydrate()
  const server = await listenOn(createCognitoApp(provider), port).catch(async (error: unknown) => {
    await pool.close() // nothing may keep the process alive after a failed start
    throw error
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const token = cognitoTokens(pool)
  return {
    url,
    calls: [
      call('no token', 'GET', '/me', undefined, 401),
      call("Jane's access token", 'GET', '/me', token.access, 200),
      call("Jane's ID token (tokenUse is 'access')", 'GET', '/me', token.id, 401),
      call('an access token of another app client', 'GET', '/me', token.otherClient, 401),
      call('Jane is in the admin group', 'GET', '/admin', token.access, 200),
      call('Jane has no finance role', 'POST', '/refunds', token.access, 403),
      call(
        'a machine-to-machine client with orders/read',
        'GET',
        '/orders/export',
        token.machine,
        200,
      ),
      call('the M2M client has no groups', 'GET', '/admin', token.machine, 403),
      call('Jane lacks the orders/read scope', 'GET', '/orders/export', token.access, 403),
    ],
    async close() {
      await new Promise((resolve) => server.close(resolve))
      await pool.close()
    },
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runExample(startCognitoExample).catch(exitIfPortInUse)
}

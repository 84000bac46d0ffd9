// Authorization with oidc-guard: groups from a database-like source, roles from a claim, scopes,
// wildcards and combinators. Run it: npx tsx examples/authorization.ts

import express, { type Express } from 'express'
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
// In your app: from 'oidc-guard', 'oidc-guard/providers/jwks', 'oidc-guard/providers/claims'.
import {
  hasRoles,
  jwtAuth,
  requireAll,
  requireAny,
  requireGroups,
  requirePermissions,
  requireRoles,
  requireScopes,
  type GroupsProvider,
  type PermissionsProvider,
  type User,
} from '../src/index.js'
import { createTestIssuer } from '../src/testing.js'
import { JwksProvider } from '../providers/jwks/index.js'
import { ClaimRolesProvider } from '../providers/claims/index.js'

/** Your own source: here a Map, in real life a database or a directory. */
class TeamDirectory implements GroupsProvider, PermissionsProvider {
  readonly #teams = new Map([['alice', ['ops']]])
  readonly #grants = new Map([['alice', ['orders:*', 'reports:read']]])

  async fetchGroups(user: User): Promise<string[]> {
    return this.#teams.get(user.id) ?? []
  }

  async fetchPermissions(user: User): Promise<string[]> {
    return this.#grants.get(user.id) ?? []
  }
}

/** The routes, each guarded by a different rule. */
export function createAuthorizationApp(provider: JwksProvider): Express {
  const directory = new TeamDirectory()
  const app = express()
  app.use(
    jwtAuth({
      provider,
      groups: directory, // asked only when a guard needs groups, once per request
      permissions: directory,
      roles: new ClaimRolesProvider({ claim: 'realm_access.roles' }), // Keycloak-style claim
    }),
  )
  app.get('/orders', requireScopes(['orders.read']), (_req, res) => res.json({ orders: [] }))
  app.delete('/orders/:id', requirePermissions(['orders:delete']), (_req, res) =>
    res.json({ deleted: true }),
  )
  app.get('/ops', requireGroups(['ops', 'sre']), (_req, res) => res.json({ dashboards: [] }))
  app.get('/admin', requireRoles(['admin']), (_req, res) => res.json({ admin: true }))
  app.post(
    '/refunds',
    requireAll(
      requireScopes(['orders.write']),
      requireAny(requireRoles(['finance']), requireGroups(['ops'])),
    ),
    (_req, res) => res.json({ refunded: true }),
  )
  app.get('/reports', requirePermissions(['reports:read']), async (req, res) => {
    res.json({ reports: [], canExport: await hasRoles(req, ['auditor']) })
  })
  return app
}

/** Starts everything, replays a few requests and prints what each got. */
export async function runAuthorizationExample(): Promise<Array<[string, number]>> {
  const issuer = await createTestIssuer({ audience: 'orders-api' })
  const provider = new JwksProvider({
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    audience: 'orders-api',
  })
  const server = createAuthorizationApp(provider).listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const alice = issuer.mint({
    sub: 'alice',
    scope: 'orders.read orders.write',
    realm_access: { roles: ['viewer'] },
  })
  const bob = issuer.mint({ sub: 'bob', scope: 'orders.read', realm_access: { roles: ['admin'] } })
  const calls: Array<[string, string, string | undefined]> = [
    ['GET', '/orders', undefined],
    ['GET', '/orders', bob],
    ['DELETE', '/orders/7', alice],
    ['DELETE', '/orders/7', bob],
    ['GET', '/ops', alice],
    ['GET', '/admin', bob],
    ['POST', '/refunds', alice],
    ['POST', '/refunds', bob],
    ['GET', '/reports', alice],
  ]
  const results: Array<[string, number]> = []
  for (const [method, path, token] of calls) {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
    const res = await fetch(url + path, { method, headers })
    const who = token === alice ? 'alice' : token === bob ? 'bob' : 'anonymous'
    results.push([`${method} ${path} as ${who}`, res.status])
  }
  server.close()
  await issuer.close()
  return results
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const [call, status] of await runAuthorizationExample()) console.log(`${status}  ${call}`)
}

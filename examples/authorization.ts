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

/** The requests replayed: method, path, who calls (no one: no token), and what the answer shows. */
const CALLS: ReadonlyArray<readonly [string, string, 'alice' | 'bob' | undefined, string]> = [
  ['GET', '/orders', undefined, 'no token on a guarded route'],
  ['GET', '/orders', 'bob', "bob's token has the orders.read scope"],
  ['DELETE', '/orders/7', 'alice', 'alice holds orders:* (a wildcard)'],
  ['DELETE', '/orders/7', 'bob', 'bob holds no permission'],
  ['GET', '/ops', 'alice', 'alice is in the ops group (from the directory)'],
  ['GET', '/admin', 'bob', "bob's token carries realm_access.roles: [admin]"],
  ['POST', '/refunds', 'alice', 'orders.write scope AND (finance role OR ops group)'],
  ['POST', '/refunds', 'bob', 'bob lacks orders.write'],
  ['GET', '/reports', 'alice', 'alice holds reports:read'],
]

/** Starts everything, replays the calls and answers what each got: `['GET /orders as bob', 200]`. */
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
  const tokens = {
    alice: issuer.mint({
      sub: 'alice',
      scope: 'orders.read orders.write',
      realm_access: { roles: ['viewer'] },
    }),
    bob: issuer.mint({ sub: 'bob', scope: 'orders.read', realm_access: { roles: ['admin'] } }),
  }
  const results: Array<[string, number]> = []
  for (const [method, path, who] of CALLS) {
    const headers: Record<string, string> = who ? { authorization: `Bearer ${tokens[who]}` } : {}
    const res = await fetch(url + path, { method, headers })
    results.push([`${method} ${path} as ${who ?? 'anonymous'}`, res.status])
  }
  server.close()
  await issuer.close()
  return results
}

/** The lines the example prints: status, call, and what the answer shows. */
export function explainAnswers(results: ReadonlyArray<readonly [string, number]>): string[] {
  return results.map(([call, status], index) =>
    `${status}  ${call.padEnd(26)} ${CALLS[index]?.[3] ?? ''}`.trimEnd(),
  )
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const line of explainAnswers(await runAuthorizationExample())) console.log(line)
}

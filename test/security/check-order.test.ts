// Order of checks: no authorization decision is taken before the token is verified. A forged or
// expired token that carries everything a guard wants answers 401, never 403 (which would tell an
// attacker what the route requires), and no source is asked about its subject.

import type { RequestHandler } from 'express'
import { generateKeyPairSync } from 'node:crypto'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  jwtAuth,
  requireAll,
  requireAny,
  requireGroups,
  requirePermissions,
  requireRoles,
  requireScopes,
  requireUser,
  type JwtAuthOptions,
  type RolesProvider,
} from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { ClaimGroupsProvider, ClaimPermissionsProvider } from '../../providers/claims/index.js'
import { CognitoGroupsAsRolesProvider, CognitoProvider } from '../../providers/cognito/index.js'
import { EntraIdProvider, type EntraIdProviderOptions } from '../../providers/entra-id/index.js'
import { createCognitoIssuer, JANE, type CognitoTestIssuer } from '../fake-idp/cognito.js'
import {
  APP_ID_URI,
  CLIENT_ID,
  createEntraIssuer,
  JANE as ENTRA_JANE,
  OTHER_TENANT,
  TENANT,
  v2AccessTokenClaims,
  type EntraTestIssuer,
} from '../fake-idp/entra.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

let idp: TestIssuer
let cognito: CognitoTestIssuer
const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 })

beforeAll(async () => {
  ;[idp, cognito] = await Promise.all([
    createTestIssuer({ listen: false, issuer: 'https://order.example' }),
    createCognitoIssuer(),
  ])
})

afterAll(async () => {
  await Promise.all([idp.close(), cognito.close()])
})

/** Everything any guard below asks for. */
const EVERYTHING = {
  sub: 'svc',
  client_id: 'svc',
  scope: 'orders.read orders.write a b',
  groups: ['admin', 'ops'],
  roles: ['admin'],
  permissions: ['orders:read'],
}

/** A roles source that counts the questions it is asked. */
function countingRoles(): RolesProvider & { calls: number } {
  const source = {
    calls: 0,
    fetchRoles(user: { claims: Record<string, unknown> }) {
      source.calls += 1
      return (user.claims['roles'] as string[] | undefined) ?? []
    },
  }
  return source
}

type Mint = (claims: Record<string, unknown>, options?: Parameters<TestIssuer['mint']>[1]) => string

/** The bad tokens, each carrying `claims`: only the signature or the time is wrong. */
const BAD_TOKENS: [string, (mint: Mint, claims: Record<string, unknown>) => string, string][] = [
  [
    'forged: another key under the issuer kid',
    (mint, claims) => mint(claims, { key: attacker.privateKey }),
    'signature verification failed',
  ],
  [
    'forged: one bit of the signature flipped',
    (mint, claims) => mint(claims, { tamper: 'signature' }),
    'signature verification failed',
  ],
  [
    'forged: claims swapped under the signature',
    (mint, claims) => {
      const [header = '', , signature = ''] = mint({ sub: 'nobody' }).split('.')
      const swapped = Buffer.from(
        JSON.stringify({ ...claims, iss: idp.issuer, aud: idp.audience, exp: 4_102_444_800 }),
      )
      return `${header}.${swapped.toString('base64url')}.${signature}`
    },
    'signature verification failed',
  ],
  [
    'forged: an unknown kid',
    (mint, claims) => mint(claims, { key: attacker.privateKey, kid: 'attacker' }),
    'no signing key matches the token',
  ],
  ['expired', (mint, claims) => mint(claims, { expiresInSec: -3600 }), 'token expired'],
]

const GUARDS: [string, () => RequestHandler][] = [
  ['requireScopes any', () => requireScopes(['orders.read', 'x'])],
  ['requireScopes all', () => requireScopes(['a', 'b'], { match: 'all' })],
  ['requireGroups', () => requireGroups(['admin'])],
  ['requireGroups all', () => requireGroups(['admin', 'ops'], { match: 'all' })],
  ['requireRoles', () => requireRoles(['admin'])],
  ['requirePermissions', () => requirePermissions(['orders:read'])],
  ["requireUser kind 'm2m'", () => requireUser({ kind: 'm2m' })],
  ["requireUser kind 'human'", () => requireUser({ kind: 'human' })],
  [
    'requireAll',
    () =>
      requireAll(requireScopes(['orders.write']), requireGroups(['ops']), requireRoles(['admin'])),
  ],
  ['requireAny', () => requireAny(requireRoles(['admin']), requireGroups(['admin']))],
  ['requireGroups with a status option', () => requireGroups(['admin'], { status: 404 })],
]

describe.each(EXPRESS_MAJORS)('order of checks on %s', (_name, createApp) => {
  function appFor(guard: RequestHandler, options: Partial<JwtAuthOptions> = {}) {
    const roles = countingRoles()
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      fetch: idp.fetch,
    })
    const app = createApp()
    app.use(
      jwtAuth({
        provider,
        realm: 'api',
        logger: false,
        groups: new ClaimGroupsProvider(),
        roles,
        permissions: new ClaimPermissionsProvider(),
        ...options,
      }),
    )
    app.get('/route', guard, whoAmI())
    return { app, roles }
  }

  describe.each(GUARDS)('%s', (guardName, build) => {
    it('control: the same claims, validly signed, pass the guard', async () => {
      // kind 'human' is the one guard this principal cannot pass: it refuses with 403 once verified.
      const { app } = appFor(build())
      const res = await request(app)
        .get('/route')
        .set('Authorization', `Bearer ${idp.mint(EVERYTHING)}`)
      expect(res.status).toBe(guardName.includes('human') ? 403 : 200)
    })

    it.each(BAD_TOKENS)(
      '%s: 401 invalid_token, never 403, no source asked',
      async (_case, forge, description) => {
        const token = forge((claims, options) => idp.mint(claims, options), EVERYTHING)
        const { app, roles } = appFor(build())
        const res = await request(app).get('/route').set('Authorization', `Bearer ${token}`)
        expect(res.status).toBe(401)
        expect(res.headers['www-authenticate']).toBe(
          `Bearer realm="api", error="invalid_token", error_description="${description}"`,
        )
        expect(res.body).toEqual({ error: 'invalid_token', error_description: description })
        expect(roles.calls).toBe(0)
      },
    )

    it("under invalidToken: 'anonymous' a bad token still answers 401 with its reason, never 403", async () => {
      const { app, roles } = appFor(build(), { invalidToken: 'anonymous' })
      const token = idp.mint(EVERYTHING, { tamper: 'signature' })
      const res = await request(app).get('/route').set('Authorization', `Bearer ${token}`)
      // A route that hides itself (status: 404) answers its own status, which tells nothing either.
      const hidden = guardName.includes('status option')
      expect(res.status).toBe(hidden ? 404 : 401)
      expect(res.body.error).toBe(hidden ? 'not_found' : 'invalid_token')
      expect(roles.calls).toBe(0)
    })
  })
})

describe('order of checks for Cognito', () => {
  const ADMIN = { ...JANE, groups: ['admin'] }

  function cognitoApp(guard: RequestHandler) {
    const provider = new CognitoProvider({
      userPoolId: cognito.pool.userPoolId,
      clientId: cognito.clientId,
      fetch: cognito.idp.fetch,
    })
    const app = EXPRESS_MAJORS[0]![1]()
    app.use(jwtAuth({ provider, logger: false, roles: new CognitoGroupsAsRolesProvider() }))
    app.get('/route', guard, whoAmI())
    return app
  }

  const COGNITO_GUARDS: [string, () => RequestHandler][] = [
    ['requireGroups over cognito:groups', () => requireGroups(['admin'])],
    ['requireRoles over groups-as-roles', () => requireRoles(['admin'])],
    ['requireScopes on the user scope', () => requireScopes(['aws.cognito.signin.user.admin'])],
  ]

  describe.each(COGNITO_GUARDS)('%s', (_guard, build) => {
    it('control: a valid access token of an admin passes', async () => {
      const res = await request(cognitoApp(build()))
        .get('/route')
        .set('Authorization', `Bearer ${cognito.access(ADMIN)}`)
      expect(res.status).toBe(200)
    })

    it.each<[string, () => string, string]>([
      [
        'forged (another key, pool kid)',
        () => cognito.access(ADMIN, {}, { key: attacker.privateKey }),
        'signature verification failed',
      ],
      [
        'expired',
        () => cognito.access(ADMIN, { exp: Math.floor(Date.now() / 1000) - 3600 }),
        'token expired',
      ],
      [
        'an ID token where access tokens are expected',
        () => cognito.id(ADMIN),
        'expected an access token, got an ID token',
      ],
      [
        'another app client',
        () => cognito.access(ADMIN, { client_id: 'other-client' }),
        'token issued to another app client (client_id)',
      ],
    ])('%s: 401 invalid_token, never 403', async (_case, token, description) => {
      const res = await request(cognitoApp(build()))
        .get('/route')
        .set('Authorization', `Bearer ${token()}`)
      expect(res.status).toBe(401)
      expect(res.body).toEqual({ error: 'invalid_token', error_description: description })
      expect(res.headers['www-authenticate']).not.toMatch(/scope=/)
    })
  })
})

describe('order of checks for Entra ID', () => {
  let entra: EntraTestIssuer

  beforeAll(async () => {
    entra = await createEntraIssuer()
  })

  afterAll(() => entra.close())

  const TEAM = (ENTRA_JANE.groups as string[])[0]!
  const EVERY_FACET = { ...ENTRA_JANE, roles: ['Orders.Approver', 'Data.Write'] }

  function entraApp(guard: RequestHandler, options: Partial<EntraIdProviderOptions> = {}) {
    const provider = new EntraIdProvider({
      tenantId: TENANT,
      audience: [CLIENT_ID, APP_ID_URI],
      fetch: entra.fetch,
      ...options,
    })
    const app = EXPRESS_MAJORS[0]![1]()
    app.use(jwtAuth({ provider, logger: false }))
    app.get('/route', guard, whoAmI())
    return app
  }

  const ENTRA_GUARDS: [string, () => RequestHandler][] = [
    ['requireRoles (app roles)', () => requireRoles(['Orders.Approver'])],
    ['requireGroups (group ids)', () => requireGroups([TEAM])],
    ['requireScopes (scp)', () => requireScopes(['Orders.Read'])],
    ['requireAll', () => requireAll(requireScopes(['Orders.Read']), requireRoles(['Data.Write']))],
  ]

  describe.each(ENTRA_GUARDS)('%s', (_guard, build) => {
    it('control: a valid v2 token of the tenant carrying everything passes', async () => {
      const res = await request(entraApp(build()))
        .get('/route')
        .set('Authorization', `Bearer ${entra.v2(EVERY_FACET)}`)
      expect(res.status).toBe(200)
    })

    it.each<[string, () => string, Partial<EntraIdProviderOptions>]>([
      [
        'forged (another key, tenant kid)',
        () => entra.v2(EVERY_FACET, {}, { key: attacker.privateKey }),
        {},
      ],
      ['expired', () => entra.v2(EVERY_FACET, { exp: Math.floor(Date.now() / 1000) - 3600 }), {}],
      [
        'another tenant (ENT-01)',
        () => entra.mint(v2AccessTokenClaims(entra.context(OTHER_TENANT), EVERY_FACET)),
        {},
      ],
      [
        'a tenant outside the allow-list (ENT-02)',
        () => entra.mint(v2AccessTokenClaims(entra.context(TENANT), EVERY_FACET)),
        { tenantId: 'organizations', allowedTenants: [OTHER_TENANT] },
      ],
      [
        'a client app not approved (ENT-11)',
        () => entra.v2(EVERY_FACET),
        { allowedClientApps: ['11111111-2222-4333-8444-555555555555'] },
      ],
    ])('%s: 401 invalid_token, never 403', async (_case, token, options) => {
      const res = await request(entraApp(build(), options))
        .get('/route')
        .set('Authorization', `Bearer ${token()}`)
      expect(res.status).toBe(401)
      expect(res.body.error).toBe('invalid_token')
      expect(res.headers['www-authenticate']).not.toMatch(/scope=/)
    })
  })
})

// Cognito over HTTP on Express 4 and 5: token kinds, clients, pools, M2M, groups and groups as roles.

import type { Express } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  JwksCache,
  jwtAuth,
  requireGroups,
  requireRoles,
  requireScopes,
  requireUser,
  type JwtAuthOptions,
} from '../../src/index.js'
import {
  CognitoGroupsAsRolesProvider,
  CognitoProvider,
  type CognitoProviderOptions,
} from '../../providers/cognito/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'
import {
  createCognitoIssuer,
  JANE,
  refreshToken,
  type CognitoTestIssuer,
  type CognitoTestUser,
} from '../fake-idp/cognito.js'

const CLIENT = '3n4example5client6id7abc8'
const OTHER_CLIENT = '9other8client7id6example5'
const NOBODY: CognitoTestUser = { sub: 'f0f0f0f0-0000-4000-8000-000000000000', username: 'nobody' }

let cognito: CognitoTestIssuer
let otherPool: CognitoTestIssuer
let otherRegion: CognitoTestIssuer

beforeAll(async () => {
  ;[cognito, otherPool, otherRegion] = await Promise.all([
    createCognitoIssuer('eu-west-1_TestPool1', CLIENT),
    createCognitoIssuer('eu-west-1_OtherPool9', CLIENT),
    createCognitoIssuer('us-east-1_TestPool1', CLIENT),
  ])
})

afterAll(async () => {
  await Promise.all([cognito.close(), otherPool.close(), otherRegion.close()])
})

const challenge = (description: string) =>
  `Bearer realm="api", error="invalid_token", error_description="${description}"`

describe.each(EXPRESS_MAJORS)('Cognito on %s', (_name, createApp) => {
  function appWith(
    providerOptions: Partial<CognitoProviderOptions> = {},
    options: Partial<JwtAuthOptions> = {},
  ): Express {
    const provider = new CognitoProvider({
      userPoolId: 'eu-west-1_TestPool1',
      clientId: CLIENT,
      jwksCache: new JwksCache({ fetch: cognito.idp.fetch }),
      ...providerOptions,
    })
    const app = createApp()
    app.use(jwtAuth({ provider, realm: 'api', logger: false, ...options }))
    app.get('/me', requireUser(), whoAmI())
    app.get('/admin', requireGroups(['admin']), whoAmI())
    app.get('/admin-role', requireRoles(['admin']), whoAmI())
    app.get('/editors-and-admins', requireGroups(['admin', 'editors'], { match: 'all' }), whoAmI())
    app.get('/orders', requireScopes(['orders/read']), whoAmI())
    app.get('/jobs', requireUser({ kind: 'm2m' }), whoAmI())
    app.get('/whoami', requireUser(), async (req, res) => {
      const { id, name, email, isM2M, clientId, scopes } = req.currentUser
      res.json({ id, name, email, isM2M, clientId, scopes, groups: await req.currentUser.groups })
    })
    return app
  }

  const get = (app: Express, path: string, token: string) =>
    request(app).get(path).set('Authorization', `Bearer ${token}`)

  it('an access token of the pool and client: 200 with the Cognito user', async () => {
    const res = await get(appWith(), '/whoami', cognito.access())
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      id: JANE.sub,
      name: 'jane',
      isM2M: false,
      clientId: CLIENT,
      scopes: ['aws.cognito.signin.user.admin', 'openid', 'email'],
      groups: ['admin', 'editors'],
    })
  })

  it('an ID token with tokenUse id: 200 with email and cognito:username', async () => {
    const res = await get(appWith({ tokenUse: 'id' }), '/whoami', cognito.id())
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ name: 'jane', email: 'jane@example.com', clientId: CLIENT })
  })

  it.each<[string, Partial<CognitoProviderOptions>, () => string, string]>([
    [
      'COG-01: an ID token where access tokens are expected',
      {},
      () => cognito.id(),
      'expected an access token, got an ID token',
    ],
    [
      'COG-02: an access token where ID tokens are expected',
      { tokenUse: 'id' },
      () => cognito.access(),
      'expected an ID token, got an access token',
    ],
    [
      'COG-03: a token_use refresh JWT',
      { tokenUse: 'any' },
      () => cognito.access(JANE, { token_use: 'refresh' }),
      'refresh tokens are not accepted',
    ],
    [
      'COG-03: no token_use',
      { tokenUse: 'any' },
      () => cognito.access(JANE, { token_use: undefined }),
      'missing token_use claim',
    ],
    [
      'COG-04: an access token of another app client',
      {},
      () => cognito.access(JANE, { client_id: OTHER_CLIENT }),
      'token issued to another app client (client_id)',
    ],
    [
      'COG-04: an ID token of another app client',
      { tokenUse: 'id' },
      () => cognito.id(JANE, { aud: OTHER_CLIENT }),
      'token issued to another app client (aud)',
    ],
    [
      'COG-05: an access token with our client in aud only',
      {},
      () => cognito.access(JANE, { client_id: undefined, aud: CLIENT }),
      'missing client_id claim',
    ],
    [
      'COG-06: a token of another pool',
      {},
      () => otherPool.access(),
      'token issuer is not trusted',
    ],
    [
      'COG-06: a token of the same pool id in another region',
      {},
      () => otherRegion.access(),
      'token issuer is not trusted',
    ],
    [
      'COG-07: a look-alike issuer host',
      {},
      () =>
        cognito.access(JANE, {
          iss: 'https://cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_TestPool1',
        }),
      'token issuer is not trusted',
    ],
    ['COG-10 / TYP-04: a refresh token (JWE)', {}, () => refreshToken(), 'malformed token'],
    [
      'an expired access token',
      {},
      () => cognito.access(JANE, { exp: Math.floor(Date.now() / 1000) - 60 }),
      'token expired',
    ],
  ])('%s: 401 invalid_token saying why', async (_case, providerOptions, token, description) => {
    const res = await get(appWith(providerOptions), '/me', token())
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe(challenge(description))
    expect(res.body).toEqual({ error: 'invalid_token', error_description: description })
  })

  it('COG-09: an M2M token: 200 on scope and M2M routes, groups [] and 403 on group routes', async () => {
    const app = appWith()
    // Even a groups claim on an M2M token is never read: M2M users have no groups source.
    const token = cognito.m2m('orders/read', { 'cognito:groups': ['admin'] })
    const res = await get(app, '/whoami', token)
    expect(res.body).toEqual({
      id: CLIENT,
      isM2M: true,
      clientId: CLIENT,
      scopes: ['orders/read'],
      groups: [],
    })
    expect((await get(app, '/orders', token)).status).toBe(200)
    expect((await get(app, '/jobs', token)).status).toBe(200)
    const refused = await get(app, '/admin', token)
    expect(refused.status).toBe(403)
    expect(refused.body.error).toBe('forbidden')
    expect((await get(app, '/jobs', cognito.access())).status).toBe(403)
  })

  it('requireScopes refuses a user token without the resource-server scope: 403 insufficient_scope', async () => {
    const res = await get(appWith(), '/orders', cognito.access())
    expect(res.status).toBe(403)
    expect(res.headers['www-authenticate']).toMatch(
      /error="insufficient_scope".*scope="orders\/read"/,
    )
  })

  it('requireGroups over cognito:groups: any, all, and 403 without the group', async () => {
    const app = appWith()
    expect((await get(app, '/admin', cognito.access())).status).toBe(200)
    expect((await get(app, '/editors-and-admins', cognito.access())).status).toBe(200)
    const editorOnly = cognito.access({ ...JANE, groups: ['editors'] })
    expect((await get(app, '/editors-and-admins', editorOnly)).status).toBe(403)
    const res = await get(app, '/admin', cognito.access(NOBODY))
    expect(res.status).toBe(403)
    expect(res.body).toEqual({ error: 'forbidden', error_description: expect.any(String) })
  })

  it('requireRoles over CognitoGroupsAsRolesProvider; without it a user has no roles', async () => {
    const withRoles = appWith({}, { roles: new CognitoGroupsAsRolesProvider() })
    expect((await get(withRoles, '/admin-role', cognito.access())).status).toBe(200)
    expect((await get(withRoles, '/admin-role', cognito.access(NOBODY))).status).toBe(403)
    expect((await get(appWith(), '/admin-role', cognito.access())).status).toBe(403)
  })

  it('COG-11: custom:role = admin written by the user grants neither the group nor the role', async () => {
    const app = appWith({ tokenUse: 'id' }, { roles: new CognitoGroupsAsRolesProvider() })
    const token = cognito.id(NOBODY, { 'custom:role': 'admin', 'custom:groups': 'admin' })
    expect((await get(app, '/admin', token)).status).toBe(403)
    expect((await get(app, '/admin-role', token)).status).toBe(403)
  })

  it.each<[string, unknown, number]>([
    ['a string names one group', 'admin', 200],
    ['a string is not searched for substrings', 'administrators', 403],
    ['non-strings are dropped', [1, null, 'admin'], 200],
    ['an object grants nothing', { 0: 'admin' }, 403],
    ['a number grants nothing', 7, 403],
  ])('COG-12: cognito:groups as %s: %i, never 500', async (_case, groups, status) => {
    const app = appWith({}, { roles: new CognitoGroupsAsRolesProvider() })
    const token = cognito.access({ ...NOBODY, groups })
    expect((await get(app, '/admin', token)).status).toBe(status)
    expect((await get(app, '/admin-role', token)).status).toBe(status)
  })

  it('the seed scope fall-back is not copied: a scope never becomes a group', async () => {
    const token = cognito.access(NOBODY, { scope: 'admin/admin' })
    expect((await get(appWith(), '/admin', token)).status).toBe(403)
  })
})

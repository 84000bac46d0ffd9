// Review 7b: a source's 401 decides requireAny, the redirect's ?next= never carries a token, guard
// options are copied when the route is defined, and misspelt option keys are a ConfigError.

import type { Express } from 'express'
import { once } from 'node:events'
import { get, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JwksProvider } from '../../providers/jwks/index.js'
import {
  ConfigError,
  hasGroups,
  hasScopes,
  InvalidTokenError,
  jwtAuth,
  requireAll,
  requireAny,
  requireGroups,
  requirePermissions,
  requireRoles,
  requireScopes,
  requireUser,
  type GroupsProvider,
} from '../../src/index.js'
import type { TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let trusting: JwksProvider

beforeAll(async () => {
  ;({ idp, provider: trusting } = await localIssuerAndProvider('https://authz-review7b.example'))
})

afterAll(() => idp.close())

const provider = (): JwksProvider => trusting

const bearer = (claims: Record<string, unknown>) => `Bearer ${idp.mint(claims)}`

// A source whose API refused the user's token (Cognito's GetUser after a global sign-out).
const revoked: GroupsProvider = {
  fetchGroups: () => {
    throw new InvalidTokenError('ERR_AUTH_TOKEN_REVOKED', 'token revoked')
  },
}

describe.each(EXPRESS_MAJORS)("a source's 401 in the combinators on %s", (_name, createApp) => {
  function appWith(mount: (app: Express) => void): Express {
    const app = createApp()
    app.use(jwtAuth({ provider: provider(), logger: false, groups: revoked, sourceCache: false }))
    mount(app)
    return app
  }

  it.each([
    [
      'requireAny(requireGroups, requireScopes granted) does not let a refused token in',
      () => requireAny(requireGroups(['ops']), requireScopes(['orders.read'])),
    ],
    [
      'requireAny(requireScopes refused, requireGroups) answers the 401, not the 403',
      () => requireAny(requireScopes(['admin']), requireGroups(['ops'])),
    ],
    [
      'requireAny(requireRoles refused, requireGroups) answers the 401, not the 403',
      () => requireAny(requireRoles(['auditor']), requireGroups(['ops'])),
    ],
    [
      'requireAll(requireGroups, requireScopes) answers the 401',
      () => requireAll(requireGroups(['ops']), requireScopes(['orders.read'])),
    ],
    [
      'requireAll(requireScopes granted, requireGroups) answers the 401',
      () => requireAll(requireScopes(['orders.read']), requireGroups(['ops'])),
    ],
    [
      'requireAny(requireAll(requireGroups, …), requireScopes granted) answers the 401',
      () =>
        requireAny(
          requireAll(requireGroups(['ops']), requireScopes(['orders.read'])),
          requireScopes(['orders.read']),
        ),
    ],
  ])('%s', async (_title, route) => {
    const app = appWith((server) => server.get('/orders', route(), whoAmI()))
    const res = await request(app)
      .get('/orders')
      .set('Authorization', bearer({ sub: 'alice', scope: 'orders.read' }))
    expect(res.body.handler).toBeUndefined()
    expect([res.status, res.body.error]).toEqual([401, 'invalid_token'])
    expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/)
  })

  it('a rule that grants before the refusing source is asked still lets the user in', async () => {
    const app = appWith((server) =>
      server.get(
        '/orders',
        requireAny(requireScopes(['orders.read']), requireGroups(['ops'])),
        whoAmI(),
      ),
    )
    const res = await request(app)
      .get('/orders')
      .set('Authorization', bearer({ sub: 'alice', scope: 'orders.read' }))
    expect(res.status).toBe(200)
  })
})

describe.each(EXPRESS_MAJORS)("the redirect's next on %s", (_name, createApp) => {
  function appWith(tokenLocations?: { query: true | string }): Express {
    const app = createApp()
    app.use(
      jwtAuth({
        provider: provider(),
        logger: false,
        ...(tokenLocations && { tokenLocations, invalidToken: 'anonymous' as const }),
      }),
    )
    app.get('/report', requireUser({ redirect: 'https://login.example.com/authorize' }), whoAmI())
    return app
  }
  // A valid token of this issuer for another API: refused here, so the visitor is anonymous.
  const foreign = () => idp.mint({ sub: 'alice', aud: 'api://payments' })

  async function nextOf(app: Express, path: string): Promise<string> {
    const res = await request(app).get(path)
    expect(res.status).toBe(302)
    const location = new URL(res.headers['location'] as string)
    return location.searchParams.get('next') ?? ''
  }

  it('drops ?access_token= and keeps the other parameters as written', async () => {
    const token = foreign()
    for (const app of [appWith(), appWith({ query: true })]) {
      const next = await nextOf(app, `/report?tab=2&access_token=${token}&q=a%20b`)
      expect(next).toBe('/report?tab=2&q=a%20b')
      expect(next).not.toContain(token)
    }
  })

  it('drops a JWT under any parameter name, and access_token however it is spelt', async () => {
    const token = foreign()
    const app = appWith({ query: 'token' })
    expect(await nextOf(app, `/report?token=${token}`)).toBe('/report')
    expect(await nextOf(app, `/report?access%5Ftoken=x&access_token[]=y&id=7`)).toBe('/report?id=7')
    expect(await nextOf(app, `/report?v=1.2.3&id=${token.slice(0, 20)}`)).toBe(
      `/report?v=1.2.3&id=${token.slice(0, 20)}`,
    )
  })

  it('drops anything after a # in the request target', async () => {
    // supertest strips a fragment before sending; a raw client sends it, and Express keeps it.
    const token = foreign()
    const server = appWith().listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const { port } = server.address() as AddressInfo
      const path = `/report?id=1#access_token=${token}`
      const [res] = (await once(get({ host: '127.0.0.1', port, path }), 'response')) as [
        IncomingMessage,
      ]
      res.resume()
      expect(res.statusCode).toBe(302)
      const next = new URL(res.headers.location ?? '').searchParams.get('next')
      expect(next).toBe('/report?id=1')
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })
})

describe.each(EXPRESS_MAJORS)('guard options are read once on %s', (_name, createApp) => {
  it('a status or redirect changed after the route was defined does not change the answer', async () => {
    const options: { status?: number; redirect?: string } = { status: 404 }
    const userOptions: { redirect?: string; status?: number } = { redirect: '/login' }
    const app = createApp()
    app.use(jwtAuth({ provider: provider(), logger: false }))
    app.get('/hidden', requireGroups(['ops'], options), whoAmI())
    app.get('/page', requireUser(userOptions), whoAmI())
    options.status = 200
    userOptions.redirect = 'https://evil.example/'
    delete userOptions.redirect
    userOptions.status = 200
    const refused = await request(app)
      .get('/hidden')
      .set('Authorization', bearer({ sub: 'alice' }))
    expect([refused.status, refused.body.error]).toEqual([404, 'not_found'])
    const anonymous = await request(app).get('/page')
    expect(anonymous.status).toBe(302)
    expect(anonymous.headers['location']).toBe('/login?next=%2Fpage')
  })
})

describe('misspelt guard options are a ConfigError naming the key', () => {
  type Factory = (options: unknown) => unknown
  const call =
    (factory: unknown, ...args: unknown[]) =>
    () =>
      (factory as (...a: unknown[]) => unknown)(...args)

  it.each<[string, () => unknown, string, string]>([
    [
      "requireScopes(['a','b'], { mode: 'all' })",
      call(requireScopes, ['a', 'b'], { mode: 'all' }),
      'requireScopes',
      'mode',
    ],
    [
      "requireGroups(['ops'], { statuss: 404 })",
      call(requireGroups, ['ops'], { statuss: 404 }),
      'requireGroups',
      'statuss',
    ],
    [
      "requireRoles(['r'], { kind: 'm2m' })",
      call(requireRoles, ['r'], { kind: 'm2m' }),
      'requireRoles',
      'kind',
    ],
    [
      "requirePermissions(['p:r'], { matches: 'all' })",
      call(requirePermissions, ['p:r'], { matches: 'all' }),
      'requirePermissions',
      'matches',
    ],
    ["requireUser({ kinds: 'm2m' })", call(requireUser, { kinds: 'm2m' }), 'requireUser', 'kinds'],
    ["requireUser({ match: 'all' })", call(requireUser, { match: 'all' }), 'requireUser', 'match'],
    [
      "hasScopes(req, ['a'], { mode: 'all' })",
      call(hasScopes, {}, ['a'], { mode: 'all' }),
      'hasScopes',
      'mode',
    ],
  ])('%s', (_title, define, guard, key) => {
    expect(define).toThrow(ConfigError)
    expect(define).toThrow(`${guard}: "${key}" is not an option`)
  })

  it('the message lists the options that exist', () => {
    expect(call(requireScopes, ['a'], { mode: 'all' })).toThrow(
      'the options are match, status, redirect',
    )
    expect(call(requireUser, { kinds: 'm2m' })).toThrow('the options are kind, status, redirect')
  })

  it('hasGroups rejects with it', async () => {
    const has = hasGroups as unknown as Factory & ((...a: unknown[]) => Promise<boolean>)
    await expect(has({}, ['ops'], { mode: 'all' })).rejects.toThrow(
      'hasGroups: "mode" is not an option; the options are match, status, redirect',
    )
  })

  it('a correctly spelt match still works', async () => {
    const app = EXPRESS_MAJORS[0]![1]()
    app.use(jwtAuth({ provider: provider(), logger: false }))
    app.get('/both', requireScopes(['a', 'b'], { match: 'all' }), whoAmI())
    const res = await request(app)
      .get('/both')
      .set('Authorization', bearer({ sub: 'u', scope: 'a' }))
    expect(res.status).toBe(403)
  })
})

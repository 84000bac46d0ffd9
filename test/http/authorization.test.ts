// Guards over HTTP: every guard × any/all × pass/403/401/503, wildcards, combinators, options, has*.

import type { Express, RequestHandler } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConfigError,
  hasGroups,
  hasPermissions,
  hasRoles,
  hasScopes,
  jwtAuth,
  requireAll,
  requireAny,
  requireGroups,
  requirePermissions,
  requireRoles,
  requireScopes,
  type GroupsProvider,
  type JwtAuthOptions,
  type PermissionsProvider,
  type RolesProvider,
  type ListGuardOptions,
} from '../../src/index.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import type { TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://authz.example'))
})

afterAll(() => idp.close())

interface FakeSource extends GroupsProvider, RolesProvider, PermissionsProvider {
  readonly state: { calls: number; mode: 'ok' | 'throw' | 'hang' | 'null' }
}

/** A source of any facet that counts its calls and can be made to fail or hang. */
function fakeSource(values: string[]): FakeSource {
  const state: FakeSource['state'] = { calls: 0, mode: 'ok' }
  const answer = (): readonly string[] => {
    state.calls += 1
    if (state.mode === 'throw') throw new Error('connection refused')
    if (state.mode === 'hang') return new Promise(() => undefined) as never
    if (state.mode === 'null') return null as never
    return values
  }
  return { state, fetchGroups: answer, fetchRoles: answer, fetchPermissions: answer }
}

const token = (claims: Record<string, unknown> = {}) =>
  `Bearer ${idp.mint({ sub: 'alice', scope: 'orders.read profile', ...claims })}`

type Facet = 'groups' | 'roles' | 'permissions'
const GUARDS: Record<Facet, (values: string[], options?: ListGuardOptions) => RequestHandler> = {
  groups: requireGroups,
  roles: requireRoles,
  permissions: requirePermissions,
}

describe.each(EXPRESS_MAJORS)('guards on %s', (_name, createApp) => {
  function appWith(
    sources: Partial<Pick<JwtAuthOptions, Facet>>,
    mount: (app: Express, ran: { count: number }) => void,
    options: Partial<JwtAuthOptions> = {},
  ) {
    const app = createApp() as Express
    const ran = { count: 0 }
    const auth = jwtAuth({ provider, logger: false, realm: 'api', ...sources, ...options })
    app.use(auth)
    mount(app, ran)
    return { app, ran, verifier: auth.verifier }
  }
  const ok =
    (ran: { count: number }): RequestHandler =>
    (_req, res) => {
      ran.count += 1
      res.json({ ok: true })
    }

  describe.each(['groups', 'roles', 'permissions'] as const)('require %s', (facet) => {
    const guard = GUARDS[facet]
    it.each([
      ['any', ['admin', 'ops'], 200],
      ['any', ['admin'], 403],
      ['all', ['ops', 'dev'], 200],
      ['all', ['ops', 'admin'], 403],
    ] as const)('match %s of %j → %i', async (match, required, status) => {
      const source = fakeSource(['ops', 'dev'])
      const { app, ran } = appWith({ [facet]: source }, (app, ran) =>
        app.get('/r', guard([...required], { match }), ok(ran)),
      )
      const res = await request(app).get('/r').set('Authorization', token())
      expect(res.status).toBe(status)
      expect(ran.count).toBe(status === 200 ? 1 : 0)
      if (status === 403) {
        expect(res.body).toEqual({
          error: 'forbidden',
          error_description: `missing a required ${facet.replace(/s$/, '')}`,
        })
        expect(res.headers['www-authenticate']).toBeUndefined()
      }
    })

    it('anonymous → 401 with the bare Bearer challenge, and the source is never asked', async () => {
      const source = fakeSource(['ops'])
      const { app, ran } = appWith({ [facet]: source }, (app, ran) =>
        app.get('/r', guard(['ops']), ok(ran)),
      )
      const res = await request(app).get('/r')
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe('Bearer realm="api"')
      expect(ran.count).toBe(0)
      expect(source.state.calls).toBe(0)
    })

    it.each(['throw', 'hang', 'null'] as const)(
      'a source that %ss → 503 temporarily_unavailable with Retry-After; the handler never runs',
      async (mode) => {
        const source = fakeSource(['ops'])
        source.state.mode = mode
        const { app, ran } = appWith(
          { [facet]: source },
          (app, ran) => app.get('/r', guard(['ops'], { status: 404 }), ok(ran)),
          { sourceTimeoutMs: 25 },
        )
        const res = await request(app).get('/r').set('Authorization', token())
        expect(res.status).toBe(503)
        expect(res.body.error).toBe('temporarily_unavailable')
        expect(res.headers['retry-after']).toBe('5')
        expect(ran.count).toBe(0)
      },
    )

    it('no source configured → the facet is empty → 403, never access', async () => {
      const { app, ran } = appWith({}, (app, ran) => app.get('/r', guard(['ops']), ok(ran)))
      expect((await request(app).get('/r').set('Authorization', token())).status).toBe(403)
      expect(ran.count).toBe(0)
    })
  })

  describe('requireScopes', () => {
    it.each([
      ['any', ['orders.read', 'orders.write'], 200],
      ['all', ['orders.read', 'profile'], 200],
      ['any', ['orders.write'], 403],
      ['all', ['orders.read', 'orders.write'], 403],
    ] as const)('match %s of %j → %i', async (match, required, status) => {
      const { app } = appWith({}, (app, ran) =>
        app.get('/r', requireScopes([...required], { match }), ok(ran)),
      )
      const res = await request(app).get('/r').set('Authorization', token())
      expect(res.status).toBe(status)
      if (status === 403) {
        expect(res.body.error).toBe('insufficient_scope')
        expect(res.headers['www-authenticate']).toBe(
          `Bearer realm="api", error="insufficient_scope", error_description="the token lacks a required scope", scope="${required.join(' ')}"`,
        )
      }
    })

    it('reads Entra-style scp too, and answers 401 to anonymous requests', async () => {
      const { app } = appWith({}, (app, ran) => app.get('/r', requireScopes(['a']), ok(ran)))
      const scp = token({ scope: undefined, scp: 'a b' })
      expect((await request(app).get('/r').set('Authorization', scp)).status).toBe(200)
      expect((await request(app).get('/r')).status).toBe(401)
    })
  })

  it('permission wildcards: orders:* covers orders:read but not invoices:read', async () => {
    const source = fakeSource(['orders:*', '*:export'])
    const { app } = appWith({ permissions: source }, (app, ran) => {
      app.get('/orders', requirePermissions(['orders:read']), ok(ran))
      app.get('/orders/own', requirePermissions(['orders:read:own']), ok(ran))
      app.get('/invoices', requirePermissions(['invoices:read']), ok(ran))
      app.get('/export', requirePermissions(['invoices:export']), ok(ran))
    })
    const auth = token()
    expect((await request(app).get('/orders').set('Authorization', auth)).status).toBe(200)
    expect((await request(app).get('/orders/own').set('Authorization', auth)).status).toBe(200)
    expect((await request(app).get('/invoices').set('Authorization', auth)).status).toBe(403)
    expect((await request(app).get('/export').set('Authorization', auth)).status).toBe(200)
  })

  it('status and redirect options: redirect for anonymous visitors, status for refusals', async () => {
    const { app } = appWith({ groups: fakeSource(['ops']) }, (app, ran) => {
      app.get('/hidden', requireGroups(['admin'], { status: 404 }), ok(ran))
      app.get('/page', requireGroups(['admin'], { redirect: '/login' }), ok(ran))
    })
    const hidden = await request(app).get('/hidden').set('Authorization', token())
    expect(hidden.status).toBe(404)
    expect(hidden.body).toEqual({ error: 'not_found' })
    expect(hidden.headers['www-authenticate']).toBeUndefined()
    // A 404 is cacheable by default: a shared cache must not keep it for another user.
    expect(hidden.headers['cache-control']).toBe('no-store')
    const anonymousHidden = await request(app).get('/hidden')
    expect(anonymousHidden.status).toBe(404)
    expect(anonymousHidden.headers['cache-control']).toBe('no-store')
    const forbidden = await request(app).get('/page').set('Authorization', token())
    expect(forbidden.headers['cache-control']).toBe('no-store')
    const anonymous = await request(app).get('/page')
    expect(anonymous.status).toBe(302)
    expect(anonymous.headers['location']).toBe('/login?next=%2Fpage')
    expect((await request(app).get('/page').set('Authorization', token())).status).toBe(403)
  })

  describe('combinators', () => {
    it('requireAll: every guard, left to right, and a later facet is not loaded after a refusal', async () => {
      const groups = fakeSource(['ops'])
      const { app } = appWith({ groups }, (app, ran) => {
        app.get(
          '/both',
          requireAll(requireScopes(['orders.read']), requireGroups(['ops'])),
          ok(ran),
        )
        app.get(
          '/no-scope',
          requireAll(requireScopes(['orders.write']), requireGroups(['ops'])),
          ok(ran),
        )
      })
      expect((await request(app).get('/both').set('Authorization', token())).status).toBe(200)
      expect(groups.state.calls).toBe(1)
      const res = await request(app).get('/no-scope').set('Authorization', token())
      expect(res.status).toBe(403)
      expect(res.body.error).toBe('insufficient_scope')
      expect(groups.state.calls).toBe(1)
    })

    it('requireAny: one guard is enough; nested; the refusing guard keeps its status', async () => {
      const roles = fakeSource(['auditor'])
      const groups = fakeSource(['dev'])
      const { app } = appWith({ roles, groups }, (app, ran) => {
        app.get(
          '/report',
          requireAny(
            requireRoles(['auditor']),
            requireAll(requireGroups(['ops']), requireScopes(['report.read'])),
          ),
          ok(ran),
        )
        app.get(
          '/ops',
          requireAny(requireGroups(['ops'], { status: 404 }), requireRoles(['admin'])),
          ok(ran),
        )
      })
      expect((await request(app).get('/report').set('Authorization', token())).status).toBe(200)
      expect(groups.state.calls).toBe(0)
      expect((await request(app).get('/ops').set('Authorization', token())).status).toBe(404)
    })

    it('requireAny: a source that is down does not decide alone; when nothing holds → 503', async () => {
      const groups = fakeSource(['ops'])
      groups.state.mode = 'throw'
      const { app } = appWith({ groups }, (app, ran) => {
        app.get('/a', requireAny(requireGroups(['ops']), requireScopes(['orders.read'])), ok(ran))
        app.get('/b', requireAny(requireGroups(['ops']), requireScopes(['nope'])), ok(ran))
      })
      expect((await request(app).get('/a').set('Authorization', token())).status).toBe(200)
      expect((await request(app).get('/b').set('Authorization', token())).status).toBe(503)
    })

    it('anonymous → 401 before any rule runs', async () => {
      const { app } = appWith({}, (app, ran) =>
        app.get('/x', requireAny(requireScopes(['a']), requireScopes(['b'])), ok(ran)),
      )
      expect((await request(app).get('/x')).status).toBe(401)
    })
  })

  it('a facet is fetched once per request however many guards and handlers await it', async () => {
    const groups = fakeSource(['ops', 'dev'])
    const { app } = appWith(
      { groups },
      (app) =>
        app.get(
          '/r',
          requireGroups(['ops']),
          requireGroups(['dev']),
          requireAll(
            requireGroups(['ops']),
            requireAny(requireGroups(['x']), requireGroups(['dev'])),
          ),
          async (req, res) => {
            const [a, b] = await Promise.all([req.currentUser.groups, req.currentUser.groups])
            res.json({ a, b, again: await hasGroups(req, ['ops']) })
          },
        ),
      { sourceCache: false },
    )
    const res = await request(app).get('/r').set('Authorization', token())
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ a: ['ops', 'dev'], b: ['ops', 'dev'], again: true })
    expect(groups.state.calls).toBe(1)
    await request(app).get('/r').set('Authorization', token())
    expect(groups.state.calls).toBe(2) // cache off: once per request
  })

  it('with the cache on, a burst of one user costs one lookup; forgetUser makes it ask again', async () => {
    const groups = fakeSource(['ops'])
    const { app, verifier } = appWith({ groups }, (app, ran) =>
      app.get('/r', requireGroups(['ops']), ok(ran)),
    )
    const auth = token()
    const burst = await Promise.all(
      Array.from({ length: 25 }, () => request(app).get('/r').set('Authorization', token())),
    )
    expect(burst.every((res) => res.status === 200)).toBe(true)
    expect(groups.state.calls).toBe(1)
    const other = token({ sub: 'bob' })
    await request(app).get('/r').set('Authorization', other)
    expect(groups.state.calls).toBe(2)
    verifier!.forgetUser({ issuer: idp.issuer, subject: 'alice' })
    await request(app).get('/r').set('Authorization', auth)
    expect(groups.state.calls).toBe(3)
  })

  describe('has* helpers', () => {
    it('answer booleans for handlers; false for anonymous; reject with 503 on an outage', async () => {
      const groups = fakeSource(['ops'])
      const roles = fakeSource(['viewer'])
      const permissions = fakeSource(['orders:*'])
      const { app } = appWith({ groups, roles, permissions }, (app) =>
        app.get('/r', async (req, res) => {
          try {
            res.json({
              groups: await hasGroups(req, ['ops']),
              groupsAll: await hasGroups(req, ['ops', 'x'], { match: 'all' }),
              roles: await hasRoles(req, ['admin']),
              permissions: await hasPermissions(req, ['orders:write']),
              scopes: hasScopes(req, ['orders.read']),
            })
          } catch (error) {
            res.status((error as { status: number }).status).json({ failed: true })
          }
        }),
      )
      expect((await request(app).get('/r').set('Authorization', token())).body).toEqual({
        groups: true,
        groupsAll: false,
        roles: false,
        permissions: true,
        scopes: true,
      })
      expect((await request(app).get('/r')).body).toEqual({
        groups: false,
        groupsAll: false,
        roles: false,
        permissions: false,
        scopes: false,
      })
      groups.state.mode = 'throw'
      const down = await request(app)
        .get('/r')
        .set('Authorization', token({ sub: 'carol' }))
      expect(down.status).toBe(503)
    })
  })
})

describe('guard arguments are checked when the route is defined', () => {
  it.each([
    [
      'a string instead of a list (the seed’s substring footgun)',
      () => requireGroups('admin' as never),
    ],
    ['an empty list', () => requireRoles([])],
    ['a blank entry', () => requireScopes(['read', ' '])],
    ['a wildcard in a required permission', () => requirePermissions(['orders:*'])],
    ['a bad match', () => requireGroups(['a'], { match: 'some' as never })],
    ['a bad status', () => requireGroups(['a'], { status: 302 })],
    [
      'requireAll with a plain function',
      () => requireAll(((_req: unknown, _res: unknown, next: () => void) => next()) as never),
    ],
    ['requireAny with nothing', () => requireAny()],
  ])('%s is a ConfigError', (_case, define) => {
    expect(define).toThrow(ConfigError)
  })

  it('has* helpers check their lists too', async () => {
    const req = { currentUser: undefined } as never
    await expect(hasGroups(req, 'admin' as never)).rejects.toBeInstanceOf(ConfigError)
    expect(() => hasScopes(req, [])).toThrow(ConfigError)
  })
})

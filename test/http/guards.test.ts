import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConfigError,
  JwksCache,
  jwtAuth,
  requireScopes,
  requireUser,
  type RequireUserOptions,
} from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://guards.example' })
})

afterAll(() => idp.close())

function idpProvider(): JwksProvider {
  return new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    jwksCache: new JwksCache({ fetch: idp.fetch }),
  })
}

describe.each(EXPRESS_MAJORS)('requireUser on %s', (_name, createApp) => {
  function appWith(options: RequireUserOptions) {
    const app = createApp()
    const provider = idpProvider()
    app.use(jwtAuth({ provider, realm: 'api', logger: false }))
    app.get('/page', requireUser(options), whoAmI())
    return app
  }
  const human = () => `Bearer ${idp.mint({ sub: 'alice' })}`
  const machine = () => `Bearer ${idp.mint({ sub: 'svc', client_id: 'svc' })}`

  it('redirects an anonymous visitor with the page in ?next=', async () => {
    const res = await request(appWith({ redirect: '/login' })).get('/page?tab=2')
    expect(res.status).toBe(302)
    expect(res.headers['location']).toBe('/login?next=%2Fpage%3Ftab%3D2')
  })

  it('answers with a custom status that hides the route: plain body, no challenge, even over onError', async () => {
    const res = await request(appWith({ status: 404 })).get('/page')
    expect(res.status).toBe(404)
    expect(res.body).toEqual({ error: 'not_found' })
    expect(res.headers['www-authenticate']).toBeUndefined()
    const app = createApp()
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      fetch: idp.fetch,
    })
    app.use(
      jwtAuth({ provider, logger: false, onError: (_error, _req, res) => res.status(418).end() }),
    )
    app.get('/page', requireUser({ status: 404 }), whoAmI())
    expect((await request(app).get('/page')).status).toBe(404)
  })

  it("kind: 'human' refuses machine tokens with 403 forbidden, and lets people in", async () => {
    const app = appWith({ kind: 'human' })
    expect((await request(app).get('/page').set('Authorization', machine())).status).toBe(403)
    expect((await request(app).get('/page').set('Authorization', human())).status).toBe(200)
  })

  it("kind: 'm2m' refuses people with 403 forbidden, even with redirect", async () => {
    const app = appWith({ kind: 'm2m', redirect: '/login' })
    const res = await request(app).get('/page').set('Authorization', human())
    expect(res.status).toBe(403)
    expect(res.body.error).toBe('forbidden')
    expect((await request(app).get('/page').set('Authorization', machine())).status).toBe(200)
  })
})

describe.each(EXPRESS_MAJORS)('guards answer as the last jwtAuth on %s', (_name, createApp) => {
  it("a jwtAuth with the default answer replaces an earlier one's realm", async () => {
    const app = createApp()
    const provider = idpProvider()
    app.use(jwtAuth({ provider, realm: 'outer', logger: false }))
    app.get('/outer', requireScopes(['admin']), whoAmI())
    app.use('/inner', jwtAuth({ provider, logger: false }))
    app.get('/inner/page', requireScopes(['admin']), whoAmI())
    const token = `Bearer ${idp.mint({ sub: 'alice', scope: 'read' })}`
    const outer = await request(app).get('/outer').set('Authorization', token)
    expect(outer.status).toBe(403)
    expect(outer.headers['www-authenticate']).toMatch(
      /^Bearer realm="outer", error="insufficient_scope"/,
    )
    const inner = await request(app).get('/inner/page').set('Authorization', token)
    expect(inner.status).toBe(403)
    expect(inner.headers['www-authenticate']).toMatch(/^Bearer error="insufficient_scope"/)
  })
})

describe('guard options are checked when the route is defined', () => {
  it.each([
    { status: 200 },
    { status: 700 },
    { status: 401 },
    { status: 407 },
    // A refusal answered as a server error would count as an outage (and 503 needs Retry-After).
    { status: 500 },
    { status: 503 },
    { status: 599 },
    { redirect: '' },
    { kind: 'robot' },
  ])('refuses %j', (options) => {
    expect(() => requireUser(options as RequireUserOptions)).toThrow(ConfigError)
  })

  it('takes any client error status but 401 and 407', () => {
    for (const status of [400, 403, 404, 418, 499])
      expect(() => requireUser({ status })).not.toThrow()
    expect(() => requireUser({ status: 503 })).toThrow(/client error status \(400-499\)/)
  })

  it('refuses an unsafe realm and unknown invalidToken mode', () => {
    const provider = new JwksProvider({
      issuer: 'https://x.example',
      jwksUri: 'https://x.example/k',
      audience: 'a',
    })
    expect(() => jwtAuth({ provider, realm: 'a"b' })).toThrow(/realm/)
    expect(() => jwtAuth({ provider, invalidToken: 'ignore' as never })).toThrow(/invalidToken/)
    // A junk token would otherwise slip past credentialsRequired as the anonymous user.
    expect(() =>
      jwtAuth({ provider, credentialsRequired: true, invalidToken: 'anonymous' }),
    ).toThrow(/contradict each other/)
  })
})

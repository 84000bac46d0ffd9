// Review 10: a user an earlier middleware set meets this jwtAuth's own checks, and a throw while
// jwtAuth answers a bad token reaches Express's error handlers, on Express 4 and 5.

import type { ErrorRequestHandler, Express, RequestHandler } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiKeyAuth, hashApiKey } from '../../src/api-key-auth.js'
import { requireScopes, requireUser } from '../../src/guards.js'
import { jwtAuth } from '../../src/middleware.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { User } from '../../src/user.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

let web: TestIssuer
let partner: TestIssuer

beforeAll(async () => {
  ;[web, partner] = await Promise.all([
    createTestIssuer({ listen: false, issuer: 'https://web.example', audience: 'web' }),
    createTestIssuer({ listen: false, issuer: 'https://partner.example', audience: 'partner' }),
  ])
})

afterAll(async () => {
  await Promise.all([web.close(), partner.close()])
})

const webProvider = (): JwksProvider => new JwksProvider(web.providerOptions)
const partnerProvider = (): JwksProvider => new JwksProvider(partner.providerOptions)
const NOT_TRUSTED = { error: 'invalid_token', error_description: 'token issuer is not trusted' }

/** The app's own error handler: what answers a throw handed to next(error). */
const answerThrow: ErrorRequestHandler = (error: Error, _req, res, _next) => {
  res.status(500).json({ handledByApp: error.message })
}

describe.each(EXPRESS_MAJORS)('two jwtAuth instances on %s', (_name, createApp) => {
  /**
   * The web's jwtAuth reads its session cookie app-wide; the partner API's own jwtAuth reads the
   * Authorization header only, and trusts only the partner issuer.
   */
  function twoInstances(partnerAuth: RequestHandler): Express {
    const app = createApp()
    app.use(
      jwtAuth({ provider: webProvider(), tokenLocations: { cookie: 'session' }, logger: false }),
    )
    app.get('/web', requireUser(), whoAmI())
    app.use('/partner', partnerAuth)
    app.get('/partner/orders', requireScopes(['partner.read']), whoAmI())
    app.get('/partner/who', whoAmI())
    return app
  }

  const webToken = (): string => web.mint({ sub: 'web-user', scope: 'partner.read' })

  it("a web session's token meets the partner instance's issuer check, as in the header", async () => {
    const app = twoInstances(
      jwtAuth({ provider: partnerProvider(), credentialsRequired: true, logger: false }),
    )
    const session = `session=${webToken()}`
    expect((await request(app).get('/web').set('Cookie', session)).body).toMatchObject({
      id: 'web-user',
    })
    const fromCookie = await request(app).get('/partner/orders').set('Cookie', session)
    expect(fromCookie.status).toBe(401)
    expect(fromCookie.body).toEqual(NOT_TRUSTED)
    const fromHeader = await request(app)
      .get('/partner/orders')
      .set('Authorization', `Bearer ${webToken()}`)
    expect(fromHeader.status).toBe(401)
    expect(fromHeader.body).toEqual(NOT_TRUSTED)
  })

  it("under invalidToken: 'anonymous' the web user goes on as the anonymous user there", async () => {
    const app = twoInstances(
      jwtAuth({ provider: partnerProvider(), invalidToken: 'anonymous', logger: false }),
    )
    const res = await request(app).get('/partner/who').set('Cookie', `session=${webToken()}`)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: '', isAuthenticated: false })
    const guarded = await request(app).get('/partner/orders').set('Cookie', `session=${webToken()}`)
    expect(guarded.status).toBe(401)
  })

  it('a partner instance that trusts the web issuer too takes its session user as verified', async () => {
    const app = twoInstances(
      jwtAuth({
        providers: [partnerProvider(), webProvider()],
        credentialsRequired: true,
        logger: false,
      }),
    )
    const res = await request(app).get('/partner/orders').set('Cookie', `session=${webToken()}`)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: 'web-user', isAuthenticated: true, provider: 'jwks' })
  })

  it('a user from a token no one kept is not taken on trust by a later instance', async () => {
    const forgetful = webProvider()
    forgetful.createUser = (verified, sources) =>
      new User({ provider: 'forgetful', claims: verified.claims }, { id: 'forgetful' }, sources)
    const app = createApp()
    app.use(jwtAuth({ provider: forgetful, tokenLocations: { cookie: 'session' }, logger: false }))
    app.use(jwtAuth({ provider: partnerProvider(), credentialsRequired: true, logger: false }))
    app.get('/partner/who', whoAmI())
    const res = await request(app).get('/partner/who').set('Cookie', `session=${webToken()}`)
    expect(res.status).toBe(401)
    expect(res.body).toEqual({
      error: 'unauthorized',
      error_description: 'authentication required',
    })
  })
})

describe.each(EXPRESS_MAJORS)('an earlier user on %s', (_name, createApp) => {
  it('that is no oidc-guard User vouches for nothing', async () => {
    const app = createApp()
    app.use((req, _res, next) => {
      ;(req as unknown as { currentUser: unknown }).currentUser = {
        isAuthenticated: true,
        id: 'from-session',
        scopes: ['admin'],
      }
      next()
    })
    app.use(
      '/required',
      jwtAuth({ provider: webProvider(), credentialsRequired: true, logger: false }),
    )
    app.use('/optional', jwtAuth({ provider: webProvider(), logger: false }))
    app.get('/required/admin', requireScopes(['admin']), whoAmI())
    app.get('/optional/admin', requireScopes(['admin']), whoAmI())
    app.get('/optional/who', whoAmI())
    const required = await request(app).get('/required/admin')
    expect(required.status).toBe(401)
    expect(required.body.error_description).toBe('authentication required')
    expect((await request(app).get('/optional/admin')).status).toBe(401)
    expect((await request(app).get('/optional/who')).body).toMatchObject({
      id: '',
      isAuthenticated: false,
    })
  })

  it('signed in by apiKeyAuth passes a later jwtAuth with credentialsRequired, as documented', async () => {
    const app = createApp()
    app.use(
      apiKeyAuth({ keys: [{ id: 'billing', hash: hashApiKey('billing-key') }], logger: false }),
    )
    app.use(jwtAuth({ provider: webProvider(), credentialsRequired: true, logger: false }))
    app.get('/who', requireUser(), whoAmI())
    const res = await request(app).get('/who').set('X-Api-Key', 'billing-key')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: 'billing', provider: 'api-key' })
    expect((await request(app).get('/who')).status).toBe(401)
  })
})

describe.each(EXPRESS_MAJORS)(
  'a throw while jwtAuth answers a bad token on %s',
  (_name, createApp) => {
    const badToken = (): string => web.mint({ sub: 'tampered' }, { tamper: 'signature' })

    it("from a response wrapper reaches the app's error handler, not an unhandled rejection", async () => {
      const app = createApp()
      app.use((_req, res, next) => {
        const json = res.json.bind(res)
        res.json = (body: unknown) => {
          if (res.statusCode === 401) throw new Error('audit wrapper failed')
          return json(body)
        }
        next()
      })
      app.use(jwtAuth({ provider: webProvider(), logger: false }))
      app.get('/me', requireUser(), whoAmI())
      app.use(answerThrow)
      const res = await request(app).get('/me').set('Authorization', `Bearer ${badToken()}`)
      expect(res.status).toBe(500)
      expect(res.body).toEqual({ handledByApp: 'audit wrapper failed' })
    })

    it("from a read-only req.currentUser reaches the app's error handler", async () => {
      const app = createApp()
      app.use((req, _res, next) => {
        Object.defineProperty(req, 'currentUser', { value: User.anonymous, writable: false })
        next()
      })
      app.use(jwtAuth({ provider: webProvider(), logger: false }))
      app.get('/me', whoAmI())
      app.use(answerThrow)
      const res = await request(app).get('/me').set('Authorization', `Bearer ${badToken()}`)
      expect(res.status).toBe(500)
      expect(res.body).toEqual({
        handledByApp: 'req.currentUser is read-only: oidc-guard cannot set the user',
      })
    })
  },
)

// Mistakes a consumer of the packed package ran into: a guard factory mounted without its call,
// and the challenge Express's default handler writes when onError hands the error to next().

import type { ErrorRequestHandler, Express, RequestHandler } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { basicAuth } from '../../src/basic-auth.js'
import { authErrorHandler } from '../../src/error-handler.js'
import { hasGroups } from '../../src/has-checks.js'
import {
  requireAll,
  requireAny,
  requireGroups,
  requirePermissions,
  requireRoles,
  requireScopes,
  requireUser,
} from '../../src/guards.js'
import { jwtAuth } from '../../src/middleware.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import type { GroupsProvider } from '../../src/contracts.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://consumer-review.example'))
})

afterAll(() => idp.close())

const ok: RequestHandler = (_req, res) => {
  res.json({ ok: true })
}

// Answers with what reached Express's error handlers, so a test can read the error's message.
const reportError: ErrorRequestHandler = (error: Error & { code?: string }, _req, res, _next) => {
  res.status(500).json({ code: error.code, message: error.message })
}

const FACTORIES = [
  ['requireUser', requireUser],
  ['requireGroups', requireGroups],
  ['requireRoles', requireRoles],
  ['requirePermissions', requirePermissions],
  ['requireScopes', requireScopes],
  ['requireAll', requireAll],
  ['requireAny', requireAny],
] as const

describe.each(EXPRESS_MAJORS)('a guard factory mounted without its call, on %s', (_n, create) => {
  it.each(FACTORIES)('app.use(%s) answers a ConfigError naming the fix', async (name, factory) => {
    const app = create()
    app.use(jwtAuth({ provider, logger: false }))
    app.use(factory as unknown as RequestHandler)
    app.get('/a', ok)
    app.use(reportError)
    const res = await request(app)
      .get('/a')
      .set('Authorization', `Bearer ${idp.mint()}`)
      .timeout(2_000) // it used to hang for requireUser
    expect(res.status).toBe(500)
    expect(res.body.code).toBe('ERR_AUTH_CONFIG')
    expect(res.body.message).toContain(`${name} is a guard factory: write app.use(${name}(`)
    // Never the arguments: the response's methods used to be printed, source code and all.
    expect(res.body.message).not.toMatch(/function|=>|\[object/)
  })

  it('a route with requireUser uncalled answers a ConfigError', async () => {
    const app = create()
    app.use(jwtAuth({ provider, logger: false }))
    app.get('/a', requireUser as unknown as RequestHandler, ok)
    app.use(reportError)
    const res = await request(app).get('/a').timeout(2_000)
    expect(res.body.message).toBe(
      'oidc-guard: requireUser is a guard factory: write app.use(requireUser())',
    )
  })
})

describe.each(EXPRESS_MAJORS)('onError handing the error to next(), on %s', (_n, create) => {
  const metadata = 'https://api.example.com/.well-known/oauth-protected-resource'

  function bearerApp(): Express {
    const app = create()
    app.use(
      jwtAuth({
        provider,
        logger: false,
        realm: 'orders',
        resourceMetadata: metadata,
        onError: (error, _req, _res, next) => next(error),
      }),
    )
    app.get('/a', requireUser(), ok)
    app.get('/scoped', requireScopes(['orders.write']), ok)
    return app
  }

  it("Express's default handler answers with the realm and resource metadata", async () => {
    const res = await request(bearerApp()).get('/a')
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe(
      `Bearer realm="orders", resource_metadata="${metadata}"`,
    )
  })

  it('so does a refused token, and a missing scope', async () => {
    const app = bearerApp()
    const refused = await request(app).get('/a').set('Authorization', 'Bearer not.a.token')
    expect(refused.status).toBe(401)
    expect(refused.headers['www-authenticate']).toMatch(
      new RegExp(`^Bearer realm="orders", resource_metadata="${metadata}", error="invalid_token"`),
    )
    const scoped = await request(app).get('/scoped').set('Authorization', `Bearer ${idp.mint()}`)
    expect(scoped.status).toBe(403)
    expect(scoped.headers['www-authenticate']).toMatch(
      /^Bearer realm="orders", resource_metadata=".*", error="insufficient_scope"/,
    )
  })

  it('basicAuth keeps its Basic challenge, also through authErrorHandler', async () => {
    for (const withHandler of [false, true]) {
      const app = create()
      app.use(
        basicAuth({
          credentialsRepository: { getCredentials: () => undefined },
          realm: 'orders',
          logger: false,
          onError: (error, _req, _res, next) => next(error),
        }),
      )
      app.get('/a', requireUser(), ok)
      if (withHandler) app.use(authErrorHandler({ realm: 'other' }))
      const res = await request(app).get('/a')
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="orders"/)
    }
  })
})

describe.each(EXPRESS_MAJORS)(
  'a handler that asks hasGroups of a source that is down, on %s',
  (_n, create) => {
    // The form docs/authorization.md shows for Express 4 (and works on 5): the rejection goes to next.
    it('answers 503 through next(error)', async () => {
      const down: GroupsProvider = {
        fetchGroups: () => Promise.reject(new Error('directory down')),
      }
      const app = create()
      app.use(jwtAuth({ provider, logger: false, groups: down, sourceCache: false }))
      app.get('/orders/:id', async (req, res, next) => {
        try {
          res.json({ internal: await hasGroups(req, ['admin']) })
        } catch (error) {
          next(error)
        }
      })
      const res = await request(app).get('/orders/7').set('Authorization', `Bearer ${idp.mint()}`)
      expect(res.status).toBe(503)
      expect(res.headers['retry-after']).toMatch(/^\d+$/)
    })
  },
)

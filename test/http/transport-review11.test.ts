// Review 11, transport: the guard's redirect is no-store as every refusal is, a quoted NODE_ENV
// still refuses the disabled switch, and an encoded tokenLocations.query name is refused.

import type { Express } from 'express'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  ConfigError,
  jwtAuth,
  requireAll,
  requireScopes,
  requireUser,
  type JwtAuthOptions,
} from '../../src/index.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://transport11.example'))
})

afterAll(() => idp.close())

describe.each(EXPRESS_MAJORS)('the redirect of anonymous visitors on %s', (_name, createApp) => {
  // An app behind a CDN that marks everything cacheable, with cookie tokens for its browser pages.
  function cacheableApp(): Express {
    const app = createApp()
    app.use((_req, res, next) => {
      res.set('Cache-Control', 'public, max-age=300')
      next()
    })
    app.use(jwtAuth({ provider, logger: false, tokenLocations: { cookie: 'tok' } }))
    app.get('/dash', requireUser({ redirect: '/login' }), (_req, res) => res.end('dash'))
    app.get(
      '/ops',
      requireAll(requireUser({ redirect: '/login' }), requireScopes(['ops'])),
      (_req, res) => res.end('ops'),
    )
    app.get('/api', requireUser(), (_req, res) => res.end('api'))
    app.get('/hidden', requireUser({ status: 404 }), (_req, res) => res.end('hidden'))
    return app
  }

  it('is sent Cache-Control: no-store over the cacheable one the app set, as the 401 and 404 are', async () => {
    const app = cacheableApp()
    for (const path of ['/dash', '/ops']) {
      const res = await request(app).get(path)
      expect(res.status).toBe(302)
      expect(res.headers['location']).toBe(`/login?next=${encodeURIComponent(path)}`)
      expect(res.headers['cache-control']).toBe('no-store')
    }
    for (const [path, status] of [
      ['/api', 401],
      ['/hidden', 404],
    ] as const) {
      const res = await request(app).get(path)
      expect(res.status).toBe(status)
      expect(res.headers['cache-control']).toBe('no-store')
    }
  })

  it('lets a signed-in user through with the cacheable answer the app chose', async () => {
    const res = await request(cacheableApp())
      .get('/dash')
      .set('Cookie', `tok=${idp.mint({ sub: 'alice' })}`)
    expect(res.status).toBe(200)
    expect(res.text).toBe('dash')
  })
})

describe('the disabled switch under a quoted NODE_ENV', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  const QUOTED = ['"production"', "'production'", ' "production" ', '" Production "', "'prod'"]

  it.each(QUOTED)('is refused with NODE_ENV=%s in process.env', (value) => {
    vi.stubEnv('NODE_ENV', value)
    expect(() => jwtAuth({ disabled: true, logger: false })).toThrow(ConfigError)
    expect(() => jwtAuth({ disabled: true, logger: false })).toThrow(/NODE_ENV=production/)
  })

  it.each(QUOTED)('is refused with NODE_ENV=%s in the env option', (value) => {
    vi.stubEnv('NODE_ENV', 'development')
    const options: JwtAuthOptions = {
      env: { NODE_ENV: value, AUTH_MIDDLEWARE_DISABLED: 'true' },
      logger: false,
    }
    expect(() => jwtAuth(options)).toThrow(/NODE_ENV=production/)
    expect(() => jwtAuth({ disabled: true, env: { NODE_ENV: value }, logger: false })).toThrow(
      /NODE_ENV=production/,
    )
  })

  it('is still accepted when quoted production is allowed, or quotes hold another value', () => {
    vi.stubEnv('NODE_ENV', 'development')
    expect(() =>
      jwtAuth({
        disabled: true,
        allowDisabledInProduction: true,
        env: { NODE_ENV: '"production"' },
        logger: false,
      }),
    ).not.toThrow()
    for (const value of ['"development"', "'test'", '""']) {
      expect(() =>
        jwtAuth({ disabled: true, env: { NODE_ENV: value }, logger: false }),
      ).not.toThrow()
    }
  })
})

describe.each(EXPRESS_MAJORS)('tokenLocations.query on %s', (_name, createApp) => {
  it.each(['access%5Ftoken', 'tok%20en', 'a%'])(
    'refuses the encoded name %j at construction',
    (name) => {
      expect(() => jwtAuth({ provider, logger: false, tokenLocations: { query: name } })).toThrow(
        /tokenLocations\.query must be the parameter name decoded \(access_token, not access%5Ftoken\)/,
      )
    },
  )

  it('reads a token under the decoded name, and under a name with + sent as %2B', async () => {
    for (const [name, sent] of [
      ['access_token', 'access%5Ftoken'],
      ['my+token', 'my%2Btoken'],
    ] as const) {
      const app = createApp()
      app.use(jwtAuth({ provider, logger: false, tokenLocations: { query: name } }))
      app.get('/me', requireUser(), (req, res) => res.json({ id: req.currentUser.id }))
      const res = await request(app).get(`/me?${sent}=${idp.mint({ sub: 'q' })}`)
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ id: 'q' })
    }
  })

  it('leaves cookie names alone: they are matched as written, never decoded', async () => {
    const app = createApp()
    app.use(jwtAuth({ provider, logger: false, tokenLocations: { cookie: 'tok%5Fen' } }))
    app.get('/me', requireUser(), (req, res) => res.json({ id: req.currentUser.id }))
    const res = await request(app)
      .get('/me')
      .set('Cookie', `tok%5Fen=${idp.mint({ sub: 'c' })}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ id: 'c' })
  })
})

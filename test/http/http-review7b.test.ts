// Review 7 of the HTTP contract: answers to a token from the query or a cookie are private (RFC
// 6750 §2.3), token cookies sent twice or quoted, and sendAuthError in onError keeping the challenge.

import express, { type RequestHandler } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  jwtAuth,
  requireUser,
  sendAuthError,
  UnavailableError,
  type JwtAuthOptions,
} from '../../src/index.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://http-review7b.example'))
})

afterAll(() => idp.close())

const METADATA = 'https://api.example.com/.well-known/oauth-protected-resource'

describe.each(EXPRESS_MAJORS)('the HTTP contract on %s', (_name, createApp) => {
  function appWith(options: Partial<JwtAuthOptions> = {}, before: RequestHandler[] = []) {
    const app = createApp()
    app.use(express.urlencoded({ extended: false }))
    for (const handler of before) app.use(handler)
    app.use(
      jwtAuth({
        provider,
        logger: false,
        tokenLocations: { query: true, formBody: true, cookie: 'token' },
        ...options,
      }),
    )
    app.all('/me', requireUser(), whoAmI())
    app.get('/open', whoAmI())
    app.get('/down', requireUser(), (_req, _res, next) => {
      next(new UnavailableError('ERR_AUTH_SOURCE_UNAVAILABLE', 'down', { retryAfterSec: 1e21 }))
    })
    return app
  }

  describe('an answer to a token that is not in the Authorization header is private', () => {
    it('a query token: Cache-Control: private (RFC 6750 §2.3)', async () => {
      const res = await request(appWith()).get(`/me?access_token=${idp.mint({ sub: 'q' })}`)
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ id: 'q' })
      expect(res.headers['cache-control']).toBe('private')
      expect(res.headers['vary']).toBeUndefined()
    })

    it('a cookie token: Cache-Control: private and Vary: Cookie', async () => {
      const res = await request(appWith())
        .get('/me')
        .set('Cookie', `token=${idp.mint({ sub: 'c' })}`)
      expect(res.status).toBe(200)
      expect(res.headers['cache-control']).toBe('private')
      expect(res.headers['vary']).toBe('Cookie')
    })

    it('a form token: Cache-Control: private', async () => {
      const res = await request(appWith())
        .post('/me')
        .type('form')
        .send({ access_token: idp.mint({ sub: 'f' }) })
      expect(res.status).toBe(200)
      expect(res.headers['cache-control']).toBe('private')
    })

    it('a token remembered from before is private too', async () => {
      const app = appWith()
      const token = idp.mint({ sub: 'again' })
      await request(app).get(`/me?access_token=${token}`).expect(200)
      const res = await request(app).get(`/me?access_token=${token}`)
      expect(res.status).toBe(200)
      expect(res.headers['cache-control']).toBe('private')
    })

    it('Vary: Cookie is added to the Vary the app set; a Cache-Control it set is kept', async () => {
      const app = appWith({}, [
        (_req, res, next) => {
          res.vary('Origin')
          res.set('Cache-Control', 'no-store')
          next()
        },
      ])
      const res = await request(app).get('/me').set('Cookie', `token=${idp.mint()}`)
      expect(res.status).toBe(200)
      expect(res.headers['vary']).toBe('Origin, Cookie')
      expect(res.headers['cache-control']).toBe('no-store')
    })

    it('a header token, or none, adds nothing', async () => {
      const app = appWith()
      const header = await request(app).get('/me').set('Authorization', `Bearer ${idp.mint()}`)
      expect(header.status).toBe(200)
      expect(header.headers['cache-control']).toBeUndefined()
      expect(header.headers['vary']).toBeUndefined()
      const anonymous = await request(app).get('/open')
      expect(anonymous.status).toBe(200)
      expect(anonymous.headers['cache-control']).toBeUndefined()
    })

    it('a refused query token is still answered no-store', async () => {
      const res = await request(appWith()).get(`/me?access_token=${idp.mint({ exp: 1 })}`)
      expect(res.status).toBe(401)
      expect(res.headers['cache-control']).toBe('no-store')
    })
  })

  describe('token cookies', () => {
    it('two token cookies (different Path or Domain) are 400 "more than one token cookie"', async () => {
      const res = await request(appWith())
        .get('/me')
        .set('Cookie', `token=${idp.mint({ sub: 'a' })}; token=${idp.mint({ sub: 'b' })}`)
      expect(res.status).toBe(400)
      expect(res.body).toEqual({
        error: 'invalid_request',
        error_description: 'more than one token cookie',
      })
      expect(res.headers['www-authenticate']).toContain(
        'error_description="more than one token cookie"',
      )
    })

    it('a token cookie in double quotes is read (RFC 6265 §4.1.1)', async () => {
      const res = await request(appWith())
        .get('/me')
        .set('Cookie', `theme=dark; token="${idp.mint({ sub: 'quoted' })}"`)
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ id: 'quoted' })
    })
  })

  describe('sendAuthError(res, error) in onError keeps the challenge jwtAuth gave the error', () => {
    const options: Partial<JwtAuthOptions> = {
      realm: 'api',
      resourceMetadata: METADATA,
      onError: (error, _req, res) => sendAuthError(res, error),
    }

    it('a 401 from a guard carries the realm and resource_metadata', async () => {
      const res = await request(appWith(options)).get('/me')
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="api", resource_metadata="${METADATA}"`,
      )
    })

    it('a 401 from jwtAuth carries them with the error', async () => {
      const res = await request(appWith(options))
        .get('/me')
        .set('Authorization', `Bearer ${idp.mint({ exp: 1 })}`)
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toMatch(
        new RegExp(`^Bearer realm="api", resource_metadata="${METADATA}", error="invalid_token"`),
      )
    })

    it('a realm given to sendAuthError still wins, beside the resource_metadata it was not given', async () => {
      const res = await request(
        appWith({ ...options, onError: (error, _req, res) => sendAuthError(res, error, 'other') }),
      ).get('/me')
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="other", resource_metadata="${METADATA}"`,
      )
    })

    it('the onError of docs/errors.md answers a 401 with its challenge', async () => {
      const res = await request(
        appWith({
          realm: 'api',
          onError: (error, _req, res) =>
            res.status(error.status).set(error.headers).json({ code: error.code }),
        }),
      ).get('/me')
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe('Bearer realm="api"')
      expect(res.body).toEqual({ code: 'ERR_AUTH_CREDENTIALS_REQUIRED' })
    })
  })

  it('a source’s Retry-After of 1e21 is answered as a day in whole seconds', async () => {
    const res = await request(appWith()).get('/down').set('Authorization', `Bearer ${idp.mint()}`)
    expect(res.status).toBe(503)
    expect(res.headers['retry-after']).toBe('86400')
  })
})

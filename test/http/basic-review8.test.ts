// Review fixes (8) of apiKeyAuth and basicAuth over HTTP, on Express 4 and 5: an answer to a
// request carrying the API-key header is private to the caller (Vary on the header, Cache-Control:
// private unless the app chose its own), and a misspelt credentialsRequired never leaves a route
// public.

import express from 'express'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { apiKeyAuth, hashApiKey } from '../../src/api-key-auth.js'
import { basicAuth } from '../../src/basic-auth.js'
import { ConfigError } from '../../src/errors.js'
import { requireUser } from '../../src/guards.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

const keys = [{ id: 'billing', hash: hashApiKey('og_key') }]

describe.each(EXPRESS_MAJORS)('%s', (_major, makeApp) => {
  describe('apiKeyAuth in header mode keeps answers out of shared caches', () => {
    const app = (header?: string) => {
      const built = makeApp()
      built.use(
        apiKeyAuth(
          header === undefined ? { keys, logger: false } : { keys, header, logger: false },
        ),
      )
      built.get('/me', requireUser(), whoAmI())
      built.get('/public', (_req, res) => res.json({ ok: true }))
      return built
    }

    it('a right key: Cache-Control: private and Vary: x-api-key', async () => {
      const response = await request(app()).get('/me').set('x-api-key', 'og_key')
      expect(response.status).toBe(200)
      expect(response.headers['cache-control']).toBe('private')
      expect(response.headers['vary']).toMatch(/\bx-api-key\b/i)
    })

    it('a wrong key (401) and a malformed one (400) vary on it too (errors are no-store)', async () => {
      const wrong = await request(app()).get('/me').set('x-api-key', 'other')
      expect(wrong.status).toBe(401)
      expect(wrong.headers['cache-control']).toBe('no-store')
      expect(wrong.headers['vary']).toMatch(/\bx-api-key\b/i)
      const malformed = await request(app()).get('/me').set('x-api-key', 'a b')
      expect(malformed.status).toBe(400)
      expect(malformed.headers['vary']).toMatch(/\bx-api-key\b/i)
    })

    it('the configured header is the one varied on', async () => {
      const response = await request(app('X-Service-Key')).get('/me').set('x-service-key', 'og_key')
      expect(response.status).toBe(200)
      expect(response.headers['cache-control']).toBe('private')
      expect(response.headers['vary']).toMatch(/\bx-service-key\b/i)
    })

    it("the app's own Cache-Control wins, set before or after the middleware", async () => {
      const before = makeApp()
      before.use((_req, res, next) => {
        res.setHeader('Cache-Control', 'no-store')
        next()
      })
      before.use(apiKeyAuth({ keys, logger: false }))
      before.get('/me', requireUser(), whoAmI())
      const early = await request(before).get('/me').set('x-api-key', 'og_key')
      expect(early.headers['cache-control']).toBe('no-store')
      expect(early.headers['vary']).toMatch(/\bx-api-key\b/i)

      const after = app()
      after.get('/mine', (_req, res) => res.set('Cache-Control', 'max-age=60, private').json({}))
      const late = await request(after).get('/mine').set('x-api-key', 'og_key')
      expect(late.headers['cache-control']).toBe('max-age=60, private')
    })

    it('a static file served to a key holder stays private', async () => {
      const built = app()
      built.use(
        '/files',
        requireUser(),
        express.static(new URL('../../docs', import.meta.url).pathname),
      )
      const response = await request(built).get('/files/errors.md').set('x-api-key', 'og_key')
      expect(response.status).toBe(200)
      expect(response.headers['cache-control']).toBe('private')
      expect(response.headers['vary']).toMatch(/\bx-api-key\b/i)
    })

    it('a request without the header is left alone', async () => {
      const response = await request(app()).get('/public')
      expect(response.status).toBe(200)
      expect(response.headers['cache-control']).toBeUndefined()
      expect(response.headers['vary'] ?? '').not.toMatch(/x-api-key/i)
    })

    it('scheme mode (Authorization) needs neither', async () => {
      const built = makeApp()
      built.use(apiKeyAuth({ keys, scheme: 'ApiKey', logger: false }))
      built.get('/me', requireUser(), whoAmI())
      const response = await request(built).get('/me').set('Authorization', 'ApiKey og_key')
      expect(response.status).toBe(200)
      expect(response.headers['cache-control']).toBeUndefined()
      expect(response.headers['vary'] ?? '').not.toMatch(/x-api-key/i)
    })
  })

  it('basicAuth with credentialRequired (misspelt) refuses to build instead of leaving routes public', () => {
    const built = makeApp()
    const options = {
      credentialsRepository: { getCredentials: () => undefined },
      credentialRequired: true,
      logger: false,
    }
    expect(() => built.use(basicAuth(options as never))).toThrow(ConfigError)
  })
})

// The app starts and serves while the identity provider is down, and recovers by itself.

import request from 'supertest'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { JwksCache, jwtAuth, requireUser } from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer()
})

afterAll(() => idp.close())

it('serves anonymous routes and answers 503 on guarded ones while the IdP is down, then recovers', async () => {
  vi.useFakeTimers({ toFake: ['Date'] })
  idp.respondWith('jwks', { status: 503 })
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    jwksCache: new JwksCache(),
  })
  // Construction fetches nothing: an app whose IdP is down still starts.
  const app = EXPRESS_MAJORS[0]![1]()
  app.use(jwtAuth({ provider, logger: false }))
  app.get('/public', whoAmI())
  app.get('/private', requireUser(), whoAmI())
  expect(idp.counts.jwks).toBe(0)

  const token = `Bearer ${idp.mint({ sub: 'alice' }, { expiresInSec: 3600 })}`
  expect((await request(app).get('/public')).status).toBe(200)
  const down = await request(app).get('/private').set('Authorization', token)
  expect(down.status).toBe(503)
  expect(down.headers['retry-after']).toBeDefined()
  // Within the back-off a second request is answered at once, without hammering the IdP.
  const fetches = idp.counts.jwks
  expect((await request(app).get('/private').set('Authorization', token)).status).toBe(503)
  expect(idp.counts.jwks).toBe(fetches)

  idp.respondWith('jwks', undefined)
  vi.setSystemTime(Date.now() + 2_000)
  const recovered = await request(app).get('/private').set('Authorization', token)
  expect(recovered.status).toBe(200)
  expect(recovered.body.id).toBe('alice')
})

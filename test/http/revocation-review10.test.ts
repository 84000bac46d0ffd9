// Revocation over HTTP, found in the tenth review: a custom store that never answers costs a 503,
// not a request held for ever; an Entra ID token (uti, no jti) revoked by itself answers 401; and
// the documented logout-everywhere hands its rejection to Express 4 and 5 while Redis is down, the
// process still up.

import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EntraIdProvider } from '../../providers/entra-id/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { RedisRevocationStore } from '../../providers/redis/index.js'
import {
  jwtAuth,
  MemoryRevocationStore,
  requireUser,
  type RevocationStore,
} from '../../src/index.js'
import { createTestIssuer, type EntraTestIssuer, type TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'
import { startTcpProxy } from '../helpers/sql.js'

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const REDIS = new URL(REDIS_URL)

let idp: TestIssuer
let tenant: EntraTestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://revoke10-http.example' })
  tenant = await createTestIssuer({ kind: 'entra-id' })
})

afterAll(async () => {
  await Promise.all([idp.close(), tenant.close()])
})

describe.each(EXPRESS_MAJORS)('%s', (_name, makeApp) => {
  it('a custom store that never answers: 503 ERR_AUTH_REVOCATION_UNAVAILABLE', async () => {
    const hung: RevocationStore = { isRevoked: () => new Promise<boolean>(() => undefined) }
    const app = makeApp()
    // sourceTimeoutMs bounds the wait once the pipeline passes it on; 5 s (its default) until then.
    app.use(
      jwtAuth({
        provider: new JwksProvider(idp.providerOptions),
        revocation: hung,
        sourceTimeoutMs: 200,
        logger: false,
      }),
    )
    app.get('/x', requireUser(), whoAmI())
    const response = await request(app).get('/x').set('authorization', `Bearer ${idp.mint()}`)
    expect(response.status).toBe(503)
    expect(response.body).toMatchObject({ error: 'temporarily_unavailable' })
    expect(response.headers['retry-after']).toBeDefined()
  })

  it('an Entra ID token revoked by itself answers 401 token revoked', async () => {
    const revocations = new MemoryRevocationStore()
    const app = makeApp()
    app.use(
      jwtAuth({
        provider: new EntraIdProvider(tenant.providerOptions),
        revocation: revocations,
        logger: false,
      }),
    )
    app.get('/x', requireUser(), whoAmI())
    const token = tenant.mint({}, { preset: 'v2' })
    await request(app).get('/x').set('authorization', `Bearer ${token}`).expect(200)
    revocations.revokeToken(token)
    const response = await request(app).get('/x').set('authorization', `Bearer ${token}`)
    expect(response.status).toBe(401)
    expect(response.headers['www-authenticate']).toContain('error="invalid_token"')
    expect(response.body).toMatchObject({ error_description: 'token revoked' })
  })

  it('the documented logout-everywhere hands the rejection to next() while Redis is down', async () => {
    const proxy = await startTcpProxy({ host: REDIS.hostname, port: Number(REDIS.port || 6379) })
    proxy.cut('reset')
    const revocations = new RedisRevocationStore({
      url: `redis://127.0.0.1:${proxy.port}`,
      timeoutMs: 200,
      onRevocationStoreDown: 'fail-open',
    })
    try {
      const app = makeApp()
      app.use(jwtAuth({ provider: new JwksProvider(idp.providerOptions), revocation: revocations }))
      // docs/scaling.md's example, as written there.
      app.post('/logout-everywhere', requireUser(), async (req, res, next) => {
        try {
          // The token's `sub`, not `user.id`: that may be another claim (Entra ID: `oid`).
          await revocations.revokeSubject(req.currentUser.claims.iss!, req.currentUser.claims.sub!)
          res.status(204).end()
        } catch (error) {
          next(error)
        }
      })
      const response = await request(app)
        .post('/logout-everywhere')
        .set('authorization', `Bearer ${idp.mint()}`)
      // The rejection reached Express's error handling (no process crash): a 500 from its
      // default handler, as the revocation failed and must be retried.
      expect(response.status).toBe(500)
    } finally {
      await revocations.close()
      await proxy.close()
    }
  })
})

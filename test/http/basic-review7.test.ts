// Review fixes (7) of basicAuth and apiKeyAuth over HTTP, on Express 4 and 5: a repository that
// never answers is a 503 with Retry-After (not a request left hanging), an empty username is a
// 401 whatever the repository answers for it, and requireScopes refuses a Basic or API-key user
// without speaking of a token (a bearer token's refusal keeps its wording).

import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiKeyAuth, hashApiKey } from '../../src/api-key-auth.js'
import { basicAuth } from '../../src/basic-auth.js'
import { requireScopes, requireUser } from '../../src/guards.js'
import { jwtAuth } from '../../src/middleware.js'
import { hashPassword } from '../../src/passwords.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`
const never = () => new Promise<never>(() => {})
const UNAVAILABLE = {
  error: 'temporarily_unavailable',
  error_description: 'credentials cannot be checked right now',
}

let idp: TestIssuer
let aliceHash: string

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://basic-review7.example' })
  aliceHash = await hashPassword('secret', { iterations: 1_000 })
})

afterAll(() => idp.close())

describe.each(EXPRESS_MAJORS)('%s', (_major, makeApp) => {
  describe('a repository that never answers', () => {
    it('basicAuth answers 503 with Retry-After once repositoryTimeoutMs passed', async () => {
      const app = makeApp()
      app.use(
        basicAuth({
          credentialsRepository: { getCredentials: never },
          logger: false,
          repositoryTimeoutMs: 20,
        }),
      )
      app.get('/me', requireUser(), whoAmI())
      const response = await request(app)
        .get('/me')
        .set('Authorization', basic('alice', 'secret'))
        .timeout(3_000)
      expect(response.status).toBe(503)
      expect(response.headers['retry-after']).toBe('5')
      expect(response.body).toEqual(UNAVAILABLE)
    })

    it('apiKeyAuth answers 503 with Retry-After once repositoryTimeoutMs passed', async () => {
      const app = makeApp()
      app.use(
        apiKeyAuth({ repository: { getApiKey: never }, logger: false, repositoryTimeoutMs: 20 }),
      )
      app.get('/me', requireUser(), whoAmI())
      const response = await request(app).get('/me').set('x-api-key', 'og_key').timeout(3_000)
      expect(response.status).toBe(503)
      expect(response.headers['retry-after']).toBe('5')
      expect(response.body).toEqual(UNAVAILABLE)
    })
  })

  it('an empty username (":password") is a 401, even when the repository answers for it', async () => {
    const app = makeApp()
    const getCredentials = (username: string) => ({ username, passwordHash: aliceHash })
    app.use(basicAuth({ credentialsRepository: { getCredentials }, logger: false }))
    app.get('/me', requireUser(), whoAmI())
    // alice first: her login sets the decoy's cost, which the empty username then pays.
    const alice = await request(app).get('/me').set('Authorization', basic('alice', 'secret'))
    expect(alice.body).toMatchObject({ handler: 'ran', id: 'alice' })
    const response = await request(app).get('/me').set('Authorization', basic('', 'secret'))
    expect(response.status).toBe(401)
    expect(response.body).toEqual({
      error: 'invalid_credentials',
      error_description: 'invalid username or password',
    })
  })

  describe('requireScopes words its refusal for the credentials at hand', () => {
    const app = () => {
      const app = makeApp()
      const provider = new JwksProvider({
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: idp.audience,
        fetch: idp.fetch,
      })
      app.use(jwtAuth({ providers: [provider], logger: false }))
      app.use(
        basicAuth({
          credentialsRepository: {
            getCredentials: (username) => ({ username, passwordHash: aliceHash, scopes: ['a'] }),
          },
          logger: false,
        }),
      )
      app.use(
        apiKeyAuth({
          keys: [{ id: 'svc', hash: hashApiKey('og_key'), scopes: ['a'] }],
          logger: false,
        }),
      )
      app.get('/orders', requireScopes(['orders.write']), whoAmI())
      return app
    }

    it.each([
      ['Basic', { Authorization: basic('alice', 'secret') }],
      ['an API key', { 'x-api-key': 'og_key' }],
    ])('%s: "the credentials lack a required scope"', async (_what, headers) => {
      const response = await request(app()).get('/orders').set(headers)
      expect(response.status).toBe(403)
      expect(response.body).toEqual({
        error: 'insufficient_scope',
        error_description: 'the credentials lack a required scope',
      })
    })

    it('a bearer token: "the token lacks a required scope", as before', async () => {
      const token = idp.mint({ sub: 'carol', scope: 'a' })
      const response = await request(app()).get('/orders').set('Authorization', `Bearer ${token}`)
      expect(response.status).toBe(403)
      expect(response.body).toEqual({
        error: 'insufficient_scope',
        error_description: 'the token lacks a required scope',
      })
    })
  })
})

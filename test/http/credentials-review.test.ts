// basicAuth and apiKeyAuth: the decoy's cost cannot be set by request order, a bearer token that
// jwtAuth refused keeps jwtAuth's answer, and onError's next(error) keeps the scheme's challenge.

import * as crypto from 'node:crypto'
import express from 'express'
import type { ErrorRequestHandler, Express, RequestHandler } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { apiKeyAuth, generateApiKey } from '../../src/api-key-auth.js'
import { basicAuth, type BasicAuthOptions } from '../../src/basic-auth.js'
import type { CredentialsRepository } from '../../src/credentials.js'
import { authErrorHandler, type OnAuthError } from '../../src/error-handler.js'
import { requireGroups, requireScopes, requireUser } from '../../src/guards.js'
import { jwtAuth } from '../../src/middleware.js'
import { hashPassword } from '../../src/passwords.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

// Wrap the real PBKDF2 so tests can see the work each request does, without timing anything.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof crypto>()
  return { ...real, pbkdf2: vi.fn(real.pbkdf2) }
})
const pbkdf2 = vi.mocked(crypto.pbkdf2)
const iterationsOfCalls = () => pbkdf2.mock.calls.map((call) => call[2])

const BASIC = 'Basic realm="api", charset="UTF-8"'
const API_KEY = 'ApiKey realm="keys", header="x-api-key"'
const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`

let idp: TestIssuer
let provider: JwksProvider
let repository: CredentialsRepository
const service = generateApiKey()

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://review.example' })
  provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    fetch: idp.fetch,
  })
  const users = new Map([
    ['alice', await hashPassword('alice-password', { iterations: 1_000 })],
    ['bob', await hashPassword('bob-password', { iterations: 2_000 })],
  ])
  repository = {
    getCredentials: (username) => {
      const passwordHash = users.get(username)
      return passwordHash === undefined ? undefined : { username, passwordHash, groups: [] }
    },
  }
})

afterAll(() => idp.close())
beforeEach(() => {
  pbkdf2.mockClear()
})

const expired = () => `Bearer ${idp.mint({ sub: 'jwt-user' }, { expiresInSec: -3_600 })}`

describe('the decoy for unknown users cannot be set by the order of requests', () => {
  function appWith(options: Partial<BasicAuthOptions> = {}): Express {
    const app = express()
    app.use(basicAuth({ credentialsRepository: repository, logger: false, ...options }))
    app.get('/', whoAmI())
    return app
  }

  async function tryEach(app: Express, usernames: string[]): Promise<void> {
    for (const username of usernames) {
      const res = await request(app).get('/').set('Authorization', basic(username, 'wrong'))
      expect(res.status).toBe(401)
    }
  }

  it('a cheaper known user tried after a costlier one leaves unknown users at the higher cost', async () => {
    await tryEach(appWith({ verifiedCache: false }), ['bob', 'mallory', 'alice', 'mallory'])
    // Before the fix, the second mallory cost alice's 1,000 iterations: told apart from bob's 2,000.
    expect(iterationsOfCalls()).toEqual([2_000, 2_000, 1_000, 2_000])
  })

  it('once the costliest user was seen, every unknown name costs the same whatever came before', async () => {
    await tryEach(appWith({ verifiedCache: false }), [
      'alice',
      'bob',
      'mallory',
      'alice',
      'trudy',
      'bob',
      'alice',
      'mallory',
    ])
    const calls = iterationsOfCalls()
    expect([calls[2], calls[4], calls[7]]).toEqual([2_000, 2_000, 2_000])
  })
})

describe.each(EXPRESS_MAJORS)(
  'after jwtAuth({ invalidToken: anonymous }) on %s',
  (_name, createApp) => {
    function stacked(second: RequestHandler): Express {
      const app = createApp()
      app.use(jwtAuth({ provider, logger: false, invalidToken: 'anonymous', realm: 'jwt' }))
      app.use(second)
      app.get('/private', requireUser(), whoAmI())
      return app
    }
    const basicSecond = () =>
      basicAuth({ credentialsRepository: repository, realm: 'api', logger: false })
    const apiKeySecond = () =>
      apiKeyAuth({ keys: [{ id: 'svc', hash: service.hash }], realm: 'keys', logger: false })

    it.each([
      ['basicAuth', basicSecond],
      ['apiKeyAuth', apiKeySecond],
    ])(
      'an expired bearer token is answered by jwtAuth (%s found no credentials)',
      async (_case, second) => {
        const res = await request(stacked(second())).get('/private').set('Authorization', expired())
        expect(res.status).toBe(401)
        expect(res.headers['www-authenticate']).toMatch(
          /^Bearer realm="jwt", error="invalid_token"/,
        )
        expect(res.body.error).toBe('invalid_token')
      },
    )

    it.each([
      ['basicAuth', basicSecond, BASIC],
      ['apiKeyAuth', apiKeySecond, API_KEY],
    ])(
      'without any credentials, %s (the last to run) still challenges',
      async (_case, second, challenge) => {
        const res = await request(stacked(second())).get('/private')
        expect(res.status).toBe(401)
        expect(res.headers['www-authenticate']).toBe(challenge)
      },
    )

    it('credentials of the second scheme are still authenticated, and refused in that scheme', async () => {
      const app = stacked(basicSecond())
      const ok = await request(app)
        .get('/private')
        .set('Authorization', basic('alice', 'alice-password'))
      expect(ok.body).toMatchObject({ id: 'alice', provider: 'basic' })
      const wrong = await request(app).get('/private').set('Authorization', basic('alice', 'x'))
      expect(wrong.status).toBe(401)
      expect(wrong.headers['www-authenticate']).toBe(BASIC)
      const key = await request(stacked(apiKeySecond()))
        .get('/private')
        .set('x-api-key', service.key)
      expect(key.body).toMatchObject({ id: 'svc', provider: 'api-key' })
    })

    it('the other order: basicAuth first, then jwtAuth, answers the expired token the Bearer way', async () => {
      const app = createApp()
      app.use(basicAuth({ credentialsRepository: repository, realm: 'api', logger: false }))
      app.use(jwtAuth({ provider, logger: false, invalidToken: 'anonymous', realm: 'jwt' }))
      app.get('/private', requireUser(), whoAmI())
      const res = await request(app).get('/private').set('Authorization', expired())
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="jwt", error="invalid_token"/)
      const nobody = await request(app).get('/private')
      expect(nobody.headers['www-authenticate']).toBe('Bearer realm="jwt"')
      const alice = await request(app)
        .get('/private')
        .set('Authorization', basic('alice', 'alice-password'))
      expect(alice.body).toMatchObject({ id: 'alice', provider: 'basic' })
    })
  },
)

describe.each(EXPRESS_MAJORS)(
  'onError with next(error) keeps the scheme on %s',
  (_name, createApp) => {
    const handOn: { onError: OnAuthError } = { onError: (error, _req, _res, next) => next(error) }

    function appWith(first: RequestHandler, handler?: ErrorRequestHandler): Express {
      const app = createApp()
      app.use(first)
      app.get('/public', whoAmI())
      app.get('/private', requireUser(), whoAmI())
      app.get('/scoped', requireScopes(['none']), whoAmI())
      if (handler !== undefined) app.use(handler)
      return app
    }
    const basicApp = (options: Partial<BasicAuthOptions> = {}, handler?: ErrorRequestHandler) =>
      appWith(
        basicAuth({
          credentialsRepository: repository,
          realm: 'api',
          logger: false,
          ...handOn,
          ...options,
        }),
        handler,
      )
    const apiKeyApp = (handler?: ErrorRequestHandler) =>
      appWith(
        apiKeyAuth({
          keys: [{ id: 'svc', hash: service.hash }],
          realm: 'keys',
          logger: false,
          ...handOn,
        }),
        handler,
      )

    it.each([
      ["Express's default handler", undefined],
      ['authErrorHandler', authErrorHandler({ realm: 'ignored' })],
    ])(
      'an anonymous request to a guarded route, through %s: the Basic challenge',
      async (_case, handler) => {
        const res = await request(basicApp({}, handler)).get('/private')
        expect(res.status).toBe(401)
        expect(res.headers['www-authenticate']).toBe(BASIC)
      },
    )

    it('credentialsRequired: the Basic challenge', async () => {
      const res = await request(basicApp({ credentialsRequired: true })).get('/public')
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe(BASIC)
    })

    it('malformed credentials: 400 without a Bearer challenge', async () => {
      const res = await request(basicApp()).get('/public').set('Authorization', 'Basic !!!!')
      expect(res.status).toBe(400)
      expect(res.headers['www-authenticate']).toBeUndefined()
      const scoped = await request(basicApp())
        .get('/scoped')
        .set('Authorization', basic('alice', 'alice-password'))
      expect(scoped.status).toBe(403)
      expect(scoped.headers['www-authenticate']).toBeUndefined()
    })

    it.each([
      ["Express's default handler", undefined],
      ['authErrorHandler', authErrorHandler()],
    ])('apiKeyAuth through %s: the ApiKey challenge', async (_case, handler) => {
      const res = await request(apiKeyApp(handler)).get('/private')
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe(API_KEY)
    })
  },
)

describe('guards after basicAuth stay on the Basic responder for authenticated users', () => {
  it('a refused Basic user gets 403 without a challenge', async () => {
    const app = express()
    app.use(basicAuth({ credentialsRepository: repository, realm: 'api', logger: false }))
    app.get('/admin', requireGroups(['admin']), whoAmI())
    const res = await request(app).get('/admin').set('Authorization', basic('bob', 'bob-password'))
    expect(res.status).toBe(403)
    expect(res.headers['www-authenticate']).toBeUndefined()
  })
})

// Cognito review fixes on the wire: GetUser asked per token (never a cached profile after
// GlobalSignOut), its missing scope a 403, and a forged global-form token a 401, not a 503.

import type { Express, NextFunction, Request, Response } from 'express'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  authErrorHandler,
  JwksCache,
  jwtAuth,
  requireUser,
  type JwtAuthOptions,
} from '../../src/index.js'
import type { SharedCacheTier } from '../../src/spi.js'
import { CognitoProfileProvider, CognitoProvider } from '../../providers/cognito/index.js'
import { FAKE_CREDENTIALS, startFakeAws, type FakeAws } from '../fake-aws/server.js'
import { createCognitoIssuer, JANE, type CognitoTestIssuer } from '../fake-idp/cognito.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'

const POOL = 'eu-west-1_TestPool1'
const IDENTITY_POOL = 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'

let cognito: CognitoTestIssuer
let forger: CognitoTestIssuer
let aws: FakeAws
const closers: (() => void)[] = []

beforeAll(async () => {
  ;[cognito, forger, aws] = await Promise.all([
    createCognitoIssuer(POOL),
    createCognitoIssuer(POOL),
    startFakeAws({
      userPoolId: POOL,
      identityPoolId: IDENTITY_POOL,
      users: [{ username: 'jane', sub: JANE.sub, attributes: { email: 'jane@example.com' } }],
    }),
  ])
})

afterAll(async () => {
  await Promise.all([cognito.close(), forger.close(), aws.close()])
})

afterEach(() => {
  for (const close of closers.splice(0)) close()
  aws.reset()
})

/** A shared (Redis-like) tier in memory, recording what is stored in it. */
function memoryTier(): SharedCacheTier & { readonly stored: string[] } {
  const entries = new Map<string, unknown>()
  const stored: string[] = []
  return {
    stored,
    get: (key) => Promise.resolve(entries.get(key)),
    set: (key, value) => {
      stored.push(key)
      entries.set(key, value)
      return Promise.resolve()
    },
    invalidate: (keys) => {
      for (const key of keys) entries.delete(key)
      return Promise.resolve()
    },
    onInvalidate: () => undefined,
  }
}

describe.each(EXPRESS_MAJORS)('%s', (_major, createApp) => {
  function appWith(options: Partial<JwtAuthOptions> = {}): Express {
    const profile = new CognitoProfileProvider({
      userPoolId: POOL,
      operation: 'GetUser',
      endpoint: aws.endpoint,
      credentials: FAKE_CREDENTIALS,
      maxAttempts: 1,
    })
    closers.push(() => profile.close())
    const provider = new CognitoProvider({
      userPoolId: POOL,
      clientId: cognito.clientId,
      jwksCache: new JwksCache({ fetch: cognito.fetch }),
    })
    const app = createApp()
    app.use(jwtAuth({ provider, profile, realm: 'api', logger: false, ...options }))
    app.get('/profile', requireUser(), (req: Request, res: Response, next: NextFunction) => {
      req.currentUser.profile.then((attributes) => res.json(attributes), next)
    })
    app.use(authErrorHandler({ realm: 'api' }))
    return app
  }

  const get = (app: Express, token: string) =>
    request(app).get('/profile').set('Authorization', `Bearer ${token}`)

  it('GetUser: the same token after GlobalSignOut gets 401, not the profile cached a moment ago', async () => {
    const shared = memoryTier()
    const app = appWith({ sourceCache: { shared } })
    const token = cognito.access(JANE)
    const before = await get(app, token)
    expect([before.status, before.body]).toEqual([
      200,
      { sub: JANE.sub, email: 'jane@example.com' },
    ])
    aws.globalSignOut('jane')
    const after = await get(app, token)
    expect(after.status).toBe(401)
    expect(after.headers['www-authenticate']).toBe(
      'Bearer realm="api", error="invalid_token", error_description="token revoked"',
    )
    expect(aws.counts.GetUser).toBe(2)
    // Nothing of a per-token answer reaches the tier shared by every instance.
    expect(shared.stored).toEqual([])
  })

  it('GetUser with a token lacking aws.cognito.signin.user.admin: 403, and Cognito is not called', async () => {
    const res = await get(appWith(), cognito.access(JANE, { scope: 'openid email' }))
    expect(res.status).toBe(403)
    expect(res.headers['www-authenticate']).toContain('scope="aws.cognito.signin.user.admin"')
    expect(res.body).toEqual({
      error: 'insufficient_scope',
      error_description:
        'the token lacks the aws.cognito.signin.user.admin scope the profile needs',
    })
    expect(aws.counts.GetUser).toBe(0)
  })

  it('GetUser answering PasswordResetRequiredException: 401 invalid_token, no Retry-After', async () => {
    aws.fail('GetUser', {
      status: 400,
      type: 'PasswordResetRequiredException',
      message: 'Password reset required for the user',
    })
    const res = await get(appWith(), cognito.access(JANE))
    expect(res.status).toBe(401)
    expect(res.headers['retry-after']).toBeUndefined()
    expect(res.body).toEqual({
      error: 'invalid_token',
      error_description: 'Cognito refused the token',
    })
  })

  it('a forged token naming the global issuer AWS does not serve for the pool: 401, health green', async () => {
    // AWS answers 403 at issuer-cognito-idp…/jwks.json for a pool not set up for that form.
    const fetch: typeof globalThis.fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input)
      if (url.startsWith(cognito.pool.globalIssuer)) {
        return Promise.resolve(new Response('{"message":"Forbidden"}', { status: 403 }))
      }
      return cognito.fetch(input, init)
    }
    const provider = new CognitoProvider({
      userPoolId: POOL,
      clientId: cognito.clientId,
      jwksCache: new JwksCache({ fetch }),
    })
    const app = createApp()
    app.use(jwtAuth({ provider, realm: 'api', logger: false }))
    app.get('/me', requireUser(), (req: Request, res: Response) => {
      res.json({ id: req.currentUser.id })
    })
    app.use(authErrorHandler({ realm: 'api' }))
    const forged = forger.access(JANE, {}, { issuerForm: 'global' })
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const res = await request(app).get('/me').set('Authorization', `Bearer ${forged}`)
      expect(res.status).toBe(401)
      expect(res.headers['retry-after']).toBeUndefined()
      expect(res.body).toEqual({
        error: 'invalid_token',
        error_description: 'issuer not used by this user pool',
      })
    }
    const genuine = await request(app)
      .get('/me')
      .set('Authorization', `Bearer ${cognito.access(JANE)}`)
    expect([genuine.status, genuine.body]).toEqual([200, { id: JANE.sub }])
    expect(provider.health()).toMatchObject({ ok: true })
  })
})

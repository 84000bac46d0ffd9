// Every row of the HTTP contract (DESIGN.md, RFC 6750 §3), on Express 4 and 5.

import { createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto'
import type { Express, NextFunction, Request, Response } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConfigError,
  ForbiddenError,
  InsufficientScopeError,
  JwksCache,
  authErrorHandler,
  jwtAuth,
  requireUser,
  User,
  type JwtAuthOptions,
} from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, rawGet, startCanary, whoAmI } from '../helpers/http.js'

let idp: TestIssuer
let downIdp: TestIssuer
let canary: Awaited<ReturnType<typeof startCanary>>

beforeAll(async () => {
  ;[idp, downIdp, canary] = await Promise.all([
    createTestIssuer(),
    createTestIssuer(),
    startCanary(),
  ])
  downIdp.respondWith('jwks', { status: 503 })
})

afterAll(async () => {
  await Promise.all([idp.close(), downIdp.close(), canary.close()])
})

function providerFor(issuer: TestIssuer): JwksProvider {
  // Each provider gets its own cache so fetch counts belong to one test.
  return new JwksProvider({
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    audience: issuer.audience,
    jwksCache: new JwksCache(),
  })
}

const INVALID_TOKEN_CHALLENGE =
  /^Bearer realm="api", error="invalid_token", error_description="[ -~]+"$/

describe.each(EXPRESS_MAJORS)('HTTP contract on %s', (_name, createApp) => {
  function appWith(options: Partial<JwtAuthOptions> = {}, issuer: TestIssuer = idp): Express {
    const app = createApp()
    app.use(jwtAuth({ provider: providerFor(issuer), realm: 'api', logger: false, ...options }))
    app.get('/public', whoAmI())
    app.get('/private', requireUser(), whoAmI())
    app.options('/private', (_req, res) => {
      res.set('Access-Control-Allow-Origin', '*').status(204).end()
    })
    return app
  }

  it('no token on a guarded route: 401 with a bare challenge and error "unauthorized"', async () => {
    const res = await request(appWith()).get('/private')
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api"')
    expect(res.body).toEqual({
      error: 'unauthorized',
      error_description: 'authentication required',
    })
  })

  it('no token on an unguarded route: the handler runs with the anonymous user', async () => {
    const res = await request(appWith()).get('/public')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ handler: 'ran', isAuthenticated: false, id: '' })
  })

  it('no token with credentialsRequired: 401 with a bare challenge, even on an unguarded route', async () => {
    const res = await request(appWith({ credentialsRequired: true })).get('/public')
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api"')
    expect(res.body.handler).toBeUndefined()
  })

  it('a valid token: the handler runs with the verified user', async () => {
    const res = await request(appWith())
      .get('/private')
      .set('Authorization', `Bearer ${idp.mint({ sub: 'alice' })}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      handler: 'ran',
      id: 'alice',
      isAuthenticated: true,
      provider: 'jwks',
    })
  })

  it.each([
    ['an empty Bearer token', 'Bearer '],
    ['two schemes in one header', 'Bearer abc, Basic eA=='],
    ['a tab separator', 'Bearer\tabc'],
    ['a quoted token', 'Bearer "abc"'],
    ['a JWT without the Bearer scheme', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln'],
  ])('%s: 400 invalid_request', async (_case, header) => {
    const res = await request(appWith()).get('/public').set('Authorization', header)
    expect(res.status).toBe(400)
    expect(res.headers['www-authenticate']).toMatch(
      /^Bearer realm="api", error="invalid_request", error_description="[ -~]+"$/,
    )
    expect(res.body.error).toBe('invalid_request')
    expect(res.body.handler).toBeUndefined()
  })

  it('two Authorization headers, in either order: 400 invalid_request', async () => {
    const valid = `Bearer ${idp.mint()}`
    for (const values of [
      [valid, 'Bearer forged'],
      ['Bearer forged', valid],
    ]) {
      const res = await rawGet(appWith(), '/public', { authorization: values })
      expect(res.status).toBe(400)
      expect(res.body).toMatchObject({
        error: 'invalid_request',
        error_description: 'more than one Authorization header',
      })
    }
  })

  it('another authentication scheme is no bearer credentials: anonymous, or 401 on a guarded route', async () => {
    const app = appWith()
    expect(
      (await request(app).get('/public').set('Authorization', 'Basic dXNlcjpwdw==')).body
        .isAuthenticated,
    ).toBe(false)
    const res = await request(app).get('/private').set('Authorization', 'Basic dXNlcjpwdw==')
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api"')
  })

  it('a bad token: 401 invalid_token naming the failed check, handler not run', async () => {
    const res = await request(appWith())
      .get('/public')
      .set('Authorization', `Bearer ${idp.mint({}, { expiresInSec: -60 })}`)
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="api", error="invalid_token", error_description="token expired"',
    )
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'token expired' })
  })

  it('key source unavailable: 503 temporarily_unavailable with Retry-After, handler not run', async () => {
    const res = await request(appWith({}, downIdp))
      .get('/public')
      .set('Authorization', `Bearer ${downIdp.mint()}`)
    expect(res.status).toBe(503)
    expect(res.headers['retry-after']).toMatch(/^\d+$/)
    expect(res.headers['www-authenticate']).toBeUndefined()
    expect(res.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'signing keys are temporarily unavailable',
    })
  })

  it('missing scope: 403 insufficient_scope with the scope in the challenge; missing group: 403 forbidden', async () => {
    const app = createApp()
    app.use(jwtAuth({ provider: providerFor(idp), realm: 'api', logger: false }))
    app.get('/scoped', (_req: Request, _res: Response, next: NextFunction) =>
      next(new InsufficientScopeError(['orders.read', 'orders.write'])),
    )
    app.get('/grouped', (_req: Request, _res: Response, next: NextFunction) =>
      next(new ForbiddenError()),
    )
    app.use(authErrorHandler({ realm: 'api' }))
    const scoped = await request(app).get('/scoped')
    expect(scoped.status).toBe(403)
    expect(scoped.headers['www-authenticate']).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="the token lacks a required scope", scope="orders.read orders.write"',
    )
    expect(scoped.body.error).toBe('insufficient_scope')
    const grouped = await request(app).get('/grouped')
    expect(grouped.status).toBe(403)
    expect(grouped.headers['www-authenticate']).toBeUndefined()
    expect(grouped.body).toEqual({ error: 'forbidden', error_description: 'access denied' })
  })

  it('authErrorHandler writes resource_metadata into the challenge, and checks its options', async () => {
    const metadata = 'https://api.example.com/.well-known/oauth-protected-resource'
    const app = createApp()
    app.use(
      jwtAuth({
        provider: providerFor(idp),
        credentialsRequired: true,
        onError: (error, _req, _res, next) => next(error),
        logger: false,
      }),
    )
    app.get('/private', (_req: Request, res: Response) => res.json({ ok: true }))
    app.use(authErrorHandler({ realm: 'mcp', resourceMetadata: metadata }))
    const res = await request(app).get('/private')
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe(
      `Bearer realm="mcp", resource_metadata="${metadata}"`,
    )
    expect(() => authErrorHandler({ realm: 'a"b' })).toThrow(ConfigError)
    expect(() => authErrorHandler({ resourceMetadata: 'https://API.example.com/x' })).toThrow(
      'resourceMetadata must be written as "https://api.example.com/x"',
    )
  })

  it('a CORS preflight passes untouched, even with credentialsRequired', async () => {
    const res = await request(appWith({ credentialsRequired: true }))
      .options('/private')
      .set('Origin', 'http://app.test')
      .set('Access-Control-Request-Method', 'GET')
    expect(res.status).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBe('*')
  })

  it('a plain OPTIONS request (not a preflight) is authenticated like any other', async () => {
    const res = await request(appWith({ credentialsRequired: true })).options('/private')
    expect(res.status).toBe(401)
  })

  it('an OPTIONS request with Access-Control-Request-Method but no Origin is no preflight: 401', async () => {
    const res = await request(appWith({ credentialsRequired: true }))
      .options('/private')
      .set('Access-Control-Request-Method', 'GET')
    expect(res.status).toBe(401)
  })

  it('onError replaces the response; next(error) hands it to the app', async () => {
    const custom = await request(
      appWith({
        onError: (error, _req, res) =>
          res.status(error.status).type('text').send(`denied: ${error.code}`),
      }),
    )
      .get('/public')
      .set('Authorization', 'Bearer abc')
    expect(custom.status).toBe(401)
    expect(custom.text).toBe('denied: ERR_AUTH_TOKEN_MALFORMED')

    const app = appWith({ onError: (error, _req, _res, next) => next(error) })
    app.use(
      (error: Error & { status: number }, _req: Request, res: Response, _next: NextFunction) => {
        res.status(error.status).json({ handledBy: 'app', name: error.name })
      },
    )
    const passed = await request(app).get('/public').set('Authorization', 'Bearer abc')
    expect(passed.body).toEqual({ handledBy: 'app', name: 'InvalidTokenError' })
  })

  it('onError sees the anonymous user on req.currentUser, whatever was refused', async () => {
    const app = appWith({
      credentialsRequired: true,
      onError: (error, req, res) =>
        res.status(error.status).json({
          code: error.code,
          isAuthenticated: req.currentUser.isAuthenticated,
          isAnonymous: req.currentUser === User.anonymous,
        }),
    })
    const cases: [string | undefined, string][] = [
      [undefined, 'ERR_AUTH_CREDENTIALS_REQUIRED'],
      ['Bearer a b', 'ERR_AUTH_INVALID_REQUEST'],
      ['Bearer abc', 'ERR_AUTH_TOKEN_MALFORMED'],
      [`Bearer ${idp.mint({}, { tamper: 'signature' })}`, 'ERR_AUTH_SIGNATURE_INVALID'],
    ]
    for (const [header, code] of cases) {
      const call = request(app).get('/public')
      const res = await (header === undefined ? call : call.set('Authorization', header))
      expect(res.body).toEqual({ code, isAuthenticated: false, isAnonymous: true })
    }
  })

  it("invalidToken: 'anonymous' lets a bad token through as the anonymous user with the reason", async () => {
    const app = appWith({ invalidToken: 'anonymous' })
    app.get('/reason', (req, res) =>
      res.json({ code: req.authError?.code, user: req.currentUser.isAuthenticated }),
    )
    const res = await request(app)
      .get('/reason')
      .set('Authorization', `Bearer ${idp.mint({}, { tamper: 'signature' })}`)
    expect(res.body).toEqual({ code: 'ERR_AUTH_SIGNATURE_INVALID', user: false })
    const guarded = await request(app)
      .get('/private')
      .set('Authorization', `Bearer ${idp.mint({}, { tamper: 'signature' })}`)
    expect(guarded.status).toBe(401)
    const malformed = await request(app).get('/reason').set('Authorization', 'Bearer a b')
    expect(malformed.status).toBe(400)
  })

  it('reads req.headers when rawHeaders is empty (serverless adapters) or the header was rewritten', async () => {
    const app = createApp()
    app.use((req: Request, _res: Response, next: NextFunction) => {
      const forwarded = req.headers['x-forwarded-authorization']
      if (typeof forwarded === 'string') req.headers.authorization = forwarded
      if (req.headers['x-no-raw'] !== undefined)
        Object.defineProperty(req, 'rawHeaders', { value: [] })
      next()
    })
    app.use(jwtAuth({ provider: providerFor(idp), logger: false }))
    app.get('/private', requireUser(), whoAmI())
    const token = `Bearer ${idp.mint({ sub: 'lambda' })}`
    const noRaw = await request(app)
      .get('/private')
      .set('Authorization', token)
      .set('X-No-Raw', '1')
    expect(noRaw.body).toMatchObject({ id: 'lambda' })
    const rewritten = await request(app).get('/private').set('X-Forwarded-Authorization', token)
    expect(rewritten.body).toMatchObject({ id: 'lambda' })
  })

  it('hands errors that are not its own (a throwing query parser) to the app', async () => {
    const app = createApp()
    app.set('query parser', () => {
      throw new RangeError('too many parameters')
    })
    app.use(jwtAuth({ provider: providerFor(idp), logger: false, tokenLocations: { query: true } }))
    app.get('/public', whoAmI())
    app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
      // Plain Node API: on Express 4 the query parser fails before Express extends res.
      res.writeHead(413, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ handledBy: 'app', name: error.name }))
    })
    const res = await request(app).get('/public?a=1')
    expect(res.body).toEqual({ handledBy: 'app', name: 'RangeError' })
  })

  it('without a realm the challenge has none', async () => {
    const app = createApp()
    app.use(jwtAuth({ provider: providerFor(idp), logger: false }))
    app.get('/private', requireUser(), whoAmI())
    expect((await request(app).get('/private')).headers['www-authenticate']).toBe('Bearer')
    const bad = await request(app).get('/private').set('Authorization', 'Bearer x.y.z')
    expect(bad.headers['www-authenticate']).toBe(
      'Bearer error="invalid_token", error_description="malformed token"',
    )
  })
})

describe('forged tokens (Done-when of the core issue)', () => {
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const attackerJwk = attacker.publicKey.export({ format: 'jwk' })

  const forgeries: [string, () => string, string][] = [
    ['alg none, empty signature', () => signedNone(), 'token is not signed'],
    [
      'alg none with a signature',
      () => `${signedNone()}c2lnbmF0dXJl`,
      'signing algorithm not allowed',
    ],
    [
      'HS256 keyed with the public key',
      () => idp.mint({}, { alg: 'HS256', hmacSecret: publicPem() }),
      'signing algorithm not allowed',
    ],
    [
      'an embedded jwk',
      () => idp.mint({}, { key: attacker.privateKey, header: { jwk: attackerJwk } }),
      'signature verification failed',
    ],
    [
      'an embedded jwk with its own kid',
      () =>
        idp.mint(
          {},
          {
            key: attacker.privateKey,
            kid: 'attacker',
            header: { jwk: { ...attackerJwk, kid: 'attacker' } },
          },
        ),
      'no signing key matches the token',
    ],
    [
      'a jku pointing elsewhere',
      () =>
        idp.mint(
          {},
          {
            key: attacker.privateKey,
            kid: 'attacker-jku',
            header: { jku: `${canary.url}/jwks.json` },
          },
        ),
      'no signing key matches the token',
    ],
    [
      'an x5u pointing elsewhere',
      () => idp.mint({}, { key: attacker.privateKey, header: { x5u: `${canary.url}/cert.pem` } }),
      'signature verification failed',
    ],
    ['expired', () => idp.mint({}, { expiresInSec: -60 }), 'token expired'],
    [
      'not yet valid',
      () => idp.mint({ nbf: Math.floor(Date.now() / 1000) + 600 }),
      'token not yet valid',
    ],
    [
      'for another audience',
      () => idp.mint({ aud: 'https://other-api.example' }),
      'audience mismatch',
    ],
    [
      'for another issuer, signed by it',
      () => idp.mint({ iss: canary.url }, { key: attacker.privateKey }),
      'token issuer is not trusted',
    ],
    [
      'for another issuer, signed with our key',
      () => idp.mint({ iss: `${idp.issuer}/` }),
      'token issuer is not trusted',
    ],
  ]

  function publicPem(): string {
    const jwk = idp.jwks().keys[0] as JsonWebKey
    return createPublicKey({ key: jwk, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString()
  }

  function signedNone(): string {
    const payload = idp.mint().split('.')[1]
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')
    return `${none}.${payload}.`
  }

  it.each(forgeries)(
    '%s: 401 invalid_token, no call but to the configured JWKS',
    async (_case, forge, description) => {
      const provider = providerFor(idp)
      const app = EXPRESS_MAJORS[0]![1]()
      app.use(jwtAuth({ provider, realm: 'api', logger: false }))
      app.get('/private', requireUser(), whoAmI())
      await provider.hydrate()
      const before = {
        jwks: idp.counts.jwks,
        discovery: idp.counts.discovery,
        canary: canary.hits(),
      }
      const res = await request(app).get('/private').set('Authorization', `Bearer ${forge()}`)
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toMatch(INVALID_TOKEN_CHALLENGE)
      expect(res.body).toEqual({ error: 'invalid_token', error_description: description })
      expect(canary.hits()).toBe(before.canary)
      expect(idp.counts.discovery).toBe(before.discovery)
      expect(idp.counts.jwks - before.jwks).toBeLessThanOrEqual(1)
    },
  )
})

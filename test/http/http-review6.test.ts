// Review 6 of the HTTP contract: two schemes in either order, empty cookies and parameters, no
// configuration text in any response, and errors raised too late going to next(error) under onError.

import type { ErrorRequestHandler, Express, RequestHandler } from 'express'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  authErrorHandler,
  ConfigError,
  jwtAuth,
  requireUser,
  sendAuthError,
  UnavailableError,
  type JwtAuthOptions,
  type JwtProvider,
  type RevocationStore,
} from '../../src/index.js'
import { respondWithAuthError } from '../../src/middleware.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://http-review6.example'))
})

afterAll(() => idp.close())

const CONFIG_TEXT = 'the region of this provider is not set'

// Records what reached Express's error handlers after oidc-guard's, answering with its code only.
function passedOnTo(seen: unknown[]): ErrorRequestHandler {
  return (error: Error & { code?: string }, _req, res, _next) => {
    seen.push(error)
    res.status(599).json({ passedOn: error.code })
  }
}

/** A GET whose answer may be cut off: reports whether the response ended cleanly. */
async function rawGet(
  app: Express,
  path: string,
): Promise<{ status?: number | undefined; body: string; aborted: boolean }> {
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  try {
    return await new Promise((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode, body, aborted: false }))
        res.on('error', () => resolve({ status: res.statusCode, body, aborted: true }))
      })
      req.setTimeout(3_000, () => req.destroy(new Error('no answer in 3 s')))
      req.on('error', () => resolve({ body: '', aborted: true }))
      req.end()
    })
  } finally {
    server.closeAllConnections()
    server.close()
  }
}

describe.each(EXPRESS_MAJORS)('the HTTP contract on %s', (_name, createApp) => {
  function appWith(options: Partial<JwtAuthOptions> = {}): Express {
    const app = createApp()
    app.use(jwtAuth({ provider, logger: false, ...options }))
    app.get('/public', whoAmI())
    app.get('/private', requireUser(), whoAmI())
    return app
  }

  it('a bearer token after another scheme is 400 invalid_request, as before it', async () => {
    const app = appWith()
    const token = idp.mint({ sub: 'alice' })
    for (const header of [`Basic eA==, Bearer ${token}`, `Token abc, Bearer ${token}`]) {
      const res = await request(app).get('/public').set('Authorization', header)
      expect(res.status, header).toBe(400)
      expect(res.body.error).toBe('invalid_request')
    }
    // Another scheme alone is still no bearer credentials.
    const basic = await request(app).get('/public').set('Authorization', 'Basic eA==')
    expect(basic.status).toBe(200)
    expect(basic.body.isAuthenticated).toBe(false)
  })

  it('an empty token cookie or access_token parameter is no token, not a 400', async () => {
    const app = appWith({ tokenLocations: { cookie: 'token', query: true } })
    const cookie = await request(app).get('/public').set('Cookie', 'token=; theme=dark')
    expect(cookie.status).toBe(200)
    expect(cookie.body).toMatchObject({ handler: 'ran', isAuthenticated: false })
    const query = await request(app).get('/public?access_token=')
    expect(query.status).toBe(200)
    expect(query.body.isAuthenticated).toBe(false)
    // Anonymous: a guarded route answers a bare 401, not a 400.
    const guarded = await request(app).get('/private').set('Cookie', 'token=')
    expect(guarded.status).toBe(401)
    expect(guarded.body.error).toBe('unauthorized')
    const malformed = await request(app).get('/public').set('Cookie', 'token=a b')
    expect(malformed.status).toBe(400)
    expect(malformed.body.error).toBe('invalid_request')
  })

  it('authErrorHandler passes a ConfigError on (app.use(requireUser), the call forgotten)', async () => {
    const seen: unknown[] = []
    const app = createApp()
    app.use(jwtAuth({ provider, logger: false }))
    app.use(requireUser as unknown as RequestHandler)
    app.get('/a', whoAmI())
    app.use(authErrorHandler({ realm: 'api' }))
    app.use(passedOnTo(seen))
    const res = await request(app).get('/a')
    expect(res.text).not.toContain('guard factory')
    expect(res.status).toBe(599)
    expect(res.body).toEqual({ passedOn: 'ERR_AUTH_CONFIG' })
    expect(seen[0]).toBeInstanceOf(ConfigError)
  })

  it('authErrorHandler still answers a 503 with its Retry-After', async () => {
    const app = createApp()
    app.get('/a', (_req, _res, next) =>
      next(new UnavailableError('ERR_AUTH_KEYS_UNAVAILABLE', 'x')),
    )
    app.use(authErrorHandler({ realm: 'api' }))
    const res = await request(app).get('/a')
    expect(res.status).toBe(503)
    expect(res.headers['retry-after']).toBe('5')
    expect(res.body.error).toBe('temporarily_unavailable')
  })

  it('sendAuthError answers a ConfigError with a fixed text', async () => {
    const app = createApp()
    app.get('/a', (_req, res) => sendAuthError(res, new ConfigError([CONFIG_TEXT]), 'api'))
    const res = await request(app).get('/a')
    expect(res.status).toBe(500)
    expect(res.body).toEqual({ error: 'server_error', error_description: 'internal server error' })
    expect(res.headers['cache-control']).toBe('no-store')
  })

  it('a ConfigError out of a custom provider is logged and answered 401, never its text', async () => {
    const lines: string[] = []
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) })
    const lazy: JwtProvider = {
      name: 'lazy',
      issuers: [idp.issuer],
      verifyToken: () => Promise.reject(new ConfigError([CONFIG_TEXT])),
      createUser: () => {
        throw new Error('never reached')
      },
    }
    const seen: unknown[] = []
    const app = createApp()
    app.use(jwtAuth({ provider: lazy, logger }))
    app.get('/public', whoAmI())
    app.use(passedOnTo(seen))
    const res = await request(app)
      .get('/public')
      .set('Authorization', `Bearer ${idp.mint({ sub: 'alice' })}`)
    expect(res.status).toBe(401)
    expect(res.body).toEqual({
      error: 'invalid_token',
      error_description: 'token could not be verified',
    })
    expect(res.text + JSON.stringify(res.headers)).not.toContain(CONFIG_TEXT)
    expect(seen).toEqual([])
    expect(lines.join('')).toContain('unexpected error while verifying a token')
  })

  it('a ConfigError out of a custom revocation store is a 503, never its text', async () => {
    const store: RevocationStore = {
      isRevoked: () => Promise.reject(new ConfigError([CONFIG_TEXT])),
    }
    const app = appWith({ revocation: store })
    const res = await request(app)
      .get('/public')
      .set('Authorization', `Bearer ${idp.mint({ sub: 'alice' })}`)
    expect(res.status).toBe(503)
    expect(res.body.error).toBe('temporarily_unavailable')
    expect(res.headers['retry-after']).toBeDefined()
    expect(res.text).not.toContain(CONFIG_TEXT)
  })

  it('with onError, a ConfigError reaching the responder goes to next(error), not onError', async () => {
    const called: unknown[] = []
    const seen: unknown[] = []
    const lazy: JwtProvider = {
      name: 'lazy',
      issuers: [idp.issuer],
      verifyToken: () => Promise.reject(new Error('unused')),
      createUser: () => {
        throw new Error('unused')
      },
    }
    const app = createApp()
    app.use(
      jwtAuth({
        provider: lazy,
        logger: false,
        onError: (error, _req, res) => {
          called.push(error)
          res.status(error.status).json({ message: error.message })
        },
      }),
    )
    // A handler answering through the request's responder, as guards do.
    app.get('/a', (req, res, next) => {
      respondWithAuthError(new ConfigError([CONFIG_TEXT]), req, res, next)
    })
    app.use(passedOnTo(seen))
    const res = await request(app).get('/a')
    expect(res.status).toBe(599)
    expect(res.text).not.toContain(CONFIG_TEXT)
    expect(called).toEqual([])
    expect(seen[0]).toBeInstanceOf(ConfigError)
  })

  it('with onError, a refusal after the headers were sent goes to next(error): the response is cut off', async () => {
    const called: unknown[] = []
    const app = createApp()
    app.use(
      jwtAuth({
        provider,
        logger: false,
        onError: (error, _req, res) => {
          called.push(error)
          res.status(error.status).end()
        },
      }),
    )
    const startStream: RequestHandler = (_req, res, next) => {
      res.status(200).write('partial preview;')
      next()
    }
    app.get('/stream', startStream, requireUser(), (_req, res) => res.end('full'))
    const answer = await rawGet(app, '/stream')
    expect(answer.aborted).toBe(true)
    expect(answer.body).toBe('partial preview;')
    expect(called).toEqual([])
  })
})

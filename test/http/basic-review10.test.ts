// Review fixes (round 10) of basicAuth's request path: a throw while answering wrong credentials
// reaches the app's error handler (it was an unhandled rejection, which ends the process), and an
// object on req.currentUser that is no oidc-guard User does not let a request past
// credentialsRequired; logLevel given with a logger is refused, as jwtAuth refuses it.

import type { ErrorRequestHandler } from 'express'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { basicAuth } from '../../src/basic-auth.js'
import type { CredentialsRepository } from '../../src/credentials.js'
import { ConfigError } from '../../src/errors.js'
import { requireUser } from '../../src/guards.js'
import { hashPassword } from '../../src/passwords.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

const hash = await hashPassword('right', { algorithm: 'scrypt', scrypt: { N: 1_024, r: 8, p: 1 } })
const repository: CredentialsRepository = {
  getCredentials: (username) =>
    username === 'alice' ? { id: 'alice', username: 'alice', passwordHash: hash } : undefined,
}
const basic = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`

const answerThrow: ErrorRequestHandler = (error: Error, _req, res, _next) => {
  res.status(500).json({ handledByApp: error.message })
}

describe.each(EXPRESS_MAJORS)('basicAuth on %s', (_name, createApp) => {
  it("hands a throw while answering wrong credentials to the app's error handler", async () => {
    const app = createApp()
    app.use((_req, res, next) => {
      const json = res.json.bind(res)
      res.json = (body: unknown) => {
        if (res.statusCode === 401) throw new Error('audit wrapper failed')
        return json(body)
      }
      next()
    })
    app.use(basicAuth({ credentialsRepository: repository, logger: false }))
    app.get('/me', requireUser(), whoAmI())
    app.use(answerThrow)
    const res = await request(app).get('/me').set('Authorization', basic('alice', 'wrong'))
    expect(res.status).toBe(500)
    expect(res.body).toEqual({ handledByApp: 'audit wrapper failed' })
  })

  it('takes nothing on trust from an object on req.currentUser that is no oidc-guard User', async () => {
    const app = createApp()
    app.use((req, _res, next) => {
      ;(req as unknown as { currentUser: unknown }).currentUser = {
        isAuthenticated: true,
        id: 'from-session',
      }
      next()
    })
    app.use(
      basicAuth({ credentialsRepository: repository, credentialsRequired: true, logger: false }),
    )
    app.get('/me', whoAmI())
    expect((await request(app).get('/me')).status).toBe(401)
    const signedIn = await request(app).get('/me').set('Authorization', basic('alice', 'right'))
    expect(signedIn.status).toBe(200)
    expect(signedIn.body).toMatchObject({ id: 'alice' })
  })
})

describe('basicAuth options', () => {
  it.each([false, { level: 'info' }])('refuses logLevel with logger %j', (logger) => {
    const fake =
      logger === false
        ? false
        : Object.assign(Object.create(null) as object, {
            level: 'info',
            child() {
              return this
            },
            trace() {},
            debug() {},
            info() {},
            warn() {},
            error() {},
            fatal() {},
          })
    expect(() =>
      basicAuth({ credentialsRepository: repository, logger: fake as never, logLevel: 'debug' }),
    ).toThrow(ConfigError)
    expect(() =>
      basicAuth({ credentialsRepository: repository, logger: fake as never, logLevel: 'debug' }),
    ).toThrow(/logLevel cannot be used with logger/)
  })
})

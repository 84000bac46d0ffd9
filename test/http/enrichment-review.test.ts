// Review fixes over HTTP: forgetUser while a user's groups load answers 200 (not 503); a guard
// refusing after the headers were sent closes the connection instead of leaving it hanging; a
// guard on a route no authentication middleware ran on, and a form body jwtAuth cannot read, are
// each announced once as a Node.js warning.

import express from 'express'
import type { ErrorRequestHandler, Express, RequestHandler } from 'express'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { basicAuth } from '../../src/basic-auth.js'
import type { CredentialsRepository } from '../../src/credentials.js'
import type { GroupsProvider } from '../../src/contracts.js'
import { AuthError } from '../../src/errors.js'
import type { GuardOptions } from '../../src/guard-options.js'
import { requireGroups, requireUser } from '../../src/guards.js'
import { jwtAuth } from '../../src/middleware.js'
import type { TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://enrichment-review.example'))
})

afterAll(() => idp.close())

afterEach(() => {
  vi.restoreAllMocks()
})

const ok: RequestHandler = (_req, res) => {
  res.json({ ok: true })
}

describe.each(EXPRESS_MAJORS)(
  'forgetUser while the user’s groups load, on %s',
  (_name, createApp) => {
    it('the waiting request gets the groups asked after the change: 200 or 403, never 503', async () => {
      let directory = ['ops']
      const pending: Array<() => void> = []
      const groups: GroupsProvider = {
        fetchGroups: () => {
          const read = directory
          return new Promise((resolve) => pending.push(() => resolve(read)))
        },
      }
      const auth = jwtAuth({ provider, groups, logger: false })
      const app = createApp()
      app.use(auth)
      app.get('/ops', requireGroups(['ops']), ok)
      const token = idp.mint({ sub: 'alice' })
      const answer = request(app).get('/ops').set('Authorization', `Bearer ${token}`).then()
      await vi.waitFor(() => expect(pending).toHaveLength(1))
      directory = [] // ops removed from alice, then her cached answers forgotten
      await auth.verifier!.forgetUser({ issuer: idp.issuer, subject: 'alice' })
      await vi.waitFor(() => expect(pending).toHaveLength(2))
      for (const release of pending) release()
      const response = await answer
      expect(response.status).toBe(403)
      expect(response.body).toMatchObject({ error: 'forbidden' })
    })
  },
)

/** A GET whose answer is awaited at most two seconds: the status, and whether the server closed it. */
async function getUntilClosed(app: Express): Promise<{ status: number; closed: boolean }> {
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  try {
    return await new Promise((resolve, reject) => {
      const outgoing = httpRequest({ host: '127.0.0.1', port, path: '/stream' }, (response) => {
        const timer = setTimeout(() => {
          resolve({ status: response.statusCode!, closed: false })
          outgoing.destroy()
        }, 2_000)
        response.on('error', () => undefined) // "aborted": the connection closed mid-body
        response.resume()
        response.once('close', () => {
          clearTimeout(timer)
          resolve({ status: response.statusCode!, closed: true })
        })
      })
      outgoing.on('error', reject)
      outgoing.end()
    })
  } finally {
    server.closeAllConnections()
    server.close()
  }
}

const repository: CredentialsRepository = { getCredentials: async () => undefined }

describe.each(EXPRESS_MAJORS)(
  'a guard refusing after the headers were sent, on %s',
  (_name, createApp) => {
    const startStream: RequestHandler = (_req, res, next) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.flushHeaders()
      next()
    }

    it.each<[string, () => RequestHandler, GuardOptions]>([
      ['jwtAuth, default answer', () => jwtAuth({ provider, logger: false }), {}],
      ['jwtAuth with a realm', () => jwtAuth({ provider, logger: false, realm: 'api' }), {}],
      ['a guard with a status', () => jwtAuth({ provider, logger: false }), { status: 404 }],
      [
        'a guard with a redirect',
        () => jwtAuth({ provider, logger: false }),
        { redirect: '/login' },
      ],
      ['basicAuth', () => basicAuth({ credentialsRepository: repository, logger: false }), {}],
    ])(
      '%s: the error goes to next(error), and the connection is closed',
      async (_case, auth, options) => {
        const seen: unknown[] = []
        const recordError: ErrorRequestHandler = (error, _req, _res, next) => {
          seen.push(error)
          next(error)
        }
        const app = createApp()
        app.use(auth())
        app.get('/stream', startStream, requireUser(options), (_req, res) =>
          res.end('data: secret\n\n'),
        )
        app.use(recordError)
        const { status, closed } = await getUntilClosed(app)
        expect(status).toBe(200) // what the handler before the guard had already sent
        expect(closed).toBe(true)
        expect(seen).toHaveLength(1)
        expect(seen[0]).toBeInstanceOf(AuthError)
        expect(seen[0]).toMatchObject({ status: 401 })
      },
    )
  },
)

// Once per process each: the cases that must not warn run first.
describe('warnings, once per process', () => {
  function warningsWithCode(spy: { mock: { calls: unknown[][] } }, code: string): unknown[][] {
    return spy.mock.calls.filter(
      (call) => (call[1] as { code?: string } | undefined)?.code === code,
    )
  }

  it('a guard after jwtAuth refusing an anonymous request does not warn', async () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const app = express()
    app.use(jwtAuth({ provider, logger: false }))
    app.get('/me', requireUser(), ok)
    expect((await request(app).get('/me')).status).toBe(401)
    expect(warningsWithCode(emitted, 'OIDC_GUARD_NO_AUTH_MIDDLEWARE')).toHaveLength(0)
  })

  it('a guard on a route mounted before jwtAuth: still 401, and one warning saying what to do', async () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const app = express()
    app.get('/me', requireUser(), ok) // mounted before the middleware: jwtAuth never runs for it
    app.use(jwtAuth({ provider, logger: false }))
    const token = idp.mint({ sub: 'alice' })
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const response = await request(app).get('/me').set('Authorization', `Bearer ${token}`)
      expect(response.status).toBe(401)
    }
    const warnings = warningsWithCode(emitted, 'OIDC_GUARD_NO_AUTH_MIDDLEWARE')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]![0]).toMatch(/mount jwtAuth \(or basicAuth\/apiKeyAuth\) before the routes/)
  })

  it('tokenLocations.formBody: read when the form is parsed first; no warning for other bodies', async () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const token = idp.mint({ sub: 'alice' })
    const parsedFirst = express()
    parsedFirst.use(express.urlencoded({ extended: false }))
    parsedFirst.use(jwtAuth({ provider, logger: false, tokenLocations: { formBody: true } }))
    parsedFirst.post('/form', requireUser(), ok)
    const form = await request(parsedFirst).post('/form').type('form').send(`access_token=${token}`)
    expect(form.status).toBe(200)
    const json = await request(parsedFirst).post('/form').send({ access_token: token })
    expect(json.status).toBe(401) // a JSON body is never a place for the token
    expect(warningsWithCode(emitted, 'OIDC_GUARD_FORM_BODY_UNPARSED')).toHaveLength(0)
  })

  it('tokenLocations.formBody with the form parser after jwtAuth: 401, and one warning', async () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const token = idp.mint({ sub: 'alice' })
    const app = express()
    app.use(jwtAuth({ provider, logger: false, tokenLocations: { formBody: true } }))
    app.use(express.urlencoded({ extended: false }))
    app.post('/form', requireUser(), ok)
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await request(app).post('/form').type('form').send(`access_token=${token}`)
      expect(response.status).toBe(401)
    }
    const warnings = warningsWithCode(emitted, 'OIDC_GUARD_FORM_BODY_UNPARSED')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]![0]).toMatch(/mount express\.urlencoded\(\) before jwtAuth/)
  })
})

// Review 9: a late health report never writes to a response a time-out has sent, details: false
// hides `disabled`, authErrorHandler keeps what it was not given from the raising jwtAuth, and the
// metadata document answers at its full path wherever it is mounted.

import request from 'supertest'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { NextFunction, Request, Response } from 'express'
import {
  authErrorHandler,
  healthHandler,
  jwtAuth,
  protectedResourceMetadata,
  requireUser,
  type HealthReport,
} from '../../src/index.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://login.example.com'))
})

afterAll(() => idp.close())

/** A health source whose report comes only when the test says so, as a part slow to answer. */
function slowSource() {
  let settle!: { resolve: (report: HealthReport) => void; reject: (error: Error) => void }
  const pending = new Promise<HealthReport>((resolve, reject) => (settle = { resolve, reject }))
  return { source: { health: () => pending }, settle }
}

/** A request time-out shorter than the report takes: it answers 503 first. */
function timeout(ms: number) {
  return (_req: Request, res: Response, next: NextFunction) => {
    const timer = setTimeout(() => {
      if (!res.headersSent) res.status(503).json({ error: 'timeout' })
    }, ms)
    res.on('finish', () => clearTimeout(timer))
    next()
  }
}

/** Lets the promise callbacks run, and an unhandled rejection be reported. */
async function settleTurns(): Promise<void> {
  for (let turn = 0; turn < 3; turn += 1) await new Promise((resolve) => setImmediate(resolve))
}

const fullReport = { ok: true, providers: [] } as unknown as HealthReport

describe.each(EXPRESS_MAJORS)(
  'healthHandler behind a time-out on %s (defect 1)',
  (_name, createApp) => {
    const unhandled: unknown[] = []
    const record = (reason: unknown) => unhandled.push(reason)
    beforeEach(() => {
      unhandled.length = 0
      process.on('unhandledRejection', record)
    })
    afterEach(() => {
      process.off('unhandledRejection', record)
    })

    it.each([
      ['resolves', (settle: ReturnType<typeof slowSource>['settle']) => settle.resolve(fullReport)],
      [
        'rejects',
        (settle: ReturnType<typeof slowSource>['settle']) => settle.reject(new Error('bug')),
      ],
    ])(
      'a report that %s after the time-out answered is dropped, and the app keeps serving',
      async (_how, finish) => {
        const { source, settle } = slowSource()
        const app = createApp()
        app.use(timeout(20))
        app.get('/health', healthHandler(source))
        app.get('/ping', (_req, res) => res.json({ pong: true }))

        const first = await request(app).get('/health')
        expect(first.status).toBe(503)
        expect(first.body).toEqual({ error: 'timeout' })
        finish(settle) // the part answers after the time-out: the old handler wrote to a sent response
        await settleTurns()
        expect(unhandled).toEqual([])

        const later = await request(app).get('/ping')
        expect(later.status).toBe(200)
        expect(later.body).toEqual({ pong: true })
      },
    )

    it('a report that cannot be written goes to the error handlers, not to an unhandled rejection', async () => {
      const app = createApp()
      const unwritable = { ok: true, size: 1n } as unknown as HealthReport
      app.get('/health', healthHandler({ health: () => Promise.resolve(unwritable) }))
      const seen: unknown[] = []
      app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
        seen.push(error)
        res.status(500).json({ error: 'server_error' })
      })
      const res = await request(app).get('/health')
      await settleTurns()
      expect(res.status).toBe(500)
      expect(seen).toHaveLength(1)
      expect(seen[0]).toBeInstanceOf(TypeError)
      expect(unhandled).toEqual([])
    })
  },
)

describe.each(EXPRESS_MAJORS)(
  'healthHandler details: false on %s (defect 6)',
  (_name, createApp) => {
    it('answers { ok: true } alone when authentication is disabled', async () => {
      const auth = jwtAuth({ disabled: true, logger: false, env: {} })
      const app = createApp()
      app.get('/healthz', healthHandler(auth, { details: false }))
      app.get('/health', healthHandler(auth))
      const bare = await request(app).get('/healthz')
      expect(bare.status).toBe(200)
      expect(bare.body).toEqual({ ok: true })
      expect((await request(app).get('/health')).body).toEqual({ ok: true, disabled: true })
    })
  },
)

describe.each(EXPRESS_MAJORS)(
  'authErrorHandler inherits the challenge on %s (defect 3)',
  (_name, createApp) => {
    const metadataUrl = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'

    function appWith(
      auth: { realm?: string; resourceMetadata?: string },
      handler: Parameters<typeof authErrorHandler>[0],
    ) {
      const app = createApp()
      app.use(
        jwtAuth({
          provider,
          logger: false,
          ...auth,
          onError: (error, _req, _res, next) => next(error),
        }),
      )
      app.get('/mcp', requireUser(), (_req, res) => res.json({ ok: true }))
      app.use(authErrorHandler(handler))
      return app
    }

    it('{ realm } keeps the resource_metadata of the jwtAuth that raised the error', async () => {
      const res = await request(appWith({ resourceMetadata: metadataUrl }, { realm: 'api' })).get(
        '/mcp',
      )
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="api", resource_metadata="${metadataUrl}"`,
      )
    })

    it('an option given wins, one not given is inherited', async () => {
      const other = 'https://other.example.com/.well-known/oauth-protected-resource'
      const app = appWith(
        { realm: 'mcp', resourceMetadata: metadataUrl },
        { resourceMetadata: other },
      )
      const res = await request(app).get('/mcp')
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="mcp", resource_metadata="${other}"`,
      )
      const token = idp.mint({ sub: 'alice' }, { expiresInSec: -3600 })
      const expired = await request(appWith({ resourceMetadata: metadataUrl }, { realm: 'api' }))
        .get('/mcp')
        .set('Authorization', `Bearer ${token}`)
      expect(expired.status).toBe(401)
      expect(expired.headers['www-authenticate']).toContain('realm="api"')
      expect(expired.headers['www-authenticate']).toContain(`resource_metadata="${metadataUrl}"`)
    })
  },
)

describe.each(EXPRESS_MAJORS)(
  'the metadata document wherever it is mounted on %s (defect 4)',
  (_name, createApp) => {
    const metadata = () =>
      protectedResourceMetadata({ resource: 'https://mcp.example.com/mcp', providers: [provider] })

    it('answers at its full path under a mount point that is a prefix of it', async () => {
      const app = createApp()
      app.use('/.well-known', metadata())
      const res = await request(app).get('/.well-known/oauth-protected-resource/mcp?x=1')
      expect(res.status).toBe(200)
      expect(res.body.resource).toBe('https://mcp.example.com/mcp')
    })

    it('writes the largest maxAgeSec as delta-seconds (defect 5)', async () => {
      const app = createApp()
      const largest = { resource: 'https://mcp.example.com/mcp', providers: [provider] }
      app.use(protectedResourceMetadata({ ...largest, maxAgeSec: 2_147_483_648 }))
      const res = await request(app).get('/.well-known/oauth-protected-resource/mcp')
      expect(res.headers['cache-control']).toBe('public, max-age=2147483648')
    })

    it('does not answer at a URL no client builds, in a router mounted at the resource path', async () => {
      const app = createApp()
      const mounted = createApp()
      mounted.use(metadata())
      app.use('/mcp', mounted)
      expect((await request(app).get('/mcp/.well-known/oauth-protected-resource/mcp')).status).toBe(
        404,
      )
    })
  },
)

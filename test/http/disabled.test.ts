// The disabled switch: a clearly marked synthetic user, guards allow, never in production by accident.

import type { Express } from 'express'
import { pino } from 'pino'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import {
  ConfigError,
  fromEnv,
  hasGroups,
  jwtAuth,
  requireAll,
  requireGroups,
  requirePermissions,
  requireScopes,
  requireUser,
  User,
  type JwtAuthOptions,
} from '../../src/index.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'

function memoryLogger() {
  const lines: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
  return { logger, lines }
}

describe.each(EXPRESS_MAJORS)('the disabled switch on %s', (_name, createApp) => {
  function appWith(options: JwtAuthOptions) {
    const app = createApp() as Express
    app.use(jwtAuth(options))
    app.get('/me', requireUser(), (req, res) => res.json(req.currentUser))
    app.get('/admin', requireAll(requireGroups(['admin']), requireScopes(['x'])), (_req, res) =>
      res.json({ ok: true }),
    )
    app.get('/check', async (req, res) => {
      res.json({ admin: await hasGroups(req, ['admin']), synthetic: req.currentUser.isSynthetic })
    })
    return app
  }

  it('every request is the synthetic user, with or without a token; every guard allows it', async () => {
    const app = appWith({ disabled: true, logger: false })
    const me = await request(app).get('/me')
    expect(me.status).toBe(200)
    expect(me.body).toMatchObject({ id: 'synthetic', name: 'synthetic', provider: 'disabled' })
    const forged = await request(app).get('/admin').set('Authorization', 'Bearer a.b.c')
    expect(forged.status).toBe(200)
    expect((await request(app).get('/check')).body).toEqual({ admin: true, synthetic: true })
  })

  it('AUTH_MIDDLEWARE_DISABLED=true switches it on from the env; disabled: false wins over it', () => {
    expect(() =>
      appWith({ env: { AUTH_MIDDLEWARE_DISABLED: 'true' }, logger: false }),
    ).not.toThrow()
    // Explicit false: back to normal, which needs a provider.
    expect(() =>
      appWith({ disabled: false, env: { AUTH_MIDDLEWARE_DISABLED: 'true' }, logger: false }),
    ).toThrow(/a provider is required/)
  })

  it('is refused under NODE_ENV=production, unless explicitly allowed', () => {
    const production = { NODE_ENV: 'production', AUTH_MIDDLEWARE_DISABLED: 'true' }
    expect(() => appWith({ env: production, logger: false })).toThrow(ConfigError)
    expect(() =>
      appWith({ disabled: true, env: { NODE_ENV: 'production' }, logger: false }),
    ).toThrow(/AUTH_MIDDLEWARE_ALLOW_DISABLED_IN_PRODUCTION=true/)
    const allowed = { ...production, AUTH_MIDDLEWARE_ALLOW_DISABLED_IN_PRODUCTION: 'true' }
    expect(() => appWith({ env: allowed, logger: false })).not.toThrow()
    expect(() => appWith({ ...fromEnv(allowed, { logger: false }) })).not.toThrow()
  })

  it.each(['Production', 'PRODUCTION', 'production ', 'prod'])(
    'reads NODE_ENV=%j as production too',
    (value) => {
      expect(() => appWith({ disabled: true, env: { NODE_ENV: value }, logger: false })).toThrow(
        ConfigError,
      )
    },
  )

  it("is refused when the process's NODE_ENV says production, whatever env option is given", () => {
    const before = process.env['NODE_ENV']
    process.env['NODE_ENV'] = 'production'
    try {
      expect(() => appWith({ env: { AUTH_MIDDLEWARE_DISABLED: 'true' }, logger: false })).toThrow(
        ConfigError,
      )
    } finally {
      if (before === undefined) delete process.env['NODE_ENV']
      else process.env['NODE_ENV'] = before
    }
  })

  it('logs a warning at start-up', () => {
    const { logger, lines } = memoryLogger()
    appWith({ disabled: true, logger })
    expect(lines).toHaveLength(1)
    const record = JSON.parse(lines[0]!)
    expect(record.level).toBe(40)
    expect(record.msg).toMatch(/^AUTHENTICATION IS DISABLED: jwtAuth lets every request through/)
  })

  it('a look-alike of the synthetic user built by hand is not one', async () => {
    const app = createApp() as Express
    app.use((req, _res, next) => {
      req.currentUser = new User({ provider: 'disabled' }, { id: 'synthetic' }, {})
      next()
    })
    app.get('/admin', requirePermissions(['orders:read']), (_req, res) => res.json({ ok: true }))
    expect((await request(app).get('/admin')).status).toBe(403)
  })
})

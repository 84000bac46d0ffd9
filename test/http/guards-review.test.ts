// requireAll/requireAny keep an inner guard's status when its source throws the refusal
// (Entra ID's group overage without a resolver), never over an outage.

import type { Express, RequestHandler } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GroupsProvider } from '../../src/contracts.js'
import { ForbiddenError } from '../../src/errors.js'
import { requireAll, requireAny, requireGroups, requireScopes } from '../../src/guards.js'
import { jwtAuth } from '../../src/middleware.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://guards-review.example'))
})

afterAll(() => idp.close())

const ok: RequestHandler = (_req, res) => {
  res.json({ ok: true })
}

// One error for every request, as a source holding it (or a shared lookup) would hand out.
const overage = new ForbiddenError('group overage: the groups cannot be had')

describe.each(EXPRESS_MAJORS)('a source that throws its refusal, on %s', (_name, createApp) => {
  function appWith(groups: GroupsProvider): Express {
    const app = createApp()
    app.use(jwtAuth({ provider, logger: false, realm: 'api', groups, sourceCache: false }))
    app.get('/any', requireAny(requireGroups(['admin'], { status: 404 }), requireScopes(['x'])), ok)
    app.get(
      '/all',
      requireAll(requireGroups(['admin'], { status: 404 }), requireScopes(['profile'])),
      ok,
    )
    app.get(
      '/nested',
      requireAll(requireAny(requireGroups(['admin'], { status: 404 }), requireScopes(['x']))),
      ok,
    )
    app.get('/plain', requireAny(requireGroups(['admin']), requireScopes(['x'])), ok)
    return app
  }
  const signedIn = () => `Bearer ${idp.mint({ sub: 'alice', scope: 'profile' })}`
  const throwing = (error: unknown): GroupsProvider => ({
    fetchGroups: () => {
      throw error
    },
  })

  it('requireAny, requireAll and nested: the hidden route stays 404', async () => {
    const app = appWith(throwing(overage))
    for (const path of ['/any', '/all', '/nested']) {
      const res = await request(app).get(path).set('Authorization', signedIn())
      expect(res.status, path).toBe(404)
      expect(res.body).toEqual({ error: 'not_found' })
      expect(res.headers['www-authenticate']).toBeUndefined()
    }
  })

  it('the same thrown error on a route without a status is still its 403', async () => {
    const app = appWith(throwing(overage))
    await request(app).get('/any').set('Authorization', signedIn())
    const res = await request(app).get('/plain').set('Authorization', signedIn())
    expect(res.status).toBe(403)
    expect(res.body.error).toBe('forbidden')
  })

  it('a later guard may still let the user in', async () => {
    const app = createApp()
    app.use(jwtAuth({ provider, logger: false, groups: throwing(overage), sourceCache: false }))
    app.get(
      '/any',
      requireAny(requireGroups(['admin'], { status: 404 }), requireScopes(['profile'])),
      ok,
    )
    const res = await request(app).get('/any').set('Authorization', signedIn())
    expect(res.status).toBe(200)
  })

  it('an outage stays 503, never the chosen status', async () => {
    const app = appWith(throwing(new Error('connection refused')))
    for (const path of ['/any', '/all', '/nested']) {
      const res = await request(app).get(path).set('Authorization', signedIn())
      expect(res.status, path).toBe(503)
      expect(res.headers['retry-after']).toMatch(/^\d+$/)
    }
  })
})

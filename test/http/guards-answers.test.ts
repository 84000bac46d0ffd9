// How guards answer refusals: combinators keep their inner guards' status/redirect for anonymous
// users, and the redirect's ?next= stays a path on this site, before any fragment.

import type { Express, RequestHandler } from 'express'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  jwtAuth,
  requireAll,
  requireAny,
  requireGroups,
  requireScopes,
  requireUser,
} from '../../src/index.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://answers.example'))
})

afterAll(() => idp.close())

const ok: RequestHandler = (_req, res) => {
  res.json({ ok: true })
}

/** Sends the request target as written (`GET http://host/path`, `GET /\\x`), which supertest cannot. */
async function rawLocation(app: Express, target: string): Promise<string | undefined> {
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  try {
    return await new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: target }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.headers.location))
      })
      req.on('error', reject)
      req.end()
    })
  } finally {
    server.close()
  }
}

describe.each(EXPRESS_MAJORS)('combinators answer anonymous users on %s', (_name, createApp) => {
  function appWith(mount: (app: Express) => void): Express {
    const app = createApp()
    app.use(jwtAuth({ provider, logger: false, realm: 'api', groups: { fetchGroups: () => [] } }))
    mount(app)
    return app
  }
  const signedIn = () => `Bearer ${idp.mint({ sub: 'alice', scope: 'profile' })}`

  it('requireAll and requireAny keep a hidden route hidden: the inner status, no challenge', async () => {
    const app = appWith((app) => {
      app.get(
        '/all',
        requireAll(requireGroups(['admin'], { status: 404 }), requireScopes(['ops'])),
        ok,
      )
      app.get(
        '/any',
        requireAny(requireGroups(['admin'], { status: 404 }), requireScopes(['ops'])),
        ok,
      )
      app.get(
        '/nested',
        requireAny(requireAll(requireScopes(['ops'], { status: 404 })), requireScopes(['x'])),
        ok,
      )
    })
    for (const path of ['/all', '/any', '/nested']) {
      const anonymous = await request(app).get(path)
      expect(anonymous.status, path).toBe(404)
      expect(anonymous.body).toEqual({ error: 'not_found' })
      expect(anonymous.headers['www-authenticate']).toBeUndefined()
      expect((await request(app).get(path).set('Authorization', signedIn())).status).toBe(404)
    }
  })

  it('requireAll(requireUser({ redirect }), …) sends anonymous visitors to the login page', async () => {
    const app = appWith((app) =>
      app.get('/page', requireAll(requireUser({ redirect: '/login' }), requireScopes(['ops'])), ok),
    )
    const anonymous = await request(app).get('/page')
    expect(anonymous.status).toBe(302)
    expect(anonymous.headers['location']).toBe('/login?next=%2Fpage')
    const refused = await request(app).get('/page').set('Authorization', signedIn())
    expect(refused.status).toBe(403)
  })

  it('the first inner guard answers anonymous users: a later guard’s status does not', async () => {
    const app = appWith((app) =>
      app.get(
        '/first',
        requireAll(requireScopes(['ops']), requireGroups(['admin'], { status: 404 })),
        ok,
      ),
    )
    const anonymous = await request(app).get('/first')
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="api"')
  })
})

describe.each(EXPRESS_MAJORS)('the redirect on %s', (_name, createApp) => {
  function appWith(redirect: string): Express {
    const app = createApp()
    app.use(jwtAuth({ provider, logger: false }))
    app.use(requireUser({ redirect }), ok)
    return app
  }

  it.each([
    ['/login', '/page?tab=2', '/login?next=%2Fpage%3Ftab%3D2'],
    ['/login#top', '/page', '/login?next=%2Fpage#top'],
    ['/login?lang=en#top', '/page', '/login?lang=en&next=%2Fpage#top'],
    ['/login?', '/page', '/login?next=%2Fpage'],
    ['https://sso.example/login?a=1', '/page', 'https://sso.example/login?a=1&next=%2Fpage'],
  ])('to %s from %s → %s', async (target, from, location) => {
    const res = await request(appWith(target)).get(from)
    expect(res.status).toBe(302)
    expect(res.headers['location']).toBe(location)
  })

  it.each(['//evil.example/x', '/\\evil.example/x', 'http://evil.example/app/x'])(
    'never carries another origin in next: %s becomes /',
    async (from) => {
      expect(await rawLocation(appWith('/login#top'), from)).toBe('/login?next=%2F#top')
    },
  )
})

// tokenLocations.formBody reads a form's access_token only with POST, PUT or PATCH: RFC 6750 §2.2
// says the GET method MUST NOT be used, and a GET (or HEAD, DELETE) carrying a form token is as if
// it carried none, on both majors.

import express from 'express'
import express4 from 'express4'
import type { Express, RequestHandler } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jwtAuth, requireUser } from '../../src/index.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { whoAmI } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://form-body-review10.example'))
})

afterAll(() => idp.close())

const MAJORS: readonly [string, () => Express, () => RequestHandler][] = [
  ['express 5', () => express(), () => express.urlencoded({ extended: false })],
  [
    'express 4',
    () => express4() as unknown as Express,
    () => express4.urlencoded({ extended: false }) as unknown as RequestHandler,
  ],
]

describe.each(MAJORS)('a form token on %s', (_name, createApp, urlencoded) => {
  function app(): Express {
    const created = createApp()
    created.use(urlencoded())
    created.use(jwtAuth({ provider, tokenLocations: { formBody: true }, logger: false }))
    created.all('/who', whoAmI())
    created.all('/me', requireUser(), whoAmI())
    return created
  }

  it.each(['post', 'put', 'patch'] as const)('is read with %s', async (method) => {
    const client = request(app())
    const res = await client[method]('/me')
      .type('form')
      .send({ access_token: idp.mint({ sub: 'form-user' }) })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: 'form-user' })
  })

  it.each(['get', 'delete'] as const)('is not read with %s: no token at all', async (method) => {
    const token = idp.mint({ sub: 'form-user' })
    const guarded = await request(app())[method]('/me').type('form').send({ access_token: token })
    expect(guarded.status).toBe(401)
    expect(guarded.headers['www-authenticate']).toBe('Bearer')
    const open = await request(app())[method]('/who').type('form').send({ access_token: token })
    expect(open.status).toBe(200)
    expect(open.body).toMatchObject({ isAuthenticated: false })
  })

  it('leaves a GET to its Authorization header, not a 400 for two methods', async () => {
    const res = await request(app())
      .get('/me')
      .set('Authorization', `Bearer ${idp.mint({ sub: 'header-user' })}`)
      .type('form')
      .send({ access_token: idp.mint({ sub: 'form-user' }) })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: 'header-user' })
  })
})

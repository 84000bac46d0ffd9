// tokenLocations.formBody: the unparsed-form warning must fire when only express.json() ran (it sets
// req.body = {} on Express 4), and never for a form a parser read, token or not, on both majors.

import express from 'express'
import express4 from 'express4'
import type { Express, RequestHandler } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { jwtAuth, requireUser } from '../../src/index.js'
import type { TestIssuer } from '../../src/testing.js'
import { warnOnce } from '../../src/warn-once.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { whoAmI } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

// Every call recorded: the real warnOnce says each code once per process, which would hide all but
// the first case of this file.
vi.mock('../../src/warn-once.js', () => ({ warnOnce: vi.fn() }))

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://form-body-review6.example'))
})

afterAll(() => idp.close())

beforeEach(() => {
  vi.mocked(warnOnce).mockClear()
})

function unparsedWarnings(): number {
  return vi.mocked(warnOnce).mock.calls.filter(([code]) => code === 'OIDC_GUARD_FORM_BODY_UNPARSED')
    .length
}

interface Parsers {
  json: () => RequestHandler
  urlencoded: () => RequestHandler
}

const MAJORS: readonly [string, () => Express, Parsers][] = [
  [
    'express 5',
    () => express(),
    { json: () => express.json(), urlencoded: () => express.urlencoded({ extended: false }) },
  ],
  [
    'express 4',
    () => express4() as unknown as Express,
    {
      json: () => express4.json() as unknown as RequestHandler,
      urlencoded: () => express4.urlencoded({ extended: false }) as unknown as RequestHandler,
    },
  ],
]

describe.each(MAJORS)('tokenLocations.formBody on %s', (_name, createApp, parsers) => {
  function appWith(...before: RequestHandler[]): Express {
    const app = createApp()
    for (const parser of before) app.use(parser)
    app.use(jwtAuth({ provider, logger: false, tokenLocations: { formBody: true } }))
    app.post('/public', whoAmI())
    app.post('/private', requireUser(), whoAmI())
    return app
  }

  it('with only express.json() mounted, a form with a token is anonymous and warns', async () => {
    const app = appWith(parsers.json())
    const res = await request(app)
      .post('/private')
      .type('form')
      .send(`access_token=${idp.mint({ sub: 'alice' })}`)
    expect(res.status).toBe(401)
    expect(unparsedWarnings()).toBe(1)
  })

  it('with no parser at all, it warns too', async () => {
    const res = await request(appWith()).post('/public').type('form').send('access_token=abc')
    expect(res.body.isAuthenticated).toBe(false)
    expect(unparsedWarnings()).toBe(1)
  })

  it('a parsed form with a token passes, without a warning (a JSON parser before it too)', async () => {
    const token = idp.mint({ sub: 'alice' })
    for (const app of [
      appWith(parsers.urlencoded()),
      appWith(parsers.json(), parsers.urlencoded()),
    ]) {
      const res = await request(app).post('/private').type('form').send(`access_token=${token}`)
      expect(res.status).toBe(200)
    }
    expect(unparsedWarnings()).toBe(0)
  })

  it('a parsed form without a token, or an empty one, does not warn', async () => {
    for (const app of [
      appWith(parsers.urlencoded()),
      appWith(parsers.json(), parsers.urlencoded()),
    ]) {
      for (const body of ['a=1', '']) {
        const res = await request(app).post('/public').type('form').send(body)
        expect(res.status, JSON.stringify(body)).toBe(200)
        expect(res.body.isAuthenticated).toBe(false)
      }
    }
    expect(unparsedWarnings()).toBe(0)
  })

  it('a JSON body never warns: it is no form', async () => {
    const app = appWith(parsers.json())
    const res = await request(app).post('/public').send({ access_token: 'abc' })
    expect(res.status).toBe(200)
    expect(unparsedWarnings()).toBe(0)
  })
})

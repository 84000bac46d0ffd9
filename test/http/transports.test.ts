// Token transports other than the Authorization header: off by default, opt-in, never two at once.

import express from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JwksCache, jwtAuth, requireUser, type TokenLocations } from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://transports.example' })
})

afterAll(() => idp.close())

describe.each(EXPRESS_MAJORS)('token transports on %s', (_name, createApp) => {
  function appWith(tokenLocations?: TokenLocations) {
    const app = createApp()
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({ fetch: idp.fetch }),
    })
    app.use(express.urlencoded({ extended: false }), express.json())
    app.use(
      jwtAuth({
        provider,
        logger: false,
        ...(tokenLocations === undefined ? {} : { tokenLocations }),
      }),
    )
    app.all('/private', requireUser(), whoAmI())
    return app
  }

  it.each<[string, unknown, RegExp]>([
    ['formBody as a string', { formBody: 'true' }, /tokenLocations.formBody must be true or false/],
    ['an empty cookie name', { cookie: '' }, /tokenLocations.cookie must be a cookie name/],
    ['a cookie name with a space', { cookie: 'my token' }, /tokenLocations.cookie/],
    ['an empty query parameter', { query: '' }, /tokenLocations.query must be/],
    ['a query parameter with =', { query: 'a=b' }, /tokenLocations.query must be/],
    ['a misspelt location', { cookies: 'token' }, /tokenLocations.cookies is not a token location/],
    ['a list', ['cookie'], /tokenLocations must be an object/],
  ])(
    'a bad tokenLocations (%s) is a ConfigError at construction',
    (_case, tokenLocations, message) => {
      expect(() => appWith(tokenLocations as TokenLocations)).toThrow(message)
    },
  )

  it('accepts every documented tokenLocations shape', () => {
    for (const tokenLocations of [
      {},
      { query: true },
      { query: 'token' },
      { formBody: false },
      { cookie: '__Host-access_token' },
    ]) {
      expect(() => appWith(tokenLocations)).not.toThrow()
    }
  })

  it('HTTP-12: ignores ?access_token= by default (401 with a bare challenge)', async () => {
    const res = await request(appWith()).get(`/private?access_token=${idp.mint()}`)
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe('Bearer')
  })

  it('HTTP-12: reads ?access_token= when enabled', async () => {
    const res = await request(appWith({ query: true })).get(
      `/private?access_token=${idp.mint({ sub: 'q' })}`,
    )
    expect(res.body).toMatchObject({ handler: 'ran', id: 'q' })
  })

  it('HTTP-13: a header and a query token together are 400 invalid_request', async () => {
    const res = await request(appWith({ query: true }))
      .get(`/private?access_token=${idp.mint()}`)
      .set('Authorization', `Bearer ${idp.mint()}`)
    expect(res.status).toBe(400)
    expect(res.body.error_description).toBe('more than one method used to send a token')
  })

  it('HTTP-14: reads a form body only when enabled, and never a JSON body', async () => {
    const token = idp.mint({ sub: 'form' })
    expect(
      (await request(appWith()).post('/private').type('form').send({ access_token: token })).status,
    ).toBe(401)
    const form = await request(appWith({ formBody: true }))
      .post('/private')
      .type('form')
      .send({ access_token: token })
    expect(form.body).toMatchObject({ id: 'form' })
    const json = await request(appWith({ formBody: true }))
      .post('/private')
      .send({ access_token: token })
    expect(json.status).toBe(401)
  })

  it('HTTP-16: ignores tokens in other headers and cookies by default', async () => {
    const token = idp.mint()
    const res = await request(appWith())
      .get('/private')
      .set('Proxy-Authorization', `Bearer ${token}`)
      .set('X-Access-Token', token)
      .set('Cookie', `access_token=${token}`)
    expect(res.status).toBe(401)
  })

  it('reads a named cookie when enabled', async () => {
    const res = await request(appWith({ cookie: 'at' }))
      .get('/private')
      .set('Cookie', `theme=dark; at=${idp.mint({ sub: 'c' })}`)
    expect(res.body).toMatchObject({ id: 'c' })
  })
})

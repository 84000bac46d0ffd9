// A token verified before is looked up before its header is parsed: every header rule still holds.

import type { Express } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { JwksCache, jwtAuth, type JwtAuthOptions } from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, rawGet, whoAmI } from '../helpers/http.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer()
})

afterAll(async () => {
  await idp.close()
})

describe.each(EXPRESS_MAJORS)('a remembered token on %s', (_name, createApp) => {
  /** An app whose verifier has verified (and remembered) `token` once already. */
  async function appRemembering(
    token: string,
    options: Partial<JwtAuthOptions> = {},
  ): Promise<Express> {
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache(),
    })
    const auth = jwtAuth({ provider, logger: false, ...options })
    await auth.verifier!(token)
    expect((await auth.verifier!.health()).tokenCache.size).toBe(1)
    const app = createApp()
    app.use(auth)
    app.get('/public', whoAmI())
    app.get('/own-property', (req, res) => {
      const derived = Object.create(req) as typeof req
      res.json({
        own: Object.hasOwn(req, 'currentUser'),
        id: req.currentUser.id,
        derivedId: derived.currentUser.id,
      })
    })
    return app
  }

  it('passes as the user it was verified for, from an accessor rather than an own property', async () => {
    const token = idp.mint({ sub: 'alice' })
    const app = await appRemembering(token)
    const res = await request(app).get('/own-property').set('Authorization', `Bearer ${token}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ own: false, id: 'alice', derivedId: 'alice' })
  })

  it.each([
    ['lower-case scheme', (token: string) => `bearer ${token}`],
    ['two spaces', (token: string) => `Bearer  ${token}`],
  ])('under another valid spelling of the header (%s): the same user', async (_case, header) => {
    const token = idp.mint({ sub: 'alice' })
    const res = await request(await appRemembering(token))
      .get('/public')
      .set('Authorization', header(token))
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: 'alice', isAuthenticated: true })
  })

  it.each([
    ['a second credential after a comma', (token: string) => `Bearer ${token},x`],
    ['a second credential after a space', (token: string) => `Bearer ${token} x`],
    ['a quoted token', (token: string) => `Bearer "${token}"`],
  ])('with %s: 400 invalid_request', async (_case, header) => {
    const token = idp.mint({ sub: 'alice' })
    const res = await request(await appRemembering(token))
      .get('/public')
      .set('Authorization', header(token))
    expect(res.status).toBe(400)
    expect(res.body.error).toBe('invalid_request')
  })

  it('sent twice in two Authorization headers: 400 invalid_request', async () => {
    const token = idp.mint({ sub: 'alice' })
    const res = await rawGet(await appRemembering(token), '/public', {
      authorization: [`Bearer ${token}`, `Bearer ${token}`],
    })
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ error_description: 'more than one Authorization header' })
  })

  it('with another token in the query string as well: 400 invalid_request', async () => {
    const token = idp.mint({ sub: 'alice' })
    const app = await appRemembering(token, { tokenLocations: { query: true } })
    const res = await request(app)
      .get(`/public?access_token=${idp.mint({ sub: 'bob' })}`)
      .set('Authorization', `Bearer ${token}`)
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({
      error_description: 'more than one method used to send a token',
    })
  })

  it('with a revocation store that throws: 503 through onError, like a new token', async () => {
    let down = false
    const revocation = {
      isRevoked: () => {
        if (down) throw new Error('connection reset')
        return false
      },
    }
    const seen: number[] = []
    const token = idp.mint({ sub: 'alice' })
    const app = await appRemembering(token, {
      revocation,
      onError: (error, _req, res) => {
        seen.push(error.status)
        res.status(error.status).json({ code: error.code })
      },
    })
    down = true
    for (const sent of [token, idp.mint({ sub: 'bob' })]) {
      const res = await request(app).get('/public').set('Authorization', `Bearer ${sent}`)
      expect(res.status).toBe(503)
      expect(res.body).toEqual({ code: 'ERR_AUTH_REVOCATION_UNAVAILABLE' })
    }
    expect(seen).toEqual([503, 503])
  })

  it('once expired: 401 token expired, though remembered', async () => {
    const token = idp.mint({ sub: 'alice' }, { expiresInSec: 60 })
    const app = await appRemembering(token)
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(Date.now() + 10 * 60_000) // Past exp and any clock tolerance.
      const res = await request(app).get('/public').set('Authorization', `Bearer ${token}`)
      expect(res.status).toBe(401)
      expect(res.body.error_description).toBe('token expired')
    } finally {
      vi.useRealTimers()
    }
  })
})

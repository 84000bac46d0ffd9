// A verification whose user cannot be built is never remembered, and a caller's missing token is
// the client's fault: both stay 401s however often they come back.

import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { JwksProvider } from '../../providers/jwks/index.js'
import { createVerifier } from '../../src/pipeline.js'
import { jwtAuth } from '../../src/middleware.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://pipeline-review.example' })
})

afterAll(() => idp.close())

/** A provider whose users need an email claim, as a subclass's identity mapping might. */
function providerNeedingEmail(): JwksProvider {
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    fetch: idp.fetch,
  })
  const build = provider.createUser.bind(provider)
  provider.createUser = (verified, sources) => {
    if (typeof verified.claims['email'] !== 'string') throw new TypeError('no email claim')
    return build(verified, sources)
  }
  return provider
}

describe('a verification whose user cannot be built', () => {
  it('is refused with 401 each time, and fromCache never throws it', async () => {
    const verify = createVerifier({ provider: providerNeedingEmail(), logger: false })
    const token = idp.mint({ sub: 'no-email' })
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect(() => verify.fromCache(token)).not.toThrow()
      expect(verify.fromCache(token)).toBeUndefined()
      await expect(verify(token)).rejects.toMatchObject({
        status: 401,
        code: 'ERR_AUTH_TOKEN_REJECTED',
      })
    }
    // A user that can be built is remembered as before.
    const good = idp.mint({ sub: 'with-email', email: 'a@example.com' })
    expect((await verify(good)).id).toBe('with-email')
    expect(verify.fromCache(good)?.id).toBe('with-email')
  })

  it('is forgotten when its user throws on a later use', async () => {
    const provider = providerNeedingEmail()
    const verify = createVerifier({ provider, logger: false })
    const token = idp.mint({ sub: 'flaky', email: 'f@example.com' })
    expect((await verify(token)).id).toBe('flaky')
    const build = provider.createUser
    provider.createUser = () => {
      throw new TypeError('mapping broke')
    }
    expect(verify.fromCache(token)).toBeUndefined()
    await expect(verify(token)).rejects.toMatchObject({ status: 401 })
    provider.createUser = build
    expect(verify.fromCache(token)).toBeUndefined() // forgotten, not remembered broken
    expect((await verify(token)).id).toBe('flaky')
  })

  describe.each(EXPRESS_MAJORS)('through jwtAuth on %s', (_name, makeApp) => {
    it('answers 401 invalid_token on every request, never the app error handler', async () => {
      const app = makeApp()
      app.use(jwtAuth({ provider: providerNeedingEmail(), logger: false }))
      app.get('/', whoAmI())
      const token = idp.mint({ sub: 'no-email' })
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const response = await request(app).get('/').set('authorization', `Bearer ${token}`)
        expect(response.status).toBe(401)
        expect(response.headers['www-authenticate']).toContain('error="invalid_token"')
      }
    })
  })
})

describe('verify() given something other than a string', () => {
  it('refuses it as a malformed token without logging an error of ours', async () => {
    const error = vi.fn()
    const logger = {
      level: 'info',
      isLevelEnabled: () => false,
      error,
      warn: vi.fn(),
      info: vi.fn(),
      debug: vi.fn(),
      trace: vi.fn(),
      fatal: vi.fn(),
      child() {
        return logger
      },
    }
    const provider = providerNeedingEmail()
    const verify = createVerifier({ provider, logger: logger as never })
    for (const value of [undefined, null, 42, {}]) {
      await expect(verify(value as unknown as string)).rejects.toMatchObject({
        status: 401,
        code: 'ERR_AUTH_TOKEN_MALFORMED',
      })
    }
    expect(error).not.toHaveBeenCalled()
  })
})

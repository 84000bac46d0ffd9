// Entra's two token versions are one tenant's users (review 12): a provider accepting v1.0 and v2.0
// declares each named tenant's two issuers as issuerAliases, so "log out everywhere" and forgetUser
// under one version cover the user's tokens and cached answers of the other.

import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EntraIdProvider } from '../../providers/entra-id/index.js'
import {
  authErrorHandler,
  jwtAuth,
  MemoryRevocationStore,
  requirePermissions,
  requireUser,
  type User,
} from '../../src/index.js'
import { createTestIssuer, type EntraTestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'

let tenant: EntraTestIssuer

beforeAll(async () => {
  tenant = await createTestIssuer({ kind: 'entra-id' })
})

afterAll(async () => {
  await tenant.close()
})

const bearer = (token: string) => `Bearer ${token}`

function bothVersions(): EntraIdProvider {
  return new EntraIdProvider({ ...tenant.providerOptions, acceptV1: true })
}

describe('EntraIdProvider.issuerAliases', () => {
  it("groups a named tenant's v2.0 and v1.0 issuers when both are accepted, and only then", () => {
    const provider = bothVersions()
    const { tenantId } = tenant.providerOptions
    expect(provider.issuerAliases).toEqual([
      [
        `https://login.microsoftonline.com/${tenantId}/v2.0`,
        `https://sts.windows.net/${tenantId}/`,
      ],
    ])
    expect(Object.isFrozen(provider.issuerAliases)).toBe(true)
    expect(Object.isFrozen(provider.issuerAliases![0])).toBe(true)
    expect(new EntraIdProvider({ ...tenant.providerOptions }).issuerAliases).toBe(undefined)
  })
})

describe.each(EXPRESS_MAJORS)('%s', (_major, createApp) => {
  it.each(['v2', 'v1'] as const)(
    'log out everywhere with a %s token refuses the tokens of both versions',
    async (version) => {
      const revocations = new MemoryRevocationStore()
      const app = createApp()
      app.use(jwtAuth({ provider: bothVersions(), revocation: revocations, logger: false }))
      app.get('/me', requireUser(), (_req, res) => res.json({ ok: true }))
      app.post('/logout', requireUser(), (req, res) => {
        const { iss, sub } = req.currentUser.claims
        revocations.revokeSubject(iss!, sub!)
        res.status(204).end()
      })
      app.use(authErrorHandler())
      const iat = Math.floor(Date.now() / 1000) - 10
      const tokens = { v2: tenant.v2(undefined, { iat }), v1: tenant.v1(undefined, { iat }) }
      for (const token of Object.values(tokens)) {
        expect((await request(app).get('/me').set('Authorization', bearer(token))).status).toBe(200)
      }
      const logout = await request(app)
        .post('/logout')
        .set('Authorization', bearer(tokens[version]))
      expect(logout.status).toBe(204)
      for (const token of Object.values(tokens)) {
        const res = await request(app).get('/me').set('Authorization', bearer(token))
        expect(res.status).toBe(401)
        expect(res.body).toEqual({ error: 'invalid_token', error_description: 'token revoked' })
      }
    },
  )

  it.each(['v2', 'v1'] as const)(
    'forgetUser with a %s user drops the cached answer of both versions',
    async (version) => {
      let granted = ['orders:delete']
      let asked = 0
      const permissions = {
        fetchPermissions: () => {
          asked += 1
          return granted
        },
      }
      const auth = jwtAuth({
        provider: bothVersions(),
        permissions,
        sourceCache: { ttlMs: 600_000 },
        logger: false,
      })
      const app = createApp()
      app.use(auth)
      app.delete('/orders/1', requirePermissions(['orders:delete']), (_req, res) => {
        res.json({ deleted: true })
      })
      app.post('/revoke', async (req, res) => {
        granted = []
        const user: User = req.currentUser
        await auth.verifier!.forgetUser(user)
        res.status(204).end()
      })
      app.use(authErrorHandler())
      const tokens = { v2: tenant.v2(), v1: tenant.v1() }
      const del = (token: string) =>
        request(app).delete('/orders/1').set('Authorization', bearer(token))
      expect((await del(tokens.v2)).status).toBe(200)
      expect((await del(tokens.v1)).status).toBe(200)
      expect(asked).toBe(2) // each version's answer, cached under its own issuer
      const revoke = await request(app)
        .post('/revoke')
        .set('Authorization', bearer(tokens[version]))
      expect(revoke.status).toBe(204)
      expect((await del(tokens.v2)).status).toBe(403)
      expect((await del(tokens.v1)).status).toBe(403)
    },
  )
})

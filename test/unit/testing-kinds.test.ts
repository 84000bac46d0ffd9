// The public testing kit's kinds: a Cognito pool and an Entra tenant whose presets verify as such.

import { describe, expect, it } from 'vitest'
import { createVerifier } from '../../src/index.js'
import { cognito, createTestIssuer, entra } from '../../src/testing.js'
import { CognitoProvider } from '../../providers/cognito/index.js'
import { EntraIdProvider } from '../../providers/entra-id/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'

describe('createTestIssuer({ kind })', () => {
  it("'oidc' (default): providerOptions point a JwksProvider at it in memory", async () => {
    const idp = await createTestIssuer({ listen: false })
    try {
      const verify = createVerifier({
        provider: new JwksProvider(idp.providerOptions),
        logger: false,
      })
      expect((await verify(idp.mint({ sub: 'alice' }))).id).toBe('alice')
    } finally {
      await idp.close()
    }
  })

  it("'cognito': access, ID and M2M presets verify as Cognito's, with the groups claim", async () => {
    const pool = await createTestIssuer({ kind: 'cognito' })
    try {
      const provider = new CognitoProvider({ ...pool.providerOptions, tokenUse: 'any' })
      const verify = createVerifier({ provider, logger: false })
      const access = await verify(pool.mint({}, { preset: 'access' }))
      expect([access.id, access.name, await access.groups]).toEqual([
        cognito.JANE.sub,
        'jane',
        ['admin', 'editors'],
      ])
      expect(access.claims['token_use']).toBe('access')
      expect((await verify(pool.mint({}, { preset: 'id' }))).claims['token_use']).toBe('id')
      const machine = await verify(pool.mint({ scope: 'orders/read' }, { preset: 'm2m' }))
      expect([machine.isM2M, machine.scopes]).toEqual([true, ['orders/read']])
      // Claims given win over the preset's: an access token for another app client is refused.
      await expect(
        verify(pool.mint({ client_id: 'other' }, { preset: 'access' })),
      ).rejects.toMatchObject({
        code: 'ERR_AUTH_AUDIENCE_MISMATCH',
      })
    } finally {
      await pool.close()
    }
  })

  it("'entra-id': v2, v1 and app-only presets verify as Entra's, roles and scopes included", async () => {
    const tenant = await createTestIssuer({ kind: 'entra-id' })
    try {
      const provider = new EntraIdProvider({ ...tenant.providerOptions, acceptV1: true })
      const verify = createVerifier({ provider, logger: false })
      const v2 = await verify(tenant.mint({}, { preset: 'v2' }))
      expect([v2.id, v2.scopes, await v2.roles]).toEqual([
        entra.JANE.oid,
        ['Orders.Read'],
        ['Orders.Approver'],
      ])
      expect((await verify(tenant.mint({}, { preset: 'v1' }))).claims['ver']).toBe('1.0')
      const app = await verify(tenant.mint({}, { preset: 'app' }))
      expect([app.isM2M, await app.roles]).toEqual([true, ['Orders.Export']])
      const otherTenant = tenant.mint({ tid: entra.OTHER_TENANT }, { preset: 'v2' })
      await expect(verify(otherTenant)).rejects.toMatchObject({ status: 401 })
    } finally {
      await tenant.close()
    }
  })
})

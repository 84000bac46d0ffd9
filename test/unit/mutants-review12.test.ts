// Review 12's hand-made mutations that no test caught: Entra's app-only rule needs oid === sub, a
// subject revocation's key keeps issuer and subject apart, and secrets are compared in constant time.

import * as crypto from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { EntraIdProvider } from '../../providers/entra-id/index.js'
import {
  apiKeyAuth,
  createVerifier,
  generateApiKey,
  hashPassword,
  MemoryRevocationStore,
  verifyPassword,
} from '../../src/index.js'
import { subjectKey } from '../../src/revocation.js'
import { createTestIssuer, type EntraTestIssuer } from '../../src/testing.js'

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof crypto>()
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) }
})

describe("Entra: a person's token without scp is not app-only", () => {
  let tenant: EntraTestIssuer
  beforeAll(async () => {
    tenant = await createTestIssuer({ kind: 'entra-id' })
  })
  afterAll(async () => {
    await tenant.close()
  })

  it.each([
    ['no scp (an ID token)', {}],
    ['roles only, no scp', { roles: ['Orders.Read'] }],
  ])('%s: isM2M is false, since its oid is not its sub', async (_name, claims) => {
    const verify = createVerifier({
      provider: new EntraIdProvider({ ...tenant.providerOptions, requireScopeOrRole: false }),
      logger: false,
    })
    const user = await verify(tenant.mint({ scp: undefined, ...claims }, { preset: 'v2' }))
    expect(user.claims.oid).not.toBe(user.claims.sub)
    expect(user.isM2M).toBe(false)
    const app = await verify(tenant.mint({ roles: ['Orders.Export'] }, { preset: 'app' }))
    expect(app.isM2M).toBe(true)
  })
})

describe("a subject revocation's key", () => {
  it('keeps issuer and subject apart: one name a prefix of another collides with nothing', () => {
    expect(subjectKey('https://idp/realms/t', '1alice')).not.toBe(
      subjectKey('https://idp/realms/t1', 'alice'),
    )
    const store = new MemoryRevocationStore()
    store.revokeSubject('https://idp/realms/t', '1alice')
    const claims = (iss: string, sub: string) => ({
      iss,
      sub,
      iat: Math.floor(Date.now() / 1000) - 5,
    })
    const verified = (iss: string, sub: string) => ({
      token: 'x',
      header: { alg: 'RS256' },
      claims: claims(iss, sub),
    })
    expect(store.isRevoked(verified('https://idp/realms/t', '1alice'))).toBe(true)
    expect(store.isRevoked(verified('https://idp/realms/t1', 'alice'))).toBe(false)
  })
})

describe('secrets are compared with crypto.timingSafeEqual', () => {
  const timingSafeEqual = vi.mocked(crypto.timingSafeEqual)

  it('a right password', async () => {
    const stored = await hashPassword('correct horse', { iterations: 1_000 })
    timingSafeEqual.mockClear()
    await expect(verifyPassword('correct horse', stored)).resolves.toBe(true)
    expect(timingSafeEqual).toHaveBeenCalled()
  })

  it('an API key found by its hash', async () => {
    const key = generateApiKey({ prefix: 'og_' })
    const auth = apiKeyAuth({ keys: [{ id: 'k', hash: key.hash }], logger: false })
    timingSafeEqual.mockClear()
    await expect(auth.authenticate(key.key)).resolves.toMatchObject({ id: 'k' })
    expect(timingSafeEqual).toHaveBeenCalled()
  })
})

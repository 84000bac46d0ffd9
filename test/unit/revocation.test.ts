// Revocation: refused tokens stay refused, remembered ones included; subjects revoked before T.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  ConfigError,
  createVerifier,
  MemoryRevocationStore,
  UnavailableError,
  type RevocationStore,
} from '../../src/index.js'
import { REVOCATION_GRACE_SEC } from '../../src/revocation-entries.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://revoke.example' })
})

afterAll(() => idp.close())

afterEach(() => {
  vi.useRealTimers()
})

function setup(revocation: RevocationStore) {
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    fetch: idp.fetch,
  })
  return createVerifier({ provider, revocation, logger: false })
}

const now = () => Math.floor(Date.now() / 1000)

describe('MemoryRevocationStore through the verifier', () => {
  it('revokeToken(token) refuses that token, even when it was remembered', async () => {
    const store = new MemoryRevocationStore()
    const verify = setup(store)
    const token = idp.mint({ sub: 'alice', jti: 'j-1' })
    const other = idp.mint({ sub: 'alice', jti: 'j-2' })
    await verify(token)
    expect(verify.fromCache(token)?.id).toBe('alice')
    store.revokeToken(token)
    expect(verify.fromCache(token)).toBeUndefined()
    await expect(verify(token)).rejects.toMatchObject({
      status: 401,
      code: 'ERR_AUTH_TOKEN_REVOKED',
      description: 'token revoked',
    })
    expect((await verify(other)).id).toBe('alice')
  })

  it('revokeToken(jti) matches jti and Cognito’s origin_jti', async () => {
    const store = new MemoryRevocationStore()
    const verify = setup(store)
    store.revokeToken('refresh-family-7')
    await expect(
      verify(idp.mint({ sub: 'a', origin_jti: 'refresh-family-7' })),
    ).rejects.toMatchObject({
      code: 'ERR_AUTH_TOKEN_REVOKED',
    })
    await expect(verify(idp.mint({ sub: 'a', jti: 'refresh-family-7' }))).rejects.toMatchObject({
      code: 'ERR_AUTH_TOKEN_REVOKED',
    })
    expect((await verify(idp.mint({ sub: 'a', jti: 'other' }))).id).toBe('a')
  })

  it('revokeSubject refuses the subject’s tokens issued before T and accepts newer ones', async () => {
    const store = new MemoryRevocationStore()
    const verify = setup(store)
    const older = idp.mint({ sub: 'bob', iat: now() - 60 })
    const noIat = idp.mint({ sub: 'bob', iat: undefined })
    const otherUser = idp.mint({ sub: 'carol', iat: now() - 60 })
    await verify(older)
    store.revokeSubject(idp.issuer, 'bob', { before: new Date((now() - 30) * 1000) })
    await expect(verify(older)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' })
    await expect(verify(noIat)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' })
    expect((await verify(idp.mint({ sub: 'bob', iat: now() - 10 }))).id).toBe('bob')
    expect((await verify(otherUser)).id).toBe('carol')
  })

  it('entries end once the tokens they cover have expired', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'))
    const store = new MemoryRevocationStore({ maxTokenLifetimeSec: 3600 })
    store.revokeSubject('https://i', 's')
    store.revokeToken(idp.mint({ sub: 's', jti: 'j', exp: now() + 60 }))
    const claims = { iss: 'https://i', sub: 's', jti: 'j', iat: now() - 1 }
    expect(store.isRevoked({ token: 't', header: { alg: 'RS256' }, claims })).toBe(true)
    const start = Date.now()
    vi.setSystemTime(start + 3_601_000)
    // Kept through the grace that covers a verifier's clock tolerance, then dropped.
    expect(store.isRevoked({ token: 't', header: { alg: 'RS256' }, claims })).toBe(true)
    vi.setSystemTime(start + (3_601 + REVOCATION_GRACE_SEC) * 1000)
    expect(store.isRevoked({ token: 't', header: { alg: 'RS256' }, claims })).toBe(false)
  })

  it('a revoked token stays refused through the clock tolerance past its exp', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const start = Date.parse('2026-01-01T00:00:00Z')
    vi.setSystemTime(start)
    const store = new MemoryRevocationStore()
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      fetch: idp.fetch,
      clockToleranceSec: 60,
    })
    const verify = createVerifier({ provider, revocation: store, logger: false })
    const token = idp.mint({ sub: 'alice', exp: start / 1000 + 60 })
    store.revokeToken(token)
    vi.setSystemTime(start + 100_000) // Past exp, inside the 60 s tolerance.
    await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' })
  })

  it('a store that cannot answer makes the request 503, never a pass', async () => {
    const down: RevocationStore = {
      isRevoked: () =>
        Promise.reject(
          new UnavailableError('ERR_AUTH_KEYS_UNAVAILABLE', 'revocations unavailable'),
        ),
    }
    const verify = setup(down)
    const token = idp.mint({ sub: 'alice' })
    await expect(verify(token)).rejects.toMatchObject({ status: 503 })
    await expect(verify(token)).rejects.toMatchObject({ status: 503 })
    expect(verify.fromCache(token)).toBeUndefined()
  })

  it.each<[string, () => unknown, string]>([
    [
      'throws an Error',
      () => {
        throw new Error('socket closed')
      },
      'ERR_AUTH_REVOCATION_UNAVAILABLE',
    ],
    [
      'throws its own AuthError',
      () => {
        throw new UnavailableError('ERR_AUTH_KEYS_UNAVAILABLE', 'down')
      },
      'ERR_AUTH_KEYS_UNAVAILABLE',
    ],
    [
      'rejects with an Error',
      () => Promise.reject(new Error('timeout')),
      'ERR_AUTH_REVOCATION_UNAVAILABLE',
    ],
    ['answers undefined', () => undefined, 'ERR_AUTH_REVOCATION_UNAVAILABLE'],
    ["answers 'no'", () => 'no', 'ERR_AUTH_REVOCATION_UNAVAILABLE'],
    ['answers 0', () => 0, 'ERR_AUTH_REVOCATION_UNAVAILABLE'],
    [
      'answers a promise of undefined',
      () => Promise.resolve(undefined),
      'ERR_AUTH_REVOCATION_UNAVAILABLE',
    ],
    [
      'answers a thenable of null',
      () => ({ then: (resolve: (v: unknown) => void) => resolve(null) }),
      'ERR_AUTH_REVOCATION_UNAVAILABLE',
    ],
  ])(
    'a store that %s: 503 for new and remembered tokens, never a pass, nothing thrown by fromCache',
    async (_case, answer, code) => {
      let broken = false
      const store: RevocationStore = {
        isRevoked: () => (broken ? answer() : false) as boolean,
      }
      const verify = setup(store)
      const remembered = idp.mint({ sub: 'alice' })
      expect((await verify(remembered)).id).toBe('alice')
      broken = true
      for (const token of [remembered, idp.mint({ sub: 'bob' })]) {
        expect(verify.fromCache(token)).toBeUndefined()
        await expect(verify(token)).rejects.toMatchObject({ status: 503, code })
      }
    },
  )

  it('a store answering through a thenable of its own is heard: false passes, true refuses', async () => {
    let revoked = false
    const store: RevocationStore = {
      isRevoked: () =>
        ({ then: (resolve: (value: boolean) => void) => resolve(revoked) }) as Promise<boolean>,
    }
    const verify = setup(store)
    const token = idp.mint({ sub: 'alice' })
    expect((await verify(token)).id).toBe('alice')
    revoked = true
    await expect(verify(token)).rejects.toMatchObject({
      status: 401,
      code: 'ERR_AUTH_TOKEN_REVOKED',
    })
  })

  it('refuses bad arguments and bad stores', () => {
    const store = new MemoryRevocationStore()
    expect(() => store.revokeToken('')).toThrow(TypeError)
    expect(() => store.revokeToken(idp.mint({ sub: 'x', jti: undefined }))).toThrow(/no jti/)
    expect(() => store.revokeSubject('', 'x')).toThrow(TypeError)
    expect(() => store.revokeSubject('i', 's', { before: new Date('nope') })).toThrow(TypeError)
    expect(() => new MemoryRevocationStore({ maxTokenLifetimeSec: 0 })).toThrow(ConfigError)
    expect(() => setup({} as RevocationStore)).toThrow(ConfigError)
  })
})

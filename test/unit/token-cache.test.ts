// The verified-token cache: a token's signature is checked once in its lifetime, never past exp.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { ConfigError, createVerifier, JwksCache } from '../../src/index.js'
import type { JwtClaims } from '../../src/jwt.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import type { UserIdentity } from '../../src/user.js'
import { ClaimRolesProvider } from '../../providers/claims/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://cache.example' })
})

afterAll(() => idp.close())

afterEach(() => {
  vi.useRealTimers()
})

function setup(
  options: { tokenCache?: { max?: number } | false; roles?: ClaimRolesProvider } = {},
) {
  const cache = new JwksCache({ fetch: idp.fetch, cooldownMs: 60_000 })
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    jwksCache: cache,
    clockToleranceSec: 0,
  })
  const spy = vi.spyOn(provider, 'verifyToken')
  const verify = createVerifier({ provider, logger: false, ...options })
  return { verify, spy, cache, provider }
}

describe('the verified-token cache', () => {
  it('checks a token once, then answers from memory, synchronously too', async () => {
    const { verify, spy } = setup()
    const token = idp.mint({ sub: 'alice' })
    expect(verify.fromCache(token)).toBeUndefined()
    expect((await verify(token)).id).toBe('alice')
    expect((await verify(token)).id).toBe('alice')
    expect(verify.fromCache(token)?.id).toBe('alice')
    expect(spy).toHaveBeenCalledTimes(1)
  })

  it('each reuse gives a fresh user, so per-request facets are not shared between requests', async () => {
    const { verify } = setup()
    const token = idp.mint({ sub: 'alice' })
    const first = await verify(token)
    expect(await verify(token)).not.toBe(first)
  })

  it('maps a token to its user at its first two uses only: a token used once keeps no identity', async () => {
    const { verify, spy, provider } = setup()
    const mapper = provider as unknown as { identity(claims: JwtClaims): UserIdentity }
    const mapping = vi.spyOn(mapper, 'identity')
    const token = idp.mint({ sub: 'alice', scope: 'read' })
    expect((await verify(token)).scopes).toEqual(['read'])
    const verification = (await spy.mock.results[0]!.value) as { identity: unknown }
    // Nothing mapped stays in the cache for a token that may never come back.
    expect(verification.identity).toBeNull()
    expect(mapping).toHaveBeenCalledTimes(1)
    for (let use = 2; use <= 5; use += 1) expect(verify.fromCache(token)?.scopes).toEqual(['read'])
    expect(mapping).toHaveBeenCalledTimes(2)
    expect(verification.identity).toMatchObject({ id: 'alice', scopes: ['read'] })
  })

  it('keeps no decoded claims for a token used once: its second use decodes them again, and keeps them', async () => {
    const { verify, spy } = setup()
    const token = idp.mint({ sub: 'alice', scope: 'read', tenant: 't-1' })
    const first = await verify(token)
    const verification = (await spy.mock.results[0]!.value) as { claims: JwtClaims }
    const second = verify.fromCache(token)!
    // The first request's claims were let go when its user was built: they are decoded anew.
    expect(second.claims).not.toBe(first.claims)
    expect(second.claims).toEqual(first.claims)
    expect(second.claims).toMatchObject({ sub: 'alice', scope: 'read', tenant: 't-1' })
    // From the second use on they are kept, and the signature is still checked only once.
    expect(verify.fromCache(token)!.claims).toBe(second.claims)
    expect(verification.claims).toBe(second.claims)
    expect(spy).toHaveBeenCalledTimes(1)
  })

  it('refuses a remembered token the moment it expires (fake clock)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const start = new Date('2026-01-01T00:00:00Z')
    vi.setSystemTime(start)
    const { verify, spy } = setup()
    const token = idp.mint({ sub: 'alice', exp: start.getTime() / 1000 + 60 })
    await verify(token)
    vi.setSystemTime(start.getTime() + 59_999)
    expect(verify.fromCache(token)?.id).toBe('alice')
    vi.setSystemTime(start.getTime() + 60_000)
    expect(verify.fromCache(token)).toBeUndefined()
    await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_EXPIRED' })
    expect(spy).toHaveBeenCalledTimes(2)
  })

  it('reuses a remembered token exactly while checkTimes would pass it: exp and tolerance, nbf and iat, maxTokenAgeSec', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const start = Date.parse('2026-01-01T00:00:00Z')
    const at = (seconds: number) => vi.setSystemTime(start + seconds * 1000)
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({ fetch: idp.fetch, cooldownMs: 60_000 }),
      clockToleranceSec: 5,
      maxTokenAgeSec: 100,
    })
    const verify = createVerifier({ provider, logger: false })
    const now = start / 1000
    const remembered = async (claims: Record<string, unknown>) => {
      at(0)
      const token = idp.mint({ sub: 'alice', ...claims })
      await verify(token)
      return token
    }
    // exp + tolerance: still valid a millisecond before, not at it.
    let token = await remembered({ iat: now, exp: now + 60 })
    at(64.999)
    expect(verify.fromCache(token)?.id).toBe('alice')
    at(65)
    expect(verify.fromCache(token)).toBeUndefined()
    // iat + maxTokenAgeSec + tolerance: valid at it, not a millisecond after.
    token = await remembered({ iat: now, exp: now + 3600 })
    at(105)
    expect(verify.fromCache(token)?.id).toBe('alice')
    at(105.001)
    expect(verify.fromCache(token)).toBeUndefined()
    // A clock stepped back: before nbf - tolerance, and before iat - tolerance, refused.
    token = await remembered({ iat: now - 10, nbf: now, exp: now + 3600 })
    at(-5)
    expect(verify.fromCache(token)?.id).toBe('alice')
    at(-5.001)
    expect(verify.fromCache(token)).toBeUndefined()
    token = await remembered({ iat: now, exp: now + 3600 })
    at(-5.001)
    expect(verify.fromCache(token)).toBeUndefined()
  })

  it('a verified token comes back frozen all the way down, a long (unremembered) header too', async () => {
    const { provider } = setup()
    const token = idp.mint(
      { sub: 'alice', roles: [{ name: 'reader' }] },
      { header: { pad: 'k'.repeat(600), x: [{ y: 1 }] } },
    )
    const verified = await provider.verifyToken(token)
    const x = verified.header['x'] as [{ y: number }]
    const roles = verified.claims['roles'] as [{ name: string }]
    for (const part of [verified.header, x, x[0], verified.claims, roles, roles[0]]) {
      expect(Object.isFrozen(part)).toBe(true)
    }
  })

  it('one request cannot change the claims a later request with the same token gets, nor their expiry', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const start = new Date('2026-01-01T00:00:00Z')
    vi.setSystemTime(start)
    const { verify } = setup({ roles: new ClaimRolesProvider() })
    const exp = start.getTime() / 1000 + 60
    const token = idp.mint({ sub: 'alice', roles: ['reader'], exp })
    // Every use's claims, the first (decoded for the signature check) and the remembered ones.
    const uses = [await verify(token), verify.fromCache(token)!, verify.fromCache(token)!]
    for (const user of uses) {
      const claims = user.claims as { roles: string[]; exp: number }
      // A handler that treats the claims as its own scratch space (ES modules are strict mode).
      expect(() => claims.roles.push('admin')).toThrow(TypeError)
      expect(() => {
        claims.exp = exp + 3600
      }).toThrow(TypeError)
      expect(() => {
        ;(claims as Record<string, unknown>)['admin'] = true
      }).toThrow(TypeError)
    }
    const later = verify.fromCache(token)!
    expect(later.claims).toMatchObject({ roles: ['reader'], exp })
    expect(later.claims['admin']).toBeUndefined()
    expect(await later.roles).toEqual(['reader'])
    vi.setSystemTime(start.getTime() + 60_000)
    expect(verify.fromCache(token)).toBeUndefined()
  })

  it('skips the lookup only for the token fromCache has just missed, in the verify call after it', async () => {
    const { verify, spy } = setup()
    const [a, b] = [idp.mint({ sub: 'alice' }), idp.mint({ sub: 'bob' })]
    expect(verify.fromCache(a)).toBeUndefined()
    expect((await verify(a)).id).toBe('alice')
    expect(spy).toHaveBeenCalledTimes(1)
    // Another token's miss does not stop a remembered one from being found.
    expect(verify.fromCache(b)).toBeUndefined()
    expect((await verify(a)).id).toBe('alice')
    expect(spy).toHaveBeenCalledTimes(1)
    expect((await verify(b)).id).toBe('bob')
    expect(spy).toHaveBeenCalledTimes(2)
    // Used once: the next verify of the same token looks it up again.
    expect(verify.fromCache(a)?.id).toBe('alice')
    expect((await verify(b)).id).toBe('bob')
    expect(spy).toHaveBeenCalledTimes(2)
  })

  it('never remembers a failure', async () => {
    const { verify, spy } = setup()
    const forged = idp.mint({ sub: 'alice' }, { tamper: 'signature' })
    await expect(verify(forged)).rejects.toMatchObject({ status: 401 })
    await expect(verify(forged)).rejects.toMatchObject({ status: 401 })
    expect(verify.fromCache(forged)).toBeUndefined()
    expect(spy).toHaveBeenCalledTimes(2)
  })

  it('refuses a forged token that ends like a remembered one (its signature copied onto other claims)', async () => {
    const { verify, spy } = setup()
    const genuine = idp.mint({ sub: 'alice', scope: 'read' })
    await verify(genuine)
    const [header, , signature] = genuine.split('.')
    const claims = JSON.parse(Buffer.from(genuine.split('.')[1]!, 'base64url').toString()) as object
    const payload = Buffer.from(JSON.stringify({ ...claims, sub: 'admin', scope: 'admin' }))
    const forged = `${header}.${payload.toString('base64url')}.${signature}`
    expect(forged.slice(-64)).toBe(genuine.slice(-64))
    expect(verify.fromCache(forged)).toBeUndefined()
    await expect(verify(forged)).rejects.toMatchObject({ code: 'ERR_AUTH_SIGNATURE_INVALID' })
    // The forgery neither displaced nor spoiled the genuine entry.
    expect(verify.fromCache(genuine)?.id).toBe('alice')
    expect(spy).toHaveBeenCalledTimes(2)
  })

  it('a token differing from a remembered one in its first characters only is another token', async () => {
    const { verify } = setup()
    const genuine = idp.mint({ sub: 'alice' })
    await verify(genuine)
    // Same end, same length, another header: looked up in the same slot, and refused.
    const other = `${'x'.repeat(10)}${genuine.slice(10)}`
    expect(verify.fromCache(other)).toBeUndefined()
    await expect(verify(other)).rejects.toMatchObject({ status: 401 })
    expect(verify.fromCache(genuine)?.id).toBe('alice')
  })

  it('drops tokens whose key left the published set; keeps those whose key was re-published', async () => {
    const { verify, spy, cache } = setup()
    const token = idp.mint({ sub: 'alice' })
    await verify(token)
    await cache.hydrate(idp.jwksUri) // the same keys again
    await verify(token)
    expect(spy).toHaveBeenCalledTimes(1)

    idp.rotateKeys() // the old key is withdrawn
    await cache.hydrate(idp.jwksUri)
    expect(verify.fromCache(token)).toBeUndefined()
    await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_AUTH_KEY_NOT_FOUND' })
    expect((await verify(idp.mint({ sub: 'bob' }))).id).toBe('bob')
  })

  it('is bounded: the least recently used token goes first', async () => {
    const { verify, spy } = setup({ tokenCache: { max: 2 } })
    const [a, b, c] = ['a', 'b', 'c'].map((sub) => idp.mint({ sub }))
    for (const token of [a!, b!, c!]) await verify(token)
    expect(verify.fromCache(a!)).toBeUndefined()
    expect(verify.fromCache(c!)?.id).toBe('c')
    expect(spy).toHaveBeenCalledTimes(3)
  })

  it('keeps many tokens side by side: their keys (from their last characters) differ', async () => {
    const { verify, spy } = setup()
    const tokens = Array.from({ length: 200 }, (_, index) => idp.mint({ sub: `user-${index}` }))
    for (const token of tokens) await verify(token)
    const recalled = tokens.map((token) => verify.fromCache(token)?.id)
    expect(recalled).toEqual(tokens.map((_, index) => `user-${index}`))
    expect(spy).toHaveBeenCalledTimes(200)
  })

  it('can be turned off', async () => {
    const { verify, spy } = setup({ tokenCache: false })
    const token = idp.mint({ sub: 'alice' })
    await verify(token)
    await verify(token)
    expect(verify.fromCache(token)).toBeUndefined()
    expect(spy).toHaveBeenCalledTimes(2)
  })

  it.each([{ max: 0 }, { max: 1.5 }, 'big'])('tokenCache %j is a ConfigError', (tokenCache) => {
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      fetch: idp.fetch,
    })
    expect(() => createVerifier({ provider, tokenCache: tokenCache as never })).toThrow(ConfigError)
  })
})

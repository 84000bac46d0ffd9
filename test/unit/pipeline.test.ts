import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  ConfigError,
  createVerifier,
  InvalidTokenError,
  JwksCache,
  UnavailableError,
  User,
} from '../../src/index.js'
import type { JwtProvider } from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider, OidcProvider } from '../../providers/jwks/index.js'

let a: TestIssuer
let b: TestIssuer

beforeAll(async () => {
  ;[a, b] = await Promise.all([
    createTestIssuer({ listen: false, issuer: 'https://a.example', algorithms: ['RS256'] }),
    createTestIssuer({ listen: false, issuer: 'https://b.example', algorithms: ['ES256'] }),
  ])
})

afterAll(async () => {
  await Promise.all([a.close(), b.close()])
})

function jwksProvider(issuer: TestIssuer, name: string): JwksProvider {
  return new JwksProvider({
    name,
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    audience: issuer.audience,
    fetch: issuer.fetch,
  })
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error,
  )
}

describe('createVerifier', () => {
  it('routes each token to the provider of its iss', async () => {
    const verify = createVerifier({
      providers: [jwksProvider(a, 'a'), jwksProvider(b, 'b')],
      logger: false,
    })
    const fromA = await verify(a.mint({ sub: 'alice' }))
    const fromB = await verify(b.mint({ sub: 'bob' }))
    expect([fromA.provider, fromA.id, fromB.provider, fromB.id]).toEqual(['a', 'alice', 'b', 'bob'])
    expect(fromA).toBeInstanceOf(User)
  })

  it('refuses an iss no provider claims, without any network call (CLM-17)', async () => {
    const verify = createVerifier({
      providers: [jwksProvider(a, 'a'), jwksProvider(b, 'b')],
      logger: false,
    })
    const counts = [a.counts.jwks, b.counts.jwks]
    const error = await rejection(verify(a.mint({ iss: 'https://attacker.example' })))
    expect(error).toBeInstanceOf(InvalidTokenError)
    expect(error).toMatchObject({ code: 'ERR_AUTH_ISSUER_UNKNOWN', status: 401 })
    expect([a.counts.jwks, b.counts.jwks]).toEqual(counts)
  })

  it.each([
    ['missing', { iss: undefined }, 'missing iss claim'],
    ['not a string', { iss: ['https://a.example'] }, 'invalid iss claim'],
  ])('refuses an iss that is %s (CLM-14, CLM-16)', async (_case, claims, description) => {
    const verify = createVerifier({ provider: jwksProvider(a, 'a'), logger: false })
    await expect(verify(a.mint(claims))).rejects.toMatchObject({
      code: 'ERR_AUTH_CLAIM_INVALID',
      description,
    })
  })

  it("keeps each issuer's keys apart: a token claiming A but signed with B's key fails (JWKS-23)", async () => {
    const verify = createVerifier({
      providers: [jwksProvider(a, 'a'), jwksProvider(b, 'b')],
      logger: false,
    })
    const kidOfB = String(b.jwks().keys[0]!['kid'])
    const token = b.mint({ iss: a.issuer, aud: a.audience }, { kid: kidOfB })
    await expect(verify(token)).rejects.toBeInstanceOf(InvalidTokenError)
  })

  it('refuses a token over maxTokenLength before decoding it (HTTP-15)', async () => {
    const verify = createVerifier({
      provider: jwksProvider(a, 'a'),
      maxTokenLength: 100,
      logger: false,
    })
    await expect(verify(a.mint())).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_TOO_LARGE' })
  })

  it("applies the provider's own maxTokenLength through the pipeline too", async () => {
    const provider = new JwksProvider({
      issuer: a.issuer,
      jwksUri: a.jwksUri,
      audience: a.audience,
      fetch: a.fetch,
      maxTokenLength: 200,
    })
    const verify = createVerifier({ provider, logger: false })
    await expect(verify(a.mint())).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_TOO_LARGE' })
  })

  it('turns an unexpected error of a provider into an invalid token, never a crash', async () => {
    const broken: JwtProvider = {
      name: 'broken',
      issuers: [a.issuer],
      verifyToken: () => Promise.reject(new TypeError('bug')),
      createUser: () => User.anonymous,
    }
    const verify = createVerifier({ provider: broken, logger: false })
    await expect(verify(a.mint())).rejects.toMatchObject({
      code: 'ERR_AUTH_TOKEN_REJECTED',
      status: 401,
    })
  })

  it('reports every configuration problem at once', () => {
    const provider = jwksProvider(a, 'a')
    const build = () =>
      createVerifier({
        provider,
        providers: [provider],
        groups: {} as never,
        maxTokenLength: -1,
        logLevel: 'loud' as never,
      })
    expect(build).toThrow(ConfigError)
    try {
      build()
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(4)
    }
  })

  it('refuses two providers for one issuer, and an empty provider list', () => {
    expect(() =>
      createVerifier({ providers: [jwksProvider(a, 'x'), jwksProvider(a, 'y')] }),
    ).toThrow(/two providers accept/)
    expect(() => createVerifier({ providers: [] })).toThrow(/a provider is required/)
    expect(() => createVerifier({ provider: {} as never })).toThrow(/is not a provider/)
  })

  it('hydrate() pre-warms every provider', async () => {
    a.resetCounts()
    const verify = createVerifier({ provider: jwksProvider(a, 'a'), logger: false })
    await verify.hydrate()
    expect(a.counts.jwks).toBe(1)
    await verify(a.mint())
    expect(a.counts.jwks).toBe(1)
  })
})

describe('JwksProvider and OidcProvider options', () => {
  it('requires an audience, and accepts null as a deliberate opt-out', () => {
    const base = { issuer: 'https://a.example', jwksUri: 'https://a.example/jwks' }
    expect(() => new JwksProvider(base as never)).toThrow(/audience is required/)
    expect(() => new JwksProvider({ ...base, audience: null })).not.toThrow()
  })

  it('refuses HMAC, none and unknown algorithms, listing every problem', () => {
    let error: unknown
    try {
      new JwksProvider({
        issuer: 'not a url',
        jwksUri: 'https://user:pw@a.example/jwks',
        audience: [],
        algorithms: ['HS256', 'none'] as never,
        clockToleranceSec: Number.POSITIVE_INFINITY,
      })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^issuer must be an absolute https URL/),
      'jwksUri must not carry credentials',
      expect.stringMatching(/^clockToleranceSec must be a finite number/),
      expect.stringMatching(/^audience must be a non-empty string/),
      expect.stringMatching(/^algorithms contains "HS256"/),
      expect.stringMatching(/^algorithms contains "none"/),
    ])
  })

  it.each([
    ['a query', 'https://idp.example/keys?tenant=a', 'jwksUri must not have a query or fragment'],
    ['a fragment', 'https://idp.example/keys#k', 'jwksUri must not have a query or fragment'],
    ['credentials', 'https://u:p@idp.example/keys', 'jwksUri must not carry credentials'],
    ['another scheme', 'ftp://idp.example/keys', 'jwksUri must use https'],
  ])('refuses a key URL with %s', (_case, jwksUri, problem) => {
    const build = () => new JwksProvider({ issuer: 'https://idp.example', jwksUri, audience: 'a' })
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(problem)
  })

  it.each([
    ['a trailing newline', 'https://idp.example/\n'],
    ['a leading space', ' https://idp.example'],
    ['a tab inside', 'https://idp.\texample'],
  ])(
    'refuses an issuer with %s, which the URL parser would hide and iss never matches',
    (_case, issuer) => {
      const build = () =>
        new JwksProvider({ issuer, jwksUri: 'https://idp.example/k', audience: 'a' })
      expect(build).toThrow(/issuer must not contain spaces or control characters/)
    },
  )

  it('caps the clock tolerance at 300 s: more is a unit mistake that keeps expired tokens valid', () => {
    const options = {
      issuer: 'https://idp.example',
      jwksUri: 'https://idp.example/k',
      audience: 'a',
    }
    expect(() => new JwksProvider({ ...options, clockToleranceSec: 0 })).not.toThrow()
    expect(() => new JwksProvider({ ...options, clockToleranceSec: 300 })).not.toThrow()
    for (const clockToleranceSec of [301, 300_000]) {
      expect(() => new JwksProvider({ ...options, clockToleranceSec })).toThrow(
        /clockToleranceSec must be a finite number from 0 to 300/,
      )
    }
  })

  it('refuses a jwksCache that is neither a cache nor its options', () => {
    const options = {
      issuer: 'https://idp.example',
      jwksUri: 'https://idp.example/k',
      audience: 'a',
    }
    for (const jwksCache of [5, 'shared', null]) {
      expect(() => new JwksProvider({ ...options, jwksCache: jwksCache as never })).toThrow(
        /jwksCache must be a JwksCache or its options/,
      )
    }
  })

  it('refuses plain-http issuers in production, except on loopback', () => {
    vi.stubEnv('NODE_ENV', 'production')
    try {
      const options = { jwksUri: 'https://idp.example/jwks', audience: 'x' }
      expect(() => new JwksProvider({ ...options, issuer: 'http://idp.example' })).toThrow(
        /must use https/,
      )
      expect(() => new JwksProvider({ ...options, issuer: 'http://127.0.0.1:8080' })).not.toThrow()
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it('OidcProvider refuses a discovery time-out a timer cannot hold', () => {
    const options = { issuer: 'https://o.example', audience: 'a' }
    expect(() => new OidcProvider({ ...options, discoveryTimeoutMs: 2 ** 31 })).toThrow(
      /discoveryTimeoutMs must be a finite number from 1 to 2147483647/,
    )
    expect(() => new OidcProvider({ ...options, discoveryTimeoutMs: 2 ** 31 - 1 })).not.toThrow()
  })

  it('OidcProvider discovers the JWKS once and verifies', async () => {
    const idp = await createTestIssuer({ listen: false, issuer: 'https://oidc.example' })
    const provider = new OidcProvider({
      issuer: idp.issuer,
      audience: idp.audience,
      fetch: idp.fetch,
    })
    const verify = createVerifier({ provider, logger: false })
    const users = await Promise.all([
      verify(idp.mint({ sub: 'a' })),
      verify(idp.mint({ sub: 'b' })),
    ])
    expect(users.map((user) => user.id)).toEqual(['a', 'b'])
    expect(idp.counts).toEqual({ discovery: 1, jwks: 1 })
    await idp.close()
  })

  it('OidcProvider answers 503 while discovery fails, then recovers by itself', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const idp = await createTestIssuer({ listen: false, issuer: 'https://oidc-down.example' })
    idp.respondWith('discovery', { status: 500 })
    const provider = new OidcProvider({
      issuer: idp.issuer,
      audience: idp.audience,
      fetch: idp.fetch,
    })
    const verify = createVerifier({ provider, logger: false })
    await expect(verify(idp.mint())).rejects.toBeInstanceOf(UnavailableError)
    await expect(provider.hydrate()).rejects.toBeInstanceOf(UnavailableError)
    idp.respondWith('discovery', undefined)
    vi.setSystemTime(Date.now() + 60_000)
    await expect(verify(idp.mint())).resolves.toBeInstanceOf(User)
    await idp.close()
  })

  it('a provider given a cache instance uses it; providers sharing a jwks_uri share keys', async () => {
    a.resetCounts()
    const cache = new JwksCache({ fetch: a.fetch })
    const options = { issuer: a.issuer, jwksUri: a.jwksUri, audience: a.audience, jwksCache: cache }
    const first = createVerifier({ provider: new JwksProvider(options), logger: false })
    const second = createVerifier({ provider: new JwksProvider(options), logger: false })
    await first(a.mint())
    await second(a.mint())
    expect(a.counts.jwks).toBe(1)
  })
})

describe('authorization sources: provider defaults and explicit options', () => {
  class WithDefaults extends JwksProvider {
    readonly defaultSources = {
      groups: { fromToken: true, fetchGroups: (user: User) => [`default-of-${user.id}`] },
      roles: { fetchRoles: () => ['default-role'] },
    }
  }

  function provider(issuer: TestIssuer): WithDefaults {
    return new WithDefaults({
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      audience: issuer.audience,
      fetch: issuer.fetch,
    })
  }

  it('a provider’s default sources serve its users; explicit options win facet by facet', async () => {
    const verifyDefaults = createVerifier({ provider: provider(a), logger: false })
    const user = await verifyDefaults(a.mint({ sub: 'alice' }))
    expect(await user.groups).toEqual(['default-of-alice'])
    expect(await user.roles).toEqual(['default-role'])

    const verifyExplicit = createVerifier({
      provider: provider(a),
      logger: false,
      roles: { fetchRoles: () => ['explicit-role'] },
    })
    const other = await verifyExplicit(a.mint({ sub: 'alice' }))
    expect(await other.groups).toEqual(['default-of-alice'])
    expect(await other.roles).toEqual(['explicit-role'])
  })

  it('each provider of several keeps its own defaults', async () => {
    const verify = createVerifier({ providers: [provider(a), jwksProvider(b, 'b')], logger: false })
    expect(await (await verify(a.mint({ sub: 'x' }))).roles).toEqual(['default-role'])
    expect(await (await verify(b.mint({ sub: 'x' }))).roles).toEqual([])
  })

  it('invalid explicit sources are a ConfigError at construction, never dropped', () => {
    expect(() =>
      createVerifier({
        provider: provider(a),
        groups: { fetchGroup: () => [] } as never,
        roles: 'admin' as never,
      }),
    ).toThrow(/groups must be an object with a fetchGroups\(user\) method[\s\S]*roles must be/)
  })
})

// CognitoProvider: options, token_use, app clients, pools and regions, identity and M2M, on Cognito-shaped tokens.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConfigError,
  createVerifier,
  InvalidTokenError,
  JwksCache,
  type GroupsProvider,
  type PermissionsProvider,
  type RolesProvider,
} from '../../src/index.js'
import { CognitoProvider, type CognitoProviderOptions } from '../../providers/cognito/index.js'
import {
  createCognitoIssuer,
  JANE,
  refreshToken,
  type CognitoTestIssuer,
} from '../fake-idp/cognito.js'

const POOL = 'eu-west-1_TestPool1'
const CLIENT = '3n4example5client6id7abc8'
const OTHER_CLIENT = '9other8client7id6example5'

let cognito: CognitoTestIssuer
let otherPool: CognitoTestIssuer
let otherRegion: CognitoTestIssuer
// The same pool id with other keys: what an attacker would need the global key URL to serve.
let impostor: CognitoTestIssuer

beforeAll(async () => {
  ;[cognito, otherPool, otherRegion, impostor] = await Promise.all([
    createCognitoIssuer(POOL, CLIENT),
    createCognitoIssuer('eu-west-1_OtherPool9', CLIENT),
    // The same pool id suffix in another region: a different pool, a different issuer.
    createCognitoIssuer('us-east-1_TestPool1', CLIENT),
    createCognitoIssuer(POOL, CLIENT),
  ])
})

afterAll(async () => {
  await Promise.all([cognito.close(), otherPool.close(), otherRegion.close(), impostor.close()])
})

/** A provider of the test pool with its own key cache, fetching from the fake pool in memory. */
function providerWith(options: Partial<CognitoProviderOptions> = {}): CognitoProvider {
  return new CognitoProvider({
    userPoolId: POOL,
    clientId: CLIENT,
    // The kit's fetch serves the pool's keys under both issuer forms.
    jwksCache: new JwksCache({ fetch: cognito.fetch }),
    ...options,
  })
}

async function rejectionOf(promise: Promise<unknown>): Promise<InvalidTokenError> {
  const error = await promise.then(
    () => expect.unreachable('the token was accepted'),
    (failure: unknown) => failure,
  )
  expect(error).toBeInstanceOf(InvalidTokenError)
  return error as InvalidTokenError
}

describe('CognitoProvider options', () => {
  it('derives the issuer, the region and the key URL from the pool id', () => {
    const provider = providerWith()
    expect(provider).toMatchObject({
      name: 'cognito',
      region: 'eu-west-1',
      issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1',
      jwksUri:
        'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1/.well-known/jwks.json',
      tokenUse: 'access',
      issuerForm: 'any',
      clientIds: [CLIENT],
    })
    expect(provider.issuers).toEqual([
      provider.issuer,
      'https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1',
    ])
  })

  it.each([
    ['us-gov-west-1_AbC123xyz', 'us-gov-west-1'],
    ['ap-southeast-2_Zz9', 'ap-southeast-2'],
    ['cn-north-1_Abc', 'cn-north-1'],
  ])('reads the region of %s (the seed refused GovCloud names)', (userPoolId, region) => {
    expect(new CognitoProvider({ userPoolId, clientId: CLIENT }).region).toBe(region)
  })

  it('accepts an explicit region that matches, a list of clients, null, and a jwksUri override', () => {
    const provider = new CognitoProvider({
      userPoolId: POOL,
      region: 'eu-west-1',
      clientId: [CLIENT, OTHER_CLIENT],
      tokenUse: 'any',
      jwksUri: 'http://127.0.0.1:4566/eu-west-1_TestPool1/.well-known/jwks.json',
    })
    expect(provider.clientIds).toEqual([CLIENT, OTHER_CLIENT])
    expect(provider.jwksUri).toBe('http://127.0.0.1:4566/eu-west-1_TestPool1/.well-known/jwks.json')
    expect(new CognitoProvider({ userPoolId: POOL, clientId: null }).clientIds).toBeNull()
  })

  it('takes a pool id of 55 characters, the longest AWS makes', () => {
    const userPoolId = `eu-west-1_${'A'.repeat(45)}`
    expect(new CognitoProvider({ userPoolId, clientId: null }).issuer).toBe(
      `https://cognito-idp.eu-west-1.amazonaws.com/${userPoolId}`,
    )
  })

  // COG-08: a pool id that is not <region>_<id>, or a region contradicting it, stops the start-up.
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no pool id', { userPoolId: undefined }, /^userPoolId \(USER_POOL_ID\) is required/],
    ['a pool id without region', { userPoolId: 'TestPool1' }, /userPoolId .* must look like/],
    ['a pool id with a dash', { userPoolId: 'eu-west-1-TestPool1' }, /must look like/],
    [
      'an issuer URL as pool id',
      { userPoolId: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_A' },
      /must look like/,
    ],
    [
      'a contradicting region',
      { region: 'us-east-1' },
      /region \(USER_POOL_REGION\) "us-east-1" contradicts/,
    ],
    ['a region that is not one', { region: 'Ireland' }, /must be an AWS region/],
    [
      'no clientId',
      { clientId: undefined },
      /clientId .* is required: .*null accepts every app client/,
    ],
    ['an empty clientId', { clientId: '' }, /clientId .* must be a non-empty string/],
    ['an empty client list', { clientId: [] }, /clientId .* must be a non-empty string/],
    ['a client list with a number', { clientId: [CLIENT, 7] }, /clientId/],
    ['tokenUse refresh', { tokenUse: 'refresh' }, /tokenUse .* must be 'access', 'id' or 'any'/],
    // null is no opt-out here: it once became 'access' silently.
    ['tokenUse null', { tokenUse: null }, /tokenUse .* must be 'access', 'id' or 'any', got null/],
    ['tokenUse ID', { tokenUse: 'ID' }, /tokenUse .* must be 'access', 'id' or 'any', got "ID"/],
    [
      'an issuerForm that is not one',
      { issuerForm: 'issuer-cognito-idp' },
      /^issuerForm \(AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM\) must be 'any', 'regional' or 'global', got "issuer-cognito-idp"/,
    ],
    [
      'issuerForm null',
      { issuerForm: null },
      /^issuerForm \(AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM\) must be .* got null/,
    ],
    // AWS's limit is 55 characters: eu-west-1_ and 46 more is one too many.
    ['a pool id of 56 characters', { userPoolId: `eu-west-1_${'A'.repeat(46)}` }, /must look like/],
    // Its partition's domain is amazonaws.eu, not amazonaws.com: not supported until verified.
    [
      'a European Sovereign Cloud pool',
      { userPoolId: 'eusc-de-east-1_AbC123xyz' },
      /userPoolId .* must look like/,
    ],
    [
      'a jwksUri with a query',
      { jwksUri: 'https://example.com/jwks?x=1' },
      /^jwksUri \(AUTH_PROVIDER_AWS_COGNITO_JWKS_URI\) must not have a query/,
    ],
    [
      'an audience (JwksProvider habit)',
      { audience: CLIENT },
      /give the app client id as clientId/,
    ],
    ['another algorithm', { algorithms: ['RS256', 'ES256'] }, /RS256 only/],
    ['a negative clock tolerance', { clockToleranceSec: -1 }, /clockToleranceSec/],
  ])('COG-08: refuses %s with a ConfigError naming the setting', (_case, overrides, message) => {
    const build = () =>
      new CognitoProvider({
        userPoolId: POOL,
        clientId: CLIENT,
        ...overrides,
      } as CognitoProviderOptions)
    expect(build).toThrow(ConfigError)
    try {
      build()
    } catch (error) {
      expect((error as ConfigError).problems.some((problem) => message.test(problem))).toBe(true)
    }
  })

  it('reports every problem at once', () => {
    const build = () => new CognitoProvider({ userPoolId: 'nope' } as CognitoProviderOptions)
    expect(build).toThrow(ConfigError)
    try {
      build()
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2)
    }
  })

  it('does not mutate the options it is given', () => {
    const options = Object.freeze({ userPoolId: POOL, clientId: Object.freeze([CLIENT]) })
    expect(() => new CognitoProvider(options)).not.toThrow()
  })
})

describe('CognitoProvider token rules', () => {
  it('accepts an access token of the pool and app client (RS256, kid, no typ)', async () => {
    const token = cognito.access()
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({
      alg: 'RS256',
      kid: expect.any(String),
    })
    const verified = await providerWith().verifyToken(token)
    expect(verified.claims).toMatchObject({
      token_use: 'access',
      client_id: CLIENT,
      username: 'jane',
    })
  })

  it('COG-01 / TYP-01: an ID token where access tokens are expected: "expected an access token, got an ID token"', async () => {
    const error = await rejectionOf(providerWith({ tokenUse: 'access' }).verifyToken(cognito.id()))
    expect(error.code).toBe('ERR_AUTH_TOKEN_TYPE_INVALID')
    expect(error.description).toBe('expected an access token, got an ID token')
  })

  it('COG-01: tokenUse defaults to access', async () => {
    const error = await rejectionOf(providerWith().verifyToken(cognito.id()))
    expect(error.description).toBe('expected an access token, got an ID token')
  })

  it('COG-02: an access token where ID tokens are expected: "expected an ID token, got an access token"', async () => {
    const provider = providerWith({ tokenUse: 'id' })
    await expect(provider.verifyToken(cognito.id())).resolves.toBeDefined()
    const error = await rejectionOf(provider.verifyToken(cognito.access()))
    expect(error.code).toBe('ERR_AUTH_TOKEN_TYPE_INVALID')
    expect(error.description).toBe('expected an ID token, got an access token')
  })

  it("tokenUse 'any' accepts access and ID tokens", async () => {
    const provider = providerWith({ tokenUse: 'any' })
    await expect(provider.verifyToken(cognito.access())).resolves.toBeDefined()
    await expect(provider.verifyToken(cognito.id())).resolves.toBeDefined()
  })

  it.each<[string, unknown, string]>([
    ['absent', undefined, 'missing token_use claim'],
    ['refresh', 'refresh', 'refresh tokens are not accepted'],
    ['"ID" (wrong case)', 'ID', 'unknown token_use claim'],
    ['"Access" (wrong case)', 'Access', 'unknown token_use claim'],
    ['a list', ['access'], 'unknown token_use claim'],
  ])('COG-03: token_use %s: 401 even with tokenUse any', async (_case, tokenUse, description) => {
    const token = cognito.access(JANE, { token_use: tokenUse })
    const error = await rejectionOf(providerWith({ tokenUse: 'any' }).verifyToken(token))
    expect(error.code).toBe('ERR_AUTH_TOKEN_TYPE_INVALID')
    expect(error.description).toBe(description)
  })

  it('COG-04: an access token of another app client of the pool: 401 audience mismatch', async () => {
    const token = cognito.access(JANE, { client_id: OTHER_CLIENT })
    const error = await rejectionOf(providerWith().verifyToken(token))
    expect(error.code).toBe('ERR_AUTH_AUDIENCE_MISMATCH')
    expect(error.description).toBe('token issued to another app client (client_id)')
  })

  it('COG-04: an ID token of another app client of the pool: 401 audience mismatch', async () => {
    const token = cognito.id(JANE, { aud: OTHER_CLIENT })
    const error = await rejectionOf(providerWith({ tokenUse: 'id' }).verifyToken(token))
    expect(error.code).toBe('ERR_AUTH_AUDIENCE_MISMATCH')
    expect(error.description).toBe('token issued to another app client (aud)')
  })

  it('COG-05: an access token naming our client in aud only: 401 (access tokens are checked on client_id)', async () => {
    const token = cognito.access(JANE, { client_id: undefined, aud: CLIENT })
    const error = await rejectionOf(providerWith().verifyToken(token))
    expect(error.code).toBe('ERR_AUTH_CLAIM_INVALID')
    expect(error.description).toBe('missing client_id claim')
  })

  it('COG-05: an ID token with our client_id but another aud: 401 (ID tokens are checked on aud)', async () => {
    const token = cognito.id(JANE, { aud: OTHER_CLIENT, client_id: CLIENT })
    const error = await rejectionOf(providerWith({ tokenUse: 'id' }).verifyToken(token))
    expect(error.code).toBe('ERR_AUTH_AUDIENCE_MISMATCH')
  })

  it('COG-05: an ID token without aud: 401 missing aud', async () => {
    const token = cognito.id(JANE, { aud: undefined, client_id: CLIENT })
    const error = await rejectionOf(providerWith({ tokenUse: 'id' }).verifyToken(token))
    expect(error.description).toBe('missing aud claim')
  })

  it('a client list accepts each of its clients; null accepts any client of the pool', async () => {
    const other = cognito.access(JANE, { client_id: OTHER_CLIENT })
    await expect(
      providerWith({ clientId: [CLIENT, OTHER_CLIENT] }).verifyToken(other),
    ).resolves.toBeDefined()
    await expect(providerWith({ clientId: null }).verifyToken(other)).resolves.toBeDefined()
    const idOfOther = cognito.id(JANE, { aud: OTHER_CLIENT })
    await expect(
      providerWith({ clientId: null, tokenUse: 'id' }).verifyToken(idOfOther),
    ).resolves.toBeDefined()
  })

  it('COG-10 / PARSE-02 / TYP-04: a refresh token (five-part JWE) is refused as malformed, without any key fetch', async () => {
    const counting = countingFetch(cognito.idp.fetch)
    const provider = providerWith({ jwksCache: new JwksCache({ fetch: counting.fetch }) })
    const error = await rejectionOf(provider.verifyToken(refreshToken()))
    expect(error.code).toBe('ERR_AUTH_TOKEN_MALFORMED')
    expect(counting.urls).toEqual([])
    const verify = createVerifier({ provider, logger: false })
    await expect(verify(refreshToken())).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_MALFORMED' })
    expect(counting.urls).toEqual([])
  })

  it.each<[string, Parameters<CognitoTestIssuer['access']>[2], string]>([
    ['RS384 in the header', { alg: 'RS384' }, 'ERR_AUTH_ALG_NOT_ALLOWED'],
    ['PS256 in the header', { alg: 'PS256' }, 'ERR_AUTH_ALG_NOT_ALLOWED'],
    ['HS256 with the public key as secret', { hmacSecret: 'secret' }, 'ERR_AUTH_ALG_NOT_ALLOWED'],
    ['alg none', { alg: 'none', tamper: 'strip-signature' }, 'ERR_AUTH_TOKEN_MALFORMED'],
    ['a tampered payload', { tamper: 'payload' }, 'ERR_AUTH_SIGNATURE_INVALID'],
  ])('RS256 only, signature checked: %s is refused', async (_case, options, code) => {
    const error = await rejectionOf(providerWith().verifyToken(cognito.access(JANE, {}, options)))
    expect(error.code).toBe(code)
  })

  it('refuses an expired token (the seed accepted them)', async () => {
    const past = Math.floor(Date.now() / 1000) - 7200
    const token = cognito.access(JANE, { iat: past, auth_time: past, exp: past + 3600 })
    expect((await rejectionOf(providerWith().verifyToken(token))).code).toBe(
      'ERR_AUTH_TOKEN_EXPIRED',
    )
  })

  it('COG-06: a token of another pool of the same region: refused, at most one extra key fetch', async () => {
    const counting = countingFetch(cognito.idp.fetch)
    const provider = providerWith({ jwksCache: new JwksCache({ fetch: counting.fetch }) })
    await provider.verifyToken(cognito.access()) // keys cached
    for (let i = 0; i < 5; i++) {
      const error = await rejectionOf(provider.verifyToken(otherPool.access()))
      expect(error.code).toBe('ERR_AUTH_KEY_NOT_FOUND')
    }
    expect(counting.urls.length).toBeLessThanOrEqual(2)
    const verify = createVerifier({ provider, logger: false })
    const before = counting.urls.length
    await expect(verify(otherPool.access())).rejects.toMatchObject({
      code: 'ERR_AUTH_ISSUER_UNKNOWN',
    })
    expect(counting.urls.length).toBe(before)
  })

  it('COG-06: a token of the same pool id in another region: refused by the pipeline without a fetch', async () => {
    const counting = countingFetch(cognito.idp.fetch)
    const provider = providerWith({ jwksCache: new JwksCache({ fetch: counting.fetch }) })
    const verify = createVerifier({ provider, logger: false })
    await expect(verify(otherRegion.access())).rejects.toMatchObject({
      code: 'ERR_AUTH_ISSUER_UNKNOWN',
    })
    expect(counting.urls).toEqual([])
  })

  it.each([
    ['a trailing slash', `${'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1'}/`],
    [
      'a region in the host contradicting the pool id',
      'https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_TestPool1',
    ],
    [
      'a look-alike host',
      'https://cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_TestPool1',
    ],
    ['http', 'http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1'],
  ])('COG-07: an issuer with %s: 401 and no outbound request', async (_case, iss) => {
    const counting = countingFetch(cognito.idp.fetch)
    const provider = providerWith({ jwksCache: new JwksCache({ fetch: counting.fetch }) })
    // Signed with the pool's own key: only the issuer is wrong.
    const token = cognito.access(JANE, { iss })
    const verify = createVerifier({ provider, logger: false })
    await expect(verify(token)).rejects.toMatchObject({
      status: 401,
      code: 'ERR_AUTH_ISSUER_UNKNOWN',
    })
    expect(counting.urls).toEqual([])
    // Called directly, the provider still checks iss after the signature.
    const error = await rejectionOf(provider.verifyToken(token))
    expect(error.code).toBe('ERR_AUTH_ISSUER_MISMATCH')
  })

  it('COG-13: a revoked but unexpired token still verifies offline (documented limitation); only the keys are fetched', async () => {
    const counting = countingFetch(cognito.idp.fetch)
    const provider = providerWith({ jwksCache: new JwksCache({ fetch: counting.fetch }) })
    await expect(provider.verifyToken(cognito.access())).resolves.toBeDefined()
    expect(counting.urls).toEqual([provider.jwksUri])
  })
})

describe('CognitoProvider issuer forms (regional and global)', () => {
  const REGIONAL = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1'
  const GLOBAL = 'https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1'

  /** The regional key URL serves the pool's keys; the global one serves the impostor's. */
  function splitKeys(): { fetch: typeof fetch; urls: string[] } {
    return countingFetch((input, init) => {
      const url = String(input instanceof Request ? input.url : input)
      return url.startsWith(`${GLOBAL}/`) ? impostor.fetch(input, init) : cognito.fetch(input, init)
    })
  }

  it('accepts a token of the global form by default, with the keys of its own form', async () => {
    const counting = countingFetch(cognito.fetch)
    const provider = providerWith({ jwksCache: new JwksCache({ fetch: counting.fetch }) })
    const token = cognito.access(JANE, {}, { issuerForm: 'global' })
    const user = await createVerifier({ provider, logger: false })(token)
    expect(user.claims.iss).toBe(GLOBAL)
    expect(user.id).toBe(JANE.sub)
    expect(counting.urls).toEqual([`${GLOBAL}/.well-known/jwks.json`])
    // A regional token fetches the regional keys.
    await provider.verifyToken(cognito.access())
    expect(counting.urls).toEqual([
      `${GLOBAL}/.well-known/jwks.json`,
      `${REGIONAL}/.well-known/jwks.json`,
    ])
  })

  it("a token's keys come only from its own form's key set, and iss is checked again after the signature", async () => {
    const keys = splitKeys()
    const provider = providerWith({ jwksCache: new JwksCache({ fetch: keys.fetch }) })
    // Signed by the pool's regional key, but naming the global issuer: the global set lacks the key.
    const borrowed = cognito.access(JANE, {}, { issuerForm: 'global' })
    expect((await rejectionOf(provider.verifyToken(borrowed))).code).toBe('ERR_AUTH_KEY_NOT_FOUND')
    // Signed by a key of the global set, naming the regional issuer: the regional set lacks it.
    const crossed = impostor.access(JANE, {}, { issuerForm: 'regional' })
    expect((await rejectionOf(provider.verifyToken(crossed))).code).toBe('ERR_AUTH_KEY_NOT_FOUND')
    // Each form's own key verifies its own form.
    await expect(provider.verifyToken(cognito.access())).resolves.toBeDefined()
    await expect(
      provider.verifyToken(impostor.access(JANE, {}, { issuerForm: 'global' })),
    ).resolves.toBeDefined()
  })

  it("issuerForm 'regional' refuses global tokens before any key fetch", async () => {
    const counting = countingFetch(cognito.fetch)
    const provider = providerWith({
      issuerForm: 'regional',
      jwksCache: new JwksCache({ fetch: counting.fetch }),
    })
    expect(provider.issuers).toEqual([REGIONAL])
    const token = cognito.access(JANE, {}, { issuerForm: 'global' })
    await expect(createVerifier({ provider, logger: false })(token)).rejects.toMatchObject({
      code: 'ERR_AUTH_ISSUER_UNKNOWN',
    })
    expect(counting.urls).toEqual([])
    // Called directly: verified against the regional keys, then refused on iss.
    expect((await rejectionOf(provider.verifyToken(token))).code).toBe('ERR_AUTH_ISSUER_MISMATCH')
  })

  it("issuerForm 'global' makes the global form the only one, and the primary", async () => {
    const provider = providerWith({ issuerForm: 'global' })
    expect(provider).toMatchObject({
      issuer: GLOBAL,
      issuers: [GLOBAL],
      jwksUri: `${GLOBAL}/.well-known/jwks.json`,
    })
    await expect(
      provider.verifyToken(cognito.access(JANE, {}, { issuerForm: 'global' })),
    ).resolves.toBeDefined()
    expect((await rejectionOf(provider.verifyToken(cognito.access()))).code).toBe(
      'ERR_AUTH_ISSUER_MISMATCH',
    )
  })

  it('a jwksUri override serves the keys of both forms', async () => {
    const counting = countingFetch(cognito.fetch)
    const provider = providerWith({
      jwksUri: cognito.pool.jwksUri,
      jwksCache: new JwksCache({ fetch: counting.fetch }),
    })
    await provider.verifyToken(cognito.access(JANE, {}, { issuerForm: 'global' }))
    await provider.verifyToken(cognito.access())
    expect(counting.urls).toEqual([cognito.pool.jwksUri])
  })
})

describe('CognitoProvider users', () => {
  const verifier = (options: Partial<Parameters<typeof createVerifier>[0]> = {}) =>
    createVerifier({ provider: providerWith({ tokenUse: 'any' }), logger: false, ...options })

  it('maps an access token: id = sub, name = username, scopes, clientId', async () => {
    const user = await verifier()(cognito.access())
    expect(user.toJSON()).toEqual({
      id: JANE.sub,
      name: 'jane',
      email: undefined,
      scopes: ['aws.cognito.signin.user.admin', 'openid', 'email'],
      isM2M: false,
      clientId: CLIENT,
      provider: 'cognito',
      isAuthenticated: true,
    })
  })

  it('maps an ID token: name = cognito:username, email, clientId = aud', async () => {
    const user = await verifier()(cognito.id())
    expect(user).toMatchObject({
      id: JANE.sub,
      name: 'jane',
      email: 'jane@example.com',
      clientId: CLIENT,
      isM2M: false,
    })
    expect(user.scopes).toEqual([])
  })

  it('groups come from cognito:groups by default', async () => {
    expect(await (await verifier()(cognito.access())).groups).toEqual(['admin', 'editors'])
    expect(await (await verifier()(cognito.id())).groups).toEqual(['admin', 'editors'])
  })

  it('an explicit groups source wins over the default', async () => {
    const groups: GroupsProvider = { fetchGroups: () => ['from-db'] }
    expect(await (await verifier({ groups })(cognito.access())).groups).toEqual(['from-db'])
  })

  it('COG-09: a client-credentials token is M2M: no groups or roles sources, permissions kept', async () => {
    const calls: string[] = []
    const roles: RolesProvider = { fetchRoles: () => (calls.push('roles'), ['admin']) }
    const permissions: PermissionsProvider = {
      fetchPermissions: (user) => (calls.push('permissions'), [`jobs:${user.id}`]),
    }
    // Even a forged-looking groups claim on an M2M token is never read.
    const token = cognito.m2m('orders/read orders/write', { 'cognito:groups': ['admin'] })
    const user = await verifier({ roles, permissions })(token)
    expect(user).toMatchObject({ id: CLIENT, clientId: CLIENT, isM2M: true, name: undefined })
    expect(user.scopes).toEqual(['orders/read', 'orders/write'])
    expect(await user.groups).toEqual([])
    expect(await user.roles).toEqual([])
    expect(await user.permissions).toEqual([`jobs:${CLIENT}`])
    expect(calls).toEqual(['permissions'])
  })

  it.each<[string, Record<string, unknown>]>([
    ['a user access token', {}],
    ['an access token whose sub is not its client', { username: undefined }],
    [
      'an access token with cognito:username',
      { username: undefined, sub: CLIENT, 'cognito:username': 'svc' },
    ],
  ])('COG-09: %s is not M2M', async (_case, overrides) => {
    const user = await verifier()(cognito.access(JANE, overrides))
    expect(user.isM2M).toBe(false)
  })

  it('an ID token is never M2M, even with sub = aud', async () => {
    const token = cognito.id(JANE, { sub: CLIENT, 'cognito:username': undefined })
    expect((await verifier()(token)).isM2M).toBe(false)
  })

  it('keeps the raw token for sources that call AWS on the user’s behalf', async () => {
    const token = cognito.access()
    expect((await verifier()(token)).token).toBe(token)
  })
})

function countingFetch(inner: typeof fetch): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = []
  return {
    urls,
    fetch: (input, init) => {
      urls.push(String(input instanceof Request ? input.url : input))
      return inner(input, init)
    },
  }
}

// Review 9: the providers refuse option names they do not know (a misspelt restriction used to be
// ignored, and the restriction with it), claim sources refuse options that are not an object, and
// a claim path that runs into a list or a string answers 503 instead of "no roles".

import { describe, expect, it } from 'vitest'
import { ClaimGroupsProvider, ClaimRolesProvider } from '../../providers/claims/index.js'
import {
  CognitoGroupsAsRolesProvider,
  CognitoGroupsProvider,
  CognitoIdentityPoolProvider,
  CognitoProfileProvider,
  CognitoProvider,
} from '../../providers/cognito/index.js'
import { TOKEN_CHECK_OPTION_NAMES } from '../../providers/jwks/jwks-provider.js'
import { JwksProvider, OidcProvider } from '../../providers/jwks/index.js'
import { ConfigError } from '../../src/errors.js'
import { JwksCache } from '../../src/jwks-cache.js'
import { User } from '../../src/user.js'

const ISSUER = 'https://auth.example.com/'
const JWKS = { issuer: ISSUER, jwksUri: `${ISSUER}.well-known/jwks.json`, audience: 'api' }
const POOL = { userPoolId: 'eu-west-1_AbCdE1234', clientId: '4tq8example1client2id3' }
const IDENTITY_POOL = {
  identityPoolId: 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  userPoolId: POOL.userPoolId,
  logger: false as const,
}
// Construction never fetches: a fetch that fails proves it, and keeps the shared cache out of it.
const noFetch = () => Promise.reject(new Error('no fetch at construction'))

/** The problems of the ConfigError `build` throws (fails the test when it throws none). */
function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  throw new Error('expected a ConfigError')
}

// Options the types refuse, as JavaScript (or a config loader) hands them over.
const loose = (options: Record<string, unknown>): never => options as never

describe('providers refuse option names they do not know', () => {
  it.each<[string, () => unknown, RegExp]>([
    [
      'JwksProvider requiredClaim',
      () => new JwksProvider(loose({ ...JWKS, fetch: noFetch, requiredClaim: ['tenant'] })),
      /JwksProvider: "requiredClaim" is not an option \(did you mean requiredClaims\?\)/,
    ],
    [
      'JwksProvider clockTolerance',
      () => new JwksProvider(loose({ ...JWKS, fetch: noFetch, clockTolerance: 60 })),
      /JwksProvider: "clockTolerance" is not an option/,
    ],
    [
      'OidcProvider maxTokenAgeSecs',
      () => new OidcProvider(loose({ issuer: ISSUER, audience: 'a', maxTokenAgeSecs: 60 })),
      /OidcProvider: "maxTokenAgeSecs" is not an option \(did you mean maxTokenAgeSec\?\)/,
    ],
    [
      'CognitoProvider tokenUses',
      () => new CognitoProvider(loose({ ...POOL, fetch: noFetch, tokenUses: 'id' })),
      /CognitoProvider: "tokenUses" is not an option \(did you mean tokenUse\?\)/,
    ],
    [
      'CognitoProfileProvider operations',
      () => new CognitoProfileProvider(loose({ userPoolId: POOL.userPoolId, operations: 'x' })),
      /CognitoProfileProvider: "operations" is not an option \(did you mean operation\?\)/,
    ],
    [
      'CognitoIdentityPoolProvider refreshBefore',
      () => new CognitoIdentityPoolProvider(loose({ ...IDENTITY_POOL, refreshBefore: 60 })),
      /CognitoIdentityPoolProvider: "refreshBefore" is not an option/,
    ],
    [
      'CognitoIdentityPoolProvider credentials (its calls are not signed)',
      () =>
        new CognitoIdentityPoolProvider(
          loose({ ...IDENTITY_POOL, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }),
        ),
      /CognitoIdentityPoolProvider: "credentials" is not an option/,
    ],
    [
      'jwksCache options given to a provider',
      () => new JwksProvider({ ...JWKS, jwksCache: loose({ fetch: noFetch, refreshInterval: 1 }) }),
      /jwksCache: "refreshInterval" is not an option \(did you mean refreshIntervalMs\?\)/,
    ],
    [
      'JwksCache itself',
      () => new JwksCache(loose({ refreshInterval: 1 })),
      /jwksCache: "refreshInterval" is not an option \(did you mean refreshIntervalMs\?\)/,
    ],
  ])('%s is a ConfigError naming the option meant', (_case, build, message) => {
    const problems = problemsOf(build)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(message)
  })

  it('lists every problem in one ConfigError, unknown names and invalid values together', () => {
    const problems = problemsOf(
      () =>
        new JwksProvider(
          loose({ ...JWKS, fetch: noFetch, clockToleranceSec: -1, audiences: ['x'], typp: 'jwt' }),
        ),
    )
    expect(problems).toEqual([
      expect.stringMatching(/"audiences" is not an option \(did you mean audience\?\)/),
      expect.stringMatching(/"typp" is not an option \(did you mean typ\?\)/),
      expect.stringMatching(/^clockToleranceSec must be/),
    ])
  })

  it('options refused with their own message are not refused twice', () => {
    const oidc = problemsOf(
      () => new OidcProvider(loose({ issuer: ISSUER, audience: 'a', jwksUri: JWKS.jwksUri })),
    )
    expect(oidc).toEqual([expect.stringMatching(/^jwksUri is not an option of OidcProvider: it/)])
    const cognito = problemsOf(
      () => new CognitoProvider(loose({ ...POOL, fetch: noFetch, audience: 'x', issuer: ISSUER })),
    )
    expect(cognito).toEqual([
      expect.stringMatching(/^audience is not an option of CognitoProvider: give the app client/),
      expect.stringMatching(/^issuer is not an option of CognitoProvider: the issuer derives/),
    ])
  })

  it('every option each provider documents is still accepted', () => {
    const checks = {
      audience: 'api',
      algorithms: ['RS256', 'ES256'],
      clockToleranceSec: 10,
      maxTokenAgeSec: 3600,
      maxTokenLifetimeSec: 7200,
      typ: 'at+jwt',
      requiredClaims: ['tid'],
      maxTokenLength: 4096,
      jwksCache: { cooldownMs: 10_000, refreshIntervalMs: 60_000, logger: false as const },
      fetch: noFetch,
      name: 'mine',
    } as const
    expect([...TOKEN_CHECK_OPTION_NAMES].sort()).toEqual(Object.keys(checks).sort())
    expect(
      () => new JwksProvider({ ...checks, issuer: ISSUER, jwksUri: JWKS.jwksUri }),
    ).not.toThrow()
    expect(
      () =>
        new OidcProvider({ ...checks, issuer: ISSUER, discoveryTimeoutMs: 1000, logger: false }),
    ).not.toThrow()
    const { audience: _a, typ: _t, ...cognitoChecks } = checks
    const cognito = {
      ...POOL,
      region: 'eu-west-1',
      tokenUse: 'id',
      issuerForm: 'regional',
    } as const
    expect(
      () => new CognitoProvider(loose({ ...cognitoChecks, ...cognito, algorithms: ['RS256'] })),
    ).not.toThrow()
    expect(
      () =>
        new CognitoProfileProvider({
          userPoolId: POOL.userPoolId,
          region: 'eu-west-1',
          operation: 'GetUser',
          endpoint: 'https://cognito-idp.eu-west-1.amazonaws.com',
          credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
          maxAttempts: 2,
          logger: false,
        }),
    ).not.toThrow()
    expect(
      () =>
        new CognitoIdentityPoolProvider({
          ...IDENTITY_POOL,
          region: 'eu-west-1',
          refreshBeforeSec: 60,
          maxIdentities: 10,
          timeoutMs: 1000,
          maxAttempts: 2,
        }),
    ).not.toThrow()
  })
})

describe('groups and roles sources refuse options they cannot read', () => {
  it.each<[string, () => unknown, RegExp]>([
    [
      'ClaimRolesProvider { clam }',
      () => new ClaimRolesProvider(loose({ clam: 'realm_access.roles' })),
      /ClaimRolesProvider: "clam" is not an option \(did you mean claim\?\)/,
    ],
    [
      'ClaimGroupsProvider { delimeter }',
      () => new ClaimGroupsProvider(loose({ delimeter: ',' })),
      /ClaimGroupsProvider: "delimeter" is not an option \(did you mean delimiter\?\)/,
    ],
    [
      'ClaimRolesProvider with a path for options',
      () => new ClaimRolesProvider('realm_access.roles' as never),
      /ClaimRolesProvider: options must be an object .* \(one claim is \{ claim: "realm_access.roles" \}\)/,
    ],
    [
      'ClaimRolesProvider(null)',
      () => new ClaimRolesProvider(null as never),
      /ClaimRolesProvider: options must be an object .*got null/,
    ],
    [
      'ClaimRolesProvider with a list for options',
      () => new ClaimRolesProvider(['roles'] as never),
      /ClaimRolesProvider: options must be an object .*got a list/,
    ],
    [
      'ClaimRolesProvider { claim: null }',
      () => new ClaimRolesProvider({ claim: null as never }),
      /ClaimRolesProvider: claim must be a claim name/,
    ],
    [
      'CognitoGroupsProvider { clam }',
      () => new CognitoGroupsProvider(loose({ clam: 'custom:groups' })),
      /CognitoGroupsProvider: "clam" is not an option \(did you mean claim\?\)/,
    ],
    [
      'CognitoGroupsAsRolesProvider with a claim name for options',
      () => new CognitoGroupsAsRolesProvider('custom:roles' as never),
      /CognitoGroupsAsRolesProvider: options must be an object .*\{ claim: "custom:roles" \}/,
    ],
    [
      'CognitoGroupsProvider(null)',
      () => new CognitoGroupsProvider(null as never),
      /CognitoGroupsProvider: options must be an object/,
    ],
    [
      'CognitoGroupsProvider { claim: null }',
      () => new CognitoGroupsProvider({ claim: null as never }),
      /CognitoGroupsProvider: claim must be a non-empty claim name/,
    ],
  ])('%s is a ConfigError', (_case, build, message) => {
    const problems = problemsOf(build)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(message)
  })

  it('leaving the options out still reads the default claim', () => {
    expect(new ClaimRolesProvider(undefined).fetchRoles(userWith({ roles: ['r'] }))).toEqual(['r'])
    expect(new CognitoGroupsProvider(undefined).claim).toBe('cognito:groups')
  })
})

function userWith(claims: Record<string, unknown>, roles?: ClaimRolesProvider): User {
  const context = { provider: 't', claims: { sub: 'u', ...claims }, token: 't' }
  return new User(context, { id: 'u' }, roles === undefined ? {} : { roles })
}

describe('a claim path that runs into something other than an object is loud', () => {
  it.each<[string, Record<string, unknown>]>([
    ['a list', { realm_access: ['admin'] }],
    ['a string', { realm_access: 'admin' }],
    ['a number', { realm_access: 7 }],
    ['a boolean', { realm_access: true }],
  ])('walking into %s answers 503, never "no roles"', async (_case, claims) => {
    const roles = new ClaimRolesProvider({ claim: 'realm_access.roles' })
    expect(() => roles.fetchRoles(userWith(claims))).toThrow(
      /claim realm_access\.roles: realm_access is not an object/,
    )
    await expect(userWith(claims, roles).roles).rejects.toMatchObject({
      status: 503,
      code: 'ERR_AUTH_SOURCE_UNAVAILABLE',
    })
  })

  it('deeper, with segments: the part walked is named', () => {
    const roles = new ClaimRolesProvider({ claim: ['resource_access', 'orders.v2', 'roles'] })
    const claims = { resource_access: { 'orders.v2': 'reader' } }
    expect(() => roles.fetchRoles(userWith(claims))).toThrow(
      /resource_access › orders\.v2 is not an object/,
    )
  })

  it('with several claims merged, one that runs into a list fails the facet', () => {
    const roles = new ClaimRolesProvider({ claims: ['roles', 'realm_access.roles'] })
    expect(() => roles.fetchRoles(userWith({ roles: ['a'], realm_access: ['admin'] }))).toThrow(
      TypeError,
    )
  })

  it.each<[string, Record<string, unknown>]>([
    ['no claim at all', {}],
    ['an object without the key', { realm_access: { other: ['x'] } }],
    ['a null on the way', { realm_access: null }],
  ])('an absent key is still no value (%s)', (_case, claims) => {
    const roles = new ClaimRolesProvider({ claim: 'realm_access.roles' })
    expect(roles.fetchRoles(userWith(claims))).toEqual([])
  })
})

// Several Entra providers in one verifier: which one a token goes to, and the configurations whose
// issuers cannot be told apart, refused at construction.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ConfigError, createVerifier, InvalidTokenError } from '../../src/index.js'
import { EntraIdProvider, type EntraIdProviderOptions } from '../../providers/entra-id/index.js'
import {
  CLIENT_ID,
  CONSUMER_TENANT,
  createEntraIssuer,
  JANE,
  OTHER_TENANT,
  TENANT,
  v1AccessTokenClaims,
  v1Issuer,
  v2AccessTokenClaims,
  v2Issuer,
  type EntraTestIssuer,
} from '../fake-idp/entra.js'

const THIRD_TENANT = '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b'
const OTHER_API = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0'

let entra: EntraTestIssuer

beforeAll(async () => {
  entra = await createEntraIssuer()
})

afterAll(() => entra.close())

function provider(name: string, options: Partial<EntraIdProviderOptions>): EntraIdProvider {
  return new EntraIdProvider({
    name,
    tenantId: 'organizations',
    audience: CLIENT_ID,
    fetch: entra.fetch,
    ...options,
  })
}

const v2Of = (tid: string, audience = CLIENT_ID) =>
  entra.mint(v2AccessTokenClaims(entra.context(tid, audience), JANE))
const v1Of = (tid: string) => entra.mint(v1AccessTokenClaims(entra.context(tid, CLIENT_ID), JANE))

/** The provider that verified the token, or the refusal's description. */
async function outcome(verify: (token: string) => Promise<{ provider: string }>, token: string) {
  return verify(token).then(
    (user) => user.provider,
    (error: unknown) => {
      expect(error).toBeInstanceOf(InvalidTokenError)
      return `401 ${(error as InvalidTokenError).description}`
    },
  )
}

function verifierOf(...providers: EntraIdProvider[]) {
  return createVerifier({ providers, logger: false })
}

function configError(build: () => unknown): string {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).message
  }
  return expect.unreachable('the providers were accepted')
}

describe('Entra providers side by side', () => {
  it('two allow-lists: each provider gets its own tenants’ tokens', async () => {
    const verify = verifierOf(
      provider('customers-a', { allowedTenants: [TENANT] }),
      provider('customers-b', { allowedTenants: [OTHER_TENANT] }),
    )
    expect(await outcome(verify, v2Of(TENANT))).toBe('customers-a')
    expect(await outcome(verify, v2Of(OTHER_TENANT))).toBe('customers-b')
    // A tenant neither lists goes to one of them, which says why it refuses.
    expect(await outcome(verify, v2Of(THIRD_TENANT))).toBe('401 tenant is not allowed')
  })

  it('an allow-list names its tenants’ issuers, routed by one Map lookup', async () => {
    const listed = provider('customers', { allowedTenants: [TENANT, OTHER_TENANT], acceptV1: true })
    expect(listed.issuers).toEqual([
      v1Issuer(TENANT),
      v2Issuer(TENANT),
      v1Issuer(OTHER_TENANT),
      v2Issuer(OTHER_TENANT),
    ])
    const open = provider('everyone', { allowedTenants: '*', audience: OTHER_API })
    const claims = vi.spyOn(open, 'claimsIssuer')
    const verify = verifierOf(listed, open)
    expect(await outcome(verify, v2Of(OTHER_TENANT))).toBe('customers')
    expect(await outcome(verify, v1Of(TENANT))).toBe('customers')
    expect(claims).not.toHaveBeenCalled()
  })

  it('claimsIssuer answers only for tenants and versions the provider takes', () => {
    const listed = provider('listed', { allowedTenants: [OTHER_TENANT] })
    expect(listed.claimsIssuer(v2Issuer(OTHER_TENANT))).toBe(true)
    expect(listed.claimsIssuer(v2Issuer(TENANT))).toBe(false)
    expect(listed.claimsIssuer(v1Issuer(OTHER_TENANT))).toBe(false)
    // It still recognises them, to refuse them saying why.
    expect(listed.recognisesIssuer(v2Issuer(TENANT))).toBe(true)
    const open = provider('open', { allowedTenants: '*', acceptV1: true })
    expect(open.claimsIssuer(v2Issuer(THIRD_TENANT))).toBe(true)
    expect(open.claimsIssuer(v1Issuer(THIRD_TENANT))).toBe(true)
    expect(open.claimsIssuer(v2Issuer(CONSUMER_TENANT))).toBe(false)
    expect(open.claimsIssuer(v2Issuer(THIRD_TENANT, 'login.microsoftonline.us'))).toBe(false)
    expect(provider('v2', { allowedTenants: '*' }).claimsIssuer(v1Issuer(THIRD_TENANT))).toBe(false)
  })

  it('a single-tenant provider and listed tenants win over an open provider, which gets the rest', async () => {
    const asked: string[] = []
    const home = new EntraIdProvider({
      name: 'home',
      tenantId: TENANT,
      audience: CLIENT_ID,
      fetch: entra.fetch,
    })
    const partners = provider('partners', { allowedTenants: [OTHER_TENANT] })
    const customers = provider('customers', {
      allowedTenants: (tid) => {
        asked.push(tid)
        return true
      },
    })
    // The open provider first: order does not matter, exact issuers are looked up first.
    const verify = verifierOf(customers, home, partners)
    expect(await outcome(verify, v2Of(TENANT))).toBe('home')
    expect(await outcome(verify, v2Of(OTHER_TENANT))).toBe('partners')
    expect(await outcome(verify, v2Of(THIRD_TENANT))).toBe('customers')
    expect(asked).toEqual([THIRD_TENANT])
  })

  it('open providers of one cloud split by version: v2.0 tokens to one, v1.0 to the other', async () => {
    const verify = verifierOf(
      provider('v2-apps', { allowedTenants: '*' }),
      provider('v1-apps', { allowedTenants: '*', acceptV1: true, acceptV2: false }),
    )
    expect(await outcome(verify, v2Of(THIRD_TENANT))).toBe('v2-apps')
    expect(await outcome(verify, v1Of(THIRD_TENANT))).toBe('v1-apps')
  })

  it('an open provider refuses personal accounts it does not take, saying why', async () => {
    const verify = verifierOf(
      provider('work', { allowedTenants: '*' }),
      provider('partners', { allowedTenants: [OTHER_TENANT] }),
    )
    expect(await outcome(verify, v2Of(CONSUMER_TENANT))).toBe(
      '401 personal Microsoft accounts are not accepted',
    )
  })
})

describe('Entra providers whose issuers overlap are a ConfigError naming both', () => {
  it('a tenant listed by two providers', () => {
    const message = configError(() =>
      verifierOf(
        provider('customers-a', { allowedTenants: [TENANT, OTHER_TENANT] }),
        provider('customers-b', { allowedTenants: [OTHER_TENANT], audience: OTHER_API }),
      ),
    )
    expect(message).toContain(
      `two providers accept the issuer "${v2Issuer(OTHER_TENANT)}": providers[0] ("customers-a") and providers[1] ("customers-b")`,
    )
  })

  type Tenants = NonNullable<EntraIdProviderOptions['allowedTenants']>
  it.each<[string, Tenants, Tenants]>([
    ["'*' twice", '*', '*'],
    ["'*' and a predicate", '*', () => true],
    ['two predicates', () => true, () => false],
  ])('two providers taking any tenant of one cloud and version: %s', (_name, first, second) => {
    const message = configError(() =>
      verifierOf(
        provider('app-a', { allowedTenants: first }),
        provider('app-b', { allowedTenants: second, tenantId: 'common', audience: OTHER_API }),
      ),
    )
    expect(message).toContain(
      'providers[0] ("app-a") and providers[1] ("app-b") both take tokens of any tenant with the issuer https://login.microsoftonline.com/{tenantid}/v2.0',
    )
    expect(message).toContain(
      'make one provider with both audiences, or give one of them an allowedTenants list',
    )
  })

  it('v1.0 issuers are shared by the public and US Government clouds', () => {
    const gov = { authorityHost: 'login.microsoftonline.us', allowedTenants: '*' as const }
    // v2.0 only: the issuers name the cloud.
    expect(() =>
      verifierOf(provider('public', { allowedTenants: '*' }), provider('gov', gov)),
    ).not.toThrow()
    const message = configError(() =>
      verifierOf(
        provider('public', { allowedTenants: '*', acceptV1: true }),
        provider('gov', { ...gov, acceptV1: true }),
      ),
    )
    expect(message).toContain(
      'providers[0] ("public") and providers[1] ("gov") both take tokens of any tenant with the issuer https://sts.windows.net/{tenantid}/ (v1.0 issuers name no cloud): accept v1.0 tokens in one of them only',
    )
  })
})

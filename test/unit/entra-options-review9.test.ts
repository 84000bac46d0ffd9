// Entra's options are checked by name (a misspelt one fails closed), and Microsoft Graph must be of
// the authority's cloud: Graph tokens never go to another cloud's Graph.

import { describe, expect, it } from 'vitest'
import { ConfigError, UnavailableError, User } from '../../src/index.js'
import {
  EntraGroupsProvider,
  EntraIdProvider,
  GraphGroupResolver,
  type EntraIdProviderOptions,
} from '../../providers/entra-id/index.js'
import { CLIENT_APP, CLIENT_ID, JANE, TENANT } from '../fake-idp/entra.js'

const BASE = { tenantId: TENANT, audience: CLIENT_ID } as const
const getGraphToken = () => 't'

function refusal(build: () => unknown): string {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).message
  }
  return expect.unreachable('the options were accepted')
}

describe('EntraIdProvider refuses option names it does not know', () => {
  it.each<[string, Record<string, unknown>, string]>([
    [
      'allowedClientApp (every client would be accepted)',
      { allowedClientApp: [CLIENT_APP] },
      'EntraIdProvider: "allowedClientApp" is not an option (did you mean allowedClientApps?)',
    ],
    [
      'allowedTenant',
      { tenantId: 'organizations', allowedTenants: [TENANT], allowedTenant: [TENANT] },
      '"allowedTenant" is not an option (did you mean allowedTenants?)',
    ],
    ['clockTolerance', { clockTolerance: 5 }, '"clockTolerance" is not an option'],
    ['typ, which Entra’s options leave out', { typ: 'at+jwt' }, '"typ" is not an option'],
    ['acceptv1', { acceptv1: true }, '(did you mean acceptV1?)'],
  ])('%s', (_name, extra, message) => {
    const options = { ...BASE, ...extra } as unknown as EntraIdProviderOptions
    expect(refusal(() => new EntraIdProvider(options))).toContain(message)
  })

  it('every option it documents, its own and the key-set providers’, is taken', () => {
    // The two time-outs each bound a step this configuration skips (no predicate, a jwksUri):
    // taken in the test below, where they bound something.
    const provider = new EntraIdProvider({
      ...BASE,
      authorityHost: 'login.microsoftonline.com',
      acceptV1: true,
      acceptV2: true,
      jwksUri: 'https://login.microsoftonline.com/common/discovery/v2.0/keys',
      appSigningKeys: false,
      allowGuestUsers: false,
      allowedClientApps: [CLIENT_APP],
      requireScopeOrRole: true,
      idClaim: 'oid',
      groupOverageResolver: () => [],
      logger: false,
      algorithms: ['RS256'],
      clockToleranceSec: 5,
      maxTokenAgeSec: 3600,
      maxTokenLifetimeSec: 7200,
      requiredClaims: ['oid'],
      maxTokenLength: 16_384,
      fetch: (input, init) => globalThis.fetch(input, init),
      name: 'entra',
    })
    expect(provider.name).toBe('entra')
    const multiTenant = new EntraIdProvider({
      tenantId: 'organizations',
      audience: CLIENT_ID,
      allowedTenants: async () => true,
      tenantCheckTimeoutMs: 1000,
      discoveryTimeoutMs: 1000,
      logger: false,
    })
    expect(multiTenant.name).toBe('entra-id')
  })

  it('b2c: { tenantName, policies } only', () => {
    const message = refusal(
      () =>
        new EntraIdProvider({
          ...BASE,
          b2c: { tenantName: 'contoso', policies: ['B2C_1_signin'], polices: ['B2C_1_other'] },
        } as unknown as EntraIdProviderOptions),
    )
    expect(message).toContain('b2c: "polices" is not an option (did you mean policies?)')
  })
})

describe('GraphGroupResolver and EntraGroupsProvider refuse option names they do not know', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['timeout', { timeout: 1000 }, 'GraphGroupResolver: "timeout" is not an option'],
    ['endpoint', { endpoint: 'https://graph.microsoft.us' }, '"endpoint" is not an option'],
    [
      'cache.ttl',
      { cache: { ttl: 60_000 } },
      'GraphGroupResolver cache: "ttl" is not an option (did you mean ttlMs?)',
    ],
    ['cache.maxSize', { cache: { max: 5, maxSize: 5 } }, 'cache: "maxSize" is not an option'],
  ])('GraphGroupResolver: %s', (_name, extra, message) => {
    const options = { getGraphToken, ...extra } as never
    expect(refusal(() => new GraphGroupResolver(options))).toContain(message)
  })

  it('GraphGroupResolver takes every option it documents', () => {
    const resolver = new GraphGroupResolver({
      getGraphToken,
      graphEndpoint: 'https://graph.microsoft.com',
      timeoutMs: 1000,
      securityEnabledOnly: true,
      cache: { ttlMs: 1000, max: 10 },
      maxPages: 3,
      fetch: (input, init) => globalThis.fetch(input, init),
      logger: false,
    })
    expect(resolver.graphEndpoint).toBe('https://graph.microsoft.com')
  })

  it('EntraGroupsProvider: a misspelt overageResolver, or one of no use, is refused', () => {
    const resolver = new GraphGroupResolver({ getGraphToken })
    expect(refusal(() => new EntraGroupsProvider({ overageResolve: resolver } as never))).toContain(
      'EntraGroupsProvider: "overageResolve" is not an option (did you mean overageResolver?)',
    )
    expect(refusal(() => new EntraGroupsProvider({ overageResolver: 'graph' } as never))).toContain(
      'overageResolver must be a function or a groups source (fetchGroups)',
    )
    expect(new EntraGroupsProvider({ overageResolver: resolver })).toBeInstanceOf(
      EntraGroupsProvider,
    )
  })
})

describe('Microsoft Graph of the authority’s cloud', () => {
  const withGraph = (authorityHost: string, graphEndpoint?: string) => () =>
    new EntraIdProvider({
      ...BASE,
      authorityHost,
      groupOverageResolver: new GraphGroupResolver({
        getGraphToken,
        ...(graphEndpoint === undefined ? {} : { graphEndpoint }),
      }),
    })

  it.each<[string, string | undefined, string]>([
    [
      'login.microsoftonline.us',
      undefined,
      'https://graph.microsoft.us or https://dod-graph.microsoft.us',
    ],
    ['login.partner.microsoftonline.cn', undefined, 'https://microsoftgraph.chinacloudapi.cn'],
    [
      'login.chinacloudapi.cn',
      'https://graph.microsoft.us',
      'https://microsoftgraph.chinacloudapi.cn',
    ],
    ['login.microsoftonline.com', 'https://graph.microsoft.us', 'https://graph.microsoft.com'],
  ])('authority %s with Graph %s: refused, naming %s', (host, endpoint, expected) => {
    const message = refusal(withGraph(host, endpoint))
    expect(message).toContain(`groupOverageResolver: the authority ${host} is of`)
    expect(message).toContain(`whose Microsoft Graph is ${expected}`)
  })

  it.each<[string, string | undefined]>([
    ['login.microsoftonline.com', undefined],
    ['login.microsoftonline.us', 'https://graph.microsoft.us'],
    ['login.microsoftonline.us', 'https://dod-graph.microsoft.us'],
    ['login.partner.microsoftonline.cn', 'https://microsoftgraph.chinacloudapi.cn'],
    // Hosts of no known cloud are left alone: a proxy, a custom authority domain.
    ['login.microsoftonline.us', 'https://graph-proxy.contoso.example'],
    ['login.contoso.example', undefined],
  ])('authority %s with Graph %s: accepted', (host, endpoint) => {
    expect(withGraph(host, endpoint)()).toBeInstanceOf(EntraIdProvider)
  })

  it('a lookup for a token of another cloud than graphEndpoint’s: 503, and Graph never called', async () => {
    let calls = 0
    const resolver = new GraphGroupResolver({
      getGraphToken: () => {
        calls += 1
        return 't'
      },
      fetch: () => Promise.resolve(Response.json({ value: ['g'] })),
    })
    const userOf = (iss: string) =>
      new User(
        { provider: 'entra-id', claims: { iss, oid: JANE.oid, tid: TENANT } },
        { id: JANE.oid },
        {},
      )
    const gov = resolver.fetchGroups(userOf(`https://login.microsoftonline.us/${TENANT}/v2.0`))
    await expect(gov).rejects.toBeInstanceOf(UnavailableError)
    expect(calls).toBe(0)
    // The public cloud's, and the v1 issuer two clouds share, go ahead.
    expect(
      await resolver.fetchGroups(userOf(`https://login.microsoftonline.com/${TENANT}/v2.0`)),
    ).toEqual(['g'])
    expect(await resolver.fetchGroups(userOf(`https://sts.windows.net/${TENANT}/`))).toEqual(['g'])
    expect(calls).toBe(2)
  })
})

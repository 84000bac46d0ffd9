// protectedResourceMetadata's options are checked at construction, each bad one a ConfigError that
// names it: no TypeError for a provider given without its list, no misleading "required" for a
// string of servers, no scope advertised that requireScopes (and so every token) could never carry.

import { describe, expect, it } from 'vitest'
import { ConfigError, protectedResourceMetadata, requireScopes } from '../../src/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'

const ISSUER = 'https://issuer.example'
const provider = new JwksProvider({ issuer: ISSUER, jwksUri: `${ISSUER}/jwks`, audience: 'api' })
const RESOURCE = 'https://api.example.com'

/** The ConfigError's message for these options (on top of a valid resource), or 'accepted'. */
function outcome(options: Record<string, unknown>): string {
  try {
    protectedResourceMetadata({ resource: RESOURCE, ...options } as never)
    return 'accepted'
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
}

describe('protectedResourceMetadata option checks', () => {
  it.each([
    ['resourceName 42', { providers: [provider], resourceName: 42 }, 'resourceName', 'a number'],
    ['resourceName ""', { providers: [provider], resourceName: '' }, 'resourceName', '""'],
    ['resourceName "  "', { providers: [provider], resourceName: '  ' }, 'resourceName', '"  "'],
    ['resourceName null', { providers: [provider], resourceName: null }, 'resourceName', 'null'],
    ['providers as one provider', { providers: provider }, 'providers must be a list', 'object'],
    ['providers as a string', { providers: ISSUER }, 'providers must be a list', ISSUER],
    ['providers with a non-provider', { providers: [provider, {}] }, 'providers[1]', 'issuers'],
    ['providers with null', { providers: [null] }, 'providers[0]', 'not a provider'],
    [
      'authorizationServers as a string',
      { authorizationServers: ISSUER },
      'authorizationServers takes a list of issuer URLs, not a string',
      `write authorizationServers: ["${ISSUER}"]`,
    ],
    [
      'authorizationServers as an object',
      { authorizationServers: { url: ISSUER } },
      'authorizationServers must be a list of issuer URLs',
      'an object',
    ],
    [
      'authorizationServers empty',
      { authorizationServers: [] },
      'authorizationServers must list at least one issuer URL',
      'authorizationServers',
    ],
    [
      'scopesSupported with a space inside',
      { providers: [provider], scopesSupported: ['orders.read', 'orders write'] },
      'scopesSupported: entry 2 "orders write" is not one scope',
      'list each scope as its own entry',
    ],
    [
      'scopesSupported with a quote',
      { providers: [provider], scopesSupported: ['"x"'] },
      'scopesSupported: entry 1 "\\"x\\"" is not a scope',
      'RFC 6749',
    ],
    [
      'scopesSupported with spaces around',
      { providers: [provider], scopesSupported: [' orders.read'] },
      'scopesSupported: entry 1 " orders.read" has spaces around it',
      'write "orders.read"',
    ],
    [
      'scopesSupported with a number',
      { providers: [provider], scopesSupported: ['a', 7] },
      'scopesSupported: entry 2 is 7 (number)',
      'non-empty strings',
    ],
    [
      'scopesSupported as a string',
      { providers: [provider], scopesSupported: 'orders.read' },
      'scopesSupported takes a list of scopes, not a string',
      'write scopesSupported: ["orders.read"]',
    ],
  ])('refuses %s, naming the option', (_label, options, names, says) => {
    const message = outcome(options)
    expect(message).toContain(names)
    expect(message).toContain(says)
    // A wrong type is said as such, not as a missing option.
    expect(message).not.toContain('is required')
  })

  it('checks providers even when authorizationServers is given', () => {
    expect(outcome({ authorizationServers: [ISSUER], providers: provider })).toContain(
      'providers must be a list',
    )
  })

  // The rule is the guards' own: the document advertises exactly the scopes a route can require.
  it.each([
    'orders.read',
    'mcp:tools',
    'https://graph.microsoft.com/.default',
    'a',
    '!#[]~',
    'orders read',
    '"x"',
    'a\\b',
    ' a',
    'a\t',
    'é',
    '',
  ])('takes the scope %j exactly when requireScopes does', (scope) => {
    let guard = 'accepted'
    try {
      requireScopes([scope])
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      guard = 'refused'
    }
    const metadata = outcome({ providers: [provider], scopesSupported: [scope] })
    expect(metadata === 'accepted' ? 'accepted' : 'refused').toBe(guard)
  })

  it('still accepts good options, an empty scopesSupported included', () => {
    const metadata = protectedResourceMetadata({
      resource: RESOURCE,
      providers: [provider],
      scopesSupported: ['orders.read', 'mcp:tools'],
      resourceName: 'Orders API',
    })
    expect(metadata.document).toMatchObject({
      authorization_servers: [ISSUER],
      scopes_supported: ['orders.read', 'mcp:tools'],
      resource_name: 'Orders API',
    })
    expect(outcome({ authorizationServers: [ISSUER], scopesSupported: [] })).toBe('accepted')
  })
})

import { describe, expect, it } from 'vitest'
import {
  ClaimGroupsProvider,
  ClaimPermissionsProvider,
  ClaimRolesProvider,
  type ClaimSourceOptions,
} from '../../providers/claims/index.js'
import { ConfigError } from '../../src/errors.js'
import { User } from '../../src/user.js'

function userWith(claims: Record<string, unknown>): User {
  return new User({ provider: 't', claims: { sub: 'u', ...claims }, token: 't' }, { id: 'u' }, {})
}

const KEYCLOAK = {
  realm_access: { roles: ['offline_access', 'admin'] },
  resource_access: { 'orders-api': { roles: ['orders-reader'] }, 'orders.v2': { roles: ['v2'] } },
}

describe('claim sources read lists out of verified claims', () => {
  it.each<[string, ClaimSourceOptions, Record<string, unknown>, string[]]>([
    ['a top-level array', { claim: 'roles' }, { roles: ['a', 'b'] }, ['a', 'b']],
    [
      'Keycloak realm roles',
      { claim: 'realm_access.roles' },
      KEYCLOAK,
      ['offline_access', 'admin'],
    ],
    [
      'Keycloak client roles',
      { claim: 'resource_access.orders-api.roles' },
      KEYCLOAK,
      ['orders-reader'],
    ],
    [
      'a key containing dots, by segments',
      { claim: ['resource_access', 'orders.v2', 'roles'] },
      KEYCLOAK,
      ['v2'],
    ],
    [
      'Auth0 namespaced claim as written',
      { claim: 'https://example.com/roles' },
      { 'https://example.com/roles': ['editor'] },
      ['editor'],
    ],
    [
      'space-separated scope',
      { claim: 'scope' },
      // Spaces only, as requireScopes reads a scope (RFC 6749 §3.3): a tab is part of a value.
      { scope: 'openid  orders:read\tprofile' },
      ['openid', 'orders:read\tprofile'],
    ],
    [
      'a custom delimiter',
      { claim: 'groups', delimiter: ',' },
      { groups: 'a, b,,c' },
      ['a', 'b', 'c'],
    ],
    ['a prefix', { claim: 'roles', prefix: 'ROLE_' }, { roles: ['admin'] }, ['ROLE_admin']],
    [
      'several claims merged, duplicates dropped',
      { claims: ['realm_access.roles', ['resource_access', 'orders-api', 'roles'], 'roles'] },
      { ...KEYCLOAK, roles: ['admin', 'x'] },
      ['offline_access', 'admin', 'orders-reader', 'x'],
    ],
    ['a missing claim is an empty list', { claim: 'realm_access.roles' }, {}, []],
    ['a missing intermediate object is an empty list', { claim: 'a.b.c' }, { a: { x: 1 } }, []],
    ['a path never walks into inherited properties', { claim: 'constructor.name' }, {}, []],
  ])('%s', async (_case, options, claims, expected) => {
    const source = new ClaimRolesProvider(options)
    expect(await source.fetchRoles(userWith(claims))).toEqual(expected)
  })

  it.each([
    ['a number', { roles: 7 }],
    ['an object', { roles: { admin: true } }],
    ['a list holding non-strings', { roles: ['admin', 1] }],
    ['a boolean', { roles: true }],
  ])('a claim that is %s throws (the facet answers 503), never a guess', (_case, claims) => {
    expect(() => new ClaimRolesProvider().fetchRoles(userWith(claims))).toThrow(TypeError)
  })

  it('defaults: groups, roles, permissions; all marked fromToken so never cached across requests', () => {
    const claims = { groups: ['g'], roles: ['r'], permissions: ['p:read'] }
    const groups = new ClaimGroupsProvider()
    const roles = new ClaimRolesProvider()
    const permissions = new ClaimPermissionsProvider()
    expect(groups.fetchGroups(userWith(claims))).toEqual(['g'])
    expect(roles.fetchRoles(userWith(claims))).toEqual(['r'])
    expect(permissions.fetchPermissions(userWith(claims))).toEqual(['p:read'])
    expect([groups.fromToken, roles.fromToken, permissions.fromToken]).toEqual([true, true, true])
  })

  it.each<[string, ClaimSourceOptions]>([
    ['an empty claim', { claim: '' }],
    ['an empty segment list', { claim: [] }],
    ['a blank segment', { claim: ['a', ''] }],
    ['claim and claims together', { claim: 'a', claims: ['b'] }],
    ['an empty claims list', { claims: [] }],
    ['an empty delimiter', { delimiter: '' }],
    ['a non-string prefix', { prefix: 1 as never }],
  ])('%s is a ConfigError', (_case, options) => {
    expect(() => new ClaimGroupsProvider(options)).toThrow(ConfigError)
  })
})

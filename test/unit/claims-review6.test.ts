// Review 6: string claims are one value unless split; Okta and Keycloak machine tokens are
// recognised; required claims are own claims only.

import { describe, expect, it } from 'vitest'
import {
  ClaimGroupsProvider,
  ClaimPermissionsProvider,
  ClaimRolesProvider,
} from '../../providers/claims/index.js'
import { validateClaims, type ClaimsPolicy } from '../../src/claims.js'
import { InvalidTokenError } from '../../src/errors.js'
import { standardIdentity, User } from '../../src/user.js'

function userWith(claims: Record<string, unknown>): User {
  return new User({ provider: 't', claims: { sub: 'u', ...claims }, token: 't' }, { id: 'u' }, {})
}

describe('a string claim without a delimiter is one value', () => {
  it('a group with a space stays one group', () => {
    const groups = new ClaimGroupsProvider()
    expect(groups.fetchGroups(userWith({ groups: 'Domain Admins' }))).toEqual(['Domain Admins'])
    expect(groups.fetchGroups(userWith({ groups: ['Domain Admins'] }))).toEqual(['Domain Admins'])
  })

  it('so do roles and permissions, and every claim of several merged', () => {
    expect(new ClaimRolesProvider().fetchRoles(userWith({ roles: 'Global Reader' }))).toEqual([
      'Global Reader',
    ])
    const merged = new ClaimRolesProvider({ claims: ['a', 'b'] })
    expect(merged.fetchRoles(userWith({ a: 'x y', b: ['z'] }))).toEqual(['x y', 'z'])
    expect(new ClaimRolesProvider().fetchRoles(userWith({ roles: '' }))).toEqual([])
  })

  it('scope and scp stay space-separated, in any claim source', () => {
    const scope = new ClaimPermissionsProvider({ claim: 'scope' })
    expect(scope.fetchPermissions(userWith({ scope: 'a b' }))).toEqual(['a', 'b'])
    const scp = new ClaimPermissionsProvider({ claims: [['scp'], 'permissions'] })
    expect(scp.fetchPermissions(userWith({ scp: 'r  w', permissions: 'p q' }))).toEqual([
      'r',
      'w',
      'p q',
    ])
  })

  it('an explicit delimiter still splits, a space included', () => {
    const comma = new ClaimGroupsProvider({ delimiter: ',' })
    expect(comma.fetchGroups(userWith({ groups: 'a, b,,c' }))).toEqual(['a', 'b', 'c'])
    const space = new ClaimGroupsProvider({ delimiter: ' ' })
    expect(space.fetchGroups(userWith({ groups: 'Domain Admins' }))).toEqual(['Domain', 'Admins'])
  })
})

describe('machine-to-machine tokens of Okta and Keycloak', () => {
  it.each<[string, Record<string, unknown>, boolean]>([
    ['Okta client credentials (sub = cid)', { sub: '0oa1b2c3', cid: '0oa1b2c3' }, true],
    ['an Okta person (sub is the user)', { sub: 'alice@example.com', cid: '0oa1b2c3' }, false],
    [
      'a Keycloak service account',
      {
        sub: '7f1c2a9e-0000-4000-8000-000000000001',
        azp: 'orders-sync',
        client_id: 'orders-sync',
        preferred_username: 'service-account-orders-sync',
      },
      true,
    ],
    [
      'a Keycloak service account of a client with capitals (the user name is lower-cased)',
      { sub: 'uuid', azp: 'Orders-Sync', preferred_username: 'service-account-orders-sync' },
      true,
    ],
    [
      'a Keycloak service account with only client_id',
      { sub: 'uuid', client_id: 'orders-sync', preferred_username: 'service-account-orders-sync' },
      true,
    ],
    ['a Keycloak person', { sub: 'uuid', azp: 'web', preferred_username: 'alice' }, false],
    [
      "another client's service-account name",
      { sub: 'uuid', azp: 'web', preferred_username: 'service-account-orders-sync' },
      false,
    ],
    ['no subject and an empty client id', { client_id: '' }, false],
    ['no subject and no cid', {}, false],
  ])('%s', (_case, claims, isM2M) => {
    expect(standardIdentity(claims).isM2M).toBe(isM2M)
  })
})

describe('requiredClaims reads own claims only', () => {
  const NOW = 1_700_000_000
  const policy = (requiredClaims: string[]): ClaimsPolicy => ({
    issuer: 'https://issuer.example',
    audience: null,
    clockToleranceSec: 0,
    maxTokenAgeSec: undefined,
    requiredClaims,
  })
  const claims = { iss: 'https://issuer.example', sub: 'u', exp: NOW + 60 }

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    '%s, inherited from Object.prototype, is missing',
    (name) => {
      expect(() => validateClaims({ ...claims }, policy([name]), NOW)).toThrow(InvalidTokenError)
    },
  )

  it('an own claim of that name is present', () => {
    expect(() =>
      validateClaims({ ...claims, constructor: 'c' }, policy(['constructor']), NOW),
    ).not.toThrow()
  })
})

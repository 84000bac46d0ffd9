// Groups and groups-as-roles from cognito:groups: claim shapes, the configurable claim, no scope fall-back.

import { describe, expect, it } from 'vitest'
import { ConfigError, User } from '../../src/index.js'
import {
  COGNITO_GROUPS_CLAIM,
  CognitoGroupsAsRolesProvider,
  CognitoGroupsProvider,
} from '../../providers/cognito/index.js'

function userWith(claims: Record<string, unknown>): User {
  return new User({ provider: 'cognito', claims }, { id: 'u-1' }, {})
}

describe('CognitoGroupsProvider and CognitoGroupsAsRolesProvider', () => {
  const groups = new CognitoGroupsProvider()
  const roles = new CognitoGroupsAsRolesProvider()

  it('read cognito:groups and declare their answers come from the token', () => {
    const user = userWith({ 'cognito:groups': ['admin', 'editors'] })
    expect(groups.fetchGroups(user)).toEqual(['admin', 'editors'])
    expect(roles.fetchRoles(user)).toEqual(['admin', 'editors'])
    expect([groups.fromToken, roles.fromToken]).toEqual([true, true])
    expect([groups.claim, roles.claim]).toEqual([COGNITO_GROUPS_CLAIM, COGNITO_GROUPS_CLAIM])
  })

  it.each<[string, unknown, string[]]>([
    ['a string is one group, not characters', 'admin', ['admin']],
    ['non-strings are dropped', [1, null, 'ops', { x: 1 }, true], ['ops']],
    ['an object is no groups', { 0: 'admin' }, []],
    ['a number is no groups', 42, []],
    ['duplicates count once', ['ops', 'ops'], ['ops']],
    ['empty names are dropped', ['', 'ops'], ['ops']],
    ['an empty string is no groups', '', []],
    ['null is no groups', null, []],
  ])('COG-12 / AUTHZ-06: %s', (_case, claim, expected) => {
    const user = userWith({ 'cognito:groups': claim })
    expect(groups.fetchGroups(user)).toEqual(expected)
    expect(roles.fetchRoles(user)).toEqual(expected)
  })

  it('no claim: no groups, and no fall-back to the scopes (the seed turned "a/r a/w" into ["w"])', () => {
    for (const scope of ['orders/admin', 'a/r a/w', 'openid email']) {
      const user = userWith({ scope })
      expect(groups.fetchGroups(user)).toEqual([])
      expect(roles.fetchRoles(user)).toEqual([])
    }
  })

  it('COG-11: custom attributes users can write are never read as groups or roles', () => {
    const user = userWith({ 'custom:role': 'admin', 'custom:groups': ['admin'] })
    expect(groups.fetchGroups(user)).toEqual([])
    expect(roles.fetchRoles(user)).toEqual([])
  })

  it('reads another claim when told to', () => {
    const user = userWith({ 'cognito:groups': ['a'], 'cognito:roles': ['arn:aws:iam::1:role/x'] })
    expect(new CognitoGroupsProvider({ claim: 'cognito:roles' }).fetchGroups(user)).toEqual([
      'arn:aws:iam::1:role/x',
    ])
    expect(new CognitoGroupsAsRolesProvider({ claim: 'cognito:roles' }).fetchRoles(user)).toEqual([
      'arn:aws:iam::1:role/x',
    ])
  })

  it.each([[''], ['  '], [7]])('refuses the claim name %j', (claim) => {
    expect(() => new CognitoGroupsProvider({ claim } as { claim: string })).toThrow(ConfigError)
    expect(() => new CognitoGroupsAsRolesProvider({ claim } as { claim: string })).toThrow(
      /claim must be a non-empty claim name/,
    )
  })
})

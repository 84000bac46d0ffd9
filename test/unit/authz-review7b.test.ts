// Review 7b: a `delimiter` splits the claims it is meant for, never `scope` and `scp`.

import { describe, expect, it } from 'vitest'
import {
  ClaimGroupsProvider,
  ClaimPermissionsProvider,
  ClaimRolesProvider,
} from '../../providers/claims/index.js'
import { scopesOf } from '../../src/claims.js'
import { User } from '../../src/user.js'

function userWith(claims: Record<string, unknown>): User {
  return new User({ provider: 't', claims: { sub: 'u', ...claims }, token: 't' }, { id: 'u' }, {})
}

describe('scope and scp are split on spaces whatever the delimiter', () => {
  it("claims ['permissions', 'scope'] with delimiter ',' splits each by its own rule", () => {
    const source = new ClaimPermissionsProvider({
      claims: ['permissions', 'scope'],
      delimiter: ',',
    })
    const user = userWith({ permissions: 'a:read,b:read', scope: 'orders:read orders:write' })
    expect(source.fetchPermissions(user)).toEqual([
      'a:read',
      'b:read',
      'orders:read',
      'orders:write',
    ])
  })

  it.each([
    ['scope', { scope: 'orders:read orders:write' }],
    ['scp', { scp: 'orders:read orders:write' }],
    [['scope'], { scope: 'orders:read orders:write' }],
  ] as const)('claim %j with delimiter "," reads two scopes', (claim, claims) => {
    const source = new ClaimRolesProvider({ claim, delimiter: ',' })
    expect(source.fetchRoles(userWith(claims))).toEqual(['orders:read', 'orders:write'])
  })

  it('a comma inside a scope stays part of it', () => {
    const source = new ClaimGroupsProvider({ claim: 'scp', delimiter: ',' })
    expect(source.fetchGroups(userWith({ scp: 'a,b c' }))).toEqual(['a,b', 'c'])
  })

  it('the delimiter still splits other claims', () => {
    const source = new ClaimGroupsProvider({ claim: 'groups', delimiter: ',' })
    expect(source.fetchGroups(userWith({ groups: 'ops, sre' }))).toEqual(['ops', 'sre'])
  })
})

describe('a scope string read alike by the claim sources and requireScopes', () => {
  it.each(['admin\t', 'admin\u00a0', '\nadmin', 'read \tadmin', 'a  b'])(
    '%j gives the same scopes to both',
    (scope) => {
      const source = new ClaimPermissionsProvider({ claim: 'scope' })
      expect(source.fetchPermissions(userWith({ scope }))).toEqual([...scopesOf({ scope })])
    },
  )
})

describe('has* given a guard options object', () => {
  it('ignores status and redirect, which only guards answer with', async () => {
    const { hasRoles } = await import('../../src/has-checks.js')
    const options = { match: 'all', status: 404, redirect: '/login' } as const
    const req = { currentUser: userWith({}) } as never
    await expect(hasRoles(req, ['admin'], options)).resolves.toBe(false)
  })
})

import { describe, expect, it } from 'vitest'
import {
  ConfigError,
  ForbiddenError,
  InsufficientScopeError,
  UnavailableError,
} from '../../src/errors.js'
import { Problems } from '../../src/options.js'
import {
  allRule,
  anyRule,
  checkList,
  facetRule,
  kindRule,
  permissionCovers,
  scopeRule,
  type Rule,
} from '../../src/rules.js'
import { User, type UserSources } from '../../src/user.js'

function userWith(sources: UserSources, claims: Record<string, unknown> = {}): User {
  return new User(
    { provider: 'test', claims: { iss: 'https://i.example', sub: 'u', ...claims }, token: 't' },
    {
      id: 'u',
      scopes: String(claims['scope'] ?? '')
        .split(' ')
        .filter(Boolean),
      isM2M: claims['m2m'] === true,
    },
    sources,
  )
}

const counting = (list: string[] | (() => never)) => {
  const source = {
    calls: 0,
    fetchGroups: () => {
      source.calls += 1
      return typeof list === 'function' ? list() : list
    },
  }
  return source
}

describe('permissionCovers: wildcards in granted permissions', () => {
  it.each([
    ['orders:read', 'orders:read', true],
    ['orders:read', 'orders:write', false],
    ['orders:read', 'Orders:read', false],
    ['orders:*', 'orders:read', true],
    ['orders:*', 'orders:read:own', true],
    ['orders:*', 'orders', false],
    ['orders:*', 'invoices:read', false],
    ['*', 'anything:at:all', true],
    ['*:read', 'orders:read', true],
    ['*:read', 'orders:write', false],
    ['*:read', 'orders:read:own', false],
    ['orders:*:own', 'orders:read:own', true],
    ['orders:*:own', 'orders:read:all', false],
    ['orders:*:own', 'orders:read', false],
    ['ord*', 'orders', false],
    ['orders:re*', 'orders:read', false],
    ['orders', 'orders:read', false],
    ['orders:read:own', 'orders:read', false],
  ])('%s covers %s: %s', (granted, required, expected) => {
    expect(permissionCovers(granted, required)).toBe(expected)
  })
})

/** A list with holes, as `[, 'a:b']` makes: filter, map and forEach skip them. */
function sparse(length: number, entries: Record<number, string>): string[] {
  return Object.assign(new Array<string>(length), entries)
}

describe('guard lists are checked when the route is defined', () => {
  it.each([
    ['admin', /not a string: write requireGroups\(\["admin"\]\)/],
    [[], /non-empty list/],
    [undefined, /non-empty list/],
    [['admin', ''], /only non-empty strings/],
    [['admin', 3], /only non-empty strings/],
  ])('refuses %j', (value, message) => {
    const problems = new Problems()
    checkList(problems, 'requireGroups', 'groups', value)
    expect(() => problems.throwIfAny()).toThrow(message)
  })

  it.each([
    ['requirePermissions', 'permissions', [1], /entry 1 is 1 \(number\): .*only non-empty strings/],
    ['requirePermissions', 'permissions', sparse(2, { 1: 'a:b' }), /entry 1 is undefined/],
    ['requireGroups', 'groups', sparse(3, { 0: 'admin', 2: 'ops' }), /entry 2 is undefined/],
    ['requireRoles', 'roles', [null], /entry 1 is null/],
    ['requireGroups', 'groups', [{ toString: null }], /entry 1 is an object/],
    [
      'requireScopes',
      'scopes',
      ['orders.read orders.write'],
      /"orders.read orders.write" is not one scope/,
    ],
    ['requireScopes', 'scopes', [' orders.read'], /has spaces around it: write "orders.read"/],
    ['requireScopes', 'scopes', ['orders.read\n'], /has spaces around it/],
    ['requireScopes', 'scopes', ['a"b'], /entry 1 "a\\"b" is not a scope/],
    ['requireScopes', 'scopes', ['ok', 'a\\b'], /entry 2 .* is not a scope/],
    ['requireScopes', 'scopes', ['café'], /is not a scope/],
    ['requirePermissions', 'permissions', ['orders:'], /"orders:" has an empty segment/],
    ['requirePermissions', 'permissions', [':read'], /empty segment/],
    ['requirePermissions', 'permissions', ['orders::read'], /empty segment/],
  ] as const)(
    '%s (%s) refuses the unmatchable %j with a ConfigError',
    (guard, what, value, message) => {
      const problems = new Problems()
      checkList(problems, guard, what, value)
      expect(() => problems.throwIfAny()).toThrow(ConfigError)
      expect(() => problems.throwIfAny()).toThrow(message)
    },
  )

  it.each([
    ['groups', ['Domain Users', ' padded ', 'Ünïcode', 'a"b']],
    ['roles', ['Billing Admin']],
    ['permissions', ['orders:read', 'Read Orders', 'https://api.example/read']],
    ['scopes', ['orders.read', 'orders:read', 'https://api.example/x', "!#[]~'"]],
  ] as const)('accepts legitimate %s %j', (what, values) => {
    const problems = new Problems()
    expect(checkList(problems, 'guard', what, values)).toEqual(values)
    expect(() => problems.throwIfAny()).not.toThrow()
  })

  it('refuses a wildcard in a required permission', () => {
    const problems = new Problems()
    checkList(problems, 'requirePermissions', 'permissions', ['orders:*'])
    expect(() => problems.throwIfAny()).toThrow(ConfigError)
  })
})

describe('rules', () => {
  it('facet rules: any-of and all-of, exact and case-sensitive, no substring matching', async () => {
    const user = userWith({ groups: counting(['admin', 'ops']) })
    expect(await facetRule('groups', ['ops', 'x'], 'any').check(user)).toBeUndefined()
    expect(await facetRule('groups', ['ops', 'x'], 'all').check(user)).toBeInstanceOf(
      ForbiddenError,
    )
    expect(await facetRule('groups', ['admin', 'ops'], 'all').check(user)).toBeUndefined()
    expect(await facetRule('groups', ['Admin'], 'any').check(user)).toBeInstanceOf(ForbiddenError)
    expect(await facetRule('groups', ['min'], 'any').check(user)).toBeInstanceOf(ForbiddenError)
  })

  it('scope rules decide synchronously and name the required scopes', () => {
    const user = userWith({}, { scope: 'orders.read profile' })
    expect(scopeRule(['orders.read'], 'any').check(user)).toBeUndefined()
    const refusal = scopeRule(['orders.read', 'orders.write'], 'all').check(user)
    expect(refusal).toBeInstanceOf(InsufficientScopeError)
    expect((refusal as InsufficientScopeError).scopes).toEqual(['orders.read', 'orders.write'])
  })

  it('kind rules', () => {
    expect(kindRule('m2m').check(userWith({}, { m2m: true }))).toBeUndefined()
    expect(kindRule('human').check(userWith({}, { m2m: true }))).toBeInstanceOf(ForbiddenError)
  })

  it('allRule stops at the first refusal and never loads a later facet', async () => {
    const groups = counting(['ops'])
    const user = userWith({ groups }, { scope: 'a' })
    const verdict = allRule([scopeRule(['b'], 'any'), facetRule('groups', ['ops'], 'any')]).check(
      user,
    )
    expect(verdict).toBeInstanceOf(InsufficientScopeError) // synchronous: nothing was awaited
    expect(groups.calls).toBe(0)
    expect(
      await allRule([scopeRule(['a'], 'any'), facetRule('groups', ['ops'], 'any')]).check(user),
    ).toBeUndefined()
    expect(groups.calls).toBe(1)
  })

  it('allRule: a source that is down is a 503, never a pass', async () => {
    const user = userWith(
      {
        groups: counting(() => {
          throw new Error('db down')
        }),
      },
      { scope: 'a' },
    )
    await expect(
      allRule([scopeRule(['a'], 'any'), facetRule('groups', ['ops'], 'any')]).check(user),
    ).rejects.toBeInstanceOf(UnavailableError)
  })

  it('anyRule stops at the first rule that holds', async () => {
    const groups = counting(['ops'])
    const user = userWith({ groups }, { scope: 'a' })
    expect(
      await anyRule([scopeRule(['a'], 'any'), facetRule('groups', ['x'], 'any')]).check(user),
    ).toBeUndefined()
    expect(groups.calls).toBe(0)
  })

  it('anyRule: an outage does not decide alone; when nothing holds, 503 beats a refusal', async () => {
    const down = userWith(
      {
        groups: counting(() => {
          throw new Error('db down')
        }),
      },
      { scope: 'a' },
    )
    expect(
      await anyRule([facetRule('groups', ['ops'], 'any'), scopeRule(['a'], 'any')]).check(down),
    ).toBeUndefined()
    expect(
      await anyRule([facetRule('groups', ['ops'], 'any'), scopeRule(['b'], 'any')]).check(down),
    ).toBeInstanceOf(UnavailableError)
    const up = userWith({ groups: counting(['x']) }, { scope: 'a' })
    const refusal = await anyRule([
      scopeRule(['b'], 'any'),
      facetRule('groups', ['ops'], 'any'),
    ]).check(up)
    expect(refusal).toBeInstanceOf(InsufficientScopeError)
  })

  it('combinators nest', async () => {
    const user = userWith({ groups: counting(['ops']) }, { scope: 'a' })
    const nested: Rule = anyRule([
      allRule([scopeRule(['a'], 'any'), facetRule('groups', ['admin'], 'any')]),
      allRule([scopeRule(['a'], 'any'), facetRule('groups', ['ops'], 'any')]),
    ])
    expect(await nested.check(user)).toBeUndefined()
  })
})

import { describe, expect, it, vi } from 'vitest'
import { InvalidTokenError, UnavailableError, User } from '../../src/index.js'
import { standardIdentity } from '../../src/user.js'

const verified = {
  provider: 'test',
  claims: { sub: 'alice', iss: 'https://i', exp: 1 },
  token: 'h.p.s',
}

describe('User', () => {
  it('the anonymous user has no identity and empty facets', async () => {
    const user = User.anonymous
    expect([user.isAuthenticated, user.displayName, user.id, user.provider]).toEqual([
      false,
      '',
      '',
      '',
    ])
    expect(await user.groups).toEqual([])
    expect(await user.roles).toEqual([])
    expect(await user.permissions).toEqual([])
    expect(await user.profile).toEqual({})
    expect(user.token).toBeUndefined()
  })

  it('the anonymous user, shared by every request without credentials, cannot be changed by one', async () => {
    expect(Object.isFrozen(User.anonymous)).toBe(true)
    expect(() => {
      ;(User.anonymous as { name: string | undefined }).name = 'set by a handler'
    }).toThrow(TypeError)
    expect(() => Object.assign(User.anonymous, { extra: 1 })).toThrow(TypeError)
    expect(User.anonymous.name).toBeUndefined()
    expect(await User.anonymous.groups).toEqual([])
  })

  it('calls a source only when first awaited, once per user, shared by concurrent awaiters', async () => {
    const fetchGroups = vi.fn(async () => ['admin'])
    const user = new User(verified, { id: 'alice' }, { groups: { fetchGroups } })
    expect(fetchGroups).not.toHaveBeenCalled()
    const results = await Promise.all([user.groups, user.groups, user.groups])
    expect(await user.groups).toEqual(['admin'])
    expect(results).toEqual([['admin'], ['admin'], ['admin']])
    expect(fetchGroups).toHaveBeenCalledTimes(1)
    expect(fetchGroups).toHaveBeenCalledWith(user)
  })

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'admin'],
    ['a list with a number', ['admin', 1]],
  ])('fails closed (503) when a source answers %s', async (_case, answer) => {
    const user = new User(
      verified,
      { id: 'alice' },
      { roles: { fetchRoles: async () => answer as never } },
    )
    await expect(user.roles).rejects.toBeInstanceOf(UnavailableError)
    await expect(user.roles).rejects.toMatchObject({
      code: 'ERR_AUTH_SOURCE_UNAVAILABLE',
      status: 503,
    })
  })

  it('fails closed when a source throws, synchronously or not', async () => {
    const sync = new User(
      verified,
      { id: 'a' },
      {
        permissions: {
          fetchPermissions: () => {
            throw new Error('db down')
          },
        },
      },
    )
    await expect(sync.permissions).rejects.toMatchObject({ code: 'ERR_AUTH_SOURCE_UNAVAILABLE' })
    const profile = new User(
      verified,
      { id: 'a' },
      { profile: { fetchProfile: async () => [] as never } },
    )
    await expect(profile.profile).rejects.toBeInstanceOf(UnavailableError)
  })

  it('a source that found the token refused passes its InvalidTokenError on (401, not a 503 to retry)', async () => {
    const refused = new InvalidTokenError('ERR_AUTH_TOKEN_REVOKED', 'token revoked')
    const user = new User(
      verified,
      { id: 'a' },
      {
        groups: {
          fetchGroups: () => {
            throw refused
          },
        },
        roles: { fetchRoles: async () => Promise.reject(refused) },
      },
    )
    await expect(user.groups).rejects.toBe(refused)
    await expect(user.roles).rejects.toBe(refused)
  })

  it('an unobserved failing facet does not crash the process', async () => {
    const onUnhandled = vi.fn()
    process.on('unhandledRejection', onUnhandled)
    const user = new User(
      verified,
      { id: 'a' },
      { groups: { fetchGroups: async () => Promise.reject(new Error('x')) } },
    )
    void user.groups
    await new Promise((resolve) => setTimeout(resolve, 10))
    process.off('unhandledRejection', onUnhandled)
    expect(onUnhandled).not.toHaveBeenCalled()
  })

  it('never serialises the token or the claims', () => {
    const user = new User(verified, { id: 'alice', name: 'Alice' }, {})
    const text = JSON.stringify(user)
    expect(text).not.toContain('h.p.s')
    expect(text).not.toContain('https://i')
    expect(JSON.parse(text)).toMatchObject({ id: 'alice', name: 'Alice', isAuthenticated: true })
    expect(user.token).toBe('h.p.s')
  })
})

describe('standardIdentity', () => {
  it.each([
    [
      { sub: 'u', name: 'N', email: 'e@x' },
      { id: 'u', name: 'N', email: 'e@x', isM2M: false },
    ],
    [{ sub: 'u', preferred_username: 'pu' }, { name: 'pu' }],
    [{ sub: 'u', username: 'un' }, { name: 'un' }],
    [
      { sub: 'client', client_id: 'client', scope: 'a b' },
      { isM2M: true, clientId: 'client', scopes: ['a', 'b'] },
    ],
    [
      { sub: 'x@clients', azp: 'x', gty: 'client-credentials' },
      { isM2M: true, clientId: 'x' },
    ],
    [{ sub: 'u', scp: ['r', 'w'] }, { scopes: ['r', 'w'] }],
    [
      { sub: 'u', name: 42, email: '' },
      { name: undefined, email: undefined },
    ],
  ])('maps %j', (claims, expected) => {
    expect(standardIdentity(claims)).toMatchObject(expected)
  })
})

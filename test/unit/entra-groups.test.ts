// Entra roles and groups: read from the token, overage detected, resolved or refused, never read as none.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createVerifier, ForbiddenError, User, type GroupsProvider } from '../../src/index.js'
import {
  EntraGroupsProvider,
  EntraIdProvider,
  EntraRolesProvider,
  hasGroupOverage,
} from '../../providers/entra-id/index.js'
import {
  CLIENT_ID,
  createEntraIssuer,
  JANE,
  TENANT,
  v2AccessTokenClaims,
  withGroupOverage,
  type EntraTestIssuer,
} from '../fake-idp/entra.js'

let entra: EntraTestIssuer

beforeAll(async () => {
  entra = await createEntraIssuer()
})

afterAll(() => entra.close())

const userWith = (claims: Record<string, unknown>) =>
  new User({ provider: 'entra-id', claims }, { id: 'u' }, {})

function verifierWith(
  options: ConstructorParameters<typeof EntraIdProvider>[0]['groupOverageResolver'],
) {
  const provider = new EntraIdProvider({
    tenantId: TENANT,
    audience: CLIENT_ID,
    fetch: entra.fetch,
    ...(options === undefined ? {} : { groupOverageResolver: options }),
  })
  return createVerifier({ provider, logger: false })
}

const overageToken = (marker: 'claim_names' | 'hasgroups' = 'claim_names') =>
  entra.mint(withGroupOverage(v2AccessTokenClaims(entra.context(), JANE), marker))

describe('Entra groups and roles from the token', () => {
  it('are the provider’s defaults: groups from groups, roles from roles', async () => {
    const user = await verifierWith(undefined)(entra.v2())
    expect(await user.groups).toEqual(JANE.groups)
    expect(await user.roles).toEqual(JANE.roles)
  })

  it.each<[string, unknown, readonly string[]]>([
    ['a string is one item', 'admin', ['admin']],
    ['non-strings are dropped, duplicates kept once', ['a', 1, null, { x: 1 }, 'a', ''], ['a']],
    ['an object carries none', { 0: 'admin' }, []],
    ['absent carries none', undefined, []],
  ])('AUTHZ-06: %s', (_name, value, expected) => {
    const claims = value === undefined ? {} : { groups: value, roles: value }
    expect(new EntraGroupsProvider().fetchGroups(userWith(claims))).toEqual(expected)
    expect(new EntraRolesProvider().fetchRoles(userWith(claims))).toEqual(expected)
  })

  it('read from the token, so never cached across requests', () => {
    expect(new EntraGroupsProvider().fromToken).toBe(true)
    expect(new EntraRolesProvider().fromToken).toBe(true)
  })
})

describe('ENT-13: group overage', () => {
  it.each([
    ['_claim_names.groups', { _claim_names: { groups: 'src1' } }, true],
    ['hasgroups', { hasgroups: true }, true],
    ['hasgroups false', { hasgroups: false }, false],
    ['_claim_names without groups', { _claim_names: { roles: 'src1' } }, false],
    ['a groups claim', { groups: ['g'] }, false],
  ])('detects %s', (_name, claims, expected) => {
    expect(hasGroupOverage(claims)).toBe(expected)
  })

  it.each(['claim_names', 'hasgroups'] as const)(
    'without a resolver, %s is refused (403, for good) saying why, never an empty list',
    async (marker) => {
      const user = await verifierWith(undefined)(overageToken(marker))
      const error = await user.groups.then(
        () => expect.unreachable('groups were answered'),
        (reason: unknown) => reason as ForbiddenError,
      )
      expect(error).toBeInstanceOf(ForbiddenError)
      expect(error.status).toBe(403)
      expect(error.code).toBe('ERR_AUTH_FORBIDDEN')
      expect(error.description).toBe(
        'group membership is too large for the token; configure a group overage resolver',
      )
      // Roles do not overflow: they still answer.
      expect(await user.roles).toEqual(JANE.roles)
    },
  )

  it('calls a function resolver with the user and a signal; the token’s endpoint is never fetched', async () => {
    const calls: { oid: unknown; signal: AbortSignal }[] = []
    const resolver = (user: User, context: { signal: AbortSignal }) => {
      calls.push({ oid: user.claims['oid'], signal: context.signal })
      return Promise.resolve(['from-graph'])
    }
    const user = await verifierWith(resolver)(overageToken())
    expect(await user.groups).toEqual(['from-graph'])
    expect(calls).toHaveLength(1)
    expect(calls[0]!.oid).toBe(JANE.oid)
    expect(calls[0]!.signal).toBeInstanceOf(AbortSignal)
    expect(entra.requested.some((url) => url.includes('graph.windows.net'))).toBe(false)
  })

  it('calls a groups source resolver; tokens that carry their groups never reach it', async () => {
    let calls = 0
    const source: GroupsProvider = {
      fetchGroups: () => {
        calls += 1
        return ['g-1', 'g-2']
      },
    }
    const verify = verifierWith(source)
    expect(await (await verify(overageToken('hasgroups'))).groups).toEqual(['g-1', 'g-2'])
    expect(await (await verify(entra.v2())).groups).toEqual(JANE.groups)
    expect(calls).toBe(1)
  })

  it('a resolver that fails answers 503, never an empty list', async () => {
    const user = await verifierWith(() => Promise.reject(new Error('graph down')))(overageToken())
    await expect(user.groups).rejects.toMatchObject({ code: 'ERR_AUTH_SOURCE_UNAVAILABLE' })
  })

  it('a resolver answering nonsense fails closed', async () => {
    const user = await verifierWith(() => null as unknown as string[])(overageToken())
    await expect(user.groups).rejects.toMatchObject({ status: 503 })
  })
})

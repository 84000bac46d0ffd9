// GraphGroupResolver against a fake Microsoft Graph on 127.0.0.1: lookups, paging, cache, failures as 503.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, UnavailableError, User } from '../../src/index.js'
import {
  GraphGroupResolver,
  type GraphGroupResolverOptions,
} from '../../providers/entra-id/index.js'
import { startFakeGraph, type FakeGraph } from '../fake-graph/server.js'
import { startCanary } from '../helpers/http.js'
import { JANE, TENANT } from '../fake-idp/entra.js'

const TOKEN = 'graph-token-for-tests'
const DAEMON = '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b'
const MANY = ['g1', 'g2', 'g3', 'g4', 'g5']
const GROUPS = ['0b5d4a3e-1111-4c2b-9a8f-7e6d5c4b3a21', '9f8e7d6c-3333-4b5a-8c9d-0e1f2a3b4c5d']

let graph: FakeGraph
let paged: FakeGraph

beforeAll(async () => {
  ;[graph, paged] = await Promise.all([
    startFakeGraph({ token: TOKEN, members: { [JANE.oid]: GROUPS, [DAEMON]: ['sp-group'] } }),
    startFakeGraph({ token: TOKEN, members: { [JANE.oid]: MANY }, pageSize: 2 }),
  ])
})

afterAll(() => Promise.all([graph.close(), paged.close()]))

afterEach(() => {
  graph.fail(undefined)
  graph.setNextLinkOrigin(undefined)
  ;(graph.requests as FakeGraphRequestList).length = 0
  ;(paged.requests as FakeGraphRequestList).length = 0
})

type FakeGraphRequestList = unknown[]

function userOf(oid: unknown, options: { m2m?: boolean; tid?: string } = {}): User {
  const claims = { oid, tid: options.tid ?? TENANT, sub: 'pairwise' }
  return new User(
    { provider: 'entra-id', claims },
    { id: String(oid), isM2M: options.m2m ?? false },
    {},
  )
}

function resolver(
  options: Partial<GraphGroupResolverOptions> = {},
  on = graph,
): GraphGroupResolver {
  return new GraphGroupResolver({
    getGraphToken: () => TOKEN,
    graphEndpoint: on.endpoint,
    ...options,
  })
}

async function outage(promise: Promise<unknown>): Promise<UnavailableError> {
  const error = await promise.then(
    () => expect.unreachable('groups were answered'),
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(UnavailableError)
  expect((error as UnavailableError).code).toBe('ERR_AUTH_SOURCE_UNAVAILABLE')
  expect((error as UnavailableError).description).toBe(
    'group membership cannot be loaded from Microsoft Graph right now',
  )
  return error as UnavailableError
}

describe('GraphGroupResolver', () => {
  it('asks getMemberObjects for the user’s oid with the app’s token', async () => {
    const seen: User[] = []
    const groups = await resolver({
      getGraphToken: (user) => {
        seen.push(user)
        return Promise.resolve(TOKEN)
      },
    }).fetchGroups(userOf(JANE.oid))
    expect(groups).toEqual(GROUPS)
    expect(seen[0]!.claims['tid']).toBe(TENANT)
    expect(graph.requests).toEqual([
      {
        method: 'POST',
        path: `/v1.0/users/${JANE.oid}/getMemberObjects`,
        authorization: `Bearer ${TOKEN}`,
        body: { securityEnabledOnly: true },
      },
    ])
  })

  it('asks for service principals for app-only tokens, and for every group when told to', async () => {
    const groups = await resolver({ securityEnabledOnly: false }).fetchGroups(
      userOf(DAEMON, { m2m: true }),
    )
    expect(groups).toEqual(['sp-group'])
    expect(graph.requests[0]).toMatchObject({
      path: `/v1.0/servicePrincipals/${DAEMON}/getMemberObjects`,
      body: { securityEnabledOnly: false },
    })
  })

  it('follows @odata.nextLink pages with GET', async () => {
    const groups = await resolver({}, paged).fetchGroups(userOf(JANE.oid))
    expect(groups).toEqual(MANY)
    expect(paged.requests.map((request) => request.method)).toEqual(['POST', 'GET', 'GET'])
    expect(paged.requests.every((request) => request.authorization === `Bearer ${TOKEN}`)).toBe(
      true,
    )
  })

  it('stops after maxPages', async () => {
    const error = await outage(resolver({ maxPages: 2 }, paged).fetchGroups(userOf(JANE.oid)))
    expect(String(error.cause)).toContain('more than 2 pages')
    expect(paged.requests).toHaveLength(2)
  })

  it('never sends the token to a nextLink on another origin', async () => {
    const canary = await startCanary()
    try {
      const many = await startFakeGraph({
        token: TOKEN,
        members: { [JANE.oid]: MANY },
        pageSize: 2,
      })
      many.setNextLinkOrigin(canary.url)
      try {
        const error = await outage(resolver({}, many).fetchGroups(userOf(JANE.oid)))
        expect(String(error.cause)).toContain('outside graphEndpoint')
      } finally {
        await many.close()
      }
      expect(canary.hits()).toBe(0)
    } finally {
      await canary.close()
    }
  })

  it('caches answers per tenant and user, sharing concurrent lookups', async () => {
    const graphResolver = resolver()
    const [a, b] = await Promise.all([
      graphResolver.fetchGroups(userOf(JANE.oid)),
      graphResolver.fetchGroups(userOf(JANE.oid)),
    ])
    expect(a).toEqual(GROUPS)
    expect(b).toEqual(GROUPS)
    await graphResolver.fetchGroups(userOf(JANE.oid))
    expect(graph.requests).toHaveLength(1)
    // The same object id in another tenant is another directory object.
    await graphResolver.fetchGroups(
      userOf(JANE.oid, { tid: '3c2b1a09-8f7e-4d6c-b5a4-93827160f5e4' }),
    )
    expect(graph.requests).toHaveLength(2)
    graphResolver.clear()
    await graphResolver.fetchGroups(userOf(JANE.oid))
    expect(graph.requests).toHaveLength(3)
  })

  it('with cache: false, asks every time', async () => {
    const graphResolver = resolver({ cache: false })
    await graphResolver.fetchGroups(userOf(JANE.oid))
    await graphResolver.fetchGroups(userOf(JANE.oid))
    expect(graph.requests).toHaveLength(2)
    expect(graphResolver.fromToken).toBe(false)
  })

  it.each<[string, Parameters<FakeGraph['fail']>[0]]>([
    ['a 500', { status: 500 }],
    ['a 403 (missing permission)', { status: 403 }],
    ['a body without a list', { body: { value: 'g1' } }],
    ['a list of non-strings', { body: { value: [1, 2] } }],
    ['a body that is not JSON', { body: '<html>' }],
  ])('answers 503 on %s, and does not cache the failure', async (_name, failure) => {
    const graphResolver = resolver()
    graph.fail(failure)
    await outage(graphResolver.fetchGroups(userOf(JANE.oid)))
    graph.fail(undefined)
    expect(await graphResolver.fetchGroups(userOf(JANE.oid))).toEqual(GROUPS)
  })

  it('passes on Graph’s Retry-After when throttled', async () => {
    graph.fail({ status: 429, retryAfter: '7' })
    const error = await outage(resolver().fetchGroups(userOf(JANE.oid)))
    expect(error.retryAfterSec).toBe(7)
  })

  it('answers 503 when Graph refuses the token', async () => {
    await outage(resolver({ getGraphToken: () => 'wrong' }).fetchGroups(userOf(JANE.oid)))
  })

  it.each<[string, () => string | Promise<string>]>([
    ['throws', () => Promise.reject(new Error('MSAL failed'))],
    ['returns no token', () => ''],
  ])('answers 503 when getGraphToken %s, without calling Graph', async (_name, getGraphToken) => {
    await outage(resolver({ getGraphToken }).fetchGroups(userOf(JANE.oid)))
    expect(graph.requests).toHaveLength(0)
  })

  it.each([undefined, '../../me', 'jane@contoso.example'])(
    'answers 503 for an oid that is not an object id (%s), without calling Graph',
    async (oid) => {
      await outage(resolver().fetchGroups(userOf(oid)))
      expect(graph.requests).toHaveLength(0)
    },
  )

  it('answers 503 when Graph does not answer within timeoutMs', async () => {
    graph.fail({ hang: true })
    const error = await outage(resolver({ timeoutMs: 50 }).fetchGroups(userOf(JANE.oid)))
    expect(String(error.cause)).toContain('no answer within 50 ms')
  })

  it.each<[string, Partial<GraphGroupResolverOptions>, RegExp]>([
    ['no getGraphToken', { getGraphToken: undefined as never }, /getGraphToken is required/],
    [
      'an endpoint with a path',
      { graphEndpoint: 'https://graph.microsoft.com/v1.0' },
      /without a path/,
    ],
    ['a scheme other than https', { graphEndpoint: 'ftp://graph.example' }, /must use https/],
    ['a zero timeout', { timeoutMs: 0 }, /timeoutMs/],
  ])('%s is a ConfigError', (_name, options, problem) => {
    const build = () => new GraphGroupResolver({ getGraphToken: () => TOKEN, ...options })
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(problem)
  })
})

// forgetUser and clearSourceCache reach the sources' own caches (GraphGroupResolver's), here and on
// the other instances of a shared tier, dropping exactly the user forgotten.

import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { RedisSharedCache } from '../../providers/redis/index.js'
import {
  ConfigError,
  createVerifier,
  type GroupsProvider,
  type SharedCacheTier,
  type User,
  type VerifierOptions,
} from '../../src/index.js'
import { Enrichment } from '../../src/enrichment.js'
import { silentLogger } from '../../src/logger.js'
import {
  EntraGroupsProvider,
  EntraIdProvider,
  GraphGroupResolver,
  type GraphGroupResolverOptions,
} from '../../providers/entra-id/index.js'
import { startFakeGraph, type FakeGraph } from '../fake-graph/server.js'
import { createEntraIssuer, JANE, type EntraTestIssuer } from '../fake-idp/entra.js'

const TOKEN = 'graph-token-for-tests'
const READERS = '0b5d4a3e-1111-4c2b-9a8f-7e6d5c4b3a21'
const ADMINS = '9f8e7d6c-3333-4b5a-8c9d-0e1f2a3b4c5d'
const JOHN = { ...JANE, oid: '11b2c3d4-e5f6-4a70-8b8c-9d0e1f2a3b4c', name: 'John' }

// The directory the fake Graph reads on every request: tests change memberships in it.
const members: Record<string, string[]> = {}
let graph: FakeGraph
let entra: EntraTestIssuer

beforeAll(async () => {
  ;[graph, entra] = await Promise.all([
    startFakeGraph({ token: TOKEN, members }),
    createEntraIssuer(),
  ])
})

afterAll(() => Promise.all([graph.close(), entra.close()]))

beforeEach(() => {
  members[JANE.oid] = [READERS, ADMINS]
  members[JOHN.oid] = [READERS, ADMINS]
  ;(graph.requests as unknown[]).length = 0
})

const overage = (user = JANE) => entra.v2(user, { groups: undefined, hasgroups: true })
const overageV1 = (user = JANE) => entra.v1(user, { groups: undefined, hasgroups: true })
const graphResolver = (options: Partial<GraphGroupResolverOptions> = {}) =>
  new GraphGroupResolver({
    getGraphToken: () => TOKEN,
    graphEndpoint: graph.endpoint,
    ...options,
  })

function verifierWith(resolver: GraphGroupResolver, options: Partial<VerifierOptions> = {}) {
  const provider = new EntraIdProvider({
    ...entra.providerOptions,
    acceptV1: true,
    groupOverageResolver: resolver,
  })
  return createVerifier({ provider, logger: false, ...options })
}

const groupsOf = async (verify: (token: string) => Promise<User>, token: string) =>
  (await verify(token)).groups

describe('forgetUser reaches GraphGroupResolver’s own cache', () => {
  it('group overage (the resolver’s cache the only one): the next request asks Graph again', async () => {
    const verify = verifierWith(graphResolver())
    const user = await verify(overage())
    expect(await user.groups).toEqual([READERS, ADMINS])
    members[JANE.oid] = [READERS] // Jane leaves the admins
    expect(await groupsOf(verify, overage())).toEqual([READERS, ADMINS]) // cached, as documented
    await verify.forgetUser(user)
    expect(await groupsOf(verify, overage())).toEqual([READERS])
    expect(graph.requests).toHaveLength(2)
    // By issuer and subject (`user.id`, the oid) as well.
    members[JANE.oid] = []
    await verify.forgetUser({ issuer: user.claims.iss!, subject: user.id })
    expect(await groupsOf(verify, overage())).toEqual([])
  })

  it('groups: graph (cached twice, by the pipeline and the resolver): both forget', async () => {
    const resolver = graphResolver()
    const verify = verifierWith(resolver, { groups: resolver })
    const user = await verify(entra.v2())
    expect(await user.groups).toEqual([READERS, ADMINS])
    members[JANE.oid] = [READERS]
    await verify.forgetUser(user)
    expect(await groupsOf(verify, entra.v2())).toEqual([READERS])
  })

  it('the pipeline’s cache off (sourceCache: false): the resolver forgets all the same', async () => {
    const verify = verifierWith(graphResolver(), { sourceCache: false })
    const user = await verify(overage())
    await user.groups
    members[JANE.oid] = [READERS]
    await verify.forgetUser(user)
    expect(await groupsOf(verify, overage())).toEqual([READERS])
  })

  it('drops exactly that user’s answers: the others stay cached', async () => {
    const verify = verifierWith(graphResolver())
    const jane = await verify(overage())
    await jane.groups
    await groupsOf(verify, overage(JOHN))
    expect(graph.requests).toHaveLength(2)
    await verify.forgetUser(jane)
    await groupsOf(verify, overage(JOHN))
    expect(graph.requests).toHaveLength(2)
    await groupsOf(verify, overage())
    expect(graph.requests).toHaveLength(3)
  })

  it('a v1 and a v2 token of one user are two users: forgetting the v2 one is seen by its tokens', async () => {
    const verify = verifierWith(graphResolver())
    // The v1 token looks Jane up first; her v2 token must not then read that answer unforgettably.
    expect(await groupsOf(verify, overageV1())).toEqual([READERS, ADMINS])
    const v2 = await verify(overage())
    await v2.groups
    members[JANE.oid] = [READERS]
    await verify.forgetUser(v2)
    expect(await groupsOf(verify, overage())).toEqual([READERS])
  })

  it('clearSourceCache empties the resolver’s cache too', async () => {
    const verify = verifierWith(graphResolver())
    await groupsOf(verify, overage())
    await groupsOf(verify, overage(JOHN))
    members[JANE.oid] = [READERS]
    members[JOHN.oid] = [ADMINS]
    await verify.clearSourceCache()
    expect(await groupsOf(verify, overage())).toEqual([READERS])
    expect(await groupsOf(verify, overage(JOHN))).toEqual([ADMINS])
    expect(graph.requests).toHaveLength(4)
  })
})

/** A shared tier in memory, between the instances given its methods: Redis's fan-out, in short. */
function sharedTier() {
  const invalidated: Array<(keys: readonly string[]) => void> = []
  const cleared: Array<() => void> = []
  const tier: SharedCacheTier = {
    get: () => Promise.resolve(undefined),
    set: () => Promise.resolve(),
    invalidate: (keys) => {
      for (const listener of invalidated) listener(keys)
      return Promise.resolve()
    },
    onInvalidate: (listener) => void invalidated.push(listener),
    clear: () => {
      for (const listener of cleared) listener()
      return Promise.resolve()
    },
    onClear: (listener) => void cleared.push(listener),
    health: () => ({ ok: true }),
  }
  return tier
}

describe('through a shared tier, every instance’s resolver forgets', () => {
  it('forgetUser on one instance: the other’s resolver asks Graph again', async () => {
    const shared = sharedTier()
    const [here, there] = [graphResolver(), graphResolver()].map((resolver) =>
      verifierWith(resolver, { sourceCache: { shared } }),
    )
    const user = await here!(overage())
    await user.groups
    await groupsOf(there!, overage())
    await groupsOf(there!, overage(JOHN))
    members[JANE.oid] = [READERS]
    await here!.forgetUser(user)
    expect(await groupsOf(there!, overage())).toEqual([READERS])
    const asked = graph.requests.length
    await groupsOf(there!, overage(JOHN)) // John was not forgotten
    expect(graph.requests).toHaveLength(asked)
  })

  it('clearSourceCache on one instance (or a reconnection that may have missed some): the other’s resolver is emptied', async () => {
    const shared = sharedTier()
    const [here, there] = [graphResolver(), graphResolver()].map((resolver) =>
      verifierWith(resolver, { sourceCache: { shared } }),
    )
    await groupsOf(there!, overage())
    members[JANE.oid] = [ADMINS]
    await here!.clearSourceCache()
    expect(await groupsOf(there!, overage())).toEqual([ADMINS])
  })
})

describe('through Redis (RedisSharedCache), every instance’s resolver forgets', () => {
  const prefix = `oidc-guard-test:entra-forget:${process.pid}:${randomBytes(4).toString('hex')}:`
  const tiers: RedisSharedCache[] = []
  const redisUrl = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'

  afterAll(async () => {
    await Promise.all(tiers.map((tier) => tier.close()))
    // The generations and the epoch the invalidation and the clear wrote.
    const admin = new Redis(redisUrl)
    const keys = await admin.keys(`${prefix}*`)
    if (keys.length > 0) await admin.del(...keys)
    admin.disconnect()
  })

  async function instances() {
    const created = [0, 1].map(() => new RedisSharedCache({ url: redisUrl, prefix }))
    tiers.push(...created)
    await Promise.all(created.map((tier) => tier.ready()))
    return created.map((shared) => verifierWith(graphResolver(), { sourceCache: { shared } }))
  }

  it('forgetUser here: the other instance’s resolver asks Graph again', async () => {
    const [here, there] = await instances()
    const user = await here!(overage())
    await user.groups
    expect(await groupsOf(there!, overage())).toEqual([READERS, ADMINS])
    members[JANE.oid] = [READERS]
    await here!.forgetUser(user)
    await vi.waitFor(async () => expect(await groupsOf(there!, overage())).toEqual([READERS]))
  })

  it('clearSourceCache here: the other instance’s resolver is emptied', async () => {
    const [here, there] = await instances()
    expect(await groupsOf(there!, overage(JOHN))).toEqual([READERS, ADMINS])
    members[JOHN.oid] = [ADMINS]
    await here!.clearSourceCache()
    await vi.waitFor(async () => expect(await groupsOf(there!, overage(JOHN))).toEqual([ADMINS]))
  })
})

describe('GraphGroupResolver.forget', () => {
  const userFor = (oid: string, iss = 'https://login.microsoftonline.com/t/v2.0') =>
    ({ claims: { oid, tid: 't', iss }, id: oid, isM2M: false }) as unknown as User

  it('a lookup under way for the user is made again: the waiting request gets the new answer', async () => {
    const held: Array<() => void> = []
    let answer = ['old']
    const resolver = new GraphGroupResolver({
      getGraphToken: () => 't',
      fetch: (_input, init) =>
        new Promise((resolve, reject) => {
          const value = answer
          held.push(() => resolve(Response.json({ value })))
          init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error))
        }),
    })
    const pending = resolver.fetchGroups(userFor(JANE.oid))
    for (let turn = 0; turn < 50 && held.length === 0; turn += 1) {
      await new Promise((resolve) => setImmediate(resolve))
    }
    answer = ['new']
    resolver.forget({ issuer: 'https://login.microsoftonline.com/t/v2.0', subject: JANE.oid })
    for (let turn = 0; turn < 50 && held.length < 2; turn += 1) {
      await new Promise((resolve) => setImmediate(resolve))
    }
    for (const release of held) release()
    await expect(pending).resolves.toEqual(['new'])
  })

  it('after evictions and failures, forgets the users still cached and nothing else', async () => {
    let calls = 0
    let failing = false
    const resolver = new GraphGroupResolver({
      getGraphToken: () => 't',
      cache: { max: 2 },
      fetch: () => {
        calls += 1
        return Promise.resolve(
          failing ? new Response('', { status: 500 }) : Response.json({ value: ['g'] }),
        )
      },
    })
    const oids = [JANE.oid, JOHN.oid, '22c3d4e5-f6a7-4b81-9c9d-0e1f2a3b4c5d']
    for (const oid of oids) await resolver.fetchGroups(userFor(oid)) // Jane is evicted
    failing = true
    await expect(resolver.fetchGroups(userFor(JANE.oid))).rejects.toThrow()
    failing = false
    const before = calls
    for (const oid of oids) {
      resolver.forget({ issuer: 'https://login.microsoftonline.com/t/v2.0', subject: oid })
    }
    resolver.forget({ issuer: 'https://login.microsoftonline.com/t/v2.0', subject: 'nobody' })
    for (const oid of oids.slice(1)) await resolver.fetchGroups(userFor(oid))
    expect(calls).toBe(before + 2)
  })
})

describe('the source hooks', () => {
  it('EntraGroupsProvider passes forget and clear to a resolver object, not to a function', () => {
    const calls: string[] = []
    const resolver: GroupsProvider = {
      fetchGroups: () => [],
      forget: (user) => void calls.push(`forget ${user.issuer} ${user.subject}`),
      clear: () => void calls.push('clear'),
    }
    const groups = new EntraGroupsProvider({ overageResolver: resolver })
    groups.forget({ issuer: 'i', subject: 's' })
    groups.clear()
    expect(calls).toEqual(['forget i s', 'clear'])
    const plain = new EntraGroupsProvider({ overageResolver: () => [] })
    expect(() => (plain.forget({ issuer: 'i', subject: 's' }), plain.clear())).not.toThrow()
  })

  it('a hook that throws: the other sources and the pipeline still forget, then forgetUser rejects', async () => {
    const enrichment = new Enrichment({}, silentLogger)
    const forgotten: string[] = []
    const failing = new Error('cannot forget')
    const sources = {
      groups: {
        fetchGroups: () => ['a'],
        forget: () => {
          throw failing
        },
        clear: () => {
          throw failing
        },
      },
      roles: {
        fetchRoles: () => ['r'],
        forget: (user: { subject: string }) => void forgotten.push(user.subject),
        clear: () => void forgotten.push('everyone'),
      },
    }
    enrichment.wrap(sources)
    await expect(enrichment.forget('https://issuer.example', 'alice')).rejects.toBe(failing)
    await expect(enrichment.clear()).rejects.toBe(failing)
    expect(forgotten).toEqual(['alice', 'everyone'])
  })

  it('a forget or clear that is not a method is refused at construction', () => {
    const provider = new EntraIdProvider({ ...entra.providerOptions })
    const groups = { fetchGroups: () => [], forget: 'yes' } as unknown as GroupsProvider
    expect(() => createVerifier({ provider, groups, logger: false })).toThrow(ConfigError)
    expect(() => createVerifier({ provider, groups, logger: false })).toThrow(
      /groups\.forget must be a method/,
    )
  })
})

// Redis stores, found in the seventh review: a load overtaken by a reconnection never reports the
// store in step, clearSourceCache clears every instance, answers keep their types in Redis, an
// instance back from an outage drops all it holds, ids with dots are ids, and a database Redis
// refuses is an outage.

import { randomBytes } from 'node:crypto'
import * as net from 'node:net'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { JwksProvider } from '../../providers/jwks/index.js'
import {
  RedisRevocationStore,
  RedisSharedCache,
  type RedisRevocationStoreOptions,
  type RedisSharedCacheOptions,
} from '../../providers/redis/index.js'
import {
  createVerifier,
  MemoryRevocationStore,
  UnavailableError,
  type VerifiedToken,
} from '../../src/index.js'
import { Enrichment } from '../../src/enrichment.js'
import { silentLogger, type Logger } from '../../src/logger.js'
import { createTestIssuer } from '../../src/testing.js'
import { User, type UserSources } from '../../src/user.js'
import { connectTestRedis, deleteKeysInPages, REDIS_URL } from '../helpers/redis.js'
import { startTcpProxy } from '../helpers/sql.js'

const REDIS = new URL(REDIS_URL)
const PREFIX = `oidc-guard-test:review7:${process.pid}:${randomBytes(4).toString('hex')}:`
const ISSUER = 'https://review7.example'

let admin: Redis
const closers: Array<() => Promise<void> | void> = []

function store(options: Partial<RedisRevocationStoreOptions> = {}): RedisRevocationStore {
  const connection = options.client === undefined ? { url: REDIS_URL } : {}
  const created = new RedisRevocationStore({ ...connection, prefix: PREFIX, ...options })
  closers.push(() => created.close())
  return created
}

function tier(options: Partial<RedisSharedCacheOptions> = {}): RedisSharedCache {
  const created = new RedisSharedCache({ url: REDIS_URL, prefix: PREFIX, ...options })
  closers.push(() => created.close())
  return created
}

/** One instance: its in-process tier over a shared one. */
function instance(shared: RedisSharedCache, logger: Logger = silentLogger, max = 10_000) {
  const enrichment = new Enrichment({ sourceCache: { ttlMs: 60_000, max, shared } }, logger)
  const userOf = (sources: UserSources, subject: string) =>
    new User(
      { provider: 't', claims: { iss: ISSUER, sub: subject }, token: 't' },
      { id: subject },
      enrichment.wrap(sources),
    )
  return {
    enrichment,
    groupsOf: (sources: UserSources, subject = 'alice') => userOf(sources, subject).groups,
    profileOf: (sources: UserSources, subject = 'alice') => userOf(sources, subject).profile,
  }
}

/** A groups source whose answer the test changes, counting its calls. */
function directory(initial: string[]) {
  const state = { groups: initial, calls: 0 }
  const source = {
    fetchGroups: () => {
      state.calls += 1
      return state.groups
    },
  }
  return { state, source }
}

/** A logger keeping its warnings' messages. */
function recordingLogger(): Logger & { readonly warnings: string[] } {
  const warnings: string[] = []
  const logger = {
    ...silentLogger,
    warnings,
    warn: (...args: unknown[]) =>
      void warnings.push(String(args.find((a) => typeof a === 'string'))),
    child: () => logger,
  }
  return logger as unknown as Logger & { readonly warnings: string[] }
}

function verified(claims: Record<string, unknown>): VerifiedToken {
  return { token: 't', header: { alg: 'RS256' }, claims: { iss: ISSUER, ...claims } }
}

const groupsKey = (subject: string) => `groups\n${ISSUER}\n${subject}`
const valueKey = (subject: string) => `${PREFIX}cache:v:${groupsKey(subject)}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  admin = await connectTestRedis()
})

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await deleteKeysInPages(admin, PREFIX)
})

afterAll(async () => {
  // Answers are written without being awaited: one may land after a test.
  await deleteKeysInPages(admin, PREFIX)
  admin.disconnect()
})

describe('a revocation load overtaken by a reconnection', () => {
  it('never reports the store in step before the latest load ends', async () => {
    const name = `oidc-guard-review7-${randomBytes(4).toString('hex')}`
    const client = new Redis(REDIS_URL, { connectionName: name })
    closers.push(() => client.disconnect())
    // Each load's first page is held until the test lets it through (a large set, loading slowly).
    const gates: Array<() => void> = []
    const zscan = client.zscan.bind(client) as (...args: unknown[]) => Promise<[string, string[]]>
    Object.assign(client, {
      zscan: async (...args: unknown[]) => {
        const reply = await zscan(...args)
        await new Promise<void>((resolve) => gates.push(resolve))
        return reply
      },
    })
    const other = store()
    await other.ready()
    const victim = store({ client, timeoutMs: 5_000 })
    victim.health() // opens the link: load 1 starts
    await vi.waitFor(() => expect(gates).toHaveLength(1))
    // The subscriber is lost; a revocation is published while it cannot hear it.
    const clients = (await admin.client('LIST')) as string
    const subscribers = clients
      .split('\n')
      .filter((line) => line.includes(`name=${name} `) && / sub=1 /.test(line))
      .map((line) => /id=(\d+)/.exec(line)![1]!)
    expect(subscribers).toHaveLength(1)
    await admin.client('KILL', 'ID', subscribers[0]!)
    await other.revokeToken('stolen')
    await vi.waitFor(() => expect(gates).toHaveLength(2)) // load 2 started, after reconnecting
    gates[0]!() // load 1 ends, with what it read before the revocation
    await sleep(100)
    const stolen = verified({ sub: 'x', jti: 'stolen' })
    expect(victim.health().ok).toBe(false)
    const answer = victim.isRevoked(stolen)
    expect(answer).not.toBe(false)
    if (answer instanceof Promise) await expect(answer).rejects.toBeInstanceOf(UnavailableError)
    gates[1]!() // load 2 ends
    await victim.ready(3_000)
    expect(victim.health()).toMatchObject({ ok: true })
    expect(victim.isRevoked(stolen)).toBe(true)
  })
})

describe('clearSourceCache with a RedisSharedCache', () => {
  it('makes every instance ask the sources again', async () => {
    const [tierA, tierB] = [tier(), tier()]
    await Promise.all([tierA.ready(), tierB.ready()])
    const a = instance(tierA)
    const b = instance(tierB)
    const { state, source } = directory(['old-admins'])
    expect(await a.groupsOf({ groups: source })).toEqual(['old-admins'])
    await vi.waitFor(async () => expect(await admin.exists(valueKey('alice'))).toBe(1))
    expect(await b.groupsOf({ groups: source })).toEqual(['old-admins']) // from Redis
    expect(state.calls).toBe(1)
    state.groups = ['users'] // alice loses her rights
    await a.enrichment.clear()
    expect(await a.groupsOf({ groups: source })).toEqual(['users'])
    await vi.waitFor(async () => expect(await b.groupsOf({ groups: source })).toEqual(['users']))
  })

  it('through the verifier: resolves once cleared, and the next answer is the source’s', async () => {
    const idp = await createTestIssuer({ listen: false, issuer: ISSUER })
    closers.push(() => idp.close())
    const shared = tier()
    const { state, source } = directory(['old-admins'])
    const verify = createVerifier({
      provider: new JwksProvider({
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: idp.audience,
        fetch: idp.fetch,
      }),
      groups: source,
      sourceCache: { ttlMs: 60_000, shared },
      logger: false,
    })
    const token = idp.mint({ sub: 'alice' })
    expect(await (await verify(token)).groups).toEqual(['old-admins'])
    await vi.waitFor(async () => expect(await admin.exists(valueKey('alice'))).toBe(1))
    state.groups = ['users']
    await expect(verify.clearSourceCache()).resolves.toBeUndefined()
    expect(await (await verify(token)).groups).toEqual(['users'])
  })

  it('an answer read before the clear cannot be stored after it', async () => {
    const [slow, clearing, reader] = [tier(), tier(), tier()]
    expect(await slow.get(groupsKey('alice'))).toBeUndefined() // a load starts here
    await clearing.clear()
    await slow.set(groupsKey('alice'), ['old-admins'], 60_000) // its source answered after
    expect(await reader.get(groupsKey('alice'))).toBeUndefined()
  })
})

describe('answers in Redis', () => {
  it('keep the types the in-process tier keeps (Date, Map, Set, BigInt)', async () => {
    const logger = recordingLogger()
    const [tierA, tierB] = [tier(), tier()]
    await Promise.all([tierA.ready(), tierB.ready()])
    let calls = 0
    const profile = {
      fetchProfile: () => {
        calls += 1
        return {
          since: new Date('2020-01-01T00:00:00Z'),
          tags: new Set(['a']),
          roles: new Map([['x', 1]]),
          quota: 10n,
        }
      },
    }
    await instance(tierA, logger).profileOf({ profile })
    const key = `${PREFIX}cache:v:profile\n${ISSUER}\nalice`
    await vi.waitFor(async () => expect(await admin.exists(key)).toBe(1))
    const fromRedis = await instance(tierB, logger).profileOf({ profile })
    expect(calls).toBe(1)
    expect(fromRedis).toEqual({
      since: new Date('2020-01-01T00:00:00Z'),
      tags: new Set(['a']),
      roles: new Map([['x', 1]]),
      quota: 10n,
    })
    expect(logger.warnings).toEqual([])
  })

  it('an answer that cannot be written stays in-process, logged once, and Redis is not down', async () => {
    const logger = recordingLogger()
    const shared = tier({ logger })
    await shared.ready()
    const one = instance(shared, logger)
    const profile = { fetchProfile: () => ({ avatar: new Blob(['x']) }) }
    await one.profileOf({ profile }, 'alice')
    await one.profileOf({ profile }, 'bob')
    await sleep(100)
    expect(logger.warnings).toEqual([expect.stringMatching(/cannot be copied to the shared cache/)])
    expect(await admin.exists(`${PREFIX}cache:v:profile\n${ISSUER}\nalice`)).toBe(0)
    // Still used for what it can hold: nothing was reported as an outage.
    const { source } = directory(['ops'])
    await one.groupsOf({ groups: source }, 'carol')
    await vi.waitFor(async () => expect(await admin.exists(valueKey('carol'))).toBe(1))
    expect(logger.warnings).toHaveLength(1)
  })

  it('ignores values in the JSON form of earlier versions', async () => {
    await admin.set(valueKey('alice'), JSON.stringify({ g: 0, v: ['old-admins'] }), 'PX', 60_000)
    expect(await tier().get(groupsKey('alice'))).toBeUndefined()
  })
})

describe('an instance back from an outage of its subscription', () => {
  it('drops every answer it holds, however many', async () => {
    const proxy = await startTcpProxy({ host: REDIS.hostname, port: Number(REDIS.port || 6379) })
    closers.push(() => proxy.close())
    const url = new URL(REDIS_URL)
    url.port = String(proxy.port)
    const cut = tier({ url: url.href, heartbeatMs: 200 })
    const direct = tier()
    await Promise.all([cut.ready(), direct.ready()])
    const victim = instance(cut, silentLogger, 300_000)
    const { state, source } = directory(['v1'])
    proxy.cut('reset')
    await vi.waitFor(() => expect(cut.health().detail).toMatch(/unreachable/))
    expect(await victim.groupsOf({ groups: source })).toEqual(['v1']) // the oldest answer
    // More answers than the tier used to track (100,000): the oldest used to be kept. One at a
    // time, straight through the wrapped source: the cheapest way to load that many.
    const { groups } = victim.enrichment.wrap({ groups: source })
    for (let index = 0; index < 100_000; index += 1) {
      const user = { id: `u${index}`, provider: 't', claims: { iss: ISSUER } } as unknown as User
      await groups!.fetchGroups(user, { signal: new AbortController().signal })
    }
    expect(victim.enrichment.size).toBe(100_001)
    state.groups = ['v2']
    await direct.invalidateUser(ISSUER, 'alice') // this instance cannot hear it
    proxy.restore()
    await cut.ready(5_000)
    expect(victim.enrichment.size).toBe(0)
    expect(await victim.groupsOf({ groups: source })).toEqual(['v2'])
  }, 60_000)
})

describe('revokeToken of an id with dots', () => {
  const header = Buffer.from(JSON.stringify({ alg: 'RS256' })).toString('base64url')

  it.each(['urn:x.y.z', '1.2.3', 'a.b.c'])('takes %s as the jti it is', async (jti) => {
    const memory = new MemoryRevocationStore()
    memory.revokeToken(jti)
    expect(memory.isRevoked(verified({ sub: 's', jti }))).toBe(true)
    const redis = store()
    await redis.revokeToken(jti)
    expect(redis.isRevoked(verified({ sub: 's', jti }))).toBe(true)
  })

  it('answers a TypeError for a token whose payload cannot be read', () => {
    const token = `${header}.not-json.c2ln`
    expect(() => new MemoryRevocationStore().revokeToken(token)).toThrow(TypeError)
    expect(() => new MemoryRevocationStore().revokeToken(token)).toThrow(/payload cannot be read/)
    expect(() => store().revokeToken(token)).toThrow(TypeError)
  })
})

describe('a database Redis refuses', () => {
  it('is an outage, logged, never database 0', async () => {
    const databases = Number(((await admin.config('GET', 'databases')) as string[])[1])
    const url = new URL(REDIS_URL)
    url.pathname = `/${databases + 1}`
    const logger = recordingLogger()
    const refused = store({ url: url.href, logger, timeoutMs: 500 })
    await expect(refused.ready(1_500)).rejects.toThrow(/out of range/i)
    expect(refused.health()).toMatchObject({ ok: false, detail: expect.stringMatching(/range/i) })
    await expect(refused.isRevoked(verified({ sub: 's', jti: 'j' }))).rejects.toBeInstanceOf(
      UnavailableError,
    )
    await expect(refused.revokeToken('misplaced')).rejects.toThrow(/this instance only/)
    expect(await admin.exists(`${PREFIX}revocations`)).toBe(0)
    expect(logger.warnings.filter((line) => /unreachable/.test(line))).toHaveLength(1)
    const shared = tier({ url: url.href, timeoutMs: 500 })
    await expect(shared.get(groupsKey('alice'))).rejects.toThrow(/out of range/i)
  })

  it('a SELECT that failed once for a passing reason is asked again, never held against the link', async () => {
    // A proxy that holds the first SELECT past the command time-out, then passes everything.
    let armed = true
    const proxy = net.createServer((client) => {
      const upstream = net.connect(Number(REDIS.port || 6379), REDIS.hostname)
      client.on('data', (chunk: Buffer) => {
        if (armed && chunk.toString('latin1').toLowerCase().startsWith('*2\r\n$6\r\nselect')) {
          armed = false
          setTimeout(() => upstream.write(chunk), 1_000)
          return
        }
        upstream.write(chunk)
      })
      upstream.on('data', (chunk: Buffer) => client.write(chunk))
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        a.on('error', () => b.destroy())
        a.on('close', () => b.destroy())
      }
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())))
    const { port } = proxy.address() as net.AddressInfo
    const slow = store({ url: `redis://127.0.0.1:${port}/3`, timeoutMs: 300 })
    const outcomes: string[] = []
    for (let attempt = 0; attempt < 8 && outcomes.at(-1) !== 'ready'; attempt += 1) {
      outcomes.push(
        await slow.ready(1_000).then(
          () => 'ready',
          (error: Error) => error.message,
        ),
      )
    }
    expect(armed).toBe(false) // the SELECT was held
    expect(outcomes.at(-1)).toBe('ready')
    expect(outcomes.join('\n')).not.toMatch(/refused database/)
  })
})

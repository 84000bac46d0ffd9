// Redis stores, found in review: a `lazyConnect` client the application owns gets in step, and a
// revocation set larger than one page loads in pages, whatever changes between them.

import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  RedisRevocationStore,
  RedisSharedCache,
  type RedisRevocationStoreOptions,
} from '../../providers/redis/index.js'
import { LocalRevocations } from '../../providers/redis/local-revocations.js'
import { LOAD_PAGE_SIZE } from '../../providers/redis/revocation-store.js'
import type { VerifiedToken } from '../../src/index.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'

const PREFIX = `oidc-guard-test:review:${process.pid}:${randomBytes(4).toString('hex')}:`
const ISSUER = 'https://review-redis.example'

let admin: Redis
const stores: Array<{ close(): Promise<void> }> = []
const clients: Redis[] = []

/** A store on this file's prefix, closed after the test. */
function store(options: Partial<RedisRevocationStoreOptions> = {}): RedisRevocationStore {
  const connection = options.client === undefined ? { url: REDIS_URL } : {}
  const created = new RedisRevocationStore({ ...connection, prefix: PREFIX, ...options })
  stores.push(created)
  return created
}

/** A client of the application's, `lazyConnect`, connected by it or not; disconnected after. */
async function lazyClient(connected: boolean): Promise<Redis> {
  const client = new Redis(REDIS_URL, { lazyConnect: true })
  clients.push(client)
  if (connected) await client.connect()
  return client
}

function verified(claims: Record<string, unknown>): VerifiedToken {
  return { token: 't', header: { alg: 'RS256' }, claims: { iss: ISSUER, ...claims } }
}

const nowSec = () => Math.floor(Date.now() / 1000)

beforeAll(async () => {
  admin = await connectTestRedis()
})

afterEach(async () => {
  await Promise.all(stores.splice(0).map((created) => created.close()))
  for (const client of clients.splice(0)) client.disconnect()
  await deleteKeys(admin, PREFIX)
})

afterAll(() => admin.disconnect())

describe('a lazyConnect client the application owns', () => {
  it.each([
    ['not connected yet', false],
    ['already connected by the application', true],
  ])('gets in step (%s): hears other instances, and health is ok', async (_name, connected) => {
    const other = store()
    await other.ready()
    await other.revokeToken('before-start')
    const lazy = store({ client: await lazyClient(connected) })
    await lazy.ready(3_000)
    expect(lazy.health()).toEqual({ ok: true, detail: 'redis: in step, 1 revocations' })
    expect(lazy.isRevoked(verified({ sub: 'a', jti: 'before-start' }))).toBe(true)
    await other.revokeToken('after-start')
    await vi.waitFor(() =>
      expect(lazy.isRevoked(verified({ sub: 'a', jti: 'after-start' }))).toBe(true),
    )
    // The store's own revocations reach Redis through the application's client.
    await lazy.revokeToken('from-lazy')
    await vi.waitFor(() =>
      expect(other.isRevoked(verified({ sub: 'a', jti: 'from-lazy' }))).toBe(true),
    )
  })

  it('serves the shared cache too (the same link)', async () => {
    const shared = new RedisSharedCache({ client: await lazyClient(false), prefix: PREFIX })
    stores.push(shared)
    const read = {}
    expect(await shared.get('review-key', read)).toBeUndefined() // read first: only then is a set kept
    await shared.set('review-key', { groups: ['a'] }, 60_000, read)
    expect(await shared.get('review-key')).toEqual({ groups: ['a'] })
  })
})

describe('loading a revocation set larger than one page', () => {
  it('loads in pages, missing no entry pruned around or re-scored between pages', async () => {
    const key = `${PREFIX}revocations`
    const live = Math.ceil(LOAD_PAGE_SIZE * 2.5)
    const ended = 2_000
    const until = nowSec() + 3_600
    const member = (index: number) => JSON.stringify(['j', `jti-${index}`])
    for (let start = 0; start < live + ended; start += 5_000) {
      const args: Array<string | number> = []
      for (let index = start; index < Math.min(live + ended, start + 5_000); index += 1) {
        // The ended entries are those a revocation on another instance prunes meanwhile.
        args.push(index < ended ? nowSec() - 10 : until, member(index))
      }
      await admin.zadd(key, ...args)
    }

    const client = await lazyClient(true)
    const zscan = client.zscan.bind(client)
    let pages = 0
    vi.spyOn(client, 'zscan').mockImplementation((async (...args: Parameters<typeof zscan>) => {
      const page = await zscan(...args)
      pages += 1
      if (pages === 1) {
        // Between two pages: the ended entries pruned, and one revocation extended.
        await admin.zremrangebyscore(key, '-inf', nowSec())
        await admin.zadd(key, until + 60, member(live + ended - 1))
      }
      return page
    }) as typeof client.zscan)

    const loaded = store({ client })
    await loaded.ready(10_000)
    expect(pages).toBeGreaterThan(1)
    expect(loaded.size).toBe(live)
    for (const index of [ended, ended + LOAD_PAGE_SIZE, live + ended - 1]) {
      expect(loaded.isRevoked(verified({ sub: 'b', jti: `jti-${index}` }))).toBe(true)
    }
  })

  it('prunes its copy in linear time while loading, not after every 256 entries', () => {
    const local = new LocalRevocations()
    const prune = vi.spyOn(local, 'prune')
    for (let index = 0; index < 100_000; index += 1) {
      local.add({ kind: 'jti', jti: `jti-${index}`, expiresAtSec: 2_000 }, 1_000)
    }
    expect(local.size).toBe(100_000)
    // Each prune walks every entry: after as many writes as entries, 256 at least (log2 of 100000/256).
    expect(prune.mock.calls.length).toBeLessThanOrEqual(10)
  })

  it('still drops ended entries as writes come in', () => {
    const local = new LocalRevocations()
    for (let index = 0; index < 256; index += 1) {
      local.add({ kind: 'jti', jti: `old-${index}`, expiresAtSec: 1_010 }, 1_000)
    }
    for (let index = 0; index < 512; index += 1) {
      local.add({ kind: 'jti', jti: `new-${index}`, expiresAtSec: 3_000 }, 2_000)
    }
    expect(local.size).toBe(512)
  })
})

// Redis stores, found in the eighth review: a Redis that evicts keys never silently drops the
// revocations, misspelt options are refused, every command is bounded by timeoutMs (with the app's
// client too), pruning follows Redis's clock, and a revocation that cannot be published is not
// stored either.

import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  RedisRevocationStore,
  RedisSharedCache,
  type RedisRevocationStoreOptions,
  type RedisSharedCacheOptions,
} from '../../providers/redis/index.js'
import { ConfigError, type VerifiedToken } from '../../src/index.js'
import { silentLogger, type Logger } from '../../src/logger.js'
import { privateRedis, skipPrivate, type PrivateRedis } from '../helpers/private-redis.js'
import { deleteKeysInPages } from '../helpers/redis.js'
import { startTcpProxy } from '../helpers/sql.js'

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379/11'
const REDIS = new URL(REDIS_URL)
const PREFIX = `r8fix:review8:${process.pid}:${randomBytes(4).toString('hex')}:`
const KEY = `${PREFIX}revocations`
const ISSUER = 'https://review8.example'

let admin: Redis
const closers: Array<() => Promise<void> | void> = []

function store(options: Partial<RedisRevocationStoreOptions> = {}): RedisRevocationStore {
  const connection = options.client === undefined ? { url: REDIS_URL } : {}
  const created = new RedisRevocationStore({ ...connection, prefix: PREFIX, ...options })
  closers.push(() => created.close())
  return created
}

function tier(options: Partial<RedisSharedCacheOptions> = {}): RedisSharedCache {
  const connection = options.client === undefined ? { url: REDIS_URL } : {}
  const created = new RedisSharedCache({ ...connection, prefix: PREFIX, ...options })
  closers.push(() => created.close())
  return created
}

/** An ioredis client of the application's own: no command time-out, closed by the test. */
function appClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 0 })
  client.on('error', () => undefined)
  closers.push(() => client.disconnect())
  return client
}

/**
 * Makes the client answer `INFO memory` with `answer` (text, or an error); ioredis's own ready
 * check (INFO with a callback) still reaches Redis.
 */
function answerInfo(client: Redis, answer: string | Error) {
  const real = client.info.bind(client) as (...args: unknown[]) => Promise<string>
  return vi.spyOn(client, 'info').mockImplementation(((...args: unknown[]) => {
    if (args[0] !== 'memory') return real(...args)
    return typeof answer === 'string' ? Promise.resolve(answer) : Promise.reject(answer)
  }) as never)
}

/** A logger keeping its warnings' messages, formatted. */
function recordingLogger(): Logger & { readonly warnings: string[] } {
  const warnings: string[] = []
  const logger = {
    ...silentLogger,
    warnings,
    warn: (...args: unknown[]) => {
      const [format, ...rest] = args.filter((arg) => typeof arg === 'string')
      let index = 0
      warnings.push(String(format).replace(/%s/g, () => rest[index++] ?? ''))
    },
    child: () => logger,
  }
  return logger as unknown as Logger & { readonly warnings: string[] }
}

function verified(claims: Record<string, unknown>): VerifiedToken {
  return { token: 't', header: { alg: 'RS256' }, claims: { iss: ISSUER, ...claims } }
}

const nowSec = () => Math.floor(Date.now() / 1000)
const jtiMember = (jti: string) => JSON.stringify(['j', jti])

beforeAll(async () => {
  // In CI (and here) Redis is part of the suite: unreachable is a failure, never a skip.
  admin = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  await admin.connect().catch((cause: unknown) => {
    throw new Error(`these tests need Redis at ${REDIS_URL} (.ci/run starts it)`, { cause })
  })
})

afterEach(async () => {
  vi.restoreAllMocks()
  for (const close of closers.splice(0).reverse()) await close()
  await deleteKeysInPages(admin, PREFIX)
})

afterAll(async () => {
  await deleteKeysInPages(admin, PREFIX)
  admin.disconnect()
})

describe('a Redis that evicts keys', () => {
  it('the revocation set has no TTL, and one left by an older version is removed', async () => {
    const one = store({ maxTokenLifetimeSec: 600 })
    await one.revokeToken('no-ttl')
    expect(await admin.ttl(KEY)).toBe(-1) // a volatile-* policy only evicts keys with a TTL
    await admin.expire(KEY, 60)
    await one.revokeToken('older-version-ttl')
    expect(await admin.ttl(KEY)).toBe(-1)
  })

  it.each(['fail-closed', 'fail-open'] as const)(
    'allkeys-* is warned of once and reported by health, which stays ok (%s)',
    async (policy) => {
      const client = appClient(REDIS_URL)
      const info = answerInfo(
        client,
        '# Memory\r\nmaxmemory:1048576\r\nmaxmemory_policy:allkeys-lru\r\n',
      )
      const logger = recordingLogger()
      const revocations = store({ client, logger, onRevocationStoreDown: policy })
      await revocations.ready()
      expect(info).toHaveBeenCalledWith('memory')
      expect(revocations.health()).toEqual({
        ok: true,
        detail: expect.stringMatching(/in step.*maxmemory-policy allkeys-lru.*noeviction/),
      })
      expect(logger.warnings).toEqual([expect.stringMatching(/may evict the revocations/)])
    },
  )

  it.each([
    ['noeviction', '1048576'],
    ['volatile-lru', '1048576'],
    ['allkeys-lru', '0'], // no memory limit: nothing is evicted
  ])('%s with maxmemory %s is fine', async (policy, maxmemory) => {
    const client = appClient(REDIS_URL)
    answerInfo(client, `# Memory\r\nmaxmemory:${maxmemory}\r\nmaxmemory_policy:${policy}\r\n`)
    const logger = recordingLogger()
    const revocations = store({ client, logger })
    await revocations.ready()
    expect(revocations.health()).toEqual({ ok: true, detail: 'redis: in step, 0 revocations' })
    expect(logger.warnings).toEqual([])
  })

  it('a refused INFO (an ACL) is tolerated', async () => {
    const client = appClient(REDIS_URL)
    answerInfo(client, new Error('NOPERM this user has no permissions to run the INFO command'))
    const revocations = store({ client })
    await revocations.ready()
    expect(revocations.health().ok).toBe(true)
  })

  describe.skipIf(skipPrivate)('a private redis-server', () => {
    let server: PrivateRedis
    beforeAll(async () => {
      server = await privateRedis([
        ...['--maxmemory', '2mb', '--maxmemory-policy', 'volatile-lru'],
        ...['--user', 'noinfo', 'on', '>pw', '~*', '&*', '+@all', '-info'],
      ])
    })
    afterAll(() => server.stop())

    it('volatile-lru evicts the cache answers, never the revocations', async () => {
      const url = server.url
      const first = store({ url })
      await first.revokeToken('stolen')
      // Answers with a TTL fill Redis well past its limit, as the shared cache does under load.
      const filler = 'x'.repeat(1_000)
      for (let batch = 0; batch < 6; batch += 1) {
        const pipeline = server.admin.pipeline()
        for (let index = 0; index < 1_000; index += 1) {
          pipeline.set(`${PREFIX}cache:v:${batch}:${index}`, filler, 'PX', 60_000)
        }
        await pipeline.exec()
      }
      expect(
        Number(/evicted_keys:(\d+)/.exec(await server.admin.info('stats'))?.[1]),
      ).toBeGreaterThan(0)
      const later = store({ url })
      await later.ready()
      expect(later.isRevoked(verified({ sub: 'a', jti: 'stolen' }))).toBe(true)
      expect(later.health().ok).toBe(true)
    })

    it('a full Redis refuses a revocation before any instance hears of it', async () => {
      const listening = store({ url: server.url })
      await listening.ready()
      const revoking = store({ url: server.url })
      await revoking.ready()
      await server.admin.config('SET', 'maxmemory-policy', 'noeviction')
      await server.admin.config('SET', 'maxmemory', '1')
      try {
        await expect(revoking.revokeToken('oom-jti')).rejects.toThrow(/this instance only/)
        await new Promise((resolve) => setTimeout(resolve, 200))
        expect(listening.isRevoked(verified({ sub: 'a', jti: 'oom-jti' }))).toBe(false)
      } finally {
        await server.admin.config('SET', 'maxmemory', '2mb')
        await server.admin.config('SET', 'maxmemory-policy', 'volatile-lru')
      }
      const members = await server.admin.zrange(`${PREFIX}revocations`, '0', '-1')
      expect(members.filter((member) => member.includes('oom-jti'))).toEqual([])
    })

    it('allkeys-lru is read from INFO and reported; an INFO the ACL refuses is not', async () => {
      await server.admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
      try {
        const evicting = store({ url: server.url })
        await evicting.ready()
        expect(evicting.health()).toMatchObject({ ok: true, detail: /allkeys-lru/ })
        const blind = store({ url: server.url.replace('//', '//noinfo:pw@') })
        await blind.ready()
        expect(blind.health()).toMatchObject({ ok: true })
      } finally {
        await server.admin.config('SET', 'maxmemory-policy', 'volatile-lru')
      }
    })
  })
})

describe('misspelt options', () => {
  it.each([
    [
      'RedisSharedCache',
      () => tier({ keyPrefix: 'orders:' } as RedisSharedCacheOptions),
      'keyPrefix',
    ],
    ['RedisRevocationStore', () => store({ prefx: 'x:' } as RedisRevocationStoreOptions), 'prefx'],
    [
      'RedisRevocationStore',
      () => store({ onRevocationStoreDowm: 'fail-open' } as RedisRevocationStoreOptions),
      'onRevocationStoreDowm',
    ],
  ])('%s refuses %s', (name, build, key) => {
    let error: unknown
    try {
      build()
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${name}: "${key}" is not an option( \\(did you mean \\w+\\?\\))?; the options are url, client, prefix`,
        ),
      ),
    ])
  })

  it('every documented option is accepted', () => {
    const revocations = store({
      prefix: PREFIX,
      timeoutMs: 500,
      heartbeatMs: 1_000,
      logger: silentLogger,
      maxTokenLifetimeSec: 60,
      onRevocationStoreDown: 'fail-open',
    })
    expect(revocations.size).toBe(0)
    expect(tier({ timeoutMs: 500, heartbeatMs: 1_000, logger: silentLogger })).toBeInstanceOf(
      RedisSharedCache,
    )
  })
})

describe('every command with the application’s client', () => {
  it('gives up after timeoutMs when the network goes silent', async () => {
    const proxy = await startTcpProxy({ host: REDIS.hostname, port: Number(REDIS.port || 6379) })
    closers.push(() => proxy.close())
    const client = appClient(`redis://127.0.0.1:${proxy.port}${REDIS.pathname}`)
    const options = { client, timeoutMs: 300, heartbeatMs: 60_000 }
    const revocations = store(options)
    const shared = tier(options)
    await Promise.all([revocations.ready(), shared.ready()])
    await revocations.revokeToken('before')
    const read = {}
    await shared.getEntry(`groups\n${ISSUER}\nalice`, read)

    proxy.cut('blackhole')
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['revokeToken', () => revocations.revokeToken('while-silent')],
      ['revokeSubject', () => revocations.revokeSubject(ISSUER, 'bob')],
      ['getEntry', () => shared.getEntry(`groups\n${ISSUER}\nbob`)],
      ['set', () => shared.set(`groups\n${ISSUER}\nalice`, ['a'], 60_000, read)],
      ['invalidateUser', () => shared.invalidateUser(ISSUER, 'alice')],
      ['clear', () => shared.clear()],
    ]
    const started = Date.now()
    const outcomes = await Promise.all(
      calls.map(async ([name, call]) => {
        const hung = new Promise<string>((resolve) => setTimeout(() => resolve('hung'), 3_000))
        const settled = call().then(
          () => 'resolved',
          () => 'rejected',
        )
        return [name, await Promise.race([settled, hung])] as const
      }),
    )
    expect(Object.fromEntries(outcomes)).toEqual(
      Object.fromEntries(calls.map(([name]) => [name, 'rejected'])),
    )
    expect(Date.now() - started).toBeLessThan(2_000)
    await expect(revocations.revokeToken('again')).rejects.toThrow(/this instance only/)
  })
})

describe('pruning', () => {
  it('follows Redis’s clock: a host whose clock runs ahead prunes no live revocation', async () => {
    const honest = store({ maxTokenLifetimeSec: 60 })
    await honest.revokeToken('stolen') // ends in 60 s and the 5-minute grace
    const skewed = store({ maxTokenLifetimeSec: 60 })
    await skewed.ready()
    const realNow = Date.now()
    vi.spyOn(Date, 'now').mockReturnValue(realNow + 600_000) // ten minutes ahead
    await skewed.revokeToken('something-else')
    vi.restoreAllMocks()
    expect(await admin.zscore(KEY, jtiMember('stolen'))).not.toBeNull()
    const fresh = store()
    await fresh.ready()
    expect(fresh.isRevoked(verified({ sub: 'bob', jti: 'stolen' }))).toBe(true)
    // What ended by Redis's clock is still dropped.
    await admin.zadd(KEY, nowSec() - 5, jtiMember('ended'))
    await honest.revokeToken('another')
    expect(await admin.zscore(KEY, jtiMember('ended'))).toBeNull()
  })
})

describe.skipIf(skipPrivate)('a user whose ACL may not publish on the channel', () => {
  let server: PrivateRedis
  beforeAll(async () => {
    server = await privateRedis(['--user', 'nochan', 'on', '>pw', '~*', 'resetchannels', '+@all'])
  })
  afterAll(() => server.stop())

  it('gets a rejected revocation with nothing stored, never a stored one reported as failed', async () => {
    const url = server.url.replace('//', '//nochan:pw@')
    const revocations = store({ url, onRevocationStoreDown: 'fail-open' })
    await expect(revocations.revokeSubject(ISSUER, 'alice')).rejects.toThrow(/this instance only/)
    expect(await server.admin.zcard(KEY)).toBe(0)
    // This instance holds it all the same.
    expect(revocations.isRevoked(verified({ sub: 'alice', iat: nowSec() - 10 }))).toBe(true)
  })
})

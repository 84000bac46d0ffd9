// Many instances, one Redis: two apps in this process share revocations and authorization answers,
// and a Redis cut mid-run (a TCP proxy closed, never the shared server) degrades as documented.

import { randomBytes } from 'node:crypto'
import type { Express } from 'express'
import type { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  RedisRevocationStore,
  RedisSharedCache,
  type RedisRevocationStoreOptions,
} from '../../providers/redis/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { jwtAuth, type PermissionsProvider, type User } from '../../src/index.js'
import { requirePermissions } from '../../src/guards.js'
import { healthHandler } from '../../src/health-handler.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'
import { startTcpProxy, type TcpProxy } from '../helpers/sql.js'

const REDIS = new URL(REDIS_URL)
const PREFIX = `oidc-guard-test:http:${process.pid}:${randomBytes(4).toString('hex')}:`

let idp: TestIssuer
let admin: Redis
let proxy: TcpProxy
const closers: Array<() => Promise<void>> = []

/** The permissions database every instance reads (in real life, one SQL server). */
const grants = new Map<string, string[]>()
const database: PermissionsProvider = {
  fetchPermissions: (user: User) => {
    if (user.id === 'unreachable') throw new Error('database down')
    return grants.get(user.id) ?? []
  },
}

interface Instance {
  readonly app: Express
  readonly auth: ReturnType<typeof jwtAuth>
  readonly revocations: RedisRevocationStore
  readonly shared: RedisSharedCache
}

/** One API instance: its own connections, the prefix every instance shares. */
async function instance(
  major: number,
  options: Partial<RedisRevocationStoreOptions> & { url?: string } = {},
): Promise<Instance> {
  const connection = { url: REDIS_URL, prefix: PREFIX, timeoutMs: 300, ...options }
  const revocations = new RedisRevocationStore(connection)
  const { onRevocationStoreDown: _policy, ...sharedOptions } = connection
  const shared = new RedisSharedCache(sharedOptions)
  closers.push(
    () => revocations.close(),
    () => shared.close(),
  )
  await Promise.all([revocations.ready(), shared.ready()])
  const auth = jwtAuth({
    provider: new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      fetch: idp.fetch,
    }),
    permissions: database,
    revocation: revocations,
    sourceCache: { ttlMs: 60_000, shared },
    logger: false,
  })
  const app = EXPRESS_MAJORS[major]![1]()
  app.get('/health', healthHandler(auth))
  app.use(auth)
  app.get('/me', whoAmI())
  app.delete('/orders/:id', requirePermissions(['orders:delete']), whoAmI())
  return { app, auth, revocations, shared }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const nowSec = () => Math.floor(Date.now() / 1000)

function expectRevoked(res: request.Response): void {
  expect(res.status).toBe(401)
  expect(res.headers['www-authenticate']).toContain('error="invalid_token"')
  expect(res.headers['www-authenticate']).toContain('error_description="token revoked"')
  expect(res.body).toEqual({ error: 'invalid_token', error_description: 'token revoked' })
}

beforeAll(async () => {
  admin = await connectTestRedis()
  idp = await createTestIssuer({ listen: false, issuer: 'https://many-instances.example' })
  proxy = await startTcpProxy({ host: REDIS.hostname, port: Number(REDIS.port || 6379) })
})

afterEach(async () => {
  proxy.restore()
  await Promise.all(closers.splice(0).map((close) => close()))
  grants.clear()
})

afterAll(async () => {
  await proxy.close()
  await deleteKeys(admin, PREFIX)
  admin.disconnect()
  await idp.close()
})

describe('two instances sharing one Redis', () => {
  it('a permission changed and invalidated on one is seen by the other at once', async () => {
    const one = await instance(0)
    const two = await instance(1)
    const alice = idp.mint({ sub: 'alice' })
    grants.set('alice', ['orders:delete'])
    expect((await request(two.app).delete('/orders/1').set(bearer(alice))).status).toBe(200)
    expect((await request(one.app).delete('/orders/1').set(bearer(alice))).status).toBe(200)

    grants.set('alice', []) // revoked in the database…
    // …both instances still answer from their caches: that is what invalidation is for.
    expect((await request(two.app).delete('/orders/1').set(bearer(alice))).status).toBe(200)
    await one.auth.verifier!.forgetUser({ issuer: idp.issuer, subject: 'alice' })
    const refused = await request(two.app).delete('/orders/1').set(bearer(alice))
    expect(refused.status).toBe(403)
    expect(refused.body.error).toBe('forbidden')
    expect((await request(one.app).delete('/orders/1').set(bearer(alice))).status).toBe(403)

    grants.set('alice', ['orders:delete']) // and granted again, from the other side
    await two.shared.invalidateUser(idp.issuer, 'alice')
    expect((await request(one.app).delete('/orders/1').set(bearer(alice))).status).toBe(200)
  })

  it('a token revoked through one is refused by the other once the message arrives, even remembered', async () => {
    const one = await instance(0)
    const two = await instance(1)
    const token = idp.mint({ sub: 'bob' })
    const other = idp.mint({ sub: 'bob' })
    expect((await request(two.app).get('/me').set(bearer(token))).status).toBe(200)
    expect(two.auth.verifier!.fromCache(token)?.id).toBe('bob') // in two's verified-token cache

    await one.revocations.revokeToken(token)
    expectRevoked(await request(one.app).get('/me').set(bearer(token))) // at once where revoked
    // Elsewhere once pub/sub delivers the message: usually before the next request, but a loaded
    // machine may run that request first.
    await expect
      .poll(async () => (await request(two.app).get('/me').set(bearer(token))).status)
      .toBe(401)
    expectRevoked(await request(two.app).get('/me').set(bearer(token)))
    expect((await request(two.app).get('/me').set(bearer(other))).status).toBe(200)
  })

  it('a subject revoked before T refuses older tokens and accepts newer ones, on every instance', async () => {
    const one = await instance(0)
    const two = await instance(1)
    const older = idp.mint({ sub: 'carol', iat: nowSec() - 60 })
    const newer = idp.mint({ sub: 'carol', iat: nowSec() - 10 })
    const someoneElse = idp.mint({ sub: 'dave', iat: nowSec() - 60 })
    expect((await request(two.app).get('/me').set(bearer(older))).status).toBe(200)

    await one.revocations.revokeSubject(idp.issuer, 'carol', {
      before: new Date((nowSec() - 30) * 1000),
    })
    await expect
      .poll(async () => (await request(two.app).get('/me').set(bearer(older))).status)
      .toBe(401)
    expectRevoked(await request(two.app).get('/me').set(bearer(older)))
    expect((await request(two.app).get('/me').set(bearer(newer))).status).toBe(200)
    expect((await request(two.app).get('/me').set(bearer(someoneElse))).status).toBe(200)
    // An instance started afterwards knows it too.
    const three = await instance(0)
    expectRevoked(await request(three.app).get('/me').set(bearer(older)))
    expect((await request(three.app).get('/me').set(bearer(newer))).status).toBe(200)
  })
})

describe('Redis cut mid-run', () => {
  const viaProxy = () => ({ url: `redis://127.0.0.1:${proxy.port}` })

  it('fail-closed: 503 with Retry-After while away, health 503, then recovery', async () => {
    const cut = await instance(0, viaProxy())
    const healthy = await instance(1)
    const token = idp.mint({ sub: 'erin' })
    const revokedDuringOutage = idp.mint({ sub: 'erin' })
    grants.set('erin', ['orders:delete'])
    expect((await request(cut.app).get('/me').set(bearer(token))).status).toBe(200)
    expect((await request(cut.app).get('/me').set(bearer(revokedDuringOutage))).status).toBe(200)
    expect((await request(cut.app).get('/health')).status).toBe(200)

    proxy.cut('reset')
    await expect.poll(async () => (await request(cut.app).get('/health')).status).toBe(503)
    const health = await request(cut.app).get('/health')
    expect(health.body.ok).toBe(false)
    expect(health.body.revocation.detail).toMatch(/failing closed/)
    expect(health.body.sourceCache.shared.ok).toBe(true)
    for (const path of ['/me', '/me', '/orders/1']) {
      const res = await request(cut.app)[path === '/me' ? 'get' : 'delete'](path).set(bearer(token))
      expect(res.status).toBe(503) // remembered token included: never a pass, never a 500
      expect(res.headers['retry-after']).toBeDefined()
      expect(res.body.error).toBe('temporarily_unavailable')
    }
    await healthy.revocations.revokeToken(revokedDuringOutage)
    // The other instance, still connected, is not affected.
    expect((await request(healthy.app).get('/me').set(bearer(token))).status).toBe(200)

    proxy.restore()
    await cut.revocations.ready(5_000)
    expect((await request(cut.app).get('/health')).status).toBe(200)
    expect((await request(cut.app).get('/me').set(bearer(token))).status).toBe(200)
    expect((await request(cut.app).delete('/orders/1').set(bearer(token))).status).toBe(200)
    expectRevoked(await request(cut.app).get('/me').set(bearer(revokedDuringOutage)))
  })

  it('fail-open: known revocations still refused, the rest served from the sources', async () => {
    const cut = await instance(1, { ...viaProxy(), onRevocationStoreDown: 'fail-open' })
    const kept = idp.mint({ sub: 'frank' })
    const revoked = idp.mint({ sub: 'frank' })
    grants.set('frank', ['orders:delete'])
    await cut.revocations.revokeToken(revoked)
    expect((await request(cut.app).get('/me').set(bearer(kept))).status).toBe(200)

    proxy.cut('reset')
    await expect.poll(() => cut.revocations.health().detail).toMatch(/failing open/)
    expect((await request(cut.app).get('/health')).status).toBe(200)
    expect((await request(cut.app).delete('/orders/1').set(bearer(kept))).status).toBe(200)
    expectRevoked(await request(cut.app).get('/me').set(bearer(revoked)))
    // The shared cache is down too: the database answers, and a database failure is still a 503.
    const unreachable = await request(cut.app)
      .delete('/orders/1')
      .set(bearer(idp.mint({ sub: 'unreachable' })))
    expect(unreachable.status).toBe(503)
    expect(
      (
        await request(cut.app)
          .delete('/orders/1')
          .set(bearer(idp.mint({ sub: 'nobody' })))
      ).status,
    ).toBe(403)

    proxy.restore()
    await cut.revocations.ready(5_000)
    expect((await request(cut.app).get('/me').set(bearer(kept))).status).toBe(200)
  })
})

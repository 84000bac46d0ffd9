// The SQL sources' answers are cached under the id claim's value, not user.id: behind a gateway
// (one sub for every end user) each end user gets their own rights, in the in-process and the
// shared tier, and forgetUser with the CLI's USER makes a grant visible at once.

import { randomBytes } from 'node:crypto'
import express from 'express'
import { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { JwksProvider } from '../../providers/jwks/index.js'
import { RedisSharedCache } from '../../providers/redis/index.js'
import { SqlAuthzStore, SqlGroupsProvider } from '../../providers/sql/index.js'
import {
  JwksCache,
  jwtAuth,
  requireGroups,
  type JwtAuthOptions,
  type SharedCacheTier,
} from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { sqliteDatabase } from '../helpers/sql.js'

const database = sqliteDatabase()
const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const PREFIX = `oidc-guard-test:sql-cachekey:${process.pid}:${randomBytes(4).toString('hex')}:`
const GATEWAY = 'gateway-client'
let idp: TestIssuer
let store: SqlAuthzStore
const tiers: RedisSharedCache[] = []

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://cachekey.example' })
  store = new SqlAuthzStore({ url: database.url })
  await store.init()
  await store.grant('groups', 'alice', 'admin')
  await store.grant('groups', 'alice@example.com', 'admin')
})

afterAll(async () => {
  await Promise.all(tiers.map((tier) => tier.close()))
  const admin = new Redis(REDIS_URL)
  const keys = await admin.keys(`${PREFIX}*`)
  if (keys.length > 0) await admin.del(...keys)
  admin.disconnect()
  await store.close()
  await idp.close()
  database.cleanup()
})

function appWith(idClaim: string, options: Partial<JwtAuthOptions> = {}) {
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    jwksCache: new JwksCache({ fetch: idp.fetch }),
  })
  const groups = new SqlGroupsProvider({ store, idClaim })
  const jwt = jwtAuth({ provider, logger: false, groups, ...options })
  const app = express()
  app.use(jwt)
  app.get('/admin', requireGroups(['admin']), (_req, res) => void res.send('admin area'))
  const status = async (claims: Record<string, unknown>) =>
    (
      await request(app)
        .get('/admin')
        .set('Authorization', `Bearer ${idp.mint(claims)}`)
    ).status
  return { status, verifier: jwt.verifier! }
}

/** A shared tier in memory between the apps given it. */
function memoryTier(): SharedCacheTier {
  const values = new Map<string, unknown>()
  const listeners: Array<(keys: readonly string[]) => void> = []
  return {
    get: (key) => Promise.resolve(values.get(key)),
    set: (key, value) => (values.set(key, value), Promise.resolve()),
    invalidate: (keys) => {
      for (const key of keys) values.delete(key)
      for (const listener of listeners) listener(keys)
      return Promise.resolve()
    },
    onInvalidate: (listener) => void listeners.push(listener),
    health: () => ({ ok: true }),
  }
}

async function redisTier(): Promise<RedisSharedCache> {
  const tier = new RedisSharedCache({ url: REDIS_URL, prefix: PREFIX })
  tiers.push(tier)
  await tier.ready()
  return tier
}

/** Waits for the shared tier's write (which follows the answer) of `subject`'s groups. */
const stored = (shared: SharedCacheTier, subject: string) =>
  vi.waitFor(async () =>
    expect(await shared.get(`groups\n${idp.issuer}\n${subject}`)).toBeDefined(),
  )

describe('one sub for every end user (a gateway), idClaim: uid', () => {
  it('in-process: mallory after alice gets her own answer (403), and alice keeps hers', async () => {
    const { status } = appWith('uid')
    expect(await status({ sub: GATEWAY, uid: 'alice' })).toBe(200)
    expect(await status({ sub: GATEWAY, uid: 'mallory' })).toBe(403)
    expect(await status({ sub: GATEWAY, uid: 'alice' })).toBe(200)
    expect(await status({ sub: GATEWAY, uid: 'mallory' })).toBe(403)
  })

  it('a token without the claim: the documented 503, not the cached 200', async () => {
    const { status } = appWith('uid')
    expect(await status({ sub: GATEWAY, uid: 'alice' })).toBe(200)
    expect(await status({ sub: GATEWAY })).toBe(503)
  })

  it.each([
    ['in memory', () => Promise.resolve(memoryTier())],
    ['Redis', redisTier],
  ])('through a shared tier (%s): another instance answers mallory 403', async (_name, tier) => {
    const shared = await tier()
    const here = appWith('uid', { sourceCache: { shared } })
    const there = appWith('uid', { sourceCache: { shared } })
    expect(await here.status({ sub: GATEWAY, uid: 'alice' })).toBe(200)
    await stored(shared, 'alice')
    expect(await there.status({ sub: GATEWAY, uid: 'mallory' })).toBe(403)
    expect(await there.status({ sub: GATEWAY })).toBe(503)
    expect(await there.status({ sub: GATEWAY, uid: 'alice' })).toBe(200)
  })
})

describe('the docs’ idClaim: email', () => {
  it('a token without email after a cached 200 of the same sub: 503', async () => {
    const { status } = appWith('email')
    expect(await status({ sub: 'bob', email: 'alice@example.com' })).toBe(200)
    expect(await status({ sub: 'bob' })).toBe(503)
    expect(await status({ sub: 'bob', email: 'carol@example.com' })).toBe(403)
  })
})

describe('forgetUser makes a grant by the CLI visible at once', () => {
  // The CLI: its own connection to the same database, granting to USER, the id claim's value.
  async function grantAsCli(user: string, group: string) {
    const cli = new SqlAuthzStore({ url: database.url })
    try {
      await cli.grant('groups', user, group)
    } finally {
      await cli.close()
    }
  }

  it('{ issuer, subject: the CLI’s USER }', async () => {
    const { status, verifier } = appWith('email')
    const dave = { sub: 'd-sub', email: 'dave@example.com' }
    expect(await status(dave)).toBe(403)
    await grantAsCli('dave@example.com', 'admin')
    expect(await status(dave)).toBe(403) // cached, as documented
    await verifier.forgetUser({ issuer: idp.issuer, subject: 'dave@example.com' })
    expect(await status(dave)).toBe(200)
  })

  it('the User, on every instance of a Redis tier', async () => {
    const shared = await redisTier()
    const here = appWith('email', { sourceCache: { shared } })
    const there = appWith('email', { sourceCache: { shared } })
    const erin = { sub: 'e-sub', email: 'erin@example.com' }
    expect(await here.status(erin)).toBe(403)
    expect(await there.status(erin)).toBe(403)
    await grantAsCli('erin@example.com', 'admin')
    expect(await there.status(erin)).toBe(403) // cached
    const user = await here.verifier(idp.mint(erin))
    await here.verifier.forgetUser(user)
    expect(await here.status(erin)).toBe(200)
    await vi.waitFor(async () => expect(await there.status(erin)).toBe(200))
  })

  it('{ issuer, subject } on one instance of a Redis tier: the other sees the grant', async () => {
    const shared = await redisTier()
    const here = appWith('uid', { sourceCache: { shared } })
    const there = appWith('uid', { sourceCache: { shared } })
    const frank = { sub: GATEWAY, uid: 'frank' }
    expect(await there.status(frank)).toBe(403)
    await grantAsCli('frank', 'admin')
    await here.verifier.forgetUser({ issuer: idp.issuer, subject: 'frank' })
    await vi.waitFor(async () => expect(await there.status(frank)).toBe(200))
  })
})

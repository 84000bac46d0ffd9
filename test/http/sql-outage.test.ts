// A database gone mid-run answers 503 within the pool's bounds, then recovers; pools never pile up.

import type { Express } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  SqlAuthzStore,
  SqlPermissionsProvider,
  type SqlPoolOptions,
} from '../../providers/sql/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { JwksCache, jwtAuth } from '../../src/index.js'
import { requirePermissions } from '../../src/guards.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'
import {
  dropTables,
  execute,
  startTcpProxy,
  testDatabases,
  uniqueTables,
  type TcpProxy,
  type TestDatabase,
} from '../helpers/sql.js'

// SQLite is a file in the process: it has no network to lose and no pool to exhaust.
const databases = await testDatabases(['postgres', 'mariadb'])
let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://sql-outage.example' })
})

afterAll(() => idp.close())

describe.each(databases)('$name going away', (db: TestDatabase) => {
  const tables = uniqueTables()
  const slow = `${tables.permissions}_slow`
  let store: SqlAuthzStore
  let proxy: TcpProxy

  beforeAll(async () => {
    store = new SqlAuthzStore({ url: db.url, tables })
    await store.init()
    await store.grant('permissions', 'alice', 'orders:read')
    // A view that answers like the table, a fifth of a second late.
    const q = db.name === 'mariadb' ? '`' : '"'
    const sleep = db.name === 'mariadb' ? 'sleep(0.2)' : 'pg_sleep(0.2)'
    await execute(db.url, [
      `create view ${q}${slow}${q} as select t.* from ${q}${tables.permissions}${q} t cross join (select ${sleep} as z) s`,
    ])
    proxy = await startTcpProxy(db.server!)
  })

  afterAll(async () => {
    await proxy.close()
    const q = db.name === 'mariadb' ? '`' : '"'
    await execute(db.url, [`drop view if exists ${q}${slow}${q}`])
    await dropTables(db.url, Object.values(tables))
    await store.close()
  })

  function appWith(permissions: SqlPermissionsProvider): Express {
    const app = EXPRESS_MAJORS[0]![1]()
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({ fetch: idp.fetch }),
    })
    // No cross-request cache: every request goes to the database.
    app.use(jwtAuth({ provider, permissions, sourceCache: false, logger: false }))
    app.get('/public', whoAmI())
    app.get('/orders', requirePermissions(['orders:read']), whoAmI())
    return app
  }

  const alice = () => `Bearer ${idp.mint({ sub: 'alice' })}`
  const bounds: SqlPoolOptions = { size: 2, acquireTimeoutMs: 300, queryTimeoutMs: 800 }

  it.each(['reset', 'blackhole'] as const)(
    'answers 503 while the connection is cut (%s), keeps serving other routes, then recovers',
    async (mode) => {
      const permissions = new SqlPermissionsProvider({
        url: db.via!(proxy.port),
        tables,
        pool: bounds,
      })
      const app = appWith(permissions)
      try {
        expect((await request(app).get('/orders').set('Authorization', alice())).status).toBe(200)

        proxy.cut(mode)
        for (const attempt of [1, 2]) {
          const res = await request(app).get('/orders').set('Authorization', alice())
          expect(res.status, `attempt ${attempt}`).toBe(503)
          expect(res.body.error).toBe('temporarily_unavailable')
          expect(res.headers['retry-after']).toBeDefined()
        }
        // A burst larger than the pool: every request is answered, all with 503.
        const burst = await Promise.all(
          Array.from({ length: 6 }, () =>
            request(app).get('/orders').set('Authorization', alice()),
          ),
        )
        expect(burst.map((res) => res.status)).toEqual(Array(6).fill(503))
        expect((await request(app).get('/public').set('Authorization', alice())).status).toBe(200)

        proxy.restore()
        // Connections broken by the cut are discarded; a fresh one serves within a few requests.
        const statuses: number[] = []
        for (let attempt = 0; attempt < 5 && statuses.at(-1) !== 200; attempt += 1) {
          statuses.push((await request(app).get('/orders').set('Authorization', alice())).status)
        }
        expect(statuses.at(-1), `statuses after restore: ${statuses.join(', ')}`).toBe(200)
        expect(permissions.store.load).toEqual({ active: 0, waiting: 0 })
      } finally {
        proxy.restore()
        await permissions.close()
      }
    },
  )

  it('bounds pool exhaustion: with one connection and a slow query, lookups succeed or fail fast', async () => {
    const exhausted = new SqlAuthzStore({
      url: db.url,
      tables: { ...tables, permissions: slow },
      pool: { size: 1, maxWaiting: 4, acquireTimeoutMs: 300, queryTimeoutMs: 5_000 },
    })
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => exhausted.lookup('permissions', 'alice')),
      )
      const answered = results.filter((result) => result.status === 'fulfilled')
      const reasons = results.flatMap((result) =>
        result.status === 'rejected' ? [String(result.reason)] : [],
      )
      // One runs, four wait, fifteen are refused at once; waiters beyond the bound give up.
      expect(reasons.filter((reason) => reason.includes('already wait'))).toHaveLength(15)
      const timedOut = reasons.filter((reason) => reason.includes('became free within 300 ms'))
      expect(answered.length + timedOut.length).toBe(5)
      expect(answered.length).toBeGreaterThanOrEqual(1)
      expect(timedOut.length).toBeGreaterThanOrEqual(1)
      for (const result of answered) expect(result.value).toEqual(['orders:read'])
      expect(exhausted.load).toEqual({ active: 0, waiting: 0 })
      // Nothing is left behind: the next lookup is served.
      expect(await exhausted.lookup('permissions', 'alice')).toEqual(['orders:read'])
    } finally {
      await exhausted.close()
    }
  })

  it('answers an HTTP burst on an exhausted pool with 200 or 503 only', async () => {
    const permissions = new SqlPermissionsProvider({
      url: db.url,
      tables: { ...tables, permissions: slow },
      pool: { size: 1, maxWaiting: 2, acquireTimeoutMs: 300, queryTimeoutMs: 5_000 },
    })
    try {
      const app = appWith(permissions)
      const statuses = (
        await Promise.all(
          Array.from({ length: 10 }, () =>
            request(app).get('/orders').set('Authorization', alice()),
          ),
        )
      ).map((res) => res.status)
      expect(statuses).toContain(200)
      expect(statuses).toContain(503)
      expect(statuses.filter((status) => status !== 200 && status !== 503)).toEqual([])
    } finally {
      await permissions.close()
    }
  })
})

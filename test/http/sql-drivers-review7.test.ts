// SQL review fixes, seventh round, on the real databases: a MySQL URL that asks for TLS never
// connects in clear text, a locked SQLite file fails lookups fast instead of freezing the event
// loop, and a pool the app holds gathers neither waiters past the bounds nor queries run late.

import Database from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect, type LogEvent } from 'kysely'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { SqlAuthzStore, type SqlPoolOptions } from '../../providers/sql/index.js'
import { dropTables, execute, sqliteDatabase, testDatabases, uniqueTables } from '../helpers/sql.js'

const databases = await testDatabases(['postgres', 'mariadb'])
const mariadb = databases.filter((db) => db.name === 'mariadb')
const postgres = databases.filter((db) => db.name === 'postgres')

/** `url` with `query` appended (the test URLs have no query of their own). */
function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`
}

/** Runs `work` while a 10 ms timer measures the longest time the event loop could not turn. */
async function longestFreeze<T>(work: () => Promise<T>): Promise<{ result: T; freezeMs: number }> {
  let last = performance.now()
  let freezeMs = 0
  const timer = setInterval(() => {
    const now = performance.now()
    freezeMs = Math.max(freezeMs, now - last)
    last = now
  }, 10)
  try {
    const result = await work()
    await new Promise((resolve) => setTimeout(resolve, 30))
    return { result, freezeMs }
  } finally {
    clearInterval(timer)
  }
}

describe.each(mariadb)('a MySQL URL that asks for TLS, on $name without TLS', (db) => {
  it.each([
    'ssl-mode=REQUIRED',
    'ssl_mode=REQUIRED',
    'sslmode=require',
    'ssl-mode=VERIFY_IDENTITY',
  ])('%s: fails instead of connecting in clear text', async (query) => {
    const [variables] = await execute(db.url, ["show variables like 'have_ssl'"])
    // The test needs a server without TLS: with TLS these URLs would rightly connect.
    expect(variables).not.toContainEqual(expect.objectContaining({ Value: 'YES' }))
    const store = new SqlAuthzStore({ url: withQuery(db.url, query), pool: { size: 1 } })
    try {
      await expect(store.ready()).rejects.toThrow(/does not support secure connection/)
      await expect(store.lookup('groups', 'alice')).rejects.toThrow()
    } finally {
      await store.close()
    }
  })

  it('connects with ssl-mode=DISABLED', async () => {
    const store = new SqlAuthzStore({ url: withQuery(db.url, 'ssl-mode=DISABLED') })
    try {
      await store.ready()
    } finally {
      await store.close()
    }
  })
})

describe('a SQLite file another connection holds locked', () => {
  const database = sqliteDatabase()
  const path = database.url.slice('sqlite:'.length)
  let holder: Database.Database | undefined

  afterEach(() => {
    holder?.close()
    holder = undefined
  })
  afterAll(() => database.cleanup())

  it('fails each lookup within a few ms, without freezing the event loop meanwhile', async () => {
    const bounds: SqlPoolOptions = { queryTimeoutMs: 1_000 }
    const store = new SqlAuthzStore({ url: database.url, pool: bounds })
    try {
      await store.init()
      await store.grant('groups', 'alice', 'admin')
      // A writer's transaction, a migration, a `sqlite3` shell in BEGIN EXCLUSIVE.
      holder = new Database(path)
      holder.exec('begin exclusive')
      const started = performance.now()
      const { result, freezeMs } = await longestFreeze(() =>
        Promise.allSettled(Array.from({ length: 6 }, () => store.lookup('groups', 'alice'))),
      )
      const reasons = result.map((outcome) =>
        outcome.status === 'rejected' ? String(outcome.reason) : 'answered',
      )
      expect(reasons).toEqual(Array(6).fill(expect.stringMatching(/database is locked/)))
      // Each lookup used to hold the event loop for the whole query time-out (6 s in all).
      expect(freezeMs).toBeLessThan(500)
      expect(performance.now() - started).toBeLessThan(2_000)

      holder.exec('commit')
      expect(await store.lookup('groups', 'alice')).toEqual(['admin'])
    } finally {
      await store.close()
    }
  })
})

/** A Kysely instance of the app's that records the parameters of every query it runs. */
function recording<T extends ConstructorParameters<typeof Kysely>[0]['dialect']>(
  dialect: T,
): { db: Kysely<unknown>; parameters: unknown[] } {
  const parameters: unknown[] = []
  const log = (event: LogEvent) => void parameters.push(...event.query.parameters)
  return { db: new Kysely<unknown>({ dialect, log }), parameters }
}

describe('an app’s Kysely instance over SQLite, its connection held by a transaction', () => {
  const database = sqliteDatabase()
  afterAll(() => database.cleanup())

  it('never runs a lookup that timed out once the connection is free', async () => {
    const setup = new SqlAuthzStore({ url: database.url })
    await setup.init()
    await setup.close()
    const sqlite = new Database(database.url.slice('sqlite:'.length))
    const { db, parameters } = recording(new SqliteDialect({ database: sqlite }))
    const store = new SqlAuthzStore({
      client: db,
      pool: { size: 1, maxWaiting: 1, acquireTimeoutMs: 100, queryTimeoutMs: 200 },
    })
    try {
      await db.transaction().execute(async () => {
        // The app's transaction waits on something slow; Kysely has one SQLite connection.
        const outcome = await store.lookup('groups', 'late-sqlite').catch(String)
        expect(outcome).toMatch(/did not answer within 200 ms/)
      })
      expect(await store.lookup('groups', 'on-time')).toEqual([])
      expect(parameters).toContain('on-time')
      expect(parameters).not.toContain('late-sqlite')
    } finally {
      await store.close()
      await db.destroy()
    }
  })
})

describe.each(postgres)('the app’s own pg pool, its only connection held, on $name', (db) => {
  const tables = uniqueTables()
  const bounds: SqlPoolOptions = {
    size: 2,
    maxWaiting: 2,
    acquireTimeoutMs: 200,
    queryTimeoutMs: 300,
  }
  const bound = 4 // size + maxWaiting

  afterAll(() => dropTables(db.url, Object.values(tables)))

  /** Five rounds of four lookups while the app holds its pool's only connection. */
  async function whileHeld(pool: pg.Pool, store: SqlAuthzStore): Promise<string[]> {
    const held = await pool.connect() // the app's long transaction
    const outcomes: string[] = []
    try {
      for (let round = 0; round < 5; round += 1) {
        const results = await Promise.allSettled(
          Array.from({ length: 4 }, (_, n) => store.lookup('groups', `late-${round}-${n}`)),
        )
        for (const result of results) {
          outcomes.push(result.status === 'rejected' ? 'failed' : 'answered')
        }
        expect(pool.waitingCount).toBeLessThanOrEqual(bound)
      }
    } finally {
      held.release()
    }
    return outcomes
  }

  it('a pg Pool: at most size + maxWaiting wait in it, and a late client goes back unused', async () => {
    const setup = new SqlAuthzStore({ url: db.url, tables })
    await setup.init()
    await setup.close()
    const pool = new pg.Pool({ connectionString: db.url, max: 1 })
    const sent: unknown[] = []
    const query = pg.Client.prototype.query
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const [config, values] = args as [{ values?: unknown[] } | string, unknown[] | undefined]
      sent.push(...((typeof config === 'object' ? config.values : values) ?? []))
      return (query as (...all: unknown[]) => unknown).apply(this, args)
    } as typeof query
    const store = new SqlAuthzStore({ client: pool, tables, pool: bounds })
    try {
      expect(await whileHeld(pool, store)).toEqual(Array(20).fill('failed'))
      // Once the app lets go, the lookups nobody waits for any more are not run.
      expect(await store.lookup('groups', 'on-time')).toEqual([])
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(sent).toContain('on-time')
      expect(sent.filter((value) => String(value).startsWith('late-'))).toEqual([])
      expect(pool.waitingCount).toBe(0)
    } finally {
      pg.Client.prototype.query = query
      await store.close()
      await pool.end()
    }
  })

  it('a pg Pool: a query that never answers gives its slot back at its read time-out', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 2 })
    const locker = new pg.Client({ connectionString: db.url })
    await locker.connect()
    const store = new SqlAuthzStore({
      client: pool,
      tables,
      pool: { size: 1, acquireTimeoutMs: 100, queryTimeoutMs: 300 },
    })
    try {
      await locker.query('begin')
      await locker.query(`lock table "${tables.groups}" in access exclusive mode`)
      await expect(store.lookup('groups', 'alice')).rejects.toThrow(/within 300 ms/)
      // The lookup's slot is held while its query runs, but not past pg's read time-out, though
      // the app's pool has none of its own and the table is still locked.
      await new Promise((resolve) => setTimeout(resolve, 400))
      expect(store.load).toEqual({ active: 0, waiting: 0 })
    } finally {
      await locker.query('rollback')
      await locker.end()
      await store.close()
      await pool.end()
    }
  })

  it('a Kysely instance over it: the same bound, and no lookup run late', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 })
    const { db: kysely, parameters } = recording(new PostgresDialect({ pool }))
    const store = new SqlAuthzStore({ client: kysely, tables, pool: bounds })
    try {
      expect(await whileHeld(pool, store)).toEqual(Array(20).fill('failed'))
      expect(await store.lookup('groups', 'on-time')).toEqual([])
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(parameters).toContain('on-time')
      expect(parameters.filter((value) => String(value).startsWith('late-'))).toEqual([])
    } finally {
      await store.close()
      await kysely.destroy()
    }
  })
})

describe.each(mariadb)('the app’s own mysql2 pool, its only connection held, on $name', (db) => {
  const tables = uniqueTables()

  afterAll(() => dropTables(db.url, Object.values(tables)))

  it('at most size + maxWaiting wait in it, and a late connection goes back unused', async () => {
    const setup = new SqlAuthzStore({ url: db.url, tables })
    await setup.init()
    await setup.close()
    const mysql = await import('mysql2')
    // The app's pool: no queueLimit of its own, as mysql2's default.
    const pool = mysql.createPool({ uri: db.url, connectionLimit: 1 })
    const queued = () =>
      (pool as unknown as { _connectionQueue: { length: number } })._connectionQueue.length
    const store = new SqlAuthzStore({
      client: pool,
      tables,
      pool: { size: 2, maxWaiting: 2, acquireTimeoutMs: 200, queryTimeoutMs: 300 },
    })
    const held = await pool.promise().getConnection() // the app's long transaction
    try {
      for (let round = 0; round < 5; round += 1) {
        const results = await Promise.allSettled(
          Array.from({ length: 4 }, (_, n) => store.lookup('groups', `late-${round}-${n}`)),
        )
        expect(results.every((result) => result.status === 'rejected')).toBe(true)
        expect(queued()).toBeLessThanOrEqual(4) // size + maxWaiting
      }
    } finally {
      held.release()
    }
    // The connection passes through the waiters that gave up, each handing it back unused.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(queued()).toBe(0)
    expect(await store.lookup('groups', 'on-time')).toEqual([])
    await store.close()
    await new Promise<void>((resolve) => pool.end(() => resolve()))
  })
})

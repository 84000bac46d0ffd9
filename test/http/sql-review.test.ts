// SQL review fixes on the real servers: concurrent init(), mysql2's bounded queue, query passwords
// masked in the CLI's output and in the warning about a dropped idle connection.

import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { SqlAuthzStore } from '../../providers/sql/index.js'
import {
  dropTables,
  execute,
  sqlCli,
  testDatabases,
  uniqueTables,
  type TestDatabase,
} from '../helpers/sql.js'

type Callback = (error: unknown, result?: unknown) => void

/** The parts of a mysql2 callback pool (and its connections) this file reaches into. */
interface RawMysqlConnection {
  execute(options: unknown, values: unknown[], callback: Callback): unknown
  release(): void
}
interface RawMysqlPool {
  getConnection(callback: (error: unknown, connection: RawMysqlConnection) => void): void
}

// mysql2 as it is, except that the test keeps every pool the SQL store creates.
const { pools } = vi.hoisted(() => ({ pools: [] as RawMysqlPool[] }))
vi.mock('mysql2', async (importOriginal) => {
  const real = await importOriginal<Record<string, unknown> & { default: object }>()
  const createPool = (options: unknown) => {
    const pool = (real['createPool'] as (options: unknown) => RawMysqlPool)(options)
    pools.push(pool)
    return pool
  }
  return { ...real, createPool, default: { ...real.default, createPool } }
})

const databases = await testDatabases(['postgres', 'mariadb'])
const mariadb = databases.filter((db) => db.name === 'mariadb')
const postgres = databases.filter((db) => db.name === 'postgres')

/** `url` with `query` appended (the test URLs have no query of their own). */
function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`
}

describe.each(databases)('init() on $name', (db: TestDatabase) => {
  // Sessions that start `CREATE … IF NOT EXISTS` together: PostgreSQL's loser used to fail with
  // 23505 (pg_type or pg_class) or 42P07 instead of skipping.
  it('succeeds when several run it at the same moment, round after round', async () => {
    const failures: string[] = []
    for (let round = 0; round < 6; round += 1) {
      const tables = uniqueTables()
      const store = new SqlAuthzStore({ url: db.url, tables, pool: { size: 8, maxWaiting: 41 } })
      try {
        // Eight open connections first, so the eight init() calls start within a millisecond.
        await Promise.all(Array.from({ length: 8 }, () => store.ready()))
        const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.init()))
        for (const result of results) {
          if (result.status === 'rejected') failures.push(String(result.reason))
        }
        await store.grant('groups', 'alice', 'admin')
        expect(await store.lookup('groups', 'alice')).toEqual(['admin'])
      } finally {
        await dropTables(db.url, Object.values(tables))
        await store.close()
      }
    }
    expect(failures).toEqual([])
  }, 60_000)
})

describe.each(mariadb)('the mysql2 queue on $name', (db: TestDatabase) => {
  const tables = uniqueTables()

  afterAll(() => dropTables(db.url, Object.values(tables)))

  it('refuses lookups at once past its bound, and never runs one that timed out', async () => {
    const store = new SqlAuthzStore({
      url: db.url,
      tables,
      pool: { size: 1, maxWaiting: 1, acquireTimeoutMs: 2_000, queryTimeoutMs: 300 },
    })
    try {
      const before = pools.length
      await store.init()
      await store.grant('permissions', 'alice', 'orders:read')
      expect(pools.length).toBe(before + 1)
      const pool = pools[before]!

      // A stalled database: its only connection is taken, and never given back in time.
      const held = await new Promise<RawMysqlConnection>((resolve, reject) =>
        pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection))),
      )
      const queried: unknown[] = []
      const execute = held.execute.bind(held)
      held.execute = (options, values, callback) => {
        queried.push(...values)
        return execute(options, values, callback)
      }
      const outcomes: { reason: string; fast: boolean }[] = []
      for (const n of [1, 2, 3, 4]) {
        const started = performance.now()
        const reason = await store.lookup('permissions', `stale-${n}`).then(
          () => 'answered',
          (error: unknown) => String(error),
        )
        outcomes.push({ reason, fast: performance.now() - started < 200 })
      }

      held.release() // the database is back
      // A fresh lookup queues behind whatever is still in mysql2's queue, so once it is answered
      // every stale lookup has had its chance to run.
      expect(await store.lookup('permissions', 'alice')).toEqual(['orders:read'])
      const stale = queried.filter((value) => String(value).startsWith('stale-'))

      // The gate's deadline or the wait for a connection, whichever timer runs first.
      const timedOut = { reason: expect.stringMatching(/within 300 ms/), fast: false }
      const refused = { reason: expect.stringMatching(/Queue limit reached/), fast: true }
      expect({ outcomes, stale }).toEqual({
        // size 1 + maxWaiting 1: two wait in mysql2's queue; beyond them, refused at once.
        outcomes: [timedOut, timedOut, refused, refused],
        stale: [],
      })
      expect(store.load).toEqual({ active: 0, waiting: 0 })
    } finally {
      await store.close()
    }
  })
})

describe('a password in the URL’s query', () => {
  async function cli(args: string[]) {
    const { code, out, err } = await sqlCli(args)
    return { code, text: [out, err].filter((part) => part !== '').join('\n') }
  }

  it.each(databases)('never reaches the CLI’s output ($name)', async (db: TestDatabase) => {
    // pg reads `password` from the query; mysql2 ignores it there but reads `password1`.
    const parameter = db.name === 'postgres' ? 'password' : 'password1'
    const url = withQuery(db.url, `${parameter}=hunter2`)
    const missing = `${uniqueTables().groups}_missing`
    const { code, text } = await cli(['groups', 'alice', '--url', url, '--groups-table', missing])
    expect(code).toBe(1)
    expect(text).toContain(`${parameter}=***`)
    expect(text).not.toContain('hunter2')
  })

  it.each(postgres)(
    'never reaches the warning about a dropped idle connection ($name)',
    async (db: TestDatabase) => {
      const application = `review_${randomBytes(4).toString('hex')}`
      const lines: string[] = []
      const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) })
      const url = withQuery(db.url, `application_name=${application}&password=hunter2`)
      const store = new SqlAuthzStore({ url, logger })
      try {
        await store.ready() // one idle connection in the pool
        await execute(db.url, [
          `select pg_terminate_backend(pid) from pg_stat_activity where application_name = '${application}'`,
        ])
        await vi.waitFor(() => expect(lines.join('\n')).toContain('an idle SQL connection failed'))
        expect(lines.join('\n')).toContain('password=***')
        expect(lines.join('\n')).not.toContain('hunter2')
      } finally {
        await store.close()
      }
    },
  )
})

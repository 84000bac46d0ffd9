// SQL review 9 on PostgreSQL: a logger that is no logger cannot crash the app when an idle
// connection drops, and init()'s DDL is bounded by its own time-out, not the lookups'.

import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { SqlAuthzStore, SqlGroupsProvider } from '../../providers/sql/index.js'
import type { Logger } from '../../src/logger.js'
import { silentLogger } from '../../src/logger.js'
import { User } from '../../src/user.js'
import { dropTables, execute, testDatabases, uniqueTables } from '../helpers/sql.js'

const databases = await testDatabases(['postgres'])

const userNamed = (sub: string) =>
  new User({ provider: 'test', claims: { iss: 'https://idp', sub } }, { id: sub }, {})

function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`
}

/** Ends, from another session, every connection that says it is `applicationName`. */
async function dropConnections(url: string, applicationName: string): Promise<number> {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
    const { rows } = await admin.query(
      'select pg_terminate_backend(pid) as ended from pg_stat_activity where application_name = $1',
      [applicationName],
    )
    return rows.length
  } finally {
    await admin.end()
  }
}

// A logger whose every method throws, as a sink that fails would.
const throwingLogger = Object.assign(Object.create(silentLogger) as Logger, {
  warn: () => {
    throw new Error('the log sink is gone')
  },
})

describe.each(databases)('an idle connection dropped on $name', (db) => {
  const tables = uniqueTables()

  afterAll(() => dropTables(db.url, Object.values(tables)))

  it.each([
    ['false', false as const],
    ['a logger that throws', throwingLogger],
  ])('with logger %s: the app keeps running and the next lookup works', async (_, logger) => {
    const applicationName = `review9_${randomBytes(4).toString('hex')}`
    const source = new SqlGroupsProvider({
      url: withQuery(db.url, `application_name=${applicationName}`),
      tables,
      logger,
    })
    try {
      await source.store.init()
      await source.store.grant('groups', 'alice', 'admin')
      expect(await source.fetchGroups(userNamed('alice'))).toEqual(['admin'])
      expect(await dropConnections(db.url, applicationName)).toBeGreaterThan(0)
      // pg reports the dropped idle client on the pool's 'error' event, which calls the logger.
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(await source.fetchGroups(userNamed('alice'))).toEqual(['admin'])
    } finally {
      await source.close()
    }
  })
})

describe.each(databases)('init() on $name while another session locks the table', (db) => {
  const tables = uniqueTables()

  afterAll(() => dropTables(db.url, Object.values(tables)))

  /**
   * Creates the tables without the groups index, then locks the groups table for 1.5 s from
   * another session: the CREATE INDEX of the next init() waits for it, as it would index a large table.
   */
  async function lockedWithoutIndex(): Promise<{ released: Promise<void> }> {
    const setup = new SqlAuthzStore({ url: db.url, tables })
    await setup.init()
    await setup.close()
    await execute(db.url, [`drop index "${tables.groups}_lookup_idx"`])
    const holder = new pg.Client({ connectionString: db.url })
    await holder.connect()
    await holder.query('begin')
    await holder.query(`lock table "${tables.groups}" in access exclusive mode`)
    // Wrapped: an async function returning the promise itself would wait for it.
    const released = new Promise<void>((resolve) => {
      setTimeout(() => {
        void holder
          .query('commit')
          .then(() => holder.end())
          .then(resolve)
      }, 1_500)
    })
    return { released }
  }

  async function indexed(): Promise<boolean> {
    const [rows] = await execute(db.url, [
      `select 1 from pg_indexes where indexname = '${tables.groups}_lookup_idx'`,
    ])
    return rows!.length === 1
  }

  it('outlasts the lookups’ 300 ms time-out on its own pool', async () => {
    const { released } = await lockedWithoutIndex()
    const store = new SqlAuthzStore({ url: db.url, tables, pool: { queryTimeoutMs: 300 } })
    try {
      const started = performance.now()
      await store.init()
      expect(performance.now() - started).toBeGreaterThan(1_000) // it did wait for the lock
      expect(await indexed()).toBe(true)
    } finally {
      await released
      await store.close()
    }
  })

  it('outlasts the statement_timeout of an app’s pool, and leaves that setting as it was', async () => {
    const { released } = await lockedWithoutIndex()
    const pool = new pg.Pool({ connectionString: db.url, max: 1, statement_timeout: 400 })
    const store = new SqlAuthzStore({ client: pool, tables, pool: { queryTimeoutMs: 300 } })
    try {
      const started = performance.now()
      await store.init()
      expect(performance.now() - started).toBeGreaterThan(1_000) // it did wait for the lock
      expect(await indexed()).toBe(true)
      const { rows } = await pool.query('show statement_timeout')
      expect(rows).toEqual([{ statement_timeout: '400ms' }])
    } finally {
      await released
      await store.close()
      await pool.end()
    }
  })

  it('stops at init’s own timeoutMs', async () => {
    const { released } = await lockedWithoutIndex()
    const store = new SqlAuthzStore({ url: db.url, tables })
    try {
      await expect(store.init({ timeoutMs: 300 })).rejects.toThrow(/time-?out|within 300 ms/i)
    } finally {
      await released
      await store.close()
    }
  })
})

// SQL review 11, on the real databases: an app's pg Pool never leaves more than `size` lookups
// running on the server (a timed-out statement is cancelled there), init() and the command line
// wait for a SQLite file another connection holds locked while lookups keep their short wait, and
// every store on a shared pool hears of its idle connections failing.

import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import pg from 'pg'
import { pino } from 'pino'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { runCli } from '../../bin/dispatch.js'
import { sqlCommands } from '../../providers/sql/cli.js'
import { SqlAuthzStore, type SqlTableNames } from '../../providers/sql/index.js'
import { neverThrows } from '../../src/logger.js'
import { dropTables, execute, sqliteDatabase, testDatabases } from '../helpers/sql.js'

const databases = await testDatabases(['postgres'])
const postgres = databases.filter((db) => db.name === 'postgres')

/** Table names of this file's own: `r11drv<random>_groups`… */
function ownTables(): Required<SqlTableNames> {
  const prefix = `r11drv${randomBytes(4).toString('hex')}`
  return {
    groups: `${prefix}_groups`,
    roles: `${prefix}_roles`,
    permissions: `${prefix}_permissions`,
  }
}

function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`
}

describe.each(postgres)(
  'an app’s pg Pool while another session locks the table, on $name',
  (db) => {
    const tables = ownTables()
    afterAll(() => dropTables(db.url, Object.values(tables)))

    it('cancels each timed-out lookup on the server: never more than size of them run', async () => {
      const setup = new SqlAuthzStore({ url: db.url, tables })
      await setup.init()
      await setup.grant('groups', 'alice', 'admin')
      await setup.close()
      const appPool = new pg.Pool({ connectionString: db.url, max: 20 })
      const size = 2
      const store = new SqlAuthzStore({
        client: appPool,
        tables,
        pool: { size, queryTimeoutMs: 300, acquireTimeoutMs: 300 },
      })
      const admin = new pg.Client({ connectionString: db.url })
      const locker = new pg.Client({ connectionString: db.url })
      await admin.connect()
      await locker.connect()
      // The lookups' own backends: active, and running a statement on this file's table.
      const running = async () =>
        (
          await admin.query<{ n: number }>(
            `select count(*)::int as n from pg_stat_activity
           where state = 'active' and query like $1 and pid <> pg_backend_pid()`,
            [`%"${tables.groups}"%`],
          )
        ).rows[0]!.n
      try {
        // A migration's ALTER TABLE, a VACUUM FULL: the lookups wait for the lock on the server.
        await locker.query('begin')
        await locker.query(`lock table "${tables.groups}" in access exclusive mode`)
        const counts: number[] = []
        for (let round = 0; round < 4; round += 1) {
          const outcomes = await Promise.allSettled(
            Array.from({ length: 4 }, () => store.lookup('groups', 'alice')),
          )
          expect(outcomes.map((outcome) => outcome.status)).toEqual(Array(4).fill('rejected'))
          counts.push(await running())
        }
        // They used to pile up, two more each round (2, 4, 6, 8), until max_connections.
        expect(
          counts.every((count) => count <= size),
          `running per round: ${counts.join(', ')}`,
        ).toBe(true)
        await new Promise((resolve) => setTimeout(resolve, 700))
        expect(await running()).toBeLessThanOrEqual(size)

        await locker.query('rollback')
        expect(await store.lookup('groups', 'alice')).toEqual(['admin'])
        await vi.waitFor(async () => expect(await running()).toBe(0))
      } finally {
        await locker.query('rollback').catch(() => undefined)
        await store.close()
        await Promise.all([admin.end(), locker.end()])
        await appPool.end()
      }
    })
  },
)

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
    return { result: await work(), freezeMs }
  } finally {
    clearInterval(timer)
  }
}

describe('a SQLite file another connection holds in a write transaction', () => {
  const database = sqliteDatabase()
  const path = database.url.slice('sqlite:'.length)
  const holders: Database.Database[] = []

  /** Another connection takes the write lock (BEGIN IMMEDIATE plus a write) for `ms`. */
  function holdFor(ms: number): Promise<void> {
    const holder = new Database(path)
    holders.push(holder)
    holder.exec('create table if not exists r11drv_other (x integer)')
    holder.exec('begin immediate')
    holder.exec('insert into r11drv_other values (1)')
    return new Promise((resolve) =>
      setTimeout(() => {
        if (holder.open && holder.inTransaction) holder.exec('commit')
        resolve()
      }, ms),
    )
  }

  afterEach(() => {
    for (const holder of holders.splice(0)) {
      if (holder.inTransaction) holder.exec('rollback')
      holder.close()
    }
  })
  afterAll(() => database.cleanup())

  async function cli(args: string[]) {
    const out: string[] = []
    const err: string[] = []
    const started = performance.now()
    const code = await runCli(
      args,
      { out: (line) => void out.push(line), err: (line) => void err.push(line), env: {} },
      sqlCommands,
    )
    return { code, out: out.join('\n'), err: err.join('\n'), ms: performance.now() - started }
  }

  it('init() waits for the lock, up to its own time-out, without freezing the event loop', async () => {
    const tables = ownTables()
    const released = holdFor(1_000)
    const store = new SqlAuthzStore({ url: database.url, tables })
    try {
      const started = performance.now()
      // It used to fail after 50 ms with "database is locked", whatever its 600 s time-out.
      const { freezeMs } = await longestFreeze(() => store.init())
      expect(performance.now() - started).toBeGreaterThan(800)
      expect(freezeMs).toBeLessThan(300)
      await released
      expect(await store.grant('groups', 'alice', 'admin')).toBe(true)
      expect(await store.lookup('groups', 'alice')).toEqual(['admin'])
    } finally {
      await store.close()
    }
  })

  it('lookups on the same pool keep answering, at once, while init() waits for the lock', async () => {
    const tables = ownTables()
    const setup = new SqlAuthzStore({ url: database.url, tables })
    await setup.init()
    await setup.grant('groups', 'alice', 'admin')
    await setup.close()
    // A facet's table is missing (a new facet, a renamed table): init() has to write.
    const dropper = new Database(path)
    dropper.exec(`drop table "${tables.permissions}"`)
    dropper.close()
    const released = holdFor(2_000)
    const pool = { queryTimeoutMs: 1_000 }
    const store = new SqlAuthzStore({ url: database.url, tables, pool })
    const other = new SqlAuthzStore({ url: database.url, tables, pool }) // the same pool
    try {
      await store.ready()
      let initDone = false
      const init = store.init().finally(() => {
        initDone = true
      })
      await new Promise((resolve) => setTimeout(resolve, 50))
      const slowest: number[] = []
      for (let round = 0; round < 5; round += 1) {
        const started = performance.now()
        // Each used to wait behind init() for the one connection and fail at 1000 ms.
        const answers = await Promise.all([
          store.lookup('groups', 'alice'),
          other.lookup('groups', 'alice'),
          store.lookup('groups', 'alice'),
        ])
        slowest.push(performance.now() - started)
        expect(answers).toEqual([['admin'], ['admin'], ['admin']])
        // Only init() holds a slot of the gate: no lookup is left stuck behind it.
        expect(store.load).toEqual({ active: 1, waiting: 0 })
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(Math.max(...slowest), `slowest per round: ${slowest.join(', ')}`).toBeLessThan(500)
      expect(initDone).toBe(false) // it was still waiting for the lock all along
      await released
      await init
      expect(await store.grant('permissions', 'alice', 'orders:read')).toBe(true)
      expect(await other.lookup('permissions', 'alice')).toEqual(['orders:read'])
    } finally {
      await Promise.all([store.close(), other.close()])
    }
  })

  it('init() still gives up at its time-out', async () => {
    const tables = ownTables()
    const released = holdFor(1_500)
    const store = new SqlAuthzStore({ url: database.url, tables })
    try {
      const started = performance.now()
      await expect(store.init({ timeoutMs: 300 })).rejects.toThrow(
        /did not answer within 300 ms|database is locked/,
      )
      expect(performance.now() - started).toBeLessThan(1_000)
    } finally {
      await released
      await store.close()
    }
  })

  it('a lookup still fails at once while the file is locked', async () => {
    const tables = ownTables()
    const setup = new SqlAuthzStore({ url: database.url, tables })
    await setup.init()
    await setup.close()
    const holder = new Database(path)
    holders.push(holder)
    holder.exec('begin exclusive') // readers wait too
    const store = new SqlAuthzStore({ url: database.url, tables, pool: { queryTimeoutMs: 2_000 } })
    try {
      const started = performance.now()
      await expect(store.lookup('groups', 'alice')).rejects.toThrow(/database is locked/)
      expect(performance.now() - started).toBeLessThan(500)
    } finally {
      await store.close()
    }
  })

  it('the command line waits for the lock up to --timeout: sql init, grant, revoke', async () => {
    const tables = ownTables()
    const flags = [
      '--url',
      database.url,
      '--groups-table',
      tables.groups,
      '--roles-table',
      tables.roles,
      '--permissions-table',
      tables.permissions,
    ]
    let released = holdFor(1_000)
    const init = await cli(['sql', 'init', ...flags])
    expect(init).toMatchObject({ code: 0, err: '' })
    expect(init.out).toContain('tables ready in')
    expect(init.ms).toBeGreaterThan(800)
    await released

    released = holdFor(1_000)
    // Each used to exit 1 after about 60 ms: "database is locked".
    const grant = await cli(['grant', 'group', 'alice', 'admin', ...flags])
    expect(grant).toMatchObject({ code: 0, out: 'granted groups admin to alice', err: '' })
    expect(grant.ms).toBeGreaterThan(800)
    await released

    released = holdFor(1_000)
    const revoke = await cli(['revoke', 'group', 'alice', 'admin', ...flags])
    expect(revoke).toMatchObject({ code: 0, out: 'revoked groups admin from alice', err: '' })
    await released

    released = holdFor(2_000)
    const late = await cli(['grant', 'group', 'alice', 'admin', ...flags, '--timeout', '0.4'])
    expect(late.code).toBe(1)
    expect(late.err).toMatch(/did not answer within 400 ms|database is locked/)
    expect(late.ms).toBeLessThan(1_500)
    await released
    expect(await cli(['groups', 'alice', ...flags])).toMatchObject({ code: 0, out: '' })
  })
})

describe.each(postgres)('stores sharing one pool, on $name', (db) => {
  it('tell every store’s logger, once each, of an idle connection that failed', async () => {
    const application = `r11drv_${randomBytes(4).toString('hex')}`
    const url = withQuery(db.url, `application_name=${application}`)
    const sink = () => {
      const lines: string[] = []
      const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) })
      const warnings = () =>
        lines.filter((line) => line.includes('an idle SQL connection failed')).length
      return { logger, warnings }
    }
    const app = sink()
    const other = sink()
    const appLogger = neverThrows(app.logger) // as fromEnv() hands it to each of its sources
    const terminate = () =>
      execute(db.url, [
        `select pg_terminate_backend(pid) from pg_stat_activity where application_name = '${application}'`,
      ])
    // A grant helper or health check, built first, with no logger; then the app's sources.
    const helper = new SqlAuthzStore({ url })
    const groups = new SqlAuthzStore({ url, logger: appLogger })
    // The same logger given raw, as an app passes its pino logger to each store: still told once.
    const roles = new SqlAuthzStore({ url, logger: app.logger })
    const audit = new SqlAuthzStore({ url, logger: other.logger })
    const stores = [helper, groups, roles, audit]
    try {
      for (const store of stores) await store.ready()
      // Still one pool: its one idle connection served every ready().
      const [rows] = await execute(db.url, [
        `select count(*)::int as n from pg_stat_activity where application_name = '${application}'`,
      ])
      expect(rows).toEqual([{ n: 1 }])

      await terminate()
      // The app's logger used to hear nothing: the pool logged to the helper's (none).
      await vi.waitFor(() => {
        expect(app.warnings()).toBe(1)
        expect(other.warnings()).toBe(1)
      })

      // A store that closed is no longer told; the others still are.
      await audit.close()
      await groups.ready()
      await terminate()
      await vi.waitFor(() => expect(app.warnings()).toBe(2))
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(other.warnings()).toBe(1)
      expect(app.warnings()).toBe(2)
    } finally {
      await Promise.all(stores.map((store) => store.close()))
    }
  })
})

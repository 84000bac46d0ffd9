// SQL review 9 on MariaDB: no key or value becomes SQL text that a NO_BACKSLASH_ESCAPES server or a
// latin1 connection reads differently, the unique index still serves lookups, and init()'s DDL
// waits longer than a lookup.

import { Kysely, MysqlDialect, type LogEvent } from 'kysely'
import mysql from 'mysql2'
import { afterAll, describe, expect, it } from 'vitest'
import { SqlAuthzStore, SqlGroupsProvider } from '../../providers/sql/index.js'
import { User } from '../../src/user.js'
import {
  dropTables,
  execute,
  testDatabases,
  uniqueTables,
  type TestDatabase,
} from '../helpers/sql.js'

const databases = await testDatabases(['mariadb'])

const userNamed = (sub: string) =>
  new User({ provider: 'test', claims: { iss: 'https://idp', sub } }, { id: sub }, {})

// `superuser`, written so that only SQL the key broke out into could produce it.
const INJECTIONS = [
  "' union select convert(0x737570657275736572 using utf8mb4) -- ",
  "\\' union select convert(0x737570657275736572 using utf8mb4) -- ",
  "x' or 'a'='a",
  "\\' OR 1=1 -- ",
  "'; drop table authz_groups; -- ",
]

/** A mysql2 pool whose sessions read backslashes literally, as NO_BACKSLASH_ESCAPES servers do. */
function noBackslashPool(db: TestDatabase, options: mysql.PoolOptions = {}): mysql.Pool {
  const pool = mysql.createPool({ uri: db.url, connectionLimit: 2, ...options })
  pool.on('connection', (connection) => {
    connection.query("set session sql_mode = concat(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
  })
  return pool
}

function endPool(pool: mysql.Pool): Promise<void> {
  return new Promise((resolve) => pool.end(() => resolve()))
}

/** The rows of a table as they are stored, read over a utf8mb4 connection. */
async function storedRows(db: TestDatabase, table: string): Promise<unknown[]> {
  const [rows] = await execute(db.url, [
    `select username, \`group\` from \`${table}\` order by username, \`group\``,
  ])
  return rows!
}

describe.each(databases)('a Kysely instance over mysql2, NO_BACKSLASH_ESCAPES, on $name', (db) => {
  const tables = uniqueTables()
  const pool = noBackslashPool(db)
  const kysely = new Kysely<unknown>({ dialect: new MysqlDialect({ pool }) })

  afterAll(async () => {
    await dropTables(db.url, Object.values(tables))
    await kysely.destroy()
  })

  it('lets no key break out of its string into the SQL', async () => {
    const source = new SqlGroupsProvider({ client: kysely, tables })
    try {
      await source.store.init()
      await source.store.grant('groups', 'alice', 'admin')
      for (const key of INJECTIONS) {
        expect(await source.fetchGroups(userNamed(key)), key).toEqual([])
      }
      expect(await source.fetchGroups(userNamed('alice'))).toEqual(['admin'])
    } finally {
      await source.close()
    }
  })

  it('grants, finds and revokes quotes and backslashes as written', async () => {
    const store = new SqlAuthzStore({ client: kysely, tables })
    try {
      await store.init()
      const rows: [string, string][] = [
        ["o'brien", "it's"],
        ['back\\slash', "q\\'uote"],
        ['"dq"', 'x\\'],
      ]
      for (const [user, value] of rows) expect(await store.grant('groups', user, value)).toBe(true)
      for (const [user, value] of rows) {
        expect(await store.lookup('groups', user)).toEqual([value])
      }
      expect(await storedRows(db, tables.groups)).toEqual(
        expect.arrayContaining(rows.map(([username, group]) => ({ username, group }))),
      )
      expect(await store.revoke('groups', "o'brien", "it's")).toBe(1)
      expect(await store.lookup('groups', "o'brien")).toEqual([])
    } finally {
      await store.close()
    }
  })
})

describe.each(databases)('a client whose connection charset is latin1, on $name', (db) => {
  const tables = uniqueTables()
  const latin1 = mysql.createPool({ uri: db.url, connectionLimit: 2, charset: 'latin1' })
  const kysely = new Kysely<unknown>({
    dialect: new MysqlDialect({
      pool: mysql.createPool({ uri: db.url, connectionLimit: 2, charset: 'latin1' }),
    }),
  })

  afterAll(async () => {
    await dropTables(db.url, Object.values(tables))
    await endPool(latin1)
    await kysely.destroy()
  })

  it.each([
    ['a mysql2 pool', () => latin1],
    ['a Kysely instance', () => kysely],
  ])('through %s: never takes ŲůůŴ for root, and keeps Łukasz as written', async (_, client) => {
    const admin = new SqlAuthzStore({ url: db.url, tables })
    const app = new SqlAuthzStore({ client: client(), tables })
    try {
      await admin.init()
      await admin.grant('groups', 'root', 'admin')
      // mysql2 would send each UTF-16 unit's low byte: ŲůůŴ as root, šoot as aoot.
      for (const key of ['ŲůůŴ', 'ŲŏŏŴ', 'šoot']) {
        expect(await app.lookup('groups', key), key).toEqual([])
      }
      expect(await app.lookup('groups', 'root')).toEqual(['admin'])

      await app.grant('groups', 'Łukasz', 'Łgroup')
      await app.grant('groups', 'Łukasz', 'team😀')
      expect(await admin.lookup('groups', 'Łukasz')).toEqual(['team😀', 'Łgroup'])
      expect(await app.lookup('groups', 'Łukasz')).toEqual(['team😀', 'Łgroup'])
      expect(await app.lookup('groups', 'Aukasz')).toEqual([])
      expect(await app.revoke('groups', 'Łukasz', 'team😀')).toBe(1)
      expect(await app.revoke('groups', 'Łukasz', 'Łgroup')).toBe(1)
      expect(await storedRows(db, tables.groups)).toEqual([{ username: 'root', group: 'admin' }])
    } finally {
      await app.close()
      await admin.close()
      await execute(db.url, [`delete from \`${tables.groups}\``])
    }
  })
})

describe.each(databases)('the lookup on $name', (db) => {
  const tables = uniqueTables()
  const appTable = `${uniqueTables().groups}_ci`
  const queries: { sql: string; parameters: readonly unknown[] }[] = []
  const kysely = new Kysely<unknown>({
    dialect: new MysqlDialect({ pool: mysql.createPool({ uri: db.url, connectionLimit: 1 }) }),
    log: (event: LogEvent) => {
      if (event.level === 'query') queries.push(event.query)
    },
  })

  afterAll(async () => {
    await dropTables(db.url, [...Object.values(tables), appTable])
    await kysely.destroy()
  })

  /** The plan MariaDB makes for the lookup the store sends for `key`. */
  async function lookupPlan(store: SqlAuthzStore, key: string): Promise<unknown[]> {
    queries.length = 0
    await store.lookup('groups', key)
    const lookup = queries.find((query) => query.sql.startsWith('select distinct hex('))
    expect(lookup).toBeDefined()
    // Nothing is bound: the key is a hexadecimal literal, the same in every mode and charset.
    expect(lookup!.parameters).toEqual([])
    expect(lookup!.sql).not.toContain(key)
    const [plan] = await execute(db.url, [`explain ${lookup!.sql}`])
    return plan!
  }

  it('is served by the unique index, on the tables sql init makes and on an app’s own', async () => {
    const store = new SqlAuthzStore({ client: kysely, tables })
    await execute(db.url, [
      `create table ${appTable} (username varchar(500) not null, \`group\` varchar(100) not null) character set utf8mb4 collate utf8mb4_unicode_ci`,
      `create unique index ${appTable}_idx on ${appTable} (username, \`group\`)`,
      `insert into ${appTable} select concat('user', seq), 'g' from seq_1_to_2000`,
      `analyze table ${appTable}`,
    ])
    const own = new SqlAuthzStore({
      client: kysely,
      tables: { groups: appTable },
      columns: { id: null },
    })
    try {
      await store.init()
      for (let i = 0; i < 50; i += 1) await store.grant('groups', `user${i}`, 'g')
      await execute(db.url, [`analyze table \`${tables.groups}\``])
      expect(await lookupPlan(store, 'user7')).toEqual([
        expect.objectContaining({ key: `${tables.groups}_lookup_idx` }),
      ])
      expect(await lookupPlan(own, 'user7')).toEqual([
        expect.objectContaining({ key: `${appTable}_idx` }),
      ])
      expect(await own.lookup('groups', 'USER7')).toEqual([])
      expect(await own.lookup('groups', 'user7')).toEqual(['g'])
    } finally {
      await own.close()
      await store.close()
    }
  })
})

describe.each(databases)('init() on $name while another session holds the table', (db) => {
  const tables = uniqueTables()

  afterAll(() => dropTables(db.url, Object.values(tables)))

  // CREATE INDEX on a large table, or behind another session's lock, outlasts a lookup's time-out.
  it('waits past the lookups’ query time-out for its CREATE INDEX', async () => {
    const setup = new SqlAuthzStore({ url: db.url, tables })
    await setup.init()
    await execute(db.url, [`drop index \`${tables.groups}_lookup_idx\` on \`${tables.groups}\``])
    await setup.close()

    const holder = mysql.createConnection({ uri: db.url })
    await holder.promise().query(`lock tables \`${tables.groups}\` write`)
    const released = new Promise<void>((resolve) => {
      setTimeout(() => {
        void holder
          .promise()
          .query('unlock tables')
          .then(() => holder.promise().end())
          .then(resolve)
      }, 1_500)
    })
    const store = new SqlAuthzStore({ url: db.url, tables, pool: { queryTimeoutMs: 300 } })
    try {
      const started = performance.now()
      await store.init()
      expect(performance.now() - started).toBeGreaterThan(1_000) // it did wait for the lock
      await released
      const [indexes] = await execute(db.url, [`show index from \`${tables.groups}\``])
      expect(indexes).toContainEqual(
        expect.objectContaining({ Key_name: `${tables.groups}_lookup_idx` }),
      )
    } finally {
      await released
      await store.close()
    }
  })
})

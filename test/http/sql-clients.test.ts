// Handles the app already has (pg, mysql2, better-sqlite3, Kysely), and the seed's own tables.

import Database from 'better-sqlite3'
import { Kysely, PostgresDialect } from 'kysely'
import mysql from 'mysql2'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { SqlAuthzStore, SqlPermissionsProvider } from '../../providers/sql/index.js'
import { User } from '../../src/user.js'
import {
  dropTables,
  execute,
  testDatabases,
  uniqueTables,
  type TestDatabase,
} from '../helpers/sql.js'

const databases = await testDatabases()

const userNamed = (sub: string) =>
  new User({ provider: 'test', claims: { iss: 'https://idp', sub } }, { id: sub }, {})

/** The seed's SQLAlchemy model: a KSUID id with no database default, no index, no unique key. */
function seedTables(db: TestDatabase, groups: string, permissions: string): string[] {
  const q = db.name === 'mariadb' ? '`' : '"'
  // MariaDB's usual case-insensitive collation, as SQLAlchemy leaves it.
  const tail = db.name === 'mariadb' ? ' character set utf8mb4 collate utf8mb4_general_ci' : ''
  return [
    `create table ${q}${groups}${q} (${q}id${q} varchar(27) primary key, ${q}username${q} varchar(500) not null, ${q}group${q} varchar(100) not null)${tail}`,
    `create table ${q}${permissions}${q} (${q}id${q} varchar(27) primary key, ${q}username${q} varchar(500) not null, ${q}permission${q} varchar(100) not null)${tail}`,
    `insert into ${q}${groups}${q} values ('2ZJ9tKqHnVbm6pMh1Zu5Rq1Hqk7', 'alice', 'admin')`,
  ]
}

describe.each(databases)('$name', (db: TestDatabase) => {
  const tables = uniqueTables()

  afterAll(async () => {
    await dropTables(db.url, Object.values(tables))
    db.cleanup()
  })

  it('works on the seed’s tables as they are: lookups, grants with KSUIDs, exact matching', async () => {
    await execute(db.url, seedTables(db, tables.groups, tables.permissions))
    const store = new SqlAuthzStore({ url: db.url, tables })
    try {
      expect(await store.lookup('groups', 'alice')).toEqual(['admin'])
      expect(await store.grant('permissions', 'alice', 'orders:read')).toBe(true)
      expect(await store.grant('permissions', 'alice', 'orders:read')).toBe(false)
      expect(await store.lookup('permissions', 'alice')).toEqual(['orders:read'])
      const q = db.name === 'mariadb' ? '`' : '"'
      const [ids] = await execute(db.url, [
        `select ${q}id${q} as id from ${q}${tables.permissions}${q}`,
      ])
      expect(ids).toEqual([{ id: expect.stringMatching(/^[0-9A-Za-z]{27}$/) }])
      // Even on a case-insensitive, space-padding collation, only the exact key matches.
      for (const key of ['ALICE', 'Alice', 'alice ', 'alice\t']) {
        expect(await store.lookup('groups', key), JSON.stringify(key)).toEqual([])
        expect(await store.revoke('groups', key, 'admin')).toBe(0)
      }
      expect(await store.lookup('groups', 'alice')).toEqual(['admin'])
    } finally {
      await store.close()
    }
  })

  it('uses a handle the app already has, and leaves it open on close', async () => {
    const own = uniqueTables()
    const { client, check, end } = appClient(db)
    const source = new SqlPermissionsProvider({ client, tables: own })
    try {
      await source.store.init()
      await source.store.grant('permissions', 'alice', 'orders:read')
      expect(await source.fetchPermissions(userNamed('alice'))).toEqual(['orders:read'])
      await source.close()
      await check() // still usable by the app
    } finally {
      await source.close()
      await dropTables(db.url, Object.values(own))
      await end()
    }
  })
})

describe.each(databases.filter((db) => db.name === 'postgres'))(
  '$name only',
  (db: TestDatabase) => {
    it('uses a Kysely instance the app already has', async () => {
      const own = uniqueTables()
      const pool = new pg.Pool({ connectionString: db.url, max: 2 })
      const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
      const source = new SqlPermissionsProvider({ client: kysely, tables: own })
      try {
        expect(source.store.dialect).toBe('postgres')
        await source.store.init()
        await source.store.grant('permissions', 'bob', 'reports:read')
        expect(await source.fetchPermissions(userNamed('bob'))).toEqual(['reports:read'])
        await source.close()
        expect((await pool.query('select 1 as one')).rows).toEqual([{ one: 1 }])
      } finally {
        await dropTables(db.url, Object.values(own))
        await kysely.destroy()
      }
    })
  },
)

describe.each(databases.filter((db) => db.name === 'mariadb'))('$name only', (db: TestDatabase) => {
  it('keeps values out of the SQL text even when the server reads backslashes literally', async () => {
    const own = uniqueTables()
    // NO_BACKSLASH_ESCAPES breaks escaping by backslash; prepared statements do not care.
    const pool = mysql.createPool({ uri: db.url, connectionLimit: 1 })
    pool.on('connection', (connection) => {
      connection.query("set session sql_mode = concat(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
    })
    const source = new SqlPermissionsProvider({ client: pool, tables: own })
    try {
      await source.store.init()
      await source.store.grant('permissions', 'alice', 'orders:read')
      for (const sub of ["\\' OR 1=1 -- ", "x\\' OR \\'1\\'=\\'1", "\\'; DROP TABLE t; -- "]) {
        expect(await source.fetchPermissions(userNamed(sub)), sub).toEqual([])
      }
      expect(await source.fetchPermissions(userNamed('alice'))).toEqual(['orders:read'])
    } finally {
      await source.close()
      await dropTables(db.url, Object.values(own))
      await new Promise<void>((resolve) => pool.end(() => resolve()))
    }
  })
})

/** A handle of the kind an app of this dialect would have, a check that it still works, and its end. */
function appClient(db: TestDatabase): {
  client: object
  check: () => Promise<void>
  end: () => Promise<void>
} {
  if (db.name === 'postgres') {
    const pool = new pg.Pool({ connectionString: db.url, max: 2 })
    return {
      client: pool,
      check: async () => void expect((await pool.query('select 1 as one')).rows).toHaveLength(1),
      end: () => pool.end(),
    }
  }
  if (db.name === 'mariadb') {
    const pool = mysql.createPool({ uri: db.url, connectionLimit: 2 }).promise()
    return {
      client: pool,
      check: async () => void expect((await pool.query('select 1 as one'))[0]).toHaveLength(1),
      end: () => pool.end(),
    }
  }
  const database = new Database(db.url.slice('sqlite:'.length))
  return {
    client: database,
    check: async () => void expect(database.prepare('select 1 as one').all()).toHaveLength(1),
    end: async () => void database.close(),
  }
}

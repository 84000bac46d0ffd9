// SQL review 9b on the real servers: a grant to a column that stores another key than the one
// given (an integer column's 7 for `007`, SQLite's float for a 21-digit id) fails and is rolled
// back; a key a latin1 column cannot hold is in no row; a SQLite float is no key's.

import { randomBytes } from 'node:crypto'
import mysql from 'mysql2'
import { Kysely, MysqlDialect } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { SqlAuthzStore } from '../../providers/sql/index.js'
import { dropTables, execute, testDatabases, type TestDatabase } from '../helpers/sql.js'

const databases = await testDatabases()
const mariadb = databases.filter((db) => db.name === 'mariadb')
const sqlite = databases.filter((db) => db.name === 'sqlite')

const CHANGED = /does not keep the user or the value as given.*store ids in a text column/

afterAll(() => {
  for (const db of databases) db.cleanup()
})

/** `table(username <user>, "group" <value>)` with a unique index, as an app might have made it. */
function appTable(db: TestDatabase, name: string, user: string, value = 'varchar(100)'): string[] {
  const q = db.name === 'mariadb' ? '`' : '"'
  return [
    `create table ${name} (username ${user} not null, ${q}group${q} ${value} not null)`,
    `create unique index ${name}_idx on ${name} (username, ${q}group${q})`,
  ]
}

function storeOn(db: TestDatabase | { client: Kysely<unknown> }, table: string): SqlAuthzStore {
  const where = 'client' in db ? { client: db.client } : { url: db.url }
  return new SqlAuthzStore({ ...where, tables: { groups: table }, columns: { id: null } })
}

describe.each(databases)('a user column of a number type on $name', (db: TestDatabase) => {
  const created: string[] = []
  const table = async (user: string) => {
    const name = `r9b${randomBytes(5).toString('hex')}`
    created.push(name)
    await execute(db.url, appTable(db, name, user))
    return name
  }
  afterAll(() => dropTables(db.url, created))

  it('fails a grant of 007 (stored as 7, user 7’s key) and keeps nothing of it', async () => {
    const name = await table('integer')
    const store = storeOn(db, name)
    try {
      await expect(store.grant('groups', '007', 'admin')).rejects.toThrow(CHANGED)
      expect(await store.lookup('groups', '007')).toEqual([])
      expect(await store.lookup('groups', '7')).toEqual([])
      expect(await execute(db.url, [`select * from ${name}`])).toEqual([[]])
      // Again: the same cause, not a unique index's.
      await expect(store.grant('groups', '007', 'admin')).rejects.toThrow(CHANGED)
    } finally {
      await store.close()
    }
  })

  it('a grant of 007 beside user 7’s row names the number type among the causes', async () => {
    const name = await table('integer')
    await execute(db.url, [`insert into ${name} values (7, 'admin')`])
    const store = storeOn(db, name)
    try {
      const refused = store.grant('groups', '007', 'admin')
      await expect(refused).rejects.toThrow(/number type, in its digits \(007 and 7\)/)
      await expect(refused).rejects.toThrow(/not a number type|not INTEGER/)
      expect(await store.lookup('groups', '7')).toEqual(['admin'])
      expect(await store.lookup('groups', '007')).toEqual([])
      expect(await store.grant('groups', '7', 'ops')).toBe(true)
      expect(await store.lookup('groups', '7')).toEqual(['admin', 'ops'])
    } finally {
      await store.close()
    }
  })

  it('a grant the column keeps as given still succeeds, and is committed', async () => {
    const name = await table('varchar(500)')
    const store = storeOn(db, name)
    try {
      expect(await store.grant('groups', '007', 'admin')).toBe(true)
      expect(await store.grant('groups', '007', 'admin')).toBe(false)
      expect(await execute(db.url, [`select username from ${name}`])).toEqual([
        [{ username: '007' }],
      ])
    } finally {
      await store.close()
    }
  })
})

describe.each(sqlite)('a SQLite id too large for an integer, stored as a float', (db) => {
  const created: string[] = []
  afterAll(() => dropTables(db.url, created))
  const table = async () => {
    const name = `r9b${randomBytes(5).toString('hex')}`
    created.push(name)
    await execute(db.url, appTable(db, name, 'bigint', 'text'))
    return name
  }

  it('fails its grant: the row would be stored as a rounded float', async () => {
    const name = await table()
    const store = storeOn(db, name)
    try {
      await expect(store.grant('groups', '109876543210987654321', 'admin')).rejects.toThrow(CHANGED)
      expect(await execute(db.url, [`select * from ${name}`])).toEqual([[]])
    } finally {
      await store.close()
    }
  })

  it('is found by no key, not even its text form (1.0987654321098765e+20)', async () => {
    const name = await table()
    await execute(db.url, [`insert into ${name} values ('109876543210987654321', 'admin')`])
    const [[row]] = (await execute(db.url, [
      `select cast(username as text) as t, typeof(username) as ty from ${name}`,
    ])) as [[{ t: string; ty: string }]]
    expect(row.ty).toBe('real')
    const store = storeOn(db, name)
    try {
      expect(await store.lookup('groups', row.t)).toEqual([])
      expect(await store.revoke('groups', row.t, 'admin')).toBe(0)
    } finally {
      await store.close()
    }
  })
})

describe.each(mariadb)('a latin1 table on MariaDB', (db: TestDatabase) => {
  const name = `r9b${randomBytes(5).toString('hex')}`
  const pool = mysql.createPool({ uri: db.url, connectionLimit: 1 })
  // sql_mode '': latin1 would store Łukasz as ?ukasz rather than refuse it.
  pool.on('connection', (connection) => void connection.query("set session sql_mode = ''"))
  const client = new Kysely<unknown>({ dialect: new MysqlDialect({ pool }) })

  afterAll(async () => {
    await client.destroy()
    await dropTables(db.url, [name])
  })

  it('answers [] and 0 for a key latin1 cannot hold, and refuses to grant it', async () => {
    await execute(db.url, [
      ...appTable(
        db,
        name,
        'varchar(100) character set latin1',
        'varchar(100) character set latin1',
      ),
      `insert into ${name} values ('root', 'admin'), ('José', 'staff')`,
    ])
    for (const store of [storeOn(db, name), storeOn({ client }, name)]) {
      try {
        expect(await store.lookup('groups', 'Łukasz')).toEqual([])
        expect(await store.lookup('groups', 'José')).toEqual(['staff'])
        expect(await store.revoke('groups', 'Łukasz', 'admin')).toBe(0)
        expect(await store.revoke('groups', 'root', 'Łukasz')).toBe(0)
        await expect(store.grant('groups', 'Łukasz', 'admin')).rejects.toThrow(
          /character set of r9b\w+'s columns cannot hold this user or value/,
        )
        expect(await store.lookup('groups', '?ukasz')).toEqual([])
      } finally {
        await store.close()
      }
    }
  })
})

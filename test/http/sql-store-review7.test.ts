// SQL store review 7 on the real servers: exact keys, values and grants on tables the app made with
// loose columns (citext and case-insensitive ICU on PostgreSQL, NOCASE on SQLite, MariaDB's usual
// collations and latin1), and the same lookup answer on every dialect.

import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { SqlAuthzStore } from '../../providers/sql/index.js'
import { dropTables, execute, testDatabases, type TestDatabase } from '../helpers/sql.js'

const databases = await testDatabases()
const mariadb = databases.filter((db) => db.name === 'mariadb')

// A nondeterministic ICU collation that ignores case, as an app might give its PostgreSQL columns.
const PG_CI_COLLATION = 'oidc_guard_ci_review7'

/** A name no other test uses. */
function tableName(): string {
  return `r7${randomBytes(5).toString('hex')}`
}

/** The statements creating `table(username, value)` with columns that compare loosely. */
function looseTable(db: TestDatabase, table: string, unique: boolean): string[] {
  const index = unique ? [`create unique index ${table}_idx on ${table} (username, value)`] : []
  if (db.name === 'postgres') {
    return [
      'create extension if not exists citext',
      `do $$ begin create collation if not exists ${PG_CI_COLLATION} (provider = icu, locale = 'und-u-ks-level2', deterministic = false); exception when unique_violation or duplicate_object then null; end $$`,
      `create table ${table} (username citext not null, value text collate ${PG_CI_COLLATION} not null)`,
      ...index,
    ]
  }
  if (db.name === 'mariadb') {
    return [
      `create table ${table} (username varchar(500) not null, value varchar(100) not null) character set utf8mb4 collate utf8mb4_general_ci`,
      ...index,
    ]
  }
  return [
    `create table ${table} (username text collate nocase not null, value text collate nocase not null)`,
    ...index,
  ]
}

function insert(table: string, rows: readonly (readonly [string, string])[]): string {
  const quote = (text: string) => `'${text.replaceAll("'", "''")}'`
  return `insert into ${table} (username, value) values ${rows.map(([user, value]) => `(${quote(user)}, ${quote(value)})`).join(', ')}`
}

function storeOn(db: TestDatabase, table: string, maxValues?: number): SqlAuthzStore {
  return new SqlAuthzStore({
    url: db.url,
    tables: { groups: table },
    columns: { user: 'username', id: null, groups: 'value' },
    ...(maxValues === undefined ? {} : { maxValues }),
  })
}

afterAll(() => {
  for (const db of databases) db.cleanup()
})

describe.each(databases)('loose columns on $name', (db: TestDatabase) => {
  const created: string[] = []
  const table = (unique: boolean) => {
    const name = tableName()
    created.push(name)
    return execute(db.url, looseTable(db, name, unique)).then(() => name)
  }

  afterAll(() => dropTables(db.url, created))

  it('answers every value differing in any byte, once, in code point order', async () => {
    const name = await table(false)
    await execute(db.url, [
      insert(name, [
        ['alice', 'admin'],
        ['alice', 'Admin'],
        ['alice', 'admin '],
        ['alice', 'ADMIN'],
        ['alice', 'admin'], // an exact duplicate
        ['alice', 'élan'],
        ['alice', 'e\u0301lan'],
        ['alice', '\u{1F600}'],
        ['alice', '\u{1F601}'], // equal to U+1F600 under utf8mb4_general_ci
        ['alice', '\uFF21'], // before U+1F600 by code point, after it by UTF-16 code unit
        ['alice', 'b'],
        ['alice', 'B'],
        ['Alice', 'upper'],
      ]),
    ])
    const store = storeOn(db, name)
    try {
      expect(await store.lookup('groups', 'alice')).toEqual([
        'ADMIN',
        'Admin',
        'B',
        'admin',
        'admin ',
        'b',
        'e\u0301lan',
        'élan',
        '\uFF21',
        '\u{1F600}',
        '\u{1F601}',
      ])
      expect(await store.lookup('groups', 'Alice')).toEqual(['upper'])
    } finally {
      await store.close()
    }
  })

  it('counts maxValues over the exact values, not the ones the collation folds together', async () => {
    const name = await table(false)
    await execute(db.url, [
      insert(name, [
        ['alice', 'admin'],
        ['alice', 'Admin'],
        ['alice', 'ADMIN'],
        ['alice', 'admin '],
        ['bob', 'admin'],
        ['bob', 'Admin'],
        ['bob', 'ADMIN'],
      ]),
    ])
    const store = storeOn(db, name, 3)
    try {
      await expect(store.lookup('groups', 'alice')).rejects.toThrow(/more than 3 groups/)
      expect(await store.lookup('groups', 'bob')).toEqual(['ADMIN', 'Admin', 'admin'])
    } finally {
      await store.close()
    }
  })

  it('matches, revokes and grants by the exact key, never one equal only to the collation', async () => {
    const name = await table(false)
    await execute(db.url, [insert(name, [['admin@example.com', 'admin']])])
    const store = storeOn(db, name)
    try {
      for (const key of ['ADMIN@example.com', 'Admin@Example.com', 'admin@example.com ']) {
        expect(await store.lookup('groups', key), JSON.stringify(key)).toEqual([])
        expect(await store.revoke('groups', key, 'admin'), JSON.stringify(key)).toBe(0)
      }
      expect(await store.revoke('groups', 'admin@example.com', 'ADMIN')).toBe(0)
      expect(await store.lookup('groups', 'admin@example.com')).toEqual(['admin'])
      // Without a unique index the exact row is added beside the loosely equal one.
      expect(await store.grant('groups', 'ADMIN@example.com', 'admin')).toBe(true)
      expect(await store.lookup('groups', 'ADMIN@example.com')).toEqual(['admin'])
      expect(await store.revoke('groups', 'admin@example.com', 'admin')).toBe(1)
      expect(await store.lookup('groups', 'ADMIN@example.com')).toEqual(['admin'])
    } finally {
      await store.close()
    }
  })

  it('fails a grant its case-insensitive unique index refuses, instead of reporting it held', async () => {
    const name = await table(true)
    const store = storeOn(db, name)
    const collation = { postgres: /citext/, mariadb: /utf8mb4_general_ci/, sqlite: /nocase/i }
    try {
      expect(await store.grant('groups', 'alice', 'orders:read')).toBe(true)
      const refused = store.grant('groups', 'alice', 'Orders:Read')
      await expect(refused).rejects.toThrow(`the unique index of ${name}`)
      await expect(refused).rejects.toThrow(collation[db.name])
      await expect(refused).rejects.toThrow(/to store grants exactly/)
      expect(await store.grant('groups', 'alice', 'orders:read')).toBe(false)
      expect(await store.lookup('groups', 'alice')).toEqual(['orders:read'])
    } finally {
      await store.close()
    }
  })
})

describe.each(databases)('the store’s own tables on $name', (db: TestDatabase) => {
  it('never answers false for a grant whose exact row is not there', async () => {
    const tables = {
      groups: `${tableName()}_groups`,
      roles: `${tableName()}_roles`,
      permissions: `${tableName()}_permissions`,
    }
    const store = new SqlAuthzStore({ url: db.url, tables })
    try {
      await store.init()
      expect(await store.grant('groups', 'alice', 'admin')).toBe(true)
      for (const [key, value] of [
        ['alice', 'Admin'],
        ['Alice', 'admin'],
        ['alice ', 'admin'], // MySQL's utf8mb4_bin pads: its unique index ignores the space
        ['alice', 'admin '],
      ] as const) {
        const granted = await store.grant('groups', key, value).catch((error: Error) => error)
        if (granted instanceof Error) {
          expect(granted.message).toMatch(/trailing spaces.*utf8mb4_nopad_bin/)
        } else {
          expect(granted, JSON.stringify([key, value])).toBe(true)
          expect(await store.lookup('groups', key)).toContain(value)
        }
      }
    } finally {
      await store.close()
      await dropTables(db.url, Object.values(tables))
    }
  })
})

describe.each(mariadb)('a latin1 table on $name', (db: TestDatabase) => {
  const name = tableName()

  afterAll(() => dropTables(db.url, [name]))

  // Seed tables made on MySQL 5.7 or an older MariaDB, whose default character set was latin1.
  it('finds, revokes and keeps unique the rows of non-ASCII keys and values', async () => {
    await execute(db.url, [
      `create table ${name} (username varchar(500) not null, value varchar(100) not null) character set latin1`,
      insert(name, [
        ['josé', 'orders:read'],
        ['bob', 'café:read'],
        ['bob', 'cafe:read'],
      ]),
    ])
    const store = storeOn(db, name)
    try {
      expect(await store.lookup('groups', 'josé')).toEqual(['orders:read'])
      expect(await store.lookup('groups', 'jose')).toEqual([])
      expect(await store.lookup('groups', 'bob')).toEqual(['cafe:read', 'café:read'])
      expect(await store.grant('groups', 'josé', 'orders:read')).toBe(false)
      expect(await store.revoke('groups', 'bob', 'café:read')).toBe(1)
      expect(await store.lookup('groups', 'bob')).toEqual(['cafe:read'])
      const [rows] = await execute(db.url, [`select count(*) as n from ${name}`])
      expect(rows).toEqual([{ n: 2 }])
    } finally {
      await store.close()
    }
  })
})

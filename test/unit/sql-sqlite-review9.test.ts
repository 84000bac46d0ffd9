// SQL review 9 on embedded SQLite: a column of numeric affinity is compared as text, byte for byte,
// and the unique index still serves the lookup.

import Database from 'better-sqlite3'
import { Kysely, SqliteDialect, type LogEvent } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { SqlAuthzStore } from '../../providers/sql/index.js'
import { sqliteDatabase, uniqueTables } from '../helpers/sql.js'

const database = sqliteDatabase()
const path = database.url.slice('sqlite:'.length)

afterAll(() => database.cleanup())

/** A store over `table(username <type>, "group" text)` holding `rows`, made as an app would. */
function appTable(type: string, rows: readonly (readonly [unknown, string])[]): SqlAuthzStore {
  const table = uniqueTables().groups
  const db = new Database(path)
  try {
    db.exec(`create table ${table} (username ${type} not null, "group" text not null)`)
    const insert = db.prepare(`insert into ${table} values (?, ?)`)
    for (const row of rows) insert.run(...row)
  } finally {
    db.close()
  }
  return new SqlAuthzStore({ url: database.url, tables: { groups: table }, columns: { id: null } })
}

describe('a user column of numeric affinity', () => {
  it('finds 7 by "7" only: never by 7.0, 007, " 7", +7 or 7e0', async () => {
    const store = appTable('integer', [[7, 'admin']])
    try {
      expect(await store.lookup('groups', '7')).toEqual(['admin'])
      for (const key of ['7.0', '007', ' 7', '+7', '7e0', '7 ']) {
        expect(await store.lookup('groups', key), key).toEqual([])
      }
      expect(await store.revoke('groups', '007', 'admin')).toBe(0)
      expect(await store.lookup('groups', '7')).toEqual(['admin'])
    } finally {
      await store.close()
    }
  })

  // A Google `sub` of 21 digits does not fit an integer: SQLite keeps it as a float, which other
  // numbers round to as well.
  it('gives a large id SQLite rounded to a float to no key at all', async () => {
    const store = appTable('bigint', [['109876543210987654321', 'admin']])
    try {
      for (const key of [
        '109876543210987654321',
        '109876543210987654399',
        '109876543210987650000',
        '1.0987654321098765e20',
      ]) {
        expect(await store.lookup('groups', key), key).toEqual([])
      }
    } finally {
      await store.close()
    }
  })
})

describe('the lookup', () => {
  it('is served by the unique index sql init makes', async () => {
    const queries: { sql: string; parameters: readonly unknown[] }[] = []
    const sqlite = new Database(path)
    const kysely = new Kysely<unknown>({
      dialect: new SqliteDialect({ database: sqlite }),
      log: (event: LogEvent) => {
        if (event.level === 'query') queries.push(event.query)
      },
    })
    const tables = uniqueTables()
    const store = new SqlAuthzStore({ client: kysely, tables })
    try {
      await store.init()
      await store.grant('groups', 'alice', 'admin')
      queries.length = 0
      expect(await store.lookup('groups', 'alice')).toEqual(['admin'])
      const [lookup] = queries
      const plan = sqlite
        .prepare(`explain query plan ${lookup!.sql}`)
        .all(...lookup!.parameters) as { detail: string }[]
      expect(plan.map(({ detail }) => detail).join('\n')).toMatch(
        new RegExp(`USING (COVERING )?INDEX ${tables.groups}_lookup_idx \\(username=\\?\\)`),
      )
    } finally {
      await store.close()
      await kysely.destroy()
    }
  })
})

// Review 8 of the SQL store's checks: distinct columns, widths in code points, revoke without widths.

import { afterAll, describe, expect, it } from 'vitest'
import { SqlAuthzStore, SqlGroupsProvider } from '../../providers/sql/index.js'
import { resolveSchema, type SqlColumnNames } from '../../providers/sql/schema.js'
import { unusableText } from '../../providers/sql/text.js'
import { ConfigError } from '../../src/errors.js'
import { Problems } from '../../src/options.js'
import { sqliteDatabase } from '../helpers/sql.js'

function problemsOf(columns: SqlColumnNames): string[] {
  const problems = new Problems()
  resolveSchema(problems, undefined, columns)
  try {
    problems.throwIfAny()
    return []
  } catch (error) {
    return [...(error as ConfigError).problems]
  }
}

describe('a table’s user, id and value columns must be three different columns', () => {
  it.each<[SqlColumnNames, RegExp]>([
    // The lookup would read `where "group" = <key>`: a user named like a group would get it.
    [{ user: 'group' }, /^columns\.user and columns\.groups both name the column "group"/],
    [{ user: 'Group' }, /^columns\.user and columns\.groups both name the column "Group"/],
    [{ user: 'role' }, /^columns\.user and columns\.roles/],
    [{ user: 'email', permissions: 'EMAIL' }, /^columns\.user and columns\.permissions/],
    [{ id: 'username' }, /^columns\.user and columns\.id both name the column "username"/],
    [{ groups: 'id' }, /^columns\.id and columns\.groups both name the column "id"/],
    [{ id: null, user: 'x', roles: 'x' }, /^columns\.user and columns\.roles/],
  ])('%j is refused', (columns, message) => {
    const problems = problemsOf(columns)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(message)
  })

  it.each<SqlColumnNames>([
    {},
    { id: null, user: 'id' },
    { user: 'email', groups: 'name', roles: 'name', permissions: 'name' },
  ])('%j is taken', (columns) => {
    expect(problemsOf(columns)).toEqual([])
  })

  it('a source given such columns is a ConfigError at construction, never a wrong lookup', () => {
    expect(
      () => new SqlGroupsProvider({ url: 'sqlite::memory:', columns: { user: 'group' } }),
    ).toThrow(/columns\.user and columns\.groups both name the column "group"/)
    expect(() => new SqlAuthzStore({ url: 'sqlite::memory:', columns: { id: 'group' } })).toThrow(
      ConfigError,
    )
  })
})

describe('the widths of grant, counted in code points; revoke without them', () => {
  // The widths are the default tables' (`sql init`'s varchar(500) and varchar(100)), checked only on
  // them: a store on the default tables, in a SQLite file of its own.
  const file = sqliteDatabase()
  const store = new SqlAuthzStore({ url: file.url })
  afterAll(async () => {
    await store.close()
    file.cleanup()
  })

  it('grants 100 characters outside the BMP (200 UTF-16 units), refuses 101', async () => {
    await store.init()
    const hundred = '😀'.repeat(100)
    expect(await store.grant('groups', 'alice', hundred)).toBe(true)
    expect(await store.lookup('groups', 'alice')).toEqual([hundred])
    await expect(store.grant('groups', 'alice', '😀'.repeat(101))).rejects.toThrow(
      'the value is longer than 100 characters',
    )
    await expect(store.grant('groups', 'é'.repeat(501), 'x')).rejects.toThrow(
      'the user is longer than 500 characters',
    )
    expect(await store.grant('groups', '😀'.repeat(500), 'x')).toBe(true)
  })

  it('revoking a value too long to be stored removes nothing and fails nothing', async () => {
    expect(await store.revoke('groups', 'alice', 'x'.repeat(101))).toBe(0)
    expect(await store.revoke('groups', 'u'.repeat(501), 'x')).toBe(0)
    await expect(store.revoke('groups', '', 'x')).rejects.toThrow('the user is empty')
  })

  it('says what is wrong with a key', () => {
    expect(unusableText('')).toBe('is empty: it must be a non-empty string')
    expect(unusableText(3)).toBe('is not a non-empty string')
    expect(unusableText('alice')).toBeUndefined()
  })
})

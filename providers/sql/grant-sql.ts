// A grant written exactly: its row inserted and found again as lookups find it, in one
// transaction, or refused with the reason it was not stored.

import type { Kysely } from 'kysely'
import type { OpenedDatabase } from './connection.js'
import { matchesExactly, textValue, type SqlTag } from './exact-text.js'
import {
  changedKeyError,
  generatedIdError,
  looseIndexError,
  tooLongError,
  unholdableKeyError,
} from './grant-errors.js'
import { ksuid } from './ksuid.js'
import type { SqlFacet, SqlSchema } from './schema.js'
import { cannotHold, idRefused, insertExactly, tooLongForColumn } from './transactions.js'
import type { SqlDialectName } from './url.js'

/** Where a grant is written: the store's dialect and tables. */
export interface GrantTarget {
  readonly dialect: SqlDialectName
  readonly schema: SqlSchema
}

/** The row `grant` writes: the user, the value and, when the table has an id column, its KSUID. */
interface WrittenRow {
  readonly key: string
  readonly value: string
  readonly id: string | undefined
}

/**
 * Writes `value` of `facet` for `key`; resolves `false` when it was already granted. A row the
 * columns would store as something else (an integer column stores `007` as 7, user `7`'s key) is
 * rolled back and the grant rejected, rather than reported held for another user.
 */
export async function storeGrant(
  { db, kysely: { sql } }: OpenedDatabase,
  target: GrantTarget,
  facet: SqlFacet,
  key: string,
  value: string,
): Promise<boolean> {
  const { dialect, schema } = target
  const { tables, id, user, values } = schema
  const table = sql.id(tables[facet])
  const where = sql`${matchesExactly(sql, dialect, user, key)} and ${matchesExactly(sql, dialect, values[facet], value)}`
  const granted = async () =>
    (await sql`select 1 as ${sql.id('found')} from ${table} where ${where} limit 1`.execute(db))
      .rows.length > 0
  try {
    if (await granted()) return false
  } catch (error) {
    if (!cannotHold(dialect, error)) throw error
    throw await unholdableKeyError(db, sql, dialect, schema, facet)
  }
  const rowId = id === null ? undefined : ksuid()
  const columns = id === null ? [user, values[facet]] : [id, user, values[facet]]
  const row = (rowId === undefined ? [key, value] : [rowId, key, value]).map((text) =>
    textValue(sql, dialect, text),
  )
  const insert = () =>
    sql`insert into ${table} (${sql.join(columns.map((column) => sql.id(column)))}) values (${sql.join(row)})`.execute(
      db,
    )
  let outcome: Awaited<ReturnType<typeof insertExactly>>
  try {
    outcome = await insertExactly(db, sql, insert, granted)
  } catch (error) {
    throw await insertRefused(db, sql, target, facet, error, { key, value, id: rowId })
  }
  if (outcome === 'stored') return true
  if (outcome === 'changed') throw await changedKeyError(db, sql, dialect, schema, facet)
  // Granted at the same moment by someone else; or else the unique index counts another row
  // as this one (`orders:read` for `Orders:Read`, 7 for `007`): `false` would lose the grant.
  if (await granted()) return false
  throw await looseIndexError(db, sql, dialect, schema, facet)
}

/**
 * What to throw for an insert the database refused: an id column it generates (`serial`,
 * `auto_increment`) suggests `columns: { id: null }`, a column too narrow is named; any other
 * error is thrown as it is.
 */
async function insertRefused(
  db: Kysely<unknown>,
  sql: SqlTag,
  { dialect, schema }: GrantTarget,
  facet: SqlFacet,
  error: unknown,
  written: WrittenRow,
): Promise<unknown> {
  const { id } = schema
  if (
    id !== null &&
    written.id !== undefined &&
    idRefused(dialect, error, { column: id, value: written.id })
  ) {
    return generatedIdError(schema, facet)
  }
  if (!tooLongForColumn(dialect, error)) return error
  return tooLongError(db, sql, dialect, schema, facet, error, written)
}

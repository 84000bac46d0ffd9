// Why a grant was not stored, in words that name the table, the column and what to change.

import type { Kysely } from 'kysely'
import { columnKinds, columnWidths } from './column-catalog.js'
import type { SqlTag } from './exact-text.js'
import { codePoints, sameName, type SqlFacet, type SqlSchema } from './schema.js'
import type { SqlDialectName } from './url.js'

/**
 * The error for a grant the unique index refused though its exact row is not in the table: the
 * index compares loosely, or a number column stored the key as another (`007` as 7). It names the
 * columns' collation or type (best effort) and what to change.
 */
export function looseIndexError(
  db: Kysely<unknown>,
  sql: SqlTag,
  dialect: SqlDialectName,
  schema: SqlSchema,
  facet: SqlFacet,
): Promise<Error> {
  return grantNotStored(
    db,
    sql,
    dialect,
    schema,
    facet,
    (table, found) =>
      `the unique index of ${table} counts it as equal to a row ` +
      `that differs in case, accents or trailing spaces, so its columns compare loosely, or, for a ` +
      `column of a number type, in its digits (007 and 7)${found}; ` +
      `to store grants exactly, ${EXACT_COLUMNS_ADVICE[dialect](table)}`,
  )
}

/**
 * The error for a grant whose row, once inserted, was not found exactly (and was rolled back): the
 * column's type or collation changed the key or the value on the way in. An integer column stores
 * `007` as 7, which is user `7`'s key; a SQLite number column stores a 21-digit id as a float; a
 * CHAR column drops trailing spaces. Reporting the grant held would give the rights to another.
 */
export function changedKeyError(
  db: Kysely<unknown>,
  sql: SqlTag,
  dialect: SqlDialectName,
  schema: SqlSchema,
  facet: SqlFacet,
): Promise<Error> {
  return grantNotStored(
    db,
    sql,
    dialect,
    schema,
    facet,
    (table, found) =>
      `${table} does not keep the user or the value as given, ` +
      `so its columns' type or collation changes keys (a number column stores 007 as 7, which ` +
      `is another user's key)${found}; store ids in a text column with a binary collation: ` +
      `${EXACT_COLUMNS_ADVICE[dialect](table)}`,
  )
}

/** "the <facet> grant was not stored: <why>", with the columns' collation or type where found. */
async function grantNotStored(
  db: Kysely<unknown>,
  sql: SqlTag,
  dialect: SqlDialectName,
  schema: SqlSchema,
  facet: SqlFacet,
  why: (table: string, found: string) => string,
): Promise<Error> {
  const table = schema.tables[facet]
  const found = await columnKinds(db, sql, dialect, schema, facet)
  return new Error(`the ${facet} grant was not stored: ${why(table, found)}`)
}

/**
 * The error for a grant whose user or value its column cannot hold, so no row can: a character a
 * MySQL column's character set lacks (`Łukasz` in a latin1 column, which would be stored as another
 * key, `?ukasz`), or on PostgreSQL a text that is no value of the column's type (`alice` for a
 * `uuid` or `integer` column) or of the database's encoding.
 */
export async function unholdableKeyError(
  db: Kysely<unknown>,
  sql: SqlTag,
  dialect: SqlDialectName,
  schema: SqlSchema,
  facet: SqlFacet,
): Promise<Error> {
  const table = schema.tables[facet]
  if (dialect === 'mysql') {
    return new Error(
      `the ${facet} grant was not stored: the character set of ${table}'s columns cannot hold this ` +
        `user or value; to store it, ${EXACT_COLUMNS_ADVICE.mysql(table)}`,
    )
  }
  return grantNotStored(
    db,
    sql,
    dialect,
    schema,
    facet,
    (name, found) =>
      `the user or the value is not of the type of ${name}'s columns${found}: a uuid column ` +
      `takes only UUIDs, a number column only numbers (or it has a character the database's ` +
      `encoding lacks); give a user and a value these columns hold, or make them text`,
  )
}

/**
 * The error for a grant an app's own table refused as too long for a column (PostgreSQL 22001,
 * MySQL 1406 in strict mode): it names the column, and its width where it can be found.
 */
export async function tooLongError(
  db: Kysely<unknown>,
  sql: SqlTag,
  dialect: SqlDialectName,
  schema: SqlSchema,
  facet: SqlFacet,
  error: unknown,
  row: { readonly key: string; readonly value: string; readonly id: string | undefined },
): Promise<Error> {
  const table = schema.tables[facet]
  const written = [
    { column: schema.user, what: 'the user', text: row.key },
    { column: schema.values[facet], what: 'the value', text: row.value },
  ]
  if (schema.id !== null && row.id !== undefined) {
    written.push({ column: schema.id, what: 'the id grant writes', text: row.id })
  }
  const columns = written.map(({ column }) => column)
  const widths = await columnWidths(db, sql, dialect, table, columns)
  // MySQL names the column in its message; PostgreSQL names only the type, so the widths tell.
  const message = dialect === 'mysql' && error instanceof Error ? error.message : ''
  const named = /for column '([^']+)'/.exec(message)?.[1]
  const culprit = written.find(({ column, text }) =>
    named !== undefined
      ? sameName(column, named)
      : codePoints(text) > (widths.get(column.toLowerCase()) ?? Infinity),
  )
  const head = `the ${facet} grant was not stored:`
  if (culprit === undefined) {
    return new Error(
      `${head} the user (${codePoints(row.key)} characters) or the value ` +
        `(${codePoints(row.value)} characters) is longer than its column of ${table} holds; ` +
        `widen it to store them`,
    )
  }
  const { column, what, text } = culprit
  const width = widths.get(column.toLowerCase())
  const holds = width === undefined ? '' : ` (${width} characters)`
  const orNoId =
    column === schema.id
      ? ', or give columns: { id: null } if the database fills the id itself'
      : ''
  return new Error(
    `${head} ${what} (${codePoints(text)} characters) is longer than ${table}.${column} ` +
      `holds${holds}; widen that column to store it${orNoId}`,
  )
}

/**
 * The error for a grant whose id the table's id column would not take (PostgreSQL 22P02 or 428C9,
 * MySQL 1265 or 1366, SQLite's datatype mismatch): an id the database generates, `serial`,
 * `identity`, `auto_increment` or `INTEGER PRIMARY KEY`, where `grant` wrote its text KSUID.
 */
export function generatedIdError(schema: SqlSchema, facet: SqlFacet): Error {
  return new Error(
    `the ${facet} grant was not stored: ${schema.tables[facet]}.${schema.id ?? 'id'} does not take ` +
      `the text id grant writes (a 27-character KSUID), as a column whose ids the database ` +
      `generates (serial, identity, auto_increment, INTEGER PRIMARY KEY) does not; give ` +
      `columns: { id: null } (the CLI's --no-id-column) so that the database fills it`,
  )
}

/** What to change so that a table's unique index tells apart values that differ in any byte. */
const EXACT_COLUMNS_ADVICE: Readonly<Record<SqlDialectName, (table: string) => string>> = {
  postgres: (table) =>
    `make both columns of "${table}" text or varchar (not a number type) with a deterministic collation (not citext, not a case-insensitive ICU collation), then rebuild its unique index`,
  mysql: (table) =>
    `make both columns of \`${table}\` varchar (not a number type) and ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin (MariaDB; utf8mb4_0900_bin on MySQL 8): a binary collation that keeps trailing spaces`,
  sqlite: (table) =>
    `recreate "${table}" with TEXT columns (not INTEGER, REAL or NUMERIC) and its unique index without COLLATE NOCASE or RTRIM on those columns`,
}

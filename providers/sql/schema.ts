// The authorization tables: their names (validated identifiers) and their DDL in each dialect.

import type * as KyselyModule from 'kysely'
import type { Kysely } from 'kysely'
import { checkOptionNames, type OptionFlags, type Problems } from '../../src/spi.js'
import type { SqlDialectName } from './url.js'

/** The three facets the SQL sources serve. */
export type SqlFacet = 'groups' | 'roles' | 'permissions'

/** Every facet, in the order tables are created and listed. */
export const SQL_FACETS: readonly SqlFacet[] = Object.freeze(['groups', 'roles', 'permissions'])

/** Table of each facet. Defaults: `authz_groups`, `authz_roles`, `authz_permissions`. */
export interface SqlTableNames {
  groups?: string
  roles?: string
  permissions?: string
}

/** Column names. Defaults: the seed's `username`, `id`, `group`, `role`, `permission`. */
export interface SqlColumnNames {
  /** The column holding the lookup key (the `idClaim` value). Default `username`. */
  user?: string
  /** The row id, filled by `grant`; `null` for tables without one. Default `id`. */
  id?: string | null
  groups?: string
  roles?: string
  permissions?: string
}

const TABLE_OPTIONS = Object.keys({
  groups: true,
  roles: true,
  permissions: true,
} as const satisfies OptionFlags<SqlTableNames>)
const COLUMN_OPTIONS = Object.keys({
  user: true,
  id: true,
  groups: true,
  roles: true,
  permissions: true,
} as const satisfies OptionFlags<SqlColumnNames>)

/** Table and column names, resolved and validated. */
export interface SqlSchema {
  readonly tables: Readonly<Record<SqlFacet, string>>
  readonly user: string
  readonly id: string | null
  readonly values: Readonly<Record<SqlFacet, string>>
}

/** Widest lookup key and value the default tables hold (the seed's widths). */
export const USER_WIDTH = 500
export const VALUE_WIDTH = 100

const DEFAULT_SCHEMA: SqlSchema = Object.freeze({
  tables: Object.freeze({
    groups: 'authz_groups',
    roles: 'authz_roles',
    permissions: 'authz_permissions',
  }),
  user: 'username',
  id: 'id',
  values: Object.freeze({ groups: 'group', roles: 'role', permissions: 'permission' }),
})

// Letters, digits and underscores, not starting with a digit; short enough that `<table>_lookup_idx`
// fits every dialect's 63/64-character limit. Identifiers are quoted as well, never interpolated.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/

function identifier(problems: Problems, name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value === 'string' && IDENTIFIER.test(value)) return value
  problems.add(
    `${name} must be an SQL identifier (letters, digits and _, not starting with a digit, at most 48 characters)${shownValue(value)}`,
  )
  return fallback
}

/** `, got "…"` for a short value that cannot be a secret; nothing for one that might (a URL put there). */
function shownValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length <= 64 && !/[:@/]/.test(text) ? `, got ${text}` : ''
}

/** Checks table and column names, adding problems; returns them with defaults applied. */
export function resolveSchema(
  problems: Problems,
  tables: SqlTableNames | undefined,
  columns: SqlColumnNames | undefined,
): SqlSchema {
  const t = objectOption(problems, 'tables', tables)
  const c = objectOption(problems, 'columns', columns)
  // A misspelt name (`group`, `usr`) would silently read the default table or column.
  checkOptionNames(problems, 'tables', t, TABLE_OPTIONS)
  checkOptionNames(problems, 'columns', c, COLUMN_OPTIONS)
  const pick = (group: 'tables' | 'columns', facet: SqlFacet, source: Record<string, unknown>) =>
    identifier(
      problems,
      `${group}.${facet}`,
      source[facet],
      group === 'tables' ? DEFAULT_SCHEMA.tables[facet] : DEFAULT_SCHEMA.values[facet],
    )
  const schema: SqlSchema = {
    tables: Object.freeze({
      groups: pick('tables', 'groups', t),
      roles: pick('tables', 'roles', t),
      permissions: pick('tables', 'permissions', t),
    }),
    user: identifier(problems, 'columns.user', c['user'], DEFAULT_SCHEMA.user),
    id: c['id'] === null ? null : identifier(problems, 'columns.id', c['id'], 'id'),
    values: Object.freeze({
      groups: pick('columns', 'groups', c),
      roles: pick('columns', 'roles', c),
      permissions: pick('columns', 'permissions', c),
    }),
  }
  // Compared without case, as SQLite and MySQL (lower_case_table_names) name tables: two facets in
  // one table would grant one facet's values as the other's.
  const names = Object.values(schema.tables).map((name) => name.toLowerCase())
  if (new Set(names).size !== names.length) {
    problems.add('tables must name a different table for each facet')
  }
  checkDistinctColumns(problems, schema)
  return Object.freeze(schema)
}

/**
 * Each table's user, id and value columns must be three columns: with `columns: { user: 'group' }`
 * the lookup reads `where "group" = <key>`, and a user whose id is a group's name gets that group.
 * Compared without case, as MySQL and SQLite compare column names.
 */
function checkDistinctColumns(problems: Problems, schema: SqlSchema): void {
  const reported = new Set<string>()
  for (const facet of SQL_FACETS) {
    const named: [string, string][] = [['columns.user', schema.user]]
    if (schema.id !== null) named.push(['columns.id', schema.id])
    named.push([`columns.${facet}`, schema.values[facet]])
    named.forEach(([first, column], index) => {
      const same = named.slice(index + 1).find(([, other]) => sameName(column, other))
      if (same === undefined) return
      reported.add(
        `${first} and ${same[0]} both name the column ${JSON.stringify(column)}: each must name a different column`,
      )
    })
  }
  for (const problem of reported) problems.add(problem)
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

function objectOption(problems: Problems, name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value === 'object' && value !== null) return value as Record<string, unknown>
  problems.add(`${name} must be an object`)
  return {}
}

/** The unique index over (user, value): it serves lookups and keeps a grant from being stored twice. */
export function indexName(schema: SqlSchema, facet: SqlFacet): string {
  return `${schema.tables[facet]}_lookup_idx`
}

/**
 * The statements that create one facet's table and index, if missing. Tables keep the seed's
 * shape (`id`, `username`, `group`), so the seed's existing tables work unchanged; MySQL tables
 * compare with a binary collation, so `Alice` never matches `alice`.
 */
export function schemaStatements(
  db: Kysely<unknown>,
  kysely: typeof KyselyModule,
  dialect: SqlDialectName,
  schema: SqlSchema,
  facet: SqlFacet,
): KyselyModule.Compilable[] {
  const { sql } = kysely
  let table = db.schema.createTable(schema.tables[facet]).ifNotExists()
  if (schema.id !== null) {
    table = table.addColumn(schema.id, 'varchar(36)', (column) =>
      column.primaryKey().notNull().defaultTo(RANDOM_ID[dialect](sql)),
    )
  }
  table = table
    .addColumn(schema.user, `varchar(${USER_WIDTH})`, (column) => column.notNull())
    .addColumn(schema.values[facet], `varchar(${VALUE_WIDTH})`, (column) => column.notNull())
  if (dialect === 'mysql') table = table.modifyEnd(sql`character set utf8mb4 collate utf8mb4_bin`)
  let index = db.schema
    .createIndex(indexName(schema, facet))
    .unique()
    .on(schema.tables[facet])
    .columns([schema.user, schema.values[facet]])
  // MySQL has no CREATE INDEX IF NOT EXISTS; the store ignores its duplicate-key error instead.
  if (dialect !== 'mysql') index = index.ifNotExists()
  return [table, index]
}

type SqlTag = (typeof KyselyModule)['sql']

/**
 * `operand` (a column or a value) as text that `=`, `GROUP BY` and `DISTINCT` compare byte for
 * byte, whatever the column's type, character set or collation. Tables the app made may compare
 * loosely: `citext` or a case-insensitive collation (PostgreSQL), `COLLATE NOCASE` (SQLite), the
 * usual MySQL collations (case, accents and trailing spaces ignored, even `utf8mb4_bin` pads), and
 * on MySQL a `latin1` column holds other bytes than the utf8mb4 key, so both sides are converted
 * to utf8mb4 before their bytes are compared. SQLite compares a column of INTEGER, REAL or NUMERIC
 * affinity as numbers even under `collate binary` (7 would match `7.0`, `007`, `+7`), so both
 * sides are cast to text there, which has no numeric affinity.
 */
export function exactText(sql: SqlTag, dialect: SqlDialectName, operand: unknown) {
  if (dialect === 'postgres') return sql`${operand}::text collate "C"`
  if (dialect === 'mysql') return sql`cast(convert(${operand} using utf8mb4) as binary)`
  return sql`cast(${operand} as text) collate binary`
}

/**
 * A key or value as an operand of a query: a bound parameter on PostgreSQL and SQLite; on MySQL
 * the hexadecimal literal of its UTF-8 bytes, `_utf8mb4 X'616c696365'`. mysql2's `query`, which an
 * app's Kysely instance uses, escapes a parameter into the SQL text with backslashes, and a server
 * in `NO_BACKSLASH_ESCAPES` mode ends the string at the escaped quote; a connection charset other
 * than utf8mb4 changes its bytes. Hexadecimal digits read the same in every mode and charset, and
 * the introducer makes the literal a utf8mb4 string that, like a parameter, takes the column's
 * collation, so the index still serves `column = literal`.
 */
export function textValue(sql: SqlTag, dialect: SqlDialectName, value: string) {
  if (dialect !== 'mysql') return sql`${value}`
  return sql.raw(`_utf8mb4 X'${Buffer.from(value, 'utf8').toString('hex')}'`)
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })
const HEX = /^(?:[0-9A-Fa-f]{2})*$/

/**
 * A value MySQL answered as the hexadecimal of its UTF-8 bytes (`hex(…)`, so that no connection
 * charset changes it on the way back), decoded; undefined when it is not such text.
 */
export function fromHexText(value: unknown): string | undefined {
  const text = value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : value
  if (typeof text !== 'string' || !HEX.test(text)) return undefined
  try {
    return UTF8.decode(Buffer.from(text, 'hex'))
  } catch {
    return undefined
  }
}

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
 * The error for a grant whose user or value holds a character the columns' character set cannot
 * (`Łukasz` in a MySQL latin1 column): stored, it would become another key (`?ukasz`).
 */
export function unholdableKeyError(schema: SqlSchema, facet: SqlFacet): Error {
  const table = schema.tables[facet]
  return new Error(
    `the ${facet} grant was not stored: the character set of ${table}'s columns cannot hold this ` +
      `user or value; to store it, ${EXACT_COLUMNS_ADVICE.mysql(table)}`,
  )
}

/** ` (column kind, …)`: the type or collation of a facet's user and value columns, best effort. */
async function columnKinds(
  db: Kysely<unknown>,
  sql: SqlTag,
  dialect: SqlDialectName,
  schema: SqlSchema,
  facet: SqlFacet,
): Promise<string> {
  try {
    const columns = [schema.user, schema.values[facet]] as const
    const { rows } = await collationQuery(sql, dialect, schema.tables[facet], columns).execute(db)
    const kinds = rows.map(({ name, kind }) => `${String(name)} ${String(kind)}`)
    return kinds.length > 0 ? ` (${kinds.join(', ')})` : ''
  } catch {
    return '' // the advice holds without the column details
  }
}

/**
 * The query naming the type or collation of a table's `user` and value columns (SQLite: their
 * declared type, and the collation of a unique index on them, which is what that index compares
 * with), each row `{ name, kind }`.
 */
function collationQuery(
  sql: SqlTag,
  dialect: SqlDialectName,
  table: string,
  columns: readonly [string, string],
): KyselyModule.RawBuilder<{ name: unknown; kind: unknown }> {
  const [user, value] = columns
  if (dialect === 'mysql') {
    return sql`select column_name as name, concat_ws(' ', column_type, collation_name) as kind from information_schema.columns where table_schema = database() and table_name = ${table} and column_name in (${user}, ${value})`
  }
  if (dialect === 'postgres') {
    return sql`select a.attname as name, format_type(a.atttypid, a.atttypmod) || coalesce(' collate ' || quote_ident(c.collname), '') as kind from pg_attribute a left join pg_collation c on c.oid = a.attcollation and c.collname <> 'default' where a.attrelid = to_regclass(quote_ident(${table})) and a.attname in (${user}, ${value})`
  }
  const indexed = sql`select x.coll from pragma_index_list(${table}) as i join pragma_index_xinfo(i.name) as x where i."unique" = 1 and x.key = 1 and x.name = t.name limit 1`
  return sql`select t.name as name, t.type || coalesce(' collate ' || (${indexed}), '') as kind from pragma_table_info(${table}) as t where t.name in (${user}, ${value})`
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

// A database-side default, so rows inserted by hand get an id too; `grant` sets its own.
const RANDOM_ID: Readonly<
  Record<SqlDialectName, (sql: SqlTag) => KyselyModule.RawBuilder<unknown>>
> = {
  postgres: (sql) => sql`gen_random_uuid()::text`,
  mysql: (sql) => sql`(uuid())`,
  sqlite: (sql) => sql`(lower(hex(randomblob(16))))`,
}

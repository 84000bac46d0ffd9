// What the database's catalog says of a table's columns (width, type, collation), for the
// messages of a refused grant: best effort, a message holds without it.

import type * as KyselyModule from 'kysely'
import type { Kysely } from 'kysely'
import type { SqlTag } from './exact-text.js'
import type { SqlFacet, SqlSchema } from './schema.js'
import type { SqlDialectName } from './url.js'

/** The width of each of a table's `varchar`/`char` columns, by lower-case name; best effort. */
export async function columnWidths(
  db: Kysely<unknown>,
  sql: SqlTag,
  dialect: SqlDialectName,
  table: string,
  columns: readonly string[],
): Promise<Map<string, number>> {
  const names = sql.join(columns.map((column) => sql`${column}`))
  const query =
    dialect === 'mysql'
      ? sql<WidthRow>`select column_name as name, character_maximum_length as width from information_schema.columns where table_schema = database() and table_name = ${table} and column_name in (${names})`
      : dialect === 'postgres'
        ? sql<WidthRow>`select a.attname as name, a.atttypmod - 4 as width from pg_attribute a where a.attrelid = to_regclass(quote_ident(${table})) and a.attname in (${names}) and a.atttypid in ('varchar'::regtype, 'bpchar'::regtype) and a.atttypmod > 4`
        : undefined
  const widths = new Map<string, number>()
  if (query === undefined) return widths // SQLite holds any length
  try {
    for (const { name, width } of (await query.execute(db)).rows) {
      const size = Number(width)
      if (Number.isSafeInteger(size) && size > 0) widths.set(String(name).toLowerCase(), size)
    }
  } catch {
    // the message holds without the widths
  }
  return widths
}

interface WidthRow {
  readonly name: unknown
  readonly width: unknown
}

/** ` (column kind, …)`: the type or collation of a facet's user and value columns, best effort. */
export async function columnKinds(
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

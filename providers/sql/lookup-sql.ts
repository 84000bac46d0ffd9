// The lookup's SQL in each dialect: the one query that reads a user's values of a facet, and its
// rows read back as the values' text, in code point order.

import type * as KyselyModule from 'kysely'
import { exactText, fromHexText, matchesExactly, type SqlTag } from './exact-text.js'
import type { SqlFacet, SqlSchema } from './schema.js'
import { byCodePoint } from './text.js'
import type { SqlDialectName } from './url.js'

/** What a lookup reads: the store's dialect and tables, and the most values it may answer. */
export interface LookupPlan {
  readonly dialect: SqlDialectName
  readonly schema: SqlSchema
  readonly maxValues: number
}

/**
 * A row of a lookup: the value (on SQLite as text), on PostgreSQL its text too, and on SQLite
 * whether any of the rows it stands for holds a blob.
 */
export interface LookupRow {
  readonly value: unknown
  readonly text?: unknown
  readonly blob?: unknown
}

/**
 * The query of `key`'s distinct values of `facet`: at most `maxValues + 1` rows, so that one too
 * many tells that there are more than `maxValues`.
 */
export function lookupQuery(
  sql: SqlTag,
  { dialect, schema, maxValues }: LookupPlan,
  facet: SqlFacet,
  key: string,
): KyselyModule.RawBuilder<LookupRow> {
  const column = sql.id(schema.values[facet])
  const from = sql`from ${sql.id(schema.tables[facet])} where ${matchesExactly(sql, dialect, schema.user, key)}`
  const exact = exactText(sql, dialect, column)
  const limit = sql`limit ${sql.lit(maxValues + 1)}`
  // A plain DISTINCT would fold the values a case-insensitive collation or citext counts as
  // equal. PostgreSQL has no min() for some text-like types (uuid), hence DISTINCT ON there.
  // Every dialect answers the text of the value, whatever the column's type (`7`, not 7):
  // MySQL the hexadecimal of its bytes, which no connection charset changes.
  const value = sql.id('value')
  const query =
    dialect === 'postgres'
      ? sql`select distinct on (${exact}) ${column} as ${value}, ${pgText(sql, column)} ${from} ${limit}`
      : dialect === 'mysql'
        ? sql`select distinct hex(${exact}) as ${value} ${from} ${limit}`
        : sql`select cast(min(${column}) as text) as ${value}, max(typeof(${column}) = 'blob') as ${sql.id('blob')} ${from} group by ${exact} ${limit}`
  return query.$castTo<LookupRow>()
}

/**
 * The values of a lookup's rows, sorted by code point; throws when there are more than
 * `maxValues`, or when one is not text.
 */
export function lookupValues(
  { dialect, schema, maxValues }: LookupPlan,
  facet: SqlFacet,
  rows: readonly LookupRow[],
): string[] {
  if (rows.length > maxValues) {
    throw new Error(`more than ${maxValues} ${facet} for one user (maxValues)`)
  }
  const values: string[] = []
  for (const row of rows) {
    if (row.value === null) continue
    const value =
      dialect === 'mysql'
        ? fromHexText(row.value)
        : dialect === 'postgres'
          ? (row.text ?? row.value)
          : Number(row.blob) > 0 // 1, or 1n from a better-sqlite3 client in safeIntegers mode
            ? undefined // a blob's bytes are no text, whatever cast() makes of them
            : row.value
    if (typeof value !== 'string') {
      throw new Error(
        `${schema.tables[facet]}.${schema.values[facet]} holds a value that is not text`,
      )
    }
    values.push(value)
  }
  // Sorted here rather than by the database, whose order depends on the column's collation.
  return values.sort(byCodePoint)
}

/**
 * PostgreSQL's `"text"`: the value's text, as MySQL and SQLite answer it whatever the column's type:
 * `7` of an `integer`, `true` of a `boolean` (pg would parse both into JavaScript values), a
 * `character(n)` value without the spaces that pad it to n characters (as lookups and `grant`
 * compare it). Null for a value whose text is not the value: `json` and `jsonb` (their text has
 * quotes and brackets: a JSON string is answered as the driver parses it, anything else is
 * refused), arrays (`{admin,ops}`) and `bytea` (`\x61…`), which are read as the driver parses
 * them and then refused, rather than answered as made-up values.
 */
function pgText(sql: SqlTag, column: unknown) {
  const type = sql`pg_typeof(${column})`
  return sql`case when ${type} not in ('json'::regtype, 'jsonb'::regtype, 'bytea'::regtype) and ${type}::text not like '%[]' then ${column}::text end as ${sql.id('text')}`
}

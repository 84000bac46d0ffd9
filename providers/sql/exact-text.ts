// Exact text in SQL: keys, values and columns compared byte for byte in every dialect, whatever
// the columns' type, character set or collation, and MySQL's hexadecimal answers read back.

import type * as KyselyModule from 'kysely'
import type { SqlDialectName } from './url.js'

/** Kysely's `sql` template tag. */
export type SqlTag = (typeof KyselyModule)['sql']

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

/**
 * `column = value`, exactly, on every dialect: a column the app made may be `citext`, NOCASE, a
 * case-insensitive MySQL collation, latin1 or (SQLite) of numeric affinity, and `Alice`,
 * `alice ` or `007` must never get `alice`'s or `7`'s rights. The plain comparison first still
 * lets the index serve the lookup. On SQLite only text and integers match: an integer reads as
 * one decimal text (7 is `7`'s, as in an integer column of PostgreSQL or MySQL), but a float
 * (an id too large for an integer) reads as a rounded `1.0987654321098765e+20`, which many ids
 * round to and a user could choose as a username claim, so it is no key's.
 */
export function matchesExactly(
  sql: SqlTag,
  dialect: SqlDialectName,
  column: string,
  value: string,
) {
  const exact = (operand: unknown) => exactText(sql, dialect, operand)
  const operand = textValue(sql, dialect, value)
  const id = sql.id(column)
  const text = dialect === 'sqlite' ? sql` and typeof(${id}) in ('text', 'integer')` : sql``
  return sql`${id} = ${operand}${text} and ${exact(id)} = ${exact(operand)}`
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

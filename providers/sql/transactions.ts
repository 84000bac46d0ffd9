// How the SQL store's writes and schema statements run: in a transaction where one must hold, and
// telling apart the database errors that answer a question (an index that exists, a lost race).

import type * as KyselyModule from 'kysely'
import type { SqlDialectName } from './url.js'

function errorCodes(error: unknown): { code?: unknown; errno?: unknown } {
  return (error ?? {}) as { code?: unknown; errno?: unknown }
}

/** MySQL's error for an index that exists: it has no CREATE INDEX IF NOT EXISTS. */
export function indexExists(dialect: SqlDialectName, error: unknown): boolean {
  return dialect === 'mysql' && errorCodes(error).errno === 1061 // ER_DUP_KEYNAME
}

// PostgreSQL checks a CREATE … IF NOT EXISTS name first and inserts into its catalogue after, so
// the loser of a race fails instead of skipping: on the catalogue's unique index (23505, pg_type
// or pg_class), or on the table's type (42710) or the relation (42P07) committed meanwhile.
const PG_CREATE_RACE: ReadonlySet<unknown> = new Set(['23505', '42710', '42P07'])

/**
 * Whether a CREATE … IF NOT EXISTS failed because the same statement ran at the same moment
 * elsewhere. MySQL and MariaDB lock the name first, so their tables do not race, and a racing
 * index is the 1061 above.
 */
export function lostCreateRace(dialect: SqlDialectName, error: unknown): boolean {
  return dialect === 'postgres' && PG_CREATE_RACE.has(errorCodes(error).code)
}

/**
 * Runs one CREATE statement. PostgreSQL's `statement_timeout`, which bounds lookups, would cancel
 * the CREATE INDEX of a large table: it is lifted to `timeoutMs` for one transaction (SET LOCAL),
 * so the connection, an app's own included, keeps its setting after.
 */
export async function runDdl(
  db: KyselyModule.Kysely<unknown>,
  sql: (typeof KyselyModule)['sql'],
  dialect: SqlDialectName,
  query: KyselyModule.CompiledQuery,
  timeoutMs: number,
): Promise<void> {
  if (dialect !== 'postgres') {
    await db.executeQuery(query)
    return
  }
  await sql`begin`.execute(db)
  try {
    await sql`select set_config('statement_timeout', ${String(Math.ceil(timeoutMs))}, true)`.execute(
      db,
    )
    await db.executeQuery(query)
    await sql`commit`.execute(db)
  } catch (error) {
    await sql`rollback`.execute(db).catch(() => undefined)
    throw error
  }
}

/**
 * Runs `insert` and then `stored` (the exact check lookups make) in one transaction, committed only
 * when the row is found: `'changed'` (rolled back) when the columns stored something else,
 * `'duplicate'` (rolled back) when the unique index refused the row.
 */
export async function insertExactly(
  db: KyselyModule.Kysely<unknown>,
  sql: (typeof KyselyModule)['sql'],
  insert: () => Promise<unknown>,
  stored: () => Promise<boolean>,
): Promise<'stored' | 'changed' | 'duplicate'> {
  await sql`begin`.execute(db)
  let outcome: 'stored' | 'changed' | 'duplicate'
  try {
    outcome = await insert().then(
      async () => ((await stored()) ? 'stored' : 'changed'),
      (error: unknown) => {
        if (isUniqueViolation(error)) return 'duplicate'
        throw error
      },
    )
  } catch (error) {
    await sql`rollback`.execute(db).catch(() => undefined)
    throw error
  }
  await (outcome === 'stored' ? sql`commit` : sql`rollback`).execute(db)
  return outcome
}

/**
 * MySQL's "illegal mix of collations" (ER_CANT_AGGREGATE_2COLLATIONS, _NCOLLATIONS): our utf8mb4
 * key compared with a column whose character set cannot hold one of its characters (`Łukasz`
 * and latin1). No row can hold that key, so none matches it.
 */
export function cannotHold(dialect: SqlDialectName, error: unknown): boolean {
  const { errno } = errorCodes(error)
  return dialect === 'mysql' && (errno === 1267 || errno === 1271)
}

function isUniqueViolation(error: unknown): boolean {
  const { code, errno } = errorCodes(error)
  return (
    code === '23505' || // PostgreSQL unique_violation
    errno === 1062 || // MySQL ER_DUP_ENTRY
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  )
}

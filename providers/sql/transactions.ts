// How the SQL store's writes and schema statements run: in a transaction where one must hold, how
// long they may wait, and telling apart the database errors that answer a question (an index that
// exists, a lost race, a locked SQLite file).

import { AsyncLocalStorage } from 'node:async_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type * as KyselyModule from 'kysely'
import type { SqlDialectName } from './url.js'

/** How the statements of one piece of work are bounded, where not as a lookup's are. */
export interface StatementBounds {
  /**
   * Each statement's time-out on the pools the drivers guard (pg's read time-out, mysql2's
   * `timeout`), instead of the pool's query time-out: for DDL, such as the CREATE INDEX of
   * `init()` on a large table, which may rightly run for minutes.
   */
  readonly timeoutMs?: number
  /**
   * Until when (`performance.now()`) work that finds a SQLite file locked is run again, after short
   * pauses with the connection given back ({@link retryingWhileLocked}), instead of failing after
   * the lookups' busy timeout: for `init()` and the command line, which would rather wait for a
   * writer than fail.
   */
  readonly lockWaitUntil?: number
}

const statementBounds = new AsyncLocalStorage<StatementBounds>()

/** Runs `work` with its statements bounded by `bounds`. */
export function withStatementBounds<T>(
  bounds: StatementBounds,
  work: () => Promise<T>,
): Promise<T> {
  return statementBounds.run(bounds, work)
}

/** The bounds of the work running now, if {@link withStatementBounds} set any. */
export function currentBounds(): StatementBounds | undefined {
  return statementBounds.getStore()
}

// SQLITE_BUSY (another connection holds the file) and SQLITE_LOCKED (a table), extended codes too.
const SQLITE_LOCK_ERROR = /^SQLITE_(BUSY|LOCKED)/

/**
 * Whether `error` is SQLite's "database is locked" and the work may still wait for the lock; if so,
 * resolves after a pause of 25 to 100 ms, for the caller to try again. The event loop turns
 * meanwhile, and the random length keeps several processes running `init()` from retrying in step.
 */
async function waitedForLock(error: unknown): Promise<boolean> {
  const until = statementBounds.getStore()?.lockWaitUntil
  const { code } = errorCodes(error)
  if (until === undefined || typeof code !== 'string' || !SQLITE_LOCK_ERROR.test(code)) return false
  const pauseMs = 25 + Math.random() * 75
  if (performance.now() + pauseMs >= until) return false
  await sleep(pauseMs)
  return true
}

/**
 * Runs `attempt` (one checkout of a connection, the work on it, and its release) again, after a
 * short pause, each time it finds a SQLite file locked while its work may wait for it
 * (`lockWaitUntil`, see {@link withStatementBounds}), rather than failing. The pause comes after the
 * connection went back: Kysely's SQLite dialect has one connection, and lookups, which can still
 * read while another process writes, use it meanwhile; a wait inside the checkout would queue them
 * all behind it. Its work must leave no transaction open when it fails (`insertExactly` rolls back),
 * so that running it all again is safe: a statement that failed on the lock changed nothing, and a
 * transaction may hold the read lock the other writer waits for, so only ending it lets both go on.
 */
export async function retryingWhileLocked<T>(attempt: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await attempt()
    } catch (error) {
      if (!(await waitedForLock(error))) throw error
    }
  }
}

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
 * `'duplicate'` (rolled back) when the unique index refused the row. A failure (a SQLite file found
 * locked) rolls it back too, so that the work may be run again ({@link retryingWhileLocked}).
 */
export async function insertExactly(
  db: KyselyModule.Kysely<unknown>,
  sql: (typeof KyselyModule)['sql'],
  insert: () => Promise<unknown>,
  stored: () => Promise<boolean>,
): Promise<'stored' | 'changed' | 'duplicate'> {
  await sql`begin`.execute(db)
  try {
    const outcome = await insert().then(
      async () => ((await stored()) ? 'stored' : 'changed'),
      (error: unknown) => {
        if (isUniqueViolation(error)) return 'duplicate' as const
        throw error
      },
    )
    // A COMMIT that fails (SQLite: readers still hold the file) leaves the transaction open: the
    // rollback below ends it, so the connection is not left inside it.
    await (outcome === 'stored' ? sql`commit` : sql`rollback`).execute(db)
    return outcome
  } catch (error) {
    await sql`rollback`.execute(db).catch(() => undefined)
    throw error
  }
}

/**
 * Whether `error` says that the key or value a statement compares cannot be in any row of its
 * column, so that the lookup answers `[]` and the revoke removes nothing. MySQL: "illegal mix of
 * collations" (ER_CANT_AGGREGATE_2COLLATIONS, _NCOLLATIONS), our utf8mb4 key against a column whose
 * character set lacks one of its characters (`Łukasz` and latin1). PostgreSQL: the key converted
 * to the column's type failed, a text that is no `uuid`, `integer` or date (`alice` for an Entra
 * `oid` column), or a character the database's encoding lacks. The lookup, revoke and grant
 * statements send only the key and the value, read the values back `::text`, and never cast a
 * column (which would keep its index from serving the lookup), so in them these errors can only
 * come from converting the key or the value given.
 */
export function cannotHold(dialect: SqlDialectName, error: unknown): boolean {
  const { code, errno } = errorCodes(error)
  if (dialect === 'postgres') return PG_NOT_OF_THE_TYPE.has(code)
  return dialect === 'mysql' && (errno === 1267 || errno === 1271)
}

// invalid_text_representation, numeric_value_out_of_range, invalid_datetime_format,
// datetime_field_overflow, untranslatable_character.
const PG_NOT_OF_THE_TYPE: ReadonlySet<unknown> = new Set([
  '22P02',
  '22003',
  '22007',
  '22008',
  '22P05',
])

/** Whether the database refused a value as longer than its column (PostgreSQL 22001, MySQL 1406). */
export function tooLongForColumn(dialect: SqlDialectName, error: unknown): boolean {
  const { code, errno } = errorCodes(error)
  return dialect === 'postgres' ? code === '22001' : dialect === 'mysql' && errno === 1406
}

/**
 * Whether an INSERT failed on its id column because the column does not take the text id `grant`
 * wrote (`id`): a PostgreSQL `serial`/`uuid` (22P02, naming the id) or `generated always` identity
 * (428C9) column, a MySQL `auto_increment` integer (1265 data truncated, 1366 incorrect value, for
 * that column), a SQLite `INTEGER PRIMARY KEY` (datatype mismatch, which only a rowid column raises).
 */
export function idRefused(
  dialect: SqlDialectName,
  error: unknown,
  id: { readonly column: string; readonly value: string },
): boolean {
  const { code, errno } = errorCodes(error)
  const message = error instanceof Error ? error.message : ''
  if (dialect === 'postgres') {
    return (
      (code === '22P02' && message.includes(`"${id.value}"`)) ||
      (code === '428C9' && message.includes(`"${id.column}"`))
    )
  }
  if (dialect === 'mysql') {
    // "Data truncated for column 'id' at row 1", "… for column `db`.`t`.`id` at row 1".
    const column = new RegExp(`for column (?:\`[^\`]*\`\\.)*['\`]${id.column}['\`] at row`, 'i')
    return (errno === 1265 || errno === 1366) && column.test(message)
  }
  return code === 'SQLITE_MISMATCH'
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

/** Errors the server reported (the connection is fine) as opposed to network or time-out failures. */
export function reportedByServer(error: unknown, field: 'severity' | 'sqlState'): boolean {
  const value = (error as Record<string, unknown> | null)?.[field]
  return typeof value === 'string' && (error as { fatal?: unknown }).fatal !== true
}

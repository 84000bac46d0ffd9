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

/** Errors the server reported (the connection is fine) as opposed to network or time-out failures. */
export function reportedByServer(error: unknown, field: 'severity' | 'sqlState'): boolean {
  const value = (error as Record<string, unknown> | null)?.[field]
  return typeof value === 'string' && (error as { fatal?: unknown }).fatal !== true
}

// The SQL store's options: where the tables are and how to reach them, checked by name, and
// their defaults and bounds.

import type { Logger, OptionFlags } from '../../src/spi.js'
import type { SqlClient, SqlPoolOptions } from './connection.js'
import type { SqlColumnNames, SqlTableNames } from './schema.js'
import type { SqlDialectName } from './url.js'

/** Where the authorization tables are, and how to reach them. */
export interface SqlStoreOptions {
  /**
   * `postgres://…`, `mysql://…` (or `mariadb://…`) or `sqlite:./authz.db` / `sqlite::memory:`.
   * Give `url` or `client`. Sources given the same URL and pool options share one pool.
   * `sqlite::memory:` is one database per process, which lives while a store or source holds it;
   * its stores and sources must all give the same `pool` options (a `ConfigError` otherwise).
   */
  url?: string
  /**
   * A handle the app already has instead of a URL: a Kysely instance, a `pg` Pool, a `mysql2`
   * pool or a `better-sqlite3` Database. The app keeps owning it; `close()` never ends it.
   */
  client?: SqlClient
  /** The dialect of `client`, when it cannot be told from the client itself. */
  dialect?: SqlDialectName
  /** Pool bounds: size, waits and time-outs. */
  pool?: SqlPoolOptions
  /** Table names. Default `authz_groups`, `authz_roles`, `authz_permissions`. */
  tables?: SqlTableNames
  /** Column names. Default `username`, `id`, `group`, `role`, `permission`. */
  columns?: SqlColumnNames
  /**
   * Most values one lookup may return; more fails the lookup (never a silent cut). Default 1000,
   * at most 1,000,000.
   */
  maxValues?: number
  /** Where failures of idle connections are logged: a pino logger, or `false` (the default) for nowhere. */
  logger?: Logger | false
}

/** Options of {@link SqlAuthzStore.init}. */
export interface SqlInitOptions {
  /**
   * Longest time the CREATE statements may run, in ms: much longer than a lookup's, since indexing
   * a large existing table may take minutes. Default 600,000 (10 minutes).
   */
  timeoutMs?: number
}

/** The store's options, checked so that a misspelt one is not silently ignored. */
export const STORE_OPTION_FLAGS = {
  url: true,
  client: true,
  dialect: true,
  pool: true,
  tables: true,
  columns: true,
  maxValues: true,
  logger: true,
} as const satisfies OptionFlags<SqlStoreOptions>
export const STORE_OPTION_NAMES = Object.keys(STORE_OPTION_FLAGS)
export const INIT_OPTION_NAMES = Object.keys({
  timeoutMs: true,
} as const satisfies OptionFlags<SqlInitOptions>)

/** `init()`'s default `timeoutMs`: 10 minutes, for indexing a large existing table. */
export const DEFAULT_DDL_TIMEOUT_MS = 600_000

export const DEFAULT_MAX_VALUES = 1_000
// Far above any real user's grants, and low enough that `maxValues + 1` stays an exact integer
// literal every dialect's LIMIT takes.
export const MAX_MAX_VALUES = 1_000_000

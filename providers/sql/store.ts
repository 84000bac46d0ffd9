// SqlAuthzStore: the one seam over SQL: look up, grant and revoke a user's groups, roles, permissions.

import type * as KyselyModule from 'kysely'
import {
  checkLogger,
  checkNumber,
  checkOptionNames,
  checkTimeout,
  neverThrows,
  Problems,
  silentLogger,
  type Logger,
  type OptionFlags,
} from '../../src/spi.js'
import type { OpenedDatabase, SqlClient, SqlConnection, SqlPoolOptions } from './connection.js'
import { createSqliteFile, loadKysely, missingSqliteFile, offlineDialect } from './drivers.js'
import { ksuid } from './ksuid.js'
import {
  changedKeyError,
  exactText,
  fromHexText,
  looseIndexError,
  resolveSchema,
  schemaStatements,
  SQL_FACETS,
  textValue,
  unholdableKeyError,
  type SqlColumnNames,
  type SqlFacet,
  type SqlSchema,
  type SqlTableNames,
} from './schema.js'
import { connectionFor, dialectProblem, sqliteFileOf } from './store-target.js'
import { byCodePoint, changeProblem, unusableText } from './text.js'
import { cannotHold, indexExists, insertExactly, lostCreateRace, runDdl } from './transactions.js'
import type { SqlDialectName } from './url.js'

/** Where the authorization tables are, and how to reach them. */
export interface SqlStoreOptions {
  /**
   * `postgres://…`, `mysql://…` (or `mariadb://…`) or `sqlite:./authz.db` / `sqlite::memory:`.
   * Give `url` or `client`. Sources given the same URL and pool options share one pool.
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
const STORE_OPTION_NAMES = Object.keys(STORE_OPTION_FLAGS)
const INIT_OPTION_NAMES = Object.keys({
  timeoutMs: true,
} as const satisfies OptionFlags<SqlInitOptions>)
const DEFAULT_DDL_TIMEOUT_MS = 600_000

const DEFAULT_MAX_VALUES = 1_000
// Far above any real user's grants, and low enough that `maxValues + 1` stays an exact integer
// literal every dialect's LIMIT takes.
const MAX_MAX_VALUES = 1_000_000

/**
 * Reads and writes the authorization tables through Kysely: parameterized queries, one round-trip
 * per lookup, every call bounded by the pool's waits and time-outs. The SQL sources build one
 * from their options; build one yourself to share it, or to grant and revoke from code.
 *
 * @example
 * const store = new SqlAuthzStore({ url: 'sqlite:./authz.db' })
 * await store.init() // CREATE TABLE IF NOT EXISTS …
 * await store.grant('permissions', 'alice', 'orders:read')
 * const groups = new SqlGroupsProvider({ store })
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` at construction, listing every invalid option.
 */
export class SqlAuthzStore {
  readonly dialect: SqlDialectName
  readonly schema: SqlSchema
  /** Where the store points, with any password masked. */
  readonly database: string
  readonly maxValues: number
  readonly #connection: SqlConnection
  /** The SQLite file of a `sqlite:` URL, which only `init()` creates. */
  readonly #sqliteFile: string | undefined
  /** Whether that file was found (or created) once: after that, it is not looked for again. */
  #fileFound = false
  #closed = false

  constructor(options: SqlStoreOptions) {
    const problems = new Problems()
    const given = (options ?? {}) as SqlStoreOptions
    checkOptionNames(problems, 'SqlAuthzStore', given, STORE_OPTION_NAMES)
    const schema = resolveSchema(problems, given.tables, given.columns)
    checkNumber(problems, 'maxValues', given.maxValues, 1, {
      integer: true,
      max: MAX_MAX_VALUES,
    })
    // Checked now: pg calls it when an idle connection drops, where a non-logger would crash the app.
    checkLogger(problems, 'logger', given.logger)
    const { logger: own } = given
    const logger = typeof own === 'object' && own !== null ? neverThrows(own) : silentLogger
    const connection = connectionFor(problems, given, logger)
    try {
      problems.throwIfAny()
    } catch (error) {
      void connection?.release()
      throw error
    }
    this.#connection = connection!
    this.dialect = connection!.dialect
    this.database = connection!.display
    this.schema = schema
    this.maxValues = given.maxValues ?? DEFAULT_MAX_VALUES
    this.#sqliteFile = sqliteFileOf(given.url)
  }

  /** Lookups running and waiting for a connection now. */
  get load(): { readonly active: number; readonly waiting: number } {
    const { active, waiting } = this.#connection.gate
    return { active, waiting }
  }

  /**
   * The values of `facet` granted to `key`, in code point order, without duplicates: one
   * parameterized query. Values differing in any byte (`Admin`, `admin`, `admin `) are distinct,
   * and every dialect answers the same list for the same rows, whatever the columns' collation.
   * A key the user column's character set cannot hold (`Łukasz` in a MySQL latin1 column) is in no
   * row: `[]`. Rejects (never resolves to `[]`) when the key is unusable, the database cannot be
   * reached or answers late, or more than `maxValues` values come back.
   */
  lookup(facet: SqlFacet, key: string, signal?: AbortSignal): Promise<string[]> {
    const problem = unusableText(key)
    if (problem !== undefined) {
      return Promise.reject(new Error(`the ${facet} lookup key ${problem}`))
    }
    return this.#run(async ({ db, kysely: { sql } }) => {
      const column = sql.id(this.schema.values[facet])
      const from = sql`from ${sql.id(this.schema.tables[facet])} where ${this.#matches(sql, this.schema.user, key)}`
      const exact = exactText(sql, this.dialect, column)
      const limit = sql`limit ${sql.lit(this.maxValues + 1)}`
      // A plain DISTINCT would fold the values a case-insensitive collation or citext counts as
      // equal. PostgreSQL has no min() for some text-like types (uuid), hence DISTINCT ON there.
      // MySQL answers the hexadecimal of the bytes, which no connection charset changes.
      const value = sql.id('value')
      const query =
        this.dialect === 'postgres'
          ? sql`select distinct on (${exact}) ${column} as ${value}, ${unpaddedChar(sql, column)} ${from} ${limit}`
          : this.dialect === 'mysql'
            ? sql`select distinct hex(${exact}) as ${value} ${from} ${limit}`
            : sql`select min(${column}) as ${value} ${from} group by ${exact} ${limit}`
      try {
        const { rows } = await query.$castTo<LookupRow>().execute(db)
        return this.#values(facet, rows)
      } catch (error) {
        if (cannotHold(this.dialect, error)) return []
        throw error
      }
    }, signal)
  }

  /**
   * Grants `value` of `facet` to `key`; resolves `false` when it was already granted. The row is
   * inserted and found again exactly, as lookups find it, in one transaction: a column that
   * stores something else (an integer column stores `007` as 7, user `7`'s key) rolls it back and
   * rejects, rather than report a grant that went to another user.
   */
  grant(facet: SqlFacet, key: string, value: string): Promise<boolean> {
    const problem = changeProblem(key, value, { widths: true })
    if (problem !== undefined) return Promise.reject(new Error(problem))
    return this.#run(async ({ db, kysely: { sql } }) => {
      const { tables, id, user, values } = this.schema
      const table = sql.id(tables[facet])
      const where = sql`${this.#matches(sql, user, key)} and ${this.#matches(sql, values[facet], value)}`
      const granted = async () =>
        (await sql`select 1 as ${sql.id('found')} from ${table} where ${where} limit 1`.execute(db))
          .rows.length > 0
      try {
        if (await granted()) return false
      } catch (error) {
        if (cannotHold(this.dialect, error)) throw unholdableKeyError(this.schema, facet)
        throw error
      }
      const columns = id === null ? [user, values[facet]] : [id, user, values[facet]]
      const row = (id === null ? [key, value] : [ksuid(), key, value]).map((text) =>
        textValue(sql, this.dialect, text),
      )
      const insert = () =>
        sql`insert into ${table} (${sql.join(columns.map((column) => sql.id(column)))}) values (${sql.join(row)})`.execute(
          db,
        )
      const outcome = await insertExactly(db, sql, insert, granted)
      if (outcome === 'stored') return true
      if (outcome === 'changed') {
        throw await changedKeyError(db, sql, this.dialect, this.schema, facet)
      }
      // Granted at the same moment by someone else; or else the unique index counts another row
      // as this one (`orders:read` for `Orders:Read`, 7 for `007`): `false` would lose the grant.
      if (await granted()) return false
      throw await looseIndexError(db, sql, this.dialect, this.schema, facet)
    })
  }

  /**
   * Revokes `value` of `facet` from `key`; resolves to the number of rows removed (0: none, as
   * for a key the columns' character set cannot hold).
   */
  revoke(facet: SqlFacet, key: string, value: string): Promise<number> {
    // No width check: a value too long to be stored matches no row, and revoking it removes none.
    const problem = changeProblem(key, value, { widths: false })
    if (problem !== undefined) return Promise.reject(new Error(problem))
    return this.#run(async ({ db, kysely: { sql } }) => {
      const { tables, user, values } = this.schema
      try {
        const result =
          await sql`delete from ${sql.id(tables[facet])} where ${this.#matches(sql, user, key)} and ${this.#matches(sql, values[facet], value)}`.execute(
            db,
          )
        return Number(result.numAffectedRows ?? 0n)
      } catch (error) {
        if (cannotHold(this.dialect, error)) return 0
        throw error
      }
    })
  }

  /**
   * Creates the three tables and their indexes when missing (`CREATE … IF NOT EXISTS`), and for a
   * `sqlite:` URL the database file. Safe to run twice, and from several processes at once. Its
   * statements are bounded by `timeoutMs` (default 10 minutes), not by the lookups' time-out:
   * indexing a large existing table takes a while.
   *
   * @throws {ConfigError} `ERR_AUTH_CONFIG` (as a rejection) when `options` are invalid.
   */
  async init(options: SqlInitOptions = {}): Promise<void> {
    const given = (options ?? {}) as SqlInitOptions
    const problems = new Problems()
    checkOptionNames(problems, 'init', given, INIT_OPTION_NAMES)
    checkTimeout(problems, 'init timeoutMs', given.timeoutMs)
    problems.throwIfAny()
    const timeoutMs = given.timeoutMs ?? DEFAULT_DDL_TIMEOUT_MS
    // The one call that creates a SQLite file: lookups, grants and revokes refuse a missing one.
    if (this.#sqliteFile !== undefined && !this.#closed && !this.#fileFound) {
      await createSqliteFile(this.#sqliteFile)
      this.#fileFound = true
    }
    for (const facet of SQL_FACETS) {
      for (const index of [0, 1]) await this.#create(facet, index, timeoutMs)
    }
  }

  /**
   * Runs one of a facet's CREATE statements. One that lost a race with another process's `init()`
   * runs once more: the table or index now exists, so `IF NOT EXISTS` lets it through (and a real
   * problem, such as duplicate rows under the unique index, fails again and is thrown).
   */
  #create(facet: SqlFacet, index: number, timeoutMs: number): Promise<void> {
    return this.#run(
      async ({ db, kysely }) => {
        const statement = schemaStatements(db, kysely, this.dialect, this.schema, facet)[index]!
        const query = statement.compile()
        const create = () => runDdl(db, kysely.sql, this.dialect, query, timeoutMs)
        try {
          await create()
        } catch (error) {
          if (indexExists(this.dialect, error)) return
          if (!lostCreateRace(this.dialect, error)) throw error
          await create()
        }
      },
      undefined,
      timeoutMs,
    )
  }

  /** Opens the pool and sends one trivial query: call at start-up to fail fast (bad URL, no driver). */
  async ready(): Promise<void> {
    await this.#run(({ db, kysely: { sql } }) => sql`select 1`.execute(db))
  }

  /** Lets go of the pool: the last store (or source) on it closes it. A client the app owns stays open. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#connection.release()
  }

  /**
   * The statements `init()` runs, compiled for `dialect` without any connection (for review,
   * migrations, `oidc-guard sql init --print`).
   */
  static async statements(
    dialect: SqlDialectName,
    names: { tables?: SqlTableNames; columns?: SqlColumnNames } = {},
  ): Promise<string[]> {
    const problems = new Problems()
    const badDialect = dialectProblem(dialect)
    if (badDialect !== undefined) problems.add(badDialect)
    const schema = resolveSchema(problems, names.tables, names.columns)
    problems.throwIfAny()
    const kysely = await loadKysely()
    const db = new kysely.Kysely<unknown>({ dialect: offlineDialect(kysely, dialect) })
    return SQL_FACETS.flatMap((facet) =>
      schemaStatements(db, kysely, dialect, schema, facet).map(
        (statement) => statement.compile().sql,
      ),
    )
  }

  #run<T>(
    work: (opened: OpenedDatabase) => Promise<T>,
    signal?: AbortSignal,
    ddlTimeoutMs?: number,
  ): Promise<T> {
    if (this.#closed)
      return Promise.reject(new Error(`the SQL store for ${this.database} is closed`))
    if (this.#sqliteFile !== undefined && !this.#fileFound) {
      const missing = missingSqliteFile(this.#sqliteFile)
      if (missing !== undefined) return Promise.reject(missing)
      this.#fileFound = true
    }
    return this.#connection.run(work, signal, ddlTimeoutMs)
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
  #matches(sql: (typeof KyselyModule)['sql'], column: string, value: string) {
    const exact = (operand: unknown) => exactText(sql, this.dialect, operand)
    const operand = textValue(sql, this.dialect, value)
    const id = sql.id(column)
    const text = this.dialect === 'sqlite' ? sql` and typeof(${id}) in ('text', 'integer')` : sql``
    return sql`${id} = ${operand}${text} and ${exact(id)} = ${exact(operand)}`
  }

  #values(facet: SqlFacet, rows: readonly LookupRow[]): string[] {
    if (rows.length > this.maxValues) {
      throw new Error(`more than ${this.maxValues} ${facet} for one user (maxValues)`)
    }
    const values: string[] = []
    for (const row of rows) {
      if (row.value === null) continue
      const value = this.dialect === 'mysql' ? fromHexText(row.value) : (row.unpadded ?? row.value)
      if (typeof value !== 'string') {
        throw new Error(
          `${this.schema.tables[facet]}.${this.schema.values[facet]} holds a value that is not text`,
        )
      }
      values.push(value)
    }
    // Sorted here rather than by the database, whose order depends on the column's collation.
    return values.sort(byCodePoint)
  }
}

/** A row of a lookup: the value, and on PostgreSQL that of a `character(n)` column unpadded. */
interface LookupRow {
  readonly value: unknown
  readonly unpadded?: unknown
}

/**
 * PostgreSQL's `"unpadded"`: a `character(n)` value without the spaces that pad it to n characters,
 * its text as the match and `grant` compare it and as MySQL and SQLite answer it; null for every
 * other type. Those are read as the driver parses them, so a value that is not text (a `jsonb`
 * array, a `text[]`) is refused rather than answered as its text form (quotes and brackets too).
 */
function unpaddedChar(sql: (typeof KyselyModule)['sql'], column: unknown) {
  return sql`case when pg_typeof(${column}) = 'character'::regtype then ${column}::text end as ${sql.id('unpadded')}`
}

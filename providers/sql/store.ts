// SqlAuthzStore: the one seam over SQL: look up, grant and revoke a user's groups, roles, permissions.

import {
  checkLogger,
  checkNumber,
  checkOptionNames,
  checkTimeout,
  neverThrows,
  Problems,
  silentLogger,
} from '../../src/spi.js'
import type { OpenedDatabase, SqlConnection } from './connection.js'
import { createSqliteFile, missingSqliteFile } from './drivers.js'
import { matchesExactly } from './exact-text.js'
import { storeGrant } from './grant-sql.js'
import { lookupQuery, lookupValues } from './lookup-sql.js'
import {
  resolveSchema,
  SQL_FACETS,
  usesDefaultColumns,
  type SqlColumnNames,
  type SqlFacet,
  type SqlSchema,
  type SqlTableNames,
} from './schema.js'
import { offlineStatements, schemaStatements } from './schema-statements.js'
import { connectionFor, dialectProblem, sqliteFileOf } from './store-target.js'
import {
  DEFAULT_DDL_TIMEOUT_MS,
  DEFAULT_MAX_VALUES,
  INIT_OPTION_NAMES,
  MAX_MAX_VALUES,
  STORE_OPTION_NAMES,
  type SqlInitOptions,
  type SqlStoreOptions,
} from './store-options.js'
import { changeProblem, unusableText } from './text.js'
import { cannotHold, indexExists, lostCreateRace, runDdl } from './transactions.js'
import type { SqlDialectName } from './url.js'

export { STORE_OPTION_FLAGS, type SqlInitOptions, type SqlStoreOptions } from './store-options.js'

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
   * each is answered as its text whatever the column's type (`7` of an integer column), and every
   * dialect answers the same list for the same rows, whatever the columns' collation. A key the
   * user column's character set or type cannot hold (`Łukasz` in a MySQL latin1 column, `alice` in
   * a PostgreSQL uuid column) is in no row: `[]`. Rejects (never resolves to `[]`) when the key is
   * unusable, the database cannot be reached or answers late, or more than `maxValues` values come
   * back; with a `TypeError` when `facet` is not `groups`, `roles` or `permissions`.
   */
  lookup(facet: SqlFacet, key: string, signal?: AbortSignal): Promise<string[]> {
    const problem = facetProblem(facet) ?? keyProblem(facet, key)
    if (problem !== undefined) return Promise.reject(problem)
    return this.#run(async ({ db, kysely: { sql } }) => {
      const query = lookupQuery(sql, this, facet, key)
      try {
        const { rows } = await query.execute(db)
        return lookupValues(this, facet, rows)
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
   * rejects, rather than report a grant that went to another user. On the default tables, a user
   * over 500 or a value over 100 characters is refused beforehand; on an app's own table, a value
   * too long for its column is refused naming the column, and an id column the database generates
   * (`serial`, `auto_increment`) is refused suggesting `columns: { id: null }`.
   */
  grant(facet: SqlFacet, key: string, value: string): Promise<boolean> {
    const badFacet = facetProblem(facet)
    if (badFacet !== undefined) return Promise.reject(badFacet)
    // The default tables' widths, checked beforehand; an app's own table is its database's to check.
    const widths = usesDefaultColumns(this.schema, facet)
    const problem = changeProblem(key, value, { widths })
    if (problem !== undefined) return Promise.reject(new Error(problem))
    return this.#run((opened) => storeGrant(opened, this, facet, key, value))
  }

  /**
   * Revokes `value` of `facet` from `key`; resolves to the number of rows removed (0: none, as
   * for a key the columns' character set cannot hold).
   */
  revoke(facet: SqlFacet, key: string, value: string): Promise<number> {
    const badFacet = facetProblem(facet)
    if (badFacet !== undefined) return Promise.reject(badFacet)
    // No width check: a value too long to be stored matches no row, and revoking it removes none.
    const problem = changeProblem(key, value, { widths: false })
    if (problem !== undefined) return Promise.reject(new Error(problem))
    return this.#run(async ({ db, kysely: { sql } }) => {
      const { tables, user, values } = this.schema
      const matches = (column: string, text: string) =>
        matchesExactly(sql, this.dialect, column, text)
      try {
        const result =
          await sql`delete from ${sql.id(tables[facet])} where ${matches(user, key)} and ${matches(values[facet], value)}`.execute(
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
    return offlineStatements(dialect, schema)
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
}

const FACET_NAMES = SQL_FACETS.join(', ').replace(/, (?=[^,]*$)/, ' or ')

/** The error for a facet that is none of the three (`group`, `__proto__`), if it is none. */
function facetProblem(facet: unknown): TypeError | undefined {
  if (SQL_FACETS.includes(facet as SqlFacet)) return undefined
  const shown =
    typeof facet === 'string' && facet.length <= 64 ? JSON.stringify(facet) : typeof facet
  return new TypeError(`facet must be ${FACET_NAMES}, got ${shown}`)
}

/** The error for a lookup key that cannot be matched exactly, if it cannot. */
function keyProblem(facet: SqlFacet, key: string): Error | undefined {
  const problem = unusableText(key)
  return problem === undefined ? undefined : new Error(`the ${facet} lookup key ${problem}`)
}

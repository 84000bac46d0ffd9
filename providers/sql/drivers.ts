// Drivers: Kysely, pg, mysql2, better-sqlite3 loaded on first use; dead connections discarded.

import { existsSync } from 'node:fs'
import { open } from 'node:fs/promises'
import type * as KyselyModule from 'kysely'
import type { Kysely } from 'kysely'
import { ConfigError, safeError } from '../../src/spi.js'
import type { ClientKind, OpenedDatabase, ResolvedPoolOptions } from './connection.js'
import { guardMysqlPool, mysqlTls, type RawMysqlPool } from './mysql-pool.js'
import { guardPgPool, pgReadTimeout, type RawPgPool } from './pg-pool.js'
import type { DatabaseTarget, SqlDialectName } from './url.js'

/**
 * The `.catch` handler for importing an optional package: explains which one to install.
 * Each `import()` is written with `.catch(...)` directly on it so that bundlers such as esbuild
 * treat the package as optional instead of failing the build of an app that never uses SQL.
 */
function explainMissing(name: string, purpose: string): (cause: unknown) => never {
  return (cause) => {
    const error = new ConfigError([
      `${purpose} needs the "${name}" package, which could not be loaded: npm install ${name}`,
    ])
    throw Object.assign(error, { cause })
  }
}

const DRIVER_PACKAGES: Readonly<Record<SqlDialectName, string>> = {
  postgres: 'pg',
  mysql: 'mysql2',
  sqlite: 'better-sqlite3',
}

/** The packages a URL of `dialect` needs: Kysely and the dialect's driver. */
export function driverPackages(dialect: SqlDialectName): readonly string[] {
  return ['kysely', DRIVER_PACKAGES[dialect]]
}

/** Loads Kysely, or explains that it must be installed. */
export function loadKysely(): Promise<typeof KyselyModule> {
  return import('kysely').catch(explainMissing('kysely', 'the SQL authorization sources'))
}

/** Where a pool tells of an idle connection that failed: a pino logger, or every store's. */
export interface IdleErrorLogger {
  warn(details: object, message: string): void
}

/** Opens the database a URL names: its driver, a bounded pool, Kysely over it. */
export async function openTarget(
  target: DatabaseTarget,
  pool: ResolvedPoolOptions,
  logger: IdleErrorLogger,
): Promise<OpenedDatabase> {
  const kysely = await loadKysely()
  const purpose = `a ${target.dialect} URL`
  const driver = DRIVER_PACKAGES[target.dialect]
  const { queryTimeoutMs } = pool
  let dialect: KyselyModule.Dialect
  if (target.dialect === 'postgres') {
    const { Pool } = await import('pg').catch(explainMissing(driver, purpose))
    const pgPool = new Pool({
      connectionString: target.url,
      max: pool.size,
      connectionTimeoutMillis: queryTimeoutMs,
      // The server cancels a slow query and keeps the connection; the client gives up on a
      // silent one (a dead network) and the guard below discards that connection.
      statement_timeout: queryTimeoutMs,
      query_timeout: pgReadTimeout(queryTimeoutMs),
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      allowExitOnIdle: true,
    })
    // Without a listener, an idle connection dropped by the server would crash the process.
    pgPool.on('error', (err) => {
      logger.warn(
        { err: safeError(err), database: target.display },
        'an idle SQL connection failed',
      )
    })
    dialect = new kysely.PostgresDialect({
      pool: guardPgPool(pgPool, pool, { cancelOnFailure: false }),
    })
  } else if (target.dialect === 'mysql') {
    const mysql = await import('mysql2').catch(explainMissing(driver, purpose))
    const mysqlPool = mysql.createPool({
      uri: target.url,
      ...mysqlTls(target.sslMode),
      connectionLimit: pool.size,
      maxIdle: pool.size,
      idleTimeout: 30_000,
      connectTimeout: queryTimeoutMs,
      waitForConnections: true,
      // The gate lets at most size + maxWaiting lookups in at once: beyond that, mysql2's own queue
      // holds lookups the gate already timed out (a stalled database), so the next one fails at
      // once (a 503) instead of joining them. Never 0: to mysql2 that means unbounded.
      queueLimit: pool.size + pool.maxWaiting,
      enableKeepAlive: true,
    })
    dialect = new kysely.MysqlDialect({
      pool: guardMysqlPool(mysqlPool as unknown as RawMysqlPool, pool, { ownQueueLimit: true }),
    })
  } else if ('path' in target) {
    const loaded: unknown = await import('better-sqlite3').catch(explainMissing(driver, purpose))
    // A CommonJS module: its constructor is the default export (or the module, in some loaders).
    const Database = ((loaded as { default?: unknown }).default ?? loaded) as SqliteConstructor
    dialect = new kysely.SqliteDialect({
      database: new Database(target.path, {
        timeout: Math.min(SQLITE_BUSY_TIMEOUT_MS, queryTimeoutMs),
      }),
    })
  } else {
    throw new Error(`unknown dialect ${target.dialect}`)
  }
  return { db: new kysely.Kysely<unknown>({ dialect }), kysely }
}

/** Wraps a handle the app owns in Kysely (a Kysely instance is used as it is). */
export async function openClient(
  client: object,
  dialect: SqlDialectName,
  kind: ClientKind,
  pool: ResolvedPoolOptions,
): Promise<OpenedDatabase> {
  const kysely = await loadKysely()
  if (kind === 'kysely') return { db: client as Kysely<unknown>, kysely }
  let adapter: KyselyModule.Dialect
  if (dialect === 'postgres') {
    // The app's pool sets no statement_timeout: a statement its client gave up on is cancelled.
    adapter = new kysely.PostgresDialect({
      pool: guardPgPool(client as RawPgPool, pool, { cancelOnFailure: true }),
    })
  } else if (dialect === 'mysql') {
    // A mysql2/promise pool wraps the callback pool Kysely needs.
    const inner = (client as { pool?: unknown }).pool
    const raw = (typeof inner === 'object' && inner !== null ? inner : client) as RawMysqlPool
    adapter = new kysely.MysqlDialect({
      pool: guardMysqlPool(raw, pool, { ownQueueLimit: false }),
    })
  } else {
    adapter = new kysely.SqliteDialect({
      database: client as KyselyModule.SqliteDatabase,
    })
  }
  return { db: new kysely.Kysely<unknown>({ dialect: adapter }), kysely }
}

// better-sqlite3 waits for a lock synchronously, the whole event loop with it: while another
// process holds the file (a writer's transaction, a migration), every lookup would freeze the app
// for the whole busy timeout. A short one fails the lookup instead (SQLITE_BUSY, so a 503); work that
// would rather wait (`init()`, the command line) is run again in between, the connection given back,
// see `retryingWhileLocked`.
const SQLITE_BUSY_TIMEOUT_MS = 50

type SqliteConstructor = new (
  path: string,
  options: { timeout: number },
) => KyselyModule.SqliteDatabase

const SQLITE_MEMORY = ':memory:'

/**
 * The error for a `sqlite:` file that is not there, if it is not. better-sqlite3 would create it,
 * so a mistyped path would silently become an empty database (every lookup failing on a missing
 * table, every grant landing where no app reads): the store refuses it instead, except in
 * `init()`, which creates it with {@link createSqliteFile}.
 */
export function missingSqliteFile(path: string): Error | undefined {
  if (path === SQLITE_MEMORY || existsSync(path)) return undefined
  return new Error(
    `no database file at ${path}: check the path, or create the tables with "oidc-guard sql init" (store.init())`,
  )
}

/**
 * Creates an empty SQLite file at `path` unless one is there (a zero-length file is an empty
 * database); nothing for `:memory:`. Only `init()` calls it: the one call meant to make a database.
 */
export async function createSqliteFile(path: string): Promise<void> {
  if (path === SQLITE_MEMORY) return
  try {
    // 'wx': creates only a missing file. An existing one is left as it is, even one the app may
    // only read (a shipped or mounted database), whose tables `init()` then finds in place.
    await (await open(path, 'wx')).close()
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'EEXIST') return
    throw new Error(
      `cannot create the database file ${path}${typeof code === 'string' ? ` (${code})` : ''}: does its directory exist and can it be written?`,
      { cause: error },
    )
  }
}

/** A dialect that compiles but never connects. */
export function offlineDialect(
  kysely: typeof KyselyModule,
  dialect: SqlDialectName,
): KyselyModule.Dialect {
  const parts = {
    postgres: [kysely.PostgresAdapter, kysely.PostgresIntrospector, kysely.PostgresQueryCompiler],
    mysql: [kysely.MysqlAdapter, kysely.MysqlIntrospector, kysely.MysqlQueryCompiler],
    sqlite: [kysely.SqliteAdapter, kysely.SqliteIntrospector, kysely.SqliteQueryCompiler],
  } as const
  const [Adapter, Introspector, Compiler] = parts[dialect]
  return {
    createAdapter: () => new Adapter(),
    createDriver: () => new kysely.DummyDriver(),
    createIntrospector: (db) => new Introspector(db),
    createQueryCompiler: () => new Compiler(),
  }
}

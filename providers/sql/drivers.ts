// Drivers: Kysely, pg, mysql2, better-sqlite3 loaded on first use; dead connections discarded.

import { existsSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { connect } from 'node:net'
import type * as KyselyModule from 'kysely'
import type { Kysely, MysqlPool, MysqlPoolConnection, PostgresPool } from 'kysely'
import { ConfigError, MAX_TIMER_MS, safeError } from '../../src/spi.js'
import type { ClientKind, OpenedDatabase, ResolvedPoolOptions } from './connection.js'
import { currentBounds } from './transactions.js'
import type { DatabaseTarget, MysqlSslMode, SqlDialectName } from './url.js'

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

/**
 * mysql2's `ssl` option for a URL's ssl-mode, a new object each time (mysql2 writes to it).
 * VERIFY_CA checks that the certificate chains to a trusted CA; VERIFY_IDENTITY also that it names
 * the host, which mysql2 checks only when told to (`verifyIdentity`). REQUIRED is read as
 * VERIFY_IDENTITY, as pg reads `sslmode=require` as verify-full: MySQL's own clients encrypt
 * without checking who answers, which stops an eavesdropper but not a server posing as the
 * database, and that server would answer every user's permissions. Encrypting without any check
 * takes mysql2's own option, `?ssl={"rejectUnauthorized":false}`, written on purpose. A server
 * without TLS fails every mode.
 */
function mysqlTls(mode: MysqlSslMode | undefined): {
  ssl?: { rejectUnauthorized: boolean; verifyIdentity: boolean }
} {
  if (mode === undefined || mode === 'DISABLED') return {}
  return {
    ssl: { rejectUnauthorized: true, verifyIdentity: mode !== 'VERIFY_CA' },
  }
}

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

/**
 * pg's own timer on each query, a little past the query time-out so that the server's
 * `statement_timeout` speaks first; past Node's longest delay it would fire at once and fail
 * every query.
 */
function pgReadTimeout(queryTimeoutMs: number): number {
  return Math.min(queryTimeoutMs + 250, MAX_TIMER_MS)
}

interface RawPgClient {
  query(config: {
    text: string
    values: readonly unknown[]
    query_timeout: number
  }): Promise<unknown>
  release(destroy?: boolean): void
  /** The backend's key (its BackendKeyData) and the server's address: what a cancel request needs. */
  readonly processID?: unknown
  readonly secretKey?: unknown
  readonly host?: unknown
  readonly port?: unknown
}

interface RawPgPool {
  connect(): Promise<RawPgClient>
  end(): Promise<void>
}

/** Errors the server reported (the connection is fine) as opposed to network or time-out failures. */
function reportedByServer(error: unknown, field: 'severity' | 'sqlState'): boolean {
  const value = (error as Record<string, unknown> | null)?.[field]
  return typeof value === 'string' && (error as { fatal?: unknown }).fatal !== true
}

/**
 * A pg pool whose waits for a client end at the time-out, and whose clients are discarded, not
 * reused, after a failure the server did not report (a dropped connection, a read time-out): such
 * a client may still wait for an answer that never comes, and every later query on it would wait too.
 *
 * With `cancelOnFailure` (an app's pool, which has no `statement_timeout` of ours), the statement
 * of such a client is also cancelled on the server before the query rejects, so the gate's slot is
 * held until then: a statement waiting for a lock (a migration's ALTER TABLE, a LOCK TABLE) would
 * otherwise keep its backend running after the client left, one more for every lookup.
 */
function guardPgPool(
  pool: RawPgPool,
  bounds: ResolvedPoolOptions,
  { cancelOnFailure }: { cancelOnFailure: boolean },
): PostgresPool {
  const acquire = pgAcquirer(pool, bounds)
  const readTimeoutMs = pgReadTimeout(bounds.queryTimeoutMs)
  const timeoutFor = (): number => {
    const ddl = currentBounds()?.timeoutMs
    return ddl === undefined ? readTimeoutMs : pgReadTimeout(ddl)
  }
  return {
    connect: async () => {
      const client = await acquire()
      let broken = false
      let released = false
      const release = (destroy: boolean): void => {
        if (released) return
        released = true
        client.release(destroy)
      }
      const guarded = {
        // The read time-out is set on each query, for an app's pool as for ours: a query that
        // never gets its answer would otherwise hold the client, and the gate's slot, for good.
        query: (sql: string, parameters: readonly unknown[]) =>
          client
            .query({ text: sql, values: parameters, query_timeout: timeoutFor() })
            .catch(async (error: unknown) => {
              if (reportedByServer(error, 'severity')) throw error
              broken = true
              if (cancelOnFailure && !released) {
                release(true) // the app's pool gets its slot back at once
                await cancelOnServer(client, bounds.queryTimeoutMs)
              }
              throw error
            }),
        release: () => release(broken),
      }
      return guarded as unknown as Awaited<ReturnType<PostgresPool['connect']>>
    },
    end: () => pool.end(),
  }
}

// PostgreSQL's CancelRequest: length 16, the code 1234 5678, then the backend's key.
const PG_CANCEL_REQUEST_CODE = 80_877_102

/**
 * Asks the server to cancel what `client`'s backend runs: PostgreSQL's cancel request, as psql
 * sends on Ctrl-C (and as PgBouncer passes on), on a connection of its own that needs no login and
 * no pool slot, and that the server closes once it has signalled the backend. Resolves then, or
 * once `timeoutMs` passed or the request failed: nothing more can be done from here. It goes to the
 * client's host and port (pg's own cancel does the same), not through a custom `stream`.
 */
function cancelOnServer(client: RawPgClient, timeoutMs: number): Promise<void> {
  const { processID, secretKey, host, port } = client
  if (
    !Number.isInteger(processID) ||
    !Number.isInteger(secretKey) ||
    typeof host !== 'string' ||
    host === '' ||
    !Number.isInteger(port)
  ) {
    return Promise.resolve()
  }
  const request = Buffer.alloc(16)
  request.writeInt32BE(16, 0)
  request.writeInt32BE(PG_CANCEL_REQUEST_CODE, 4)
  request.writeInt32BE(processID as number, 8)
  request.writeInt32BE(secretKey as number, 12)
  return new Promise((resolve) => {
    const socket = host.startsWith('/')
      ? connect(`${host}/.s.PGSQL.${String(port)}`)
      : connect(port as number, host)
    const done = (): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve()
    }
    const timer = setTimeout(done, timeoutMs)
    timer.unref?.()
    socket.once('connect', () => socket.write(request))
    socket.on('error', done)
    socket.once('close', done)
    socket.resume() // the server answers nothing: read to its end, so that 'close' comes
  })
}

/**
 * Asks pg for a client, giving up after the query time-out. An app's own pool may have no
 * `connectionTimeoutMillis`: a lookup the gate had already timed out would keep waiting in pg's
 * queue and run its query long after anyone wanted the answer. A client that comes too late goes
 * straight back to the pool, unused; and as mysql2's `queueLimit` does, at most `size +
 * maxWaiting` requests wait in pg's queue, so a pool the app holds cannot gather more.
 */
function pgAcquirer(
  pool: RawPgPool,
  { size, maxWaiting, queryTimeoutMs }: ResolvedPoolOptions,
): () => Promise<RawPgClient> {
  let waiting = 0
  return () => {
    if (waiting >= size + maxWaiting) {
      return Promise.reject(new Error(`${waiting} lookups already wait for a pg connection`))
    }
    waiting += 1
    return new Promise((resolve, reject) => {
      let late = false
      const timer = setTimeout(() => {
        late = true
        reject(new Error(`pg gave no connection within ${queryTimeoutMs} ms`))
      }, queryTimeoutMs)
      timer.unref?.()
      pool.connect().then(
        (client) => {
          waiting -= 1
          clearTimeout(timer)
          if (late) client.release()
          else resolve(client)
        },
        (error: unknown) => {
          waiting -= 1
          clearTimeout(timer)
          reject(error) // after the time-out: ignored
        },
      )
    })
  }
}

type MysqlCallback = (error: unknown, result: unknown) => void

interface RawMysqlConnection {
  query(
    options: { sql: string; timeout: number },
    values: unknown[],
    callback?: MysqlCallback,
  ): unknown
  execute(
    options: { sql: string; timeout: number },
    values: unknown[],
    callback: MysqlCallback,
  ): void
  release(): void
  destroy(): void
}

interface RawMysqlPool {
  getConnection(callback: (error: unknown, connection: RawMysqlConnection) => void): void
  end(callback: (error: unknown) => void): void
}

/**
 * A mysql2 pool whose waits for a connection end at the time-out, whose queries carry it, whose
 * failed connections are discarded, and whose values travel as server-side prepared statement
 * parameters: mysql2's `query` would escape them into the SQL text, which a server in
 * `NO_BACKSLASH_ESCAPES` mode reads differently. (Keys and values never rely on this: the store
 * writes them as hexadecimal literals on MySQL, see `textValue`, since an app's Kysely instance
 * goes through `query`.)
 */
function guardMysqlPool(
  pool: RawMysqlPool,
  bounds: ResolvedPoolOptions,
  { ownQueueLimit }: { ownQueueLimit: boolean },
): MysqlPool {
  const acquire = mysqlAcquirer(pool, bounds, ownQueueLimit)
  const timeoutMs = bounds.queryTimeoutMs
  return {
    getConnection: (callback) => {
      acquire((error, connection) => {
        if (error || connection === undefined) {
          return callback(error, connection as unknown as MysqlPoolConnection)
        }
        callback(null, guardMysqlConnection(connection, timeoutMs))
      })
    },
    end: (callback) => pool.end(callback),
  }
}

/**
 * Asks mysql2 for a connection, giving up after the query time-out as pg's
 * `connectionTimeoutMillis` does. mysql2 has no such bound: a lookup the gate had already timed
 * out would keep waiting in mysql2's queue and run its query long after anyone wanted the answer.
 * A connection that comes too late goes straight back to the pool, unused. At most `size +
 * maxWaiting` requests wait in mysql2's queue: our own pool's `queueLimit` says so (`ownQueueLimit`),
 * but an app's pool passed as `client` may have none, and would gather every timed-out lookup, so
 * those waiting in it are counted here until mysql2 answers them.
 */
function mysqlAcquirer(
  pool: RawMysqlPool,
  { size, maxWaiting, queryTimeoutMs }: ResolvedPoolOptions,
  ownQueueLimit: boolean,
): (callback: (error: unknown, connection?: RawMysqlConnection) => void) => void {
  let waiting = 0
  return (callback) => {
    if (!ownQueueLimit && waiting >= size + maxWaiting) {
      callback(new Error(`${waiting} lookups already wait for a mysql2 connection`))
      return
    }
    waiting += 1
    let late = false
    const timer = setTimeout(() => {
      late = true
      callback(new Error(`mysql2 gave no connection within ${queryTimeoutMs} ms`))
    }, queryTimeoutMs)
    timer.unref?.()
    pool.getConnection((error, connection) => {
      waiting -= 1
      clearTimeout(timer)
      if (!late) callback(error, connection)
      else if (!error) connection.release()
    })
  }
}

function guardMysqlConnection(
  connection: RawMysqlConnection,
  timeoutMs: number,
): MysqlPoolConnection {
  let broken = false
  const guarded = {
    query: (sql: string, values: unknown[], done?: MysqlCallback) => {
      const options = { sql, timeout: currentBounds()?.timeoutMs ?? timeoutMs }
      if (done === undefined) return connection.query(options, values) // streaming: unused
      const finish: MysqlCallback = (failure, result) => {
        if (failure && !reportedByServer(failure, 'sqlState')) broken = true
        done(failure, result)
      }
      if (values.length === 0) connection.query(options, values, finish)
      else connection.execute(options, values, finish)
      return undefined
    },
    release: () => (broken ? connection.destroy() : connection.release()),
  }
  return guarded as unknown as MysqlPoolConnection
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

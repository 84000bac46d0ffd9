// Connections: one bounded pool per URL (or per client the app hands over), drivers loaded lazily.

import { AsyncLocalStorage } from 'node:async_hooks'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type * as KyselyModule from 'kysely'
import type { Kysely } from 'kysely'
import {
  checkNumber,
  checkOptionNames,
  ConfigError,
  checkTimeout,
  silentLogger,
  type Logger,
  type OptionFlags,
  type Problems,
} from '../../src/spi.js'
import { openClient, openTarget, type IdleErrorLogger } from './drivers.js'
import { abortable, Gate, withDeadline } from './gate.js'
import { retryingWhileLocked, withStatementBounds, type StatementBounds } from './transactions.js'
import type { DatabaseTarget, SqlDialectName } from './url.js'

/** Bounds of the pool behind the SQL sources. */
export interface SqlPoolOptions {
  /** Most connections (and so lookups) at once. Default 10 (`AUTHZ_POOL_SIZE`). */
  size?: number
  /** Longest wait for a free connection, in ms. Default 1000 (`AUTHZ_POOL_TIMEOUT_IN_SECONDS`). */
  acquireTimeoutMs?: number
  /** Longest connect plus query, in ms. Default 3000 (`AUTHZ_QUERY_TIMEOUT_IN_SECONDS`). */
  queryTimeoutMs?: number
  /** Most lookups waiting for a connection; more are refused at once. Default 100. */
  maxWaiting?: number
}

/** {@link SqlPoolOptions} with every default applied. */
export type ResolvedPoolOptions = Readonly<Required<SqlPoolOptions>>

/** A Kysely instance (any database type) the app already has. */
export interface KyselyClient {
  getExecutor(): { readonly adapter: object }
  readonly schema: unknown
}

/**
 * A database handle the app already has: a Kysely instance, a `pg` Pool, a `mysql2` pool
 * (callback or promise API) or a `better-sqlite3` Database. The app keeps owning it: closing
 * the SQL sources never ends it.
 */
export type SqlClient = KyselyClient | object

/** The opened database: a Kysely instance and the Kysely module it came from. */
export interface OpenedDatabase {
  readonly db: Kysely<unknown>
  readonly kysely: typeof KyselyModule
}

const DEFAULT_POOL: ResolvedPoolOptions = Object.freeze({
  size: 10,
  acquireTimeoutMs: 1_000,
  queryTimeoutMs: 3_000,
  maxWaiting: 100,
})

const POOL_OPTIONS = Object.keys({
  size: true,
  acquireTimeoutMs: true,
  queryTimeoutMs: true,
  maxWaiting: true,
} as const satisfies OptionFlags<SqlPoolOptions>)

/** Checks pool options, adding problems; returns them with defaults applied. */
export function resolvePoolOptions(
  problems: Problems,
  pool: SqlPoolOptions | undefined,
): ResolvedPoolOptions {
  if (pool === undefined) return DEFAULT_POOL
  if (typeof pool !== 'object' || pool === null) {
    problems.add('pool must be an object: { size, acquireTimeoutMs, queryTimeoutMs, maxWaiting }')
    return DEFAULT_POOL
  }
  // `pool: { timeout: 10 }` would otherwise keep the default bounds without a word.
  checkOptionNames(problems, 'pool', pool, POOL_OPTIONS)
  checkNumber(problems, 'pool.size', pool.size, 1, { max: 1_000, integer: true })
  checkTimeout(problems, 'pool.acquireTimeoutMs', pool.acquireTimeoutMs)
  checkTimeout(problems, 'pool.queryTimeoutMs', pool.queryTimeoutMs)
  checkNumber(problems, 'pool.maxWaiting', pool.maxWaiting, 0, { max: 1_000_000, integer: true })
  return Object.freeze({ ...DEFAULT_POOL, ...definedOnly(pool) })
}

function definedOnly(pool: SqlPoolOptions): SqlPoolOptions {
  return Object.fromEntries(Object.entries(pool).filter(([, value]) => value !== undefined))
}

/** What kind of handle an app passed: a Kysely instance, or a driver's pool of one dialect. */
export type ClientKind = 'kysely' | SqlDialectName

const ADAPTERS: Readonly<Record<string, SqlDialectName>> = {
  PostgresAdapter: 'postgres',
  MysqlAdapter: 'mysql',
  SqliteAdapter: 'sqlite',
}

function hasMethod(value: object, name: string): boolean {
  return typeof (value as Record<string, unknown>)[name] === 'function'
}

/** What kind of handle an app passed as `client`, or undefined when it is none we know. */
export function clientKind(client: unknown): ClientKind | undefined {
  if (typeof client !== 'object' || client === null) return undefined
  if (hasMethod(client, 'getExecutor') && 'schema' in client) return 'kysely'
  if (hasMethod(client, 'getConnection')) return 'mysql'
  if (hasMethod(client, 'prepare') && hasMethod(client, 'pragma')) return 'sqlite'
  if (hasMethod(client, 'connect') && hasMethod(client, 'query') && 'totalCount' in client) {
    return 'postgres'
  }
  return undefined
}

/** The dialect of a Kysely instance, from its adapter; undefined for adapters we do not know. */
export function kyselyDialect(client: KyselyClient): SqlDialectName | undefined {
  return ADAPTERS[client.getExecutor().adapter.constructor.name]
}

/**
 * One pool, shared by every store given the same URL (or the same client) and pool options; closed
 * when the last store lets go of it. The stores reach it through {@link SqlConnection}s, one per
 * logger, so that an idle connection that fails is told to every store's logger: the first store
 * built may have had none (a grant helper, a health check) while the app's sources have one.
 */
class SharedPool {
  readonly gate: Gate
  /** The views on it, by the logger of the stores that hold them. */
  readonly views = new Map<Logger, SqlConnection>()
  /** What the driver tells of a failed idle connection: each view's logger, once. */
  readonly idleErrors: IdleErrorLogger = {
    warn: (details, message) => {
      for (const logger of this.views.keys()) logger.warn(details, message)
    },
  }
  readonly #open: (pool: SharedPool) => Promise<OpenedDatabase>
  readonly #owned: boolean
  readonly #forget: () => void
  #opened: Promise<OpenedDatabase> | undefined

  constructor(
    readonly spec: {
      readonly dialect: SqlDialectName
      readonly display: string
      readonly pool: ResolvedPoolOptions
    },
    init: {
      owned: boolean
      open: (pool: SharedPool) => Promise<OpenedDatabase>
      forget: () => void
    },
  ) {
    this.gate = new Gate(spec.pool)
    this.#owned = init.owned
    this.#open = init.open
    this.#forget = init.forget
  }

  open(): Promise<OpenedDatabase> {
    this.#opened ??= this.#open(this).catch((error: unknown) => {
      this.#opened = undefined // a missing driver may be installed later; try again next time
      throw error
    })
    return this.#opened
  }

  /** Forgets the pool, and ends it unless the app owns it. */
  async close(): Promise<void> {
    this.#forget()
    const opened = this.#opened
    this.#opened = undefined
    if (opened === undefined || !this.#owned) return
    await opened.then(
      ({ db }) => db.destroy(),
      () => undefined,
    )
  }
}

const byUrl = new Map<string, SharedPool>()
const byClient = new WeakMap<object, Map<string, SharedPool>>()
// Set by the command line around its commands: see waitingForLocks.
const lockWaits = new AsyncLocalStorage<true>()
const SQLITE_MEMORY = ':memory:'

/** Whether two resolved pool options are the same, option by option. */
function samePool(a: ResolvedPoolOptions, b: ResolvedPoolOptions): boolean {
  return POOL_OPTIONS.every(
    (name) => a[name as keyof ResolvedPoolOptions] === b[name as keyof ResolvedPoolOptions],
  )
}

/**
 * Runs `work` with its SQLite work waiting for a locked file until its time-out, run again after
 * short pauses, instead of failing after the lookups' 50 ms: for the command line, which serves no
 * requests and would rather wait for a writer than fail.
 */
export function waitingForLocks<T>(work: () => Promise<T>): Promise<T> {
  return lockWaits.run(true, work)
}

/**
 * One database as the SQL sources use it: a lazily opened Kysely instance over a bounded pool,
 * and a {@link Gate} so callers wait a bounded time. Shared by every source given the same URL
 * (or the same client), pool options and logger; sources with another logger get another one over
 * the same pool and gate. The pool closes when the last of them is released.
 */
export class SqlConnection {
  readonly dialect: SqlDialectName
  /** Where it points, password masked (or `client`). */
  readonly display: string
  readonly pool: ResolvedPoolOptions
  readonly gate: Gate
  readonly #shared: SharedPool
  readonly #logger: Logger
  #refs = 0

  private constructor(shared: SharedPool, logger: Logger) {
    this.dialect = shared.spec.dialect
    this.display = shared.spec.display
    this.pool = shared.spec.pool
    this.gate = shared.gate
    this.#shared = shared
    this.#logger = logger
  }

  /** The view of `shared` for `logger`, made on first use; each call takes one reference. */
  static #take(shared: SharedPool, logger: Logger): SqlConnection {
    let connection = shared.views.get(logger)
    if (connection === undefined) {
      connection = new SqlConnection(shared, logger)
      shared.views.set(logger, connection)
    }
    connection.#refs += 1
    return connection
  }

  /**
   * The connection to `target` with these pool bounds, shared; each call takes one reference.
   * `logger` is told when an idle connection of the pool fails, as long as the reference is held.
   */
  static forTarget(
    target: DatabaseTarget,
    pool: ResolvedPoolOptions,
    logger: Logger = silentLogger,
  ): SqlConnection {
    const where =
      target.dialect === 'sqlite' ? target.path : `${target.url}\n${target.sslMode ?? ''}`
    // Each pool of `sqlite::memory:` would be an empty database of its own: one pool serves them
    // all, and other pool options for it are refused rather than silently given another database.
    const memory = target.dialect === 'sqlite' && target.path === SQLITE_MEMORY
    const key = `${target.dialect}\n${where}${memory ? '' : `\n${JSON.stringify(pool)}`}`
    let shared = byUrl.get(key)
    if (memory && shared !== undefined && !samePool(shared.spec.pool, pool)) {
      throw new ConfigError([
        `pool must be the same for every store and source on ${target.display}: its in-memory ` +
          `database lives in one pool, open with ${JSON.stringify(shared.spec.pool)}, and other ` +
          `pool options (${JSON.stringify(pool)}) would get an empty database of their own; give ` +
          `them all the same pool options, or share one SqlAuthzStore as \`store\``,
      ])
    }
    if (shared === undefined) {
      shared = new SharedPool(
        { dialect: target.dialect, display: target.display, pool },
        {
          owned: true,
          open: (opening) => openTarget(target, pool, opening.idleErrors),
          forget: () => byUrl.delete(key),
        },
      )
      byUrl.set(key, shared)
    }
    return SqlConnection.#take(shared, logger)
  }

  /**
   * The connection over a client the app owns, shared per client and pool options; each call takes
   * one reference. Every pool option is applied here, not by the app's pool (the gate's bounds, the
   * query time-out on each query), so stores with other options get a connection of their own over
   * the same client rather than silently running with the first store's.
   */
  static forClient(
    client: object,
    dialect: SqlDialectName,
    kind: ClientKind,
    pool: ResolvedPoolOptions,
  ): SqlConnection {
    const perPool = byClient.get(client) ?? new Map<string, SharedPool>()
    byClient.set(client, perPool)
    const key = `${dialect}\n${JSON.stringify(pool)}`
    let shared = perPool.get(key)
    if (shared === undefined) {
      shared = new SharedPool(
        { dialect, display: `${dialect} client`, pool },
        {
          owned: false,
          open: () => openClient(client, dialect, kind, pool),
          forget: () => {
            perPool.delete(key)
            if (perPool.size === 0) byClient.delete(client)
          },
        },
      )
      perPool.set(key, shared)
    }
    // The app's pool keeps its own 'error' listener: no logger of ours is told.
    return SqlConnection.#take(shared, silentLogger)
  }

  /** Opens the database (loads Kysely and the driver, creates the pool); no query is sent. */
  open(): Promise<OpenedDatabase> {
    return this.#shared.open()
  }

  /**
   * Runs `work` through the gate, bounded by the query time-out; rejects as soon as `signal`
   * aborts (the query itself then ends at its own time-out). `ddlTimeoutMs` bounds it instead, and
   * each of its statements on the pools the drivers guard, for DDL that may run for minutes. DDL,
   * and work inside {@link waitingForLocks}, that finds a SQLite file locked is run again until that
   * deadline, each time on a connection checked out anew: the pauses between leave the connection
   * to lookups, which can still read while another process writes.
   */
  async run<T>(
    work: (opened: OpenedDatabase) => Promise<T>,
    signal?: AbortSignal,
    ddlTimeoutMs?: number,
  ): Promise<T> {
    const opened = await this.open()
    const release = await this.gate.acquire(signal)
    const timeoutMs = ddlTimeoutMs ?? this.pool.queryTimeoutMs
    const message = `the database did not answer within ${timeoutMs} ms`
    const deadline = performance.now() + timeoutMs
    const start = () => this.#start(opened, work, deadline, message)
    const bounds: StatementBounds | undefined =
      ddlTimeoutMs !== undefined
        ? { timeoutMs, lockWaitUntil: deadline }
        : lockWaits.getStore() === true
          ? { lockWaitUntil: deadline }
          : undefined
    const running =
      bounds === undefined ? start() : withStatementBounds(bounds, () => retryingWhileLocked(start))
    // The slot is held until the work ends, not only until its caller stops waiting: work that
    // outlives its deadline (a query on a dead network, a wait for a pool the app holds, the
    // cancel of a statement an app's pg pool gave up on) still counts against `size`, so a stalled
    // database cannot gather more of it than that.
    running.then(release, release)
    return abortable(withDeadline(running, timeoutMs, message), signal)
  }

  /**
   * Runs `work` on one connection once the driver hands it over, unless that was past the deadline
   * (the caller got its error then): a lookup nobody waits for any more is never sent. Async, so
   * that even a client without Kysely's `connection()` rejects rather than keeping its slot.
   */
  async #start<T>(
    opened: OpenedDatabase,
    work: (opened: OpenedDatabase) => Promise<T>,
    deadline: number,
    message: string,
  ): Promise<T> {
    return opened.db.connection().execute(async (db) => {
      // better-sqlite3 runs each statement synchronously, holding the event loop: let timers and
      // other requests run between two lookups, so that a queue of them cannot freeze the app.
      if (this.dialect === 'sqlite') await nextTurn()
      if (performance.now() >= deadline) throw new Error(message)
      return work({ db, kysely: opened.kysely })
    })
  }

  /**
   * Drops one reference; the last one of this logger stops telling it, and the last one of the
   * pool closes it (never a client the app owns).
   */
  async release(): Promise<void> {
    if (this.#refs === 0) return
    this.#refs -= 1
    if (this.#refs > 0) return
    const shared = this.#shared
    shared.views.delete(this.#logger)
    if (shared.views.size === 0) await shared.close()
  }
}

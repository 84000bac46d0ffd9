// Connections: one bounded pool per URL (or per client the app hands over), drivers loaded lazily.

import { setImmediate as nextTurn } from 'node:timers/promises'
import type * as KyselyModule from 'kysely'
import type { Kysely } from 'kysely'
import {
  checkNumber,
  checkOptionNames,
  checkTimeout,
  silentLogger,
  type Logger,
  type OptionFlags,
  type Problems,
} from '../../src/spi.js'
import { openClient, openTarget, withStatementTimeout } from './drivers.js'
import { Gate } from './gate.js'
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

const byUrl = new Map<string, SqlConnection>()
const byClient = new WeakMap<object, Map<string, SqlConnection>>()

/**
 * One database as the SQL sources use it: a lazily opened Kysely instance over a bounded pool,
 * and a {@link Gate} so callers wait a bounded time. Shared by every source given the same URL
 * (or the same client) and pool options, and closed when the last of them closes.
 */
export class SqlConnection {
  readonly dialect: SqlDialectName
  /** Where it points, password masked (or `client`). */
  readonly display: string
  readonly pool: ResolvedPoolOptions
  readonly gate: Gate
  readonly #open: () => Promise<OpenedDatabase>
  readonly #owned: boolean
  readonly #forget: () => void
  #opened: Promise<OpenedDatabase> | undefined
  #refs = 0

  private constructor(init: {
    dialect: SqlDialectName
    display: string
    pool: ResolvedPoolOptions
    owned: boolean
    open: () => Promise<OpenedDatabase>
    forget: () => void
  }) {
    this.dialect = init.dialect
    this.display = init.display
    this.pool = init.pool
    this.#owned = init.owned
    this.#open = init.open
    this.#forget = init.forget
    this.gate = new Gate(init.pool)
  }

  /** The connection to `target` with these pool bounds, shared; each call takes one reference. */
  static forTarget(
    target: DatabaseTarget,
    pool: ResolvedPoolOptions,
    logger: Logger = silentLogger,
  ): SqlConnection {
    const where =
      target.dialect === 'sqlite' ? target.path : `${target.url}\n${target.sslMode ?? ''}`
    const key = `${target.dialect}\n${where}\n${JSON.stringify(pool)}`
    let connection = byUrl.get(key)
    if (connection === undefined) {
      connection = new SqlConnection({
        dialect: target.dialect,
        display: target.display,
        pool,
        owned: true,
        open: () => openTarget(target, pool, logger),
        forget: () => byUrl.delete(key),
      })
      byUrl.set(key, connection)
    }
    connection.#refs += 1
    return connection
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
    const perPool = byClient.get(client) ?? new Map<string, SqlConnection>()
    byClient.set(client, perPool)
    const key = `${dialect}\n${JSON.stringify(pool)}`
    let connection = perPool.get(key)
    if (connection === undefined) {
      connection = new SqlConnection({
        dialect,
        display: `${dialect} client`,
        pool,
        owned: false,
        open: () => openClient(client, dialect, kind, pool),
        forget: () => {
          perPool.delete(key)
          if (perPool.size === 0) byClient.delete(client)
        },
      })
      perPool.set(key, connection)
    }
    connection.#refs += 1
    return connection
  }

  /** Opens the database (loads Kysely and the driver, creates the pool); no query is sent. */
  open(): Promise<OpenedDatabase> {
    this.#opened ??= this.#open().catch((error: unknown) => {
      this.#opened = undefined // a missing driver may be installed later; try again next time
      throw error
    })
    return this.#opened
  }

  /**
   * Runs `work` through the gate, bounded by the query time-out; rejects as soon as `signal`
   * aborts (the query itself then ends at its own time-out). `ddlTimeoutMs` bounds it instead, and
   * each of its statements on the pools this module guards, for DDL that may run for minutes.
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
    const start = () => this.#start(opened, work, performance.now() + timeoutMs, message)
    const running = ddlTimeoutMs === undefined ? start() : withStatementTimeout(timeoutMs, start)
    // The slot is held until the work ends, not only until its caller stops waiting: work that
    // outlives its deadline (a query on a dead network, a wait for a pool the app holds) still
    // counts against `size`, so a stalled database cannot gather more of it than that.
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

  /** Drops one reference; the last one closes the pool (never a client the app owns). */
  async release(): Promise<void> {
    if (this.#refs === 0) return
    this.#refs -= 1
    if (this.#refs > 0) return
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

/** Settles like `promise`, or rejects with `message` after `ms`; a late failure is swallowed. */
function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
    timer.unref?.()
  })
  promise.catch(() => undefined)
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  promise.catch(() => undefined)
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  return Promise.race([promise, aborted]).finally(() =>
    signal.removeEventListener('abort', onAbort!),
  )
}

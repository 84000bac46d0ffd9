// An app's or our own mysql2 pool, bounded: waits for a connection end at the time-out, queries
// carry it, failed connections are discarded, and values travel as prepared statement parameters.

import type { MysqlPool, MysqlPoolConnection } from 'kysely'
import type { ResolvedPoolOptions } from './connection.js'
import { currentBounds, reportedByServer } from './transactions.js'
import type { MysqlSslMode } from './url.js'

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
export function mysqlTls(mode: MysqlSslMode | undefined): {
  ssl?: { rejectUnauthorized: boolean; verifyIdentity: boolean }
} {
  if (mode === undefined || mode === 'DISABLED') return {}
  return {
    ssl: { rejectUnauthorized: true, verifyIdentity: mode !== 'VERIFY_CA' },
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

export interface RawMysqlPool {
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
export function guardMysqlPool(
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

// An app's or our own pg pool, bounded: waits for a client end at the time-out, a client that
// failed without the server saying why is discarded, and (for an app's pool) its statement is
// cancelled on the server.

import { connect } from 'node:net'
import type { PostgresPool } from 'kysely'
import { MAX_TIMER_MS } from '../../src/spi.js'
import type { ResolvedPoolOptions } from './connection.js'
import { currentBounds, reportedByServer } from './transactions.js'

/**
 * pg's own timer on each query, a little past the query time-out so that the server's
 * `statement_timeout` speaks first; past Node's longest delay it would fire at once and fail
 * every query.
 */
export function pgReadTimeout(queryTimeoutMs: number): number {
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

export interface RawPgPool {
  connect(): Promise<RawPgClient>
  end(): Promise<void>
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
export function guardPgPool(
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

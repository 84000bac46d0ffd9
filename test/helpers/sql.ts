// SQL test helpers: the real databases (PostgreSQL, MariaDB, SQLite), unique tables, a TCP proxy.

import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SqlTableNames } from '../../providers/sql/index.js'
import { SqlAuthzStore } from '../../providers/sql/index.js'
import { sqlCommands } from '../../providers/sql/cli.js'
import { runCli } from '../../bin/dispatch.js'
import { resolvePoolOptions, SqlConnection } from '../../providers/sql/connection.js'
import { parseDatabaseUrl } from '../../providers/sql/url.js'
import { Problems } from '../../src/options.js'

/** A database the SQL suites run against. */
export interface TestDatabase {
  readonly name: 'postgres' | 'mariadb' | 'sqlite'
  /** The URL the suite uses (for SQLite a file of its own, removed by `cleanup`). */
  readonly url: string
  /** Host and port of a server database, for the TCP proxy. */
  readonly server?: { readonly host: string; readonly port: number }
  /** Builds the URL of the same database reached through `port` on 127.0.0.1. */
  readonly via?: (port: number) => string
  cleanup(): void
}

const POSTGRES_CANDIDATES = [
  process.env['TEST_POSTGRES_URL'],
  'postgres://postgres@127.0.0.1:5432/test',
  'postgres://root@127.0.0.1:5432/test',
].filter((url): url is string => url !== undefined)
const MARIADB_URL = process.env['TEST_MARIADB_URL'] ?? 'mysql://root@127.0.0.1:3306/test'

function server(url: string): TestDatabase {
  const parsed = new URL(url)
  const name = parsed.protocol === 'mysql:' ? 'mariadb' : 'postgres'
  return {
    name,
    url,
    server: { host: parsed.hostname, port: Number(parsed.port) },
    via: (port) => {
      const proxied = new URL(url)
      proxied.hostname = '127.0.0.1'
      proxied.port = String(port)
      return proxied.href
    },
    cleanup: () => undefined,
  }
}

/** A fresh SQLite file for one suite. */
export function sqliteDatabase(): TestDatabase {
  const path = join(tmpdir(), `oidc-guard-sql-${process.pid}-${randomBytes(4).toString('hex')}.db`)
  return {
    name: 'sqlite',
    url: `sqlite:${path}`,
    cleanup: () => {
      for (const suffix of ['', '-wal', '-shm', '-journal'])
        rmSync(`${path}${suffix}`, { force: true })
    },
  }
}

async function reachable(url: string): Promise<boolean> {
  const store = new SqlAuthzStore({ url, pool: { size: 1, queryTimeoutMs: 3_000 } })
  try {
    await store.ready()
    return true
  } catch {
    return false
  } finally {
    await store.close()
  }
}

/**
 * The databases to run on: PostgreSQL (127.0.0.1:5432, database `test`), MariaDB (127.0.0.1:3306,
 * database `test`) and SQLite. In CI (`CI=true`) a server that cannot be reached throws, so the
 * suite fails instead of skipping; elsewhere it is left out with a loud warning.
 */
export async function testDatabases(
  which: readonly TestDatabase['name'][] = ['postgres', 'mariadb', 'sqlite'],
): Promise<TestDatabase[]> {
  const found: TestDatabase[] = []
  const missing: string[] = []
  if (which.includes('postgres')) {
    let url: string | undefined
    for (const candidate of POSTGRES_CANDIDATES) {
      if (await reachable(candidate)) {
        url = candidate
        break
      }
    }
    if (url === undefined) missing.push('PostgreSQL at 127.0.0.1:5432 (database test)')
    else found.push(server(url))
  }
  if (which.includes('mariadb')) {
    if (await reachable(MARIADB_URL)) found.push(server(MARIADB_URL))
    else missing.push('MariaDB at 127.0.0.1:3306 (database test)')
  }
  if (which.includes('sqlite')) found.push(sqliteDatabase())
  if (missing.length > 0) {
    const message = `SQL tests cannot reach ${missing.join(' and ')}`
    if (process.env['CI'] === 'true')
      throw new Error(`${message}; CI needs them (.ci/run starts them)`)
    console.warn(`\n!!! ${message}: SKIPPING their suites (they are required in CI) !!!\n`)
  }
  return found
}

/** Table names no other test file uses: `t<random>_groups`… */
export function uniqueTables(): Required<SqlTableNames> {
  const prefix = `t${randomBytes(5).toString('hex')}`
  return {
    groups: `${prefix}_groups`,
    roles: `${prefix}_roles`,
    permissions: `${prefix}_permissions`,
  }
}

/** Runs raw SQL on a test database (setup and teardown only: views, drops, counts). */
export async function execute(url: string, statements: readonly string[]): Promise<unknown[][]> {
  const target = parseDatabaseUrl(url)
  if (typeof target === 'string') throw new Error(target)
  const connection = SqlConnection.forTarget(target, resolvePoolOptions(new Problems(), undefined))
  try {
    const results: unknown[][] = []
    for (const statement of statements) {
      const rows = await connection.run(async ({ db, kysely }) => {
        const result = await kysely.sql.raw(statement).execute(db)
        return result.rows as unknown[]
      })
      results.push(rows)
    }
    return results
  } finally {
    await connection.release()
  }
}

/** Drops the tables (and views) a suite created. */
export async function dropTables(url: string, names: readonly string[]): Promise<void> {
  const quote = url.startsWith('mysql') ? '`' : '"'
  await execute(
    url,
    names.map((name) => `drop table if exists ${quote}${name}${quote}`),
  )
}

/** A TCP proxy on 127.0.0.1 in front of a database that a test can cut and restore. */
export interface TcpProxy {
  readonly port: number
  /**
   * `reset`: every connection, open or new, is reset at once (a database that is down).
   * `blackhole`: connections are accepted but nothing passes (a network that drops packets).
   */
  cut(mode: 'reset' | 'blackhole'): void
  /** Lets traffic through again; connections held by a black hole are reset. */
  restore(): void
  close(): Promise<void>
}

/** Starts a {@link TcpProxy} to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'open' | 'reset' | 'blackhole' = 'open'
  const pairs = new Set<{ client: Socket; upstream: Socket | undefined }>()
  const drop = (pair: { client: Socket; upstream: Socket | undefined }) => {
    pairs.delete(pair)
    pair.client.resetAndDestroy()
    pair.upstream?.destroy()
  }
  const proxy: Server = createServer((client) => {
    client.on('error', () => undefined)
    if (mode === 'reset') return void client.resetAndDestroy()
    const pair = { client, upstream: undefined as Socket | undefined }
    pairs.add(pair)
    client.on('close', () => {
      pairs.delete(pair)
      pair.upstream?.destroy()
    })
    if (mode === 'blackhole') return
    const upstream = createConnection(target)
    pair.upstream = upstream
    upstream.on('error', () => drop(pair))
    upstream.on('close', () => client.destroy())
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const { port } = proxy.address() as { port: number }
  return {
    port,
    cut(next) {
      mode = next
      for (const pair of [...pairs]) {
        if (next === 'reset') drop(pair)
        else {
          // Nothing passes any more, in either direction, and nobody is told.
          pair.client.unpipe()
          pair.upstream?.unpipe()
          pair.client.pause()
          pair.upstream?.pause()
        }
      }
    },
    restore() {
      if (mode === 'blackhole') for (const pair of [...pairs]) drop(pair)
      mode = 'open'
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const pair of [...pairs]) drop(pair)
        proxy.close(() => resolve())
      }),
  }
}

/** Runs `oidc-guard <args>` with the SQL commands and an empty environment, capturing its output. */
export async function sqlCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(
    args,
    { out: (line) => void out.push(line), err: (line) => void err.push(line), env: {} },
    sqlCommands,
  )
  return { code, out: out.join('\n'), err: err.join('\n') }
}

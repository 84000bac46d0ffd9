// SQL review fixes without a server: query passwords masked, a refused source lets go of its pool,
// and a MySQL lookup that timed out waiting for a connection never runs later.

import { spawnSync } from 'node:child_process'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import {
  maskUrl,
  parseDatabaseUrl,
  sqlSourcesEnv,
  SqlAuthzStore,
  SqlGroupsProvider,
  type SqlPermissionsProvider,
} from '../../providers/sql/index.js'
import { ConfigError } from '../../src/errors.js'
import { EnvReader } from '../../src/env.js'
import type { EnvContext } from '../../src/from-env.js'
import { safeError } from '../../src/logger.js'
import { Problems } from '../../src/options.js'
import { uniqueTables } from '../helpers/sql.js'

describe('passwords in a database URL’s query are masked like the user information’s', () => {
  it.each([
    ['postgres://app@db/authz?password=hunter2', 'postgres://app@db/authz?password=***'],
    [
      'postgres://app:pw@db/authz?sslmode=require&sslpassword=hunter2',
      'postgres://app:***@db/authz?sslmode=require&sslpassword=***',
    ],
    [
      'mysql://root@db/x?password1=hunter2&charset=utf8mb4&password2=b&passwordSha1=c',
      'mysql://root@db/x?password1=***&charset=utf8mb4&password2=***&passwordSha1=***',
    ],
    // pg decodes the name before reading it, so an encoded name is the same parameter.
    ['postgres://app@db/authz?pass%77ord=hunter2', 'postgres://app@db/authz?pass%77ord=***'],
    [
      'postgres://app@db/authz?PASSWORD=hunter2&a=%20b',
      'postgres://app@db/authz?PASSWORD=***&a=%20b',
    ],
    [
      'postgres://app@db/authz?password=&passwordless=1',
      'postgres://app@db/authz?password=&passwordless=1',
    ],
  ])('maskUrl(%j)', (url, masked) => {
    expect(maskUrl(url)).toBe(masked)
  })

  it('keeps them out of the display, the closed-store error and the start-up debug line', async () => {
    const url = 'postgresql+psycopg://app@127.0.0.1:1/authz?sslmode=disable&password=hunter2'
    expect(parseDatabaseUrl(url)).toMatchObject({
      url: expect.stringContaining('password=hunter2'), // the driver still gets it
      display: 'postgres://app@127.0.0.1:1/authz?sslmode=disable&password=***',
    })
    const store = new SqlAuthzStore({ url })
    await store.close()
    await expect(store.lookup('groups', 'alice')).rejects.toThrow(
      'the SQL store for postgres://app@127.0.0.1:1/authz?sslmode=disable&password=*** is closed',
    )

    const lines: string[] = []
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) })
    const context: EnvContext = { jwksCache: undefined as never, logger, production: false }
    const problems = new Problems()
    const sources = sqlSourcesEnv.create(
      new EnvReader({ AUTHZ_DATABASE_URL: url }, problems),
      context,
    )
    problems.throwIfAny()
    await (sources.permissions as SqlPermissionsProvider).close()
    expect(lines.join('\n')).toContain('authorization facets from SQL')
    expect(lines.join('\n')).not.toContain('hunter2')
  })

  it('safeError removes them from error texts, keeping the other parameters', () => {
    const text =
      'connect postgres://app@db/authz?sslmode=require&password=hunter2 failed; ' +
      'mysql://root@db/x?sslpassword=s3cret&password2=two#frag, "pg://h/d?password=q1"'
    const { message, stack } = safeError(new Error(text))
    for (const secret of ['hunter2', 's3cret', 'two', 'q1']) {
      expect(message).not.toContain(secret)
      expect(stack).not.toContain(secret)
    }
    // (The user information goes too, as it always did; the value runs to the next `&`.)
    expect(message).toBe(
      'connect postgres://[redacted]@db/authz?sslmode=require&password=[redacted] failed; ' +
        'mysql://[redacted]@db/x?sslpassword=[redacted]&password2=[redacted]#frag, "pg://h/d?password=[redacted]',
    )
    expect(safeError(new Error('the password=x is wrong')).message).toBe('the password=x is wrong')
  })

  // As in logger.test.ts: scrubbed in a child killed after 20 s, in case a pattern backtracks.
  it('scrubs megabytes of query-shaped text without stalling', () => {
    const logger = new URL('../../src/logger.ts', import.meta.url).href
    const script = `
      const { safeError } = await import(${JSON.stringify(logger)})
      for (const text of ['?password='.repeat(1e5), '&'.repeat(1e6), '?sslpassword=' + 'a'.repeat(1e6), '?passwordsha'.repeat(1e5)]) {
        if (safeError(new Error(text)).message.length > 1000) process.exit(2)
      }`
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { timeout: 20_000, encoding: 'utf8' },
    )
    expect({ status: child.status, signal: child.signal, stderr: child.stderr }).toEqual({
      status: 0,
      signal: null,
      stderr: '',
    })
  }, 30_000)
})

describe('a source refused at construction lets go of the pool its store took', () => {
  it('closes the shared connection when the last real user closes', async () => {
    // A private in-memory database: it lives exactly as long as its shared connection.
    const url = 'sqlite::memory:'
    const pool = { maxWaiting: 17 } // pool options no other test uses, so no other test shares it
    const tables = uniqueTables()
    const first = new SqlAuthzStore({ url, pool, tables })
    await first.init()
    await first.grant('groups', 'alice', 'admin')

    expect(() => new SqlGroupsProvider({ url, pool, tables, idClaim: ' ' })).toThrow(ConfigError)
    await first.close()

    // Every reference is gone, so this opens a new, empty database.
    const second = new SqlAuthzStore({ url, pool, tables })
    try {
      await expect(second.lookup('groups', 'alice')).rejects.toThrow(/no such table/)
    } finally {
      await second.close()
    }
  })
})

/** A mysql2 callback pool that hands out connections only when the test says so. */
function fakeMysqlPool() {
  const waiting: ((error: unknown, connection: unknown) => void)[] = []
  const queried: unknown[][] = []
  let released = 0
  const reply = (_options: unknown, values: unknown[], done: (e: unknown, r: unknown) => void) => {
    queried.push(values)
    done(null, [])
  }
  const connection = {
    query: reply,
    execute: reply,
    release: () => void (released += 1),
    destroy: () => undefined,
  }
  return {
    pool: {
      getConnection: (callback: (error: unknown, connection: unknown) => void) =>
        void waiting.push(callback),
      end: (callback: (error: unknown) => void) => callback(null),
    },
    /** Hands the next waiting caller a connection, as mysql2 does once one frees up. */
    serveNext: () => waiting.shift()?.(null, connection),
    get waiting() {
      return waiting.length
    },
    queried,
    get released() {
      return released
    },
  }
}

describe('a MySQL lookup that timed out waiting for a connection', () => {
  it('never runs its query when a connection frees up later', async () => {
    const fake = fakeMysqlPool()
    const store = new SqlAuthzStore({ client: fake.pool, pool: { queryTimeoutMs: 100 } })
    try {
      await expect(store.lookup('groups', 'stale-user')).rejects.toThrow(/within 100 ms/)
      expect(fake.waiting).toBe(1) // still in the driver's queue, as in mysql2
      await new Promise((resolve) => setTimeout(resolve, 50)) // a connection frees up later
      fake.serveNext()
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(fake.queried).toEqual([])
      expect(fake.released).toBe(1) // handed straight back, unused
    } finally {
      await store.close()
    }
  })
})

// SQL review fixes, second round: passwords that are not percent-encoded never shown, Unix socket
// URLs, pool options per client, the CLI's --no-id-column, and the largest query time-out.

import { existsSync } from 'node:fs'
import pg from 'pg'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import {
  maskUrl,
  parseDatabaseUrl,
  sqlSourcesEnv,
  SqlAuthzStore,
  SqlPermissionsProvider,
} from '../../providers/sql/index.js'
import { sqlCommands } from '../../providers/sql/cli.js'
import { resolvePoolOptions, SqlConnection } from '../../providers/sql/connection.js'
import { ConfigError } from '../../src/errors.js'
import { EnvReader } from '../../src/env.js'
import type { EnvContext } from '../../src/from-env.js'
import { MAX_TIMER_MS, Problems } from '../../src/options.js'
import {
  dropTables,
  execute,
  sqliteDatabase,
  testDatabases,
  uniqueTables,
  type TestDatabase,
} from '../helpers/sql.js'

const databases = await testDatabases(['postgres', 'mariadb'])

/** Runs one SQL command of the CLI in process. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const command = sqlCommands.find((candidate) => candidate.name === args[0])!
  const code = await command.run(args.slice(1), {
    out: (line) => void out.push(line),
    err: (line) => void err.push(line),
    env,
  })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

function problemsOf(build: () => unknown): string[] {
  try {
    build()
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems]
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('a password with a bare #, / or ? after digits never shows', () => {
  const refused =
    'must percent-encode its user, password, host and database name: a # as %23, a / as %2F, a ? as %3F, an @ as %40 (value hidden: it may carry a password)'

  // Each reads as user = host, the password's digits = port, the rest in fragment, path or query.
  it.each([
    ['postgres://admin:4711#Sup3r@db.internal/test', ['4711', 'Sup3r']],
    ['mysql://app:2024/Xk9@127.0.0.1/test', ['2024', 'Xk9']],
    ['postgres://admin:4711?Sup3r@db.internal/test', ['4711', 'Sup3r']],
    ['postgresql+psycopg2://admin:99#x9Secret@db/test?sslmode=require', ['99#x9', 'Secret']],
    ['mariadb://app:1/2/Secret@db/test', ['Secret']],
  ])('%s is refused, and no message or display holds the secret', async (url, secrets) => {
    const texts: string[] = []
    const result = parseDatabaseUrl(url)
    expect(result).toBe(refused)
    texts.push(String(result), maskUrl(url))

    texts.push(...problemsOf(() => new SqlPermissionsProvider({ url })))
    texts.push(...problemsOf(() => new SqlAuthzStore({ url })))

    // fromEnv's SQL part, with its debug line on.
    const lines: string[] = []
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) })
    const context: EnvContext = { jwksCache: undefined as never, logger, production: false }
    const problems = new Problems()
    sqlSourcesEnv.create(new EnvReader({ AUTHZ_DATABASE_URL: url }, problems), context)
    const fromEnv = problemsOf(() => problems.throwIfAny())
    expect(fromEnv).toEqual([`AUTHZ_DATABASE_URL ${refused}`])
    texts.push(...fromEnv, ...lines)

    // The CLI, given the URL by flag and by environment.
    const byFlag = await cli(['groups', 'alice', '--url', url])
    const byEnv = await cli(['sql', 'init'], { AUTHZ_DATABASE_URL: url })
    expect(byFlag.code).toBe(2)
    expect(byEnv.code).toBe(2)
    expect(byFlag.err).toContain(`--url ${refused}`)
    expect(byEnv.err).toContain(`AUTHZ_DATABASE_URL ${refused}`)
    texts.push(byFlag.out, byFlag.err, byEnv.out, byEnv.err)

    for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret)
  })

  it('maskUrl drops the fragment, and hides whole a URL with an @ past its host', () => {
    expect(maskUrl('postgres://u:pw@h/db#frag')).toBe('postgres://u:***@h/db')
    expect(maskUrl('postgres://u@h/db?sslmode=require#x')).toBe('postgres://u@h/db?sslmode=require')
    const hidden = 'postgres://admin:4711#Sup3r@db.internal/test'
    expect(maskUrl(hidden)).toBe(`(${hidden.length} characters, hidden)`)
    expect(maskUrl('mysql://app:2024/Xk9@127.0.0.1/test')).toBe('(35 characters, hidden)')
    expect(maskUrl('mysql://app:2024?a=Xk9@127.0.0.1/test')).toBe('(37 characters, hidden)')
  })

  it('an encoded password, or an @ encoded in the query, is accepted', () => {
    expect(parseDatabaseUrl('postgres://admin:4711%23Sup3r@db.internal/test')).toMatchObject({
      url: 'postgres://admin:4711%23Sup3r@db.internal/test',
      display: 'postgres://admin:***@db.internal/test',
    })
    expect(parseDatabaseUrl('mysql://app:2024%2FXk9@127.0.0.1/test')).toMatchObject({
      display: 'mysql://app:***@127.0.0.1/test',
    })
    expect(parseDatabaseUrl('postgres://app@db/test?application_name=a%40b')).toMatchObject({
      dialect: 'postgres',
    })
  })
})

describe('Unix socket URLs with an empty host', () => {
  it.each([
    [
      'postgresql+psycopg2://postgres@/test?host=/var/run/postgresql',
      'postgres://postgres@localhost/test?host=/var/run/postgresql',
    ],
    [
      'postgres:///test?host=/var/run/postgresql&user=postgres',
      'postgres://localhost/test?host=/var/run/postgresql&user=postgres',
    ],
    ['postgres://app:s3cret@/test?host=%2Ftmp', 'postgres://app:s3cret@localhost/test?host=%2Ftmp'],
    [
      'mysql://root@/test?socketPath=/run/mysqld/mysqld.sock',
      'mysql://root@localhost/test?socketPath=/run/mysqld/mysqld.sock',
    ],
    [
      'mariadb+pymysql:///test?socketPath=/tmp/m.sock',
      'mysql://localhost/test?socketPath=/tmp/m.sock',
    ],
  ])('%s is accepted', (url, normalised) => {
    const target = parseDatabaseUrl(url)
    expect(target).toMatchObject({ url: normalised })
    expect(target).toMatchObject({ display: expect.not.stringContaining('s3cret') })
  })

  it.each([
    'postgres:///test',
    'postgres://app@/test',
    'postgres://app:s3cret@/test?host=db.internal', // not a socket: write the host in its place
    'mysql://root@/test?host=/run/mysqld', // mysql2 reads socketPath, not host
    'mysql:///test?socketPath=',
  ])('%s is refused, saying how a socket is written', (url) => {
    const problem = parseDatabaseUrl(url)
    expect(problem).toMatch(/^has no host/)
    expect(problem).toContain('for a Unix socket: postgres://user@/db?host=/var/run/postgresql')
    expect(problem).toContain('mysql://user@/db?socketPath=')
    expect(problem).not.toContain('s3cret')
  })

  it('a URL that does not parse says what to encode and how a socket is written', () => {
    const problem = parseDatabaseUrl('postgres://admin:ab/cd@db/test')
    expect(problem).toMatch(/^is not a valid URL: percent-encode # \/ \? @ % in its password/)
    expect(problem).toContain('for a Unix socket')
    expect(problem).not.toContain('cd@db')
  })
})

/** The socket a local server listens on, from the environment or where Debian puts it. */
function socketOf(db: TestDatabase): string | undefined {
  const candidates =
    db.name === 'postgres'
      ? [process.env['TEST_POSTGRES_SOCKET_DIR'], '/var/run/postgresql', '/tmp'].map(
          (dir) => dir && `${dir}/.s.PGSQL.${db.server!.port}`,
        )
      : [process.env['TEST_MARIADB_SOCKET'], '/run/mysqld/mysqld.sock', '/tmp/mysql.sock']
  const found = candidates.find((path) => path !== undefined && existsSync(path))
  if (found === undefined && process.env['CI'] === 'true') {
    throw new Error(`no Unix socket found for ${db.name} (tried ${candidates.join(', ')})`)
  }
  return found
}

describe.each(databases)('a socket URL reaches $name through its socket', (db) => {
  const socket = socketOf(db)

  it.skipIf(socket === undefined)('connects over the socket, not TCP', async () => {
    const { username, pathname } = new URL(db.url)
    if (db.name === 'postgres') {
      const dir = socket!.slice(0, socket!.lastIndexOf('/'))
      for (const url of [
        `postgresql+psycopg2://${username}@${pathname}?host=${dir}`,
        `postgres://${pathname}?host=${dir}&user=${username}`,
      ]) {
        // inet_server_addr() is null on a Unix socket connection.
        const [rows] = await execute(url, ['select inet_server_addr() as addr'])
        expect(rows).toEqual([{ addr: null }])
      }
    } else {
      const url = `mysql://${username}@${pathname}?socketPath=${socket!}`
      const [rows] = await execute(url, [
        'select host from information_schema.processlist where id = connection_id()',
      ])
      expect(rows).toEqual([{ host: 'localhost' }]) // over TCP: 127.0.0.1:<port>
    }
  })
})

describe('stores on one client keep their own pool options', () => {
  it('gives each set of options its own connection, and shares equal ones', async () => {
    const client = { connect() {}, query() {}, totalCount: 0 }
    const slow = resolvePoolOptions(new Problems(), { queryTimeoutMs: 4_000 })
    const fast = resolvePoolOptions(new Problems(), { queryTimeoutMs: 300, size: 1 })
    const a = SqlConnection.forClient(client, 'postgres', 'postgres', slow)
    const b = SqlConnection.forClient(client, 'postgres', 'postgres', fast)
    const c = SqlConnection.forClient(client, 'postgres', 'postgres', { ...fast })
    try {
      expect(b).not.toBe(a)
      expect(c).toBe(b)
      expect(a.pool.queryTimeoutMs).toBe(4_000)
      expect(b.pool).toMatchObject({ queryTimeoutMs: 300, size: 1 })
    } finally {
      await Promise.all([a.release(), b.release(), c.release()])
    }
    // Every reference released: a new call starts afresh.
    const d = SqlConnection.forClient(client, 'postgres', 'postgres', fast)
    expect(d).not.toBe(b)
    await d.release()
  })

  const postgres = databases.filter((db) => db.name === 'postgres')
  describe.each(postgres)('on $name', (db) => {
    const tables = uniqueTables()
    afterAll(() => dropTables(db.url, Object.values(tables)))

    it('applies the second store’s query time-out while the first’s is longer', async () => {
      const setup = new SqlAuthzStore({ url: db.url, tables })
      await setup.init()
      await setup.close()
      const pool = new pg.Pool({ connectionString: db.url })
      const locker = new pg.Client({ connectionString: db.url })
      await locker.connect()
      const first = new SqlAuthzStore({ client: pool, tables, pool: { queryTimeoutMs: 4_000 } })
      const second = new SqlAuthzStore({
        client: pool,
        tables,
        pool: { queryTimeoutMs: 300, size: 1 },
      })
      try {
        await locker.query('begin')
        await locker.query(`lock table "${tables.permissions}" in access exclusive mode`)
        const started = Date.now()
        await expect(second.lookup('permissions', 'alice')).rejects.toThrow(
          'the database did not answer within 300 ms',
        )
        expect(Date.now() - started).toBeLessThan(2_000)
      } finally {
        await locker.query('rollback')
        await locker.end()
        await Promise.all([first.close(), second.close()])
        await pool.end()
      }
    })
  })
})

describe('the CLI on tables without an id column: --no-id-column', () => {
  const db = sqliteDatabase()
  const tables = uniqueTables()
  const flags = [
    '--url',
    db.url,
    '--groups-table',
    tables.groups,
    '--roles-table',
    tables.roles,
    '--permissions-table',
    tables.permissions,
  ]
  afterAll(() => db.cleanup())

  it('grants, lists and revokes on the seed-shaped table (username, "group")', async () => {
    await execute(db.url, [
      `create table "${tables.groups}" ("username" varchar(500) not null, "group" varchar(100) not null)`,
    ])
    // Without the flag the default id column is written, and the table has none.
    const withId = await cli(['grant', 'group', 'alice', 'admin', ...flags])
    expect(withId.code).toBe(1)
    expect(withId.err).toMatch(/id/)

    expect(await cli(['grant', 'group', 'alice', 'admin', ...flags, '--no-id-column'])).toEqual({
      code: 0,
      out: 'granted groups admin to alice',
      err: '',
    })
    expect((await cli(['groups', 'alice', ...flags, '--no-id-column'])).out).toBe('admin')
    expect(
      (await cli(['revoke', 'group', 'alice', 'admin', ...flags, '--no-id-column'])).code,
    ).toBe(0)
    expect((await cli(['groups', 'alice', ...flags, '--no-id-column'])).out).toBe('')
  })

  it('sql init --no-id-column creates tables without one', async () => {
    const other = uniqueTables()
    const args = ['sql', 'init', '--url', db.url, '--no-id-column', '--roles-table', other.roles]
    expect((await cli(args)).code).toBe(0)
    const [columns] = await execute(db.url, [`pragma table_info("${other.roles}")`])
    expect((columns as { name: string }[]).map((column) => column.name)).toEqual([
      'username',
      'role',
    ])
    const print = await cli(['sql', 'init', '--print', '--dialect', 'postgres', '--no-id-column'])
    expect(print.out).not.toContain('"id"')
  })

  it('refuses --id-column with --no-id-column', async () => {
    const both = await cli(['groups', 'alice', ...flags, '--id-column', 'rid', '--no-id-column'])
    expect(both.code).toBe(2)
    expect(both.err).toContain('give --id-column or --no-id-column, not both')
    expect((await cli(['groups', '--help'])).out).toContain('--no-id-column')
  })
})

// Needs the one-line change in providers/sql/drivers.ts: pg's query_timeout capped at the timer
// limit (queryTimeoutMs + 250 overflowed it, and Node fires such a timer after 1 ms).
describe.each(databases)('the largest query time-out on $name', (db) => {
  const tables = uniqueTables()
  afterAll(() => dropTables(db.url, Object.values(tables)))

  it('lookups succeed with queryTimeoutMs at the timer limit', async () => {
    const store = new SqlAuthzStore({ url: db.url, tables, pool: { queryTimeoutMs: MAX_TIMER_MS } })
    try {
      await store.init()
      await store.grant('permissions', 'alice', 'orders:read')
      expect(await store.lookup('permissions', 'alice')).toEqual(['orders:read'])
    } finally {
      await store.close()
    }
  })
})

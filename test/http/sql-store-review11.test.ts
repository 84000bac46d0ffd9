// SQL review 11: a MySQL URL's `ssl` JSON (a client key, its passphrase) masked like a password,
// PostgreSQL char(n) values answered without their padding as MariaDB answers them (while values
// that are not text are still refused), and an AUTHZ_POOL_SIZE out of range reported with the
// other SQL problems.

import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../../bin/dispatch.js'
import { sqlCommands } from '../../providers/sql/cli.js'
import {
  maskUrl,
  parseDatabaseUrl,
  SqlAuthzStore,
  sqlSourcesEnv,
  type SqlPermissionsProvider,
} from '../../providers/sql/index.js'
import { urlSecrets } from '../../providers/sql/url.js'
import { EnvReader } from '../../src/env.js'
import type { EnvContext } from '../../src/from-env.js'
import { Problems } from '../../src/options.js'
import { dropTables, execute, testDatabases, type TestDatabase } from '../helpers/sql.js'

const KEY =
  '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIsecretKeyBody\n-----END ENCRYPTED PRIVATE KEY-----'
const PASSPHRASE = 'Pa55phrase!'
const PFX = 'MIIpfxSecretBase64'
const TLS = { ca: 'CA-CERTIFICATE', cert: 'CLIENT-CERTIFICATE', key: KEY, passphrase: PASSPHRASE }
const sslUrl = (options: object, base = 'mysql://app@127.0.0.1:1/test') =>
  `${base}?charset=utf8mb4&ssl=${encodeURIComponent(JSON.stringify(options))}`

describe("a MySQL URL's ssl JSON is masked like a password", () => {
  const url = sslUrl(TLS)

  it.each([
    [url, 'mysql://app@127.0.0.1:1/test?charset=utf8mb4&ssl=***'],
    ['mysql://app:pw@db/x?ssl={"key":"k","passphrase":"p"}', 'mysql://app:***@db/x?ssl=***'],
    ['mysql://app@db/x?ssl=Amazon%20RDS&password1=p', 'mysql://app@db/x?ssl=***&password1=***'],
    ['mysql://app@db/x?SSL=%7B%7D', 'mysql://app@db/x?SSL=***'],
    ['mysql://app@db/x?ssl=', 'mysql://app@db/x?ssl='],
  ])('maskUrl(%j)', (given, masked) => {
    expect(maskUrl(given)).toBe(masked)
  })

  it('keeps them out of the display, SqlAuthzStore.database and the start-up debug line', async () => {
    const target = parseDatabaseUrl(url)
    expect(target).toMatchObject({ url: expect.stringContaining('ssl=') }) // mysql2 still gets it
    const store = new SqlAuthzStore({ url })
    const shown = [typeof target === 'string' ? target : target.display, store.database]
    await store.close()

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

    for (const text of [...shown, ...lines]) {
      for (const secret of ['MIIsecretKeyBody', 'Pa55phrase', 'CA-CERTIFICATE']) {
        expect(text).not.toContain(secret)
        expect(text).not.toContain(encodeURIComponent(secret))
      }
    }
    expect(shown).toEqual([
      'mysql://app@127.0.0.1:1/test?charset=utf8mb4&ssl=***',
      'mysql://app@127.0.0.1:1/test?charset=utf8mb4&ssl=***',
    ])
  })

  it('keeps them out of the CLI error', async () => {
    const err: string[] = []
    const code = await runCli(
      ['groups', 'alice', '--url', url, '--timeout', '2'],
      { out: () => undefined, err: (line) => void err.push(line), env: {} },
      sqlCommands,
    )
    expect(code).toBe(1)
    expect(err.join('\n')).toContain('mysql://app@127.0.0.1:1/test?charset=utf8mb4&ssl=***')
    expect(err.join('\n')).not.toMatch(/MIIsecretKeyBody|Pa55phrase/)
  })

  it("urlSecrets gives the JSON's key, passphrase and pfx, so they are cut out of driver messages", () => {
    expect(urlSecrets(url)).toEqual(expect.arrayContaining([KEY, PASSPHRASE]))
    // Node's TLS takes arrays, and objects { pem, passphrase } / { buf, passphrase }, too.
    const listed = sslUrl({
      key: [KEY, { pem: 'PEM-IN-OBJECT', passphrase: 'inner-pass' }],
      pfx: [{ buf: PFX, passphrase: 'pfx-pass' }],
    })
    expect(urlSecrets(listed)).toEqual(
      expect.arrayContaining([KEY, 'PEM-IN-OBJECT', 'inner-pass', PFX, 'pfx-pass']),
    )
    // Written with `+` for spaces, as a form would encode it, and read as mysql2's URLSearchParams does.
    const plus = 'mysql://app@db/x?ssl={"passphrase":"two+words"}'
    expect(urlSecrets(plus)).toContain('two words')
    // The certificates are not secret; a profile name or an object without a key gives nothing.
    expect(urlSecrets(url)).not.toContain('CA-CERTIFICATE')
    expect(urlSecrets(url)).not.toContain('CLIENT-CERTIFICATE')
    expect(urlSecrets('mysql://app@db/x?ssl=Amazon%20RDS')).toEqual([])
    expect(urlSecrets('mysql://app@db/x?ssl={"rejectUnauthorized":false}')).toEqual([])
    expect(urlSecrets('postgres://app@db/x?ssl=true')).toEqual([])
  })
})

describe('AUTHZ_POOL_SIZE out of range', () => {
  it.each([
    [{ AUTHZ_SQL_FACETS: 'perms' }, /AUTHZ_SQL_FACETS must list groups, roles or permissions/],
    [
      { AUTHZ_DATABASE_URL: 'postgres://app@db:99999/authz' },
      /AUTHZ_DATABASE_URL must have a port/,
    ],
  ])('is reported together with %j', (env, other) => {
    const problems = new Problems()
    const context: EnvContext = {
      jwksCache: undefined as never,
      logger: pino({ level: 'silent' }),
      production: false,
    }
    const reader = new EnvReader(
      { AUTHZ_DATABASE_URL: 'postgres://app@db/authz', AUTHZ_POOL_SIZE: '5000', ...env },
      problems,
    )
    expect(sqlSourcesEnv.create(reader, context)).toEqual({})
    let texts: readonly string[] = []
    try {
      problems.throwIfAny()
    } catch (error) {
      texts = (error as { problems: readonly string[] }).problems
    }
    expect(texts).toHaveLength(2)
    expect(texts.join('\n')).toMatch(/AUTHZ_POOL_SIZE must be a whole number from 1 to 1000/)
    expect(texts.join('\n')).toMatch(other)
  })

  it('still takes 1000', () => {
    const problems = new Problems()
    const context: EnvContext = {
      jwksCache: undefined as never,
      logger: pino({ level: 'silent' }),
      production: false,
    }
    const env = { AUTHZ_DATABASE_URL: 'postgres://app@db/authz', AUTHZ_POOL_SIZE: '1000' }
    const sources = sqlSourcesEnv.create(new EnvReader(env, problems), context)
    expect(() => problems.throwIfAny()).not.toThrow()
    return (sources.permissions as SqlPermissionsProvider).close()
  })
})

const databases = await testDatabases(['postgres', 'mariadb'])
const postgres = databases.filter((db) => db.name === 'postgres')
const created: { db: TestDatabase; table: string }[] = []

function tableName(db: TestDatabase): string {
  const table = `r11${randomBytes(5).toString('hex')}`
  created.push({ db, table })
  return table
}

function storeOn(db: TestDatabase, table: string): SqlAuthzStore {
  return new SqlAuthzStore({
    url: db.url,
    tables: { groups: table },
    columns: { user: 'username', id: null, groups: 'value' },
  })
}

afterAll(async () => {
  for (const { db, table } of created) await dropTables(db.url, [table])
})

describe.each(databases.map((db) => [db.name, db] as const))(
  'char(20) columns on %s',
  (_name, db) => {
    it('answer a granted value as it was granted, as every dialect does', async () => {
      const table = tableName(db)
      const charset = db.name === 'mariadb' ? ' character set utf8mb4 collate utf8mb4_bin' : ''
      await execute(db.url, [
        `create table ${table} (username char(20) not null, value char(20) not null, unique (username, value))${charset}`,
      ])
      const store = storeOn(db, table)
      try {
        expect(await store.grant('groups', 'alice', 'admin')).toBe(true)
        expect(await store.grant('groups', 'alice', 'admin')).toBe(false)
        expect(await store.lookup('groups', 'alice')).toEqual(['admin'])
        // Matching stays exact: the padding is no part of the key or the value.
        expect(await store.lookup('groups', 'alice ')).toEqual([])
        await expect(store.grant('groups', 'alice', 'admin ')).rejects.toThrow(
          /grant was not stored/,
        )
        expect(await store.lookup('groups', 'alice')).toEqual(['admin'])
      } finally {
        await store.close()
      }
    })
  },
)

describe.each(postgres.map((db) => [db.name, db] as const))(
  'other value columns on %s',
  (_name, db) => {
    it.each([
      ['uuid', ['6F1C2D3E-0000-4000-8000-00000000000A'], ['6f1c2d3e-0000-4000-8000-00000000000a']],
      ['citext', ['Admin', 'admin', 'admin '], ['Admin', 'admin', 'admin ']],
      ['varchar(20)', ['admin', 'admin ', 'b'], ['admin', 'admin ', 'b']],
      ['text', ['z', 'a'], ['a', 'z']],
    ])('%s: values answered as text, each distinct', async (type, values, answer) => {
      const table = tableName(db)
      const quote = (text: string) => `'${text}'`
      await execute(db.url, [
        'create extension if not exists citext',
        `create table ${table} (username varchar(20) not null, value ${type} not null)`,
        `insert into ${table} values ${values.map((value) => `('alice', ${quote(value)})`).join(', ')}`,
      ])
      const store = storeOn(db, table)
      try {
        expect(await store.lookup('groups', 'alice')).toEqual(answer)
      } finally {
        await store.close()
      }
    })
  },
)

describe.each(postgres.map((db) => [db.name, db] as const))(
  'value columns that are not text on %s',
  (_name, db) => {
    async function lookupIn(type: string, literal: string): Promise<string[]> {
      const table = tableName(db)
      await execute(db.url, [
        `create table ${table} (username varchar(20) not null, value ${type} not null)`,
        `insert into ${table} values ('alice', ${literal})`,
      ])
      const store = storeOn(db, table)
      try {
        return await store.lookup('groups', 'alice')
      } finally {
        await store.close()
      }
    }

    // Casting every value to text answered these as made-up values: '["admin", "ops"]', '{admin,ops}'.
    it.each([
      ['jsonb', `'["admin","ops"]'`],
      ['jsonb', `'{"group":"admin"}'`],
      ['text[]', `'{admin,ops}'`],
      ['character(20)[]', `'{admin}'`],
    ])('%s %s: refused, not answered as its text form', async (type, literal) => {
      await expect(lookupIn(type, literal)).rejects.toThrow(
        /\.value holds a value that is not text$/,
      )
    })

    it('integer 7: answered as its text, 7, as MySQL and SQLite answer it', async () => {
      // Review 13: a number column's value is its text (`7` of an integer), not refused.
      expect(await lookupIn('integer', '7')).toEqual(['7'])
    })

    it('a jsonb string: answered as the string, not with its quotes', async () => {
      // As before: `"admin"` with its quotes would match no guard's 'admin' (a silent 403).
      expect(await lookupIn('jsonb', `'"admin"'`)).toEqual(['admin'])
    })

    it('character(20): still without its padding, next to a varchar table', async () => {
      expect(await lookupIn('character(20)', `'admin'`)).toEqual(['admin'])
      expect(await lookupIn('varchar(20)', `'admin '`)).toEqual(['admin '])
    })
  },
)

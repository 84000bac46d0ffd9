// SQL review 13: grant's widths only for the default tables (an app's own table is its database's
// to check, and a too-long value is named by column); values of any column type answered as text on
// every database, and a key no value of a PostgreSQL uuid column answered []; sqlite::memory: one
// database per process; one SQL source per issuer, as the docs show it; facet names checked; a
// generated id column explained; idClaim without surrounding spaces.

import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import express, { type Express } from 'express'
import { pino } from 'pino'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JwksProvider } from '../../providers/jwks/index.js'
import { SqlAuthzStore, SqlGroupsProvider, sqlSourcesEnv } from '../../providers/sql/index.js'
import { EnvReader } from '../../src/env.js'
import type { EnvContext } from '../../src/from-env.js'
import {
  ConfigError,
  JwksCache,
  jwtAuth,
  requireGroups,
  type GroupsProvider,
  type User,
} from '../../src/index.js'
import { Problems } from '../../src/options.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import {
  sqlCli as cli,
  dropTables,
  execute,
  sqliteDatabase,
  testDatabases,
  type TestDatabase,
} from '../helpers/sql.js'

const databases = await testDatabases()
const servers = databases.filter((db) => db.name !== 'sqlite')
const postgres = databases.filter((db) => db.name === 'postgres')
const created = new Map<TestDatabase, string[]>()

/** A table name no other suite uses, dropped after the suite. */
function tableName(db: TestDatabase): string {
  const name = `fixsql13_${randomBytes(4).toString('hex')}`
  created.set(db, [...(created.get(db) ?? []), name])
  return name
}

afterAll(async () => {
  for (const [db, names] of created) await dropTables(db.url, names)
  for (const db of databases) db.cleanup()
})

/** `create table` as each dialect quotes it: "group" is a reserved word. */
function quoted(db: TestDatabase, statement: string): string {
  return db.name === 'mariadb' ? statement.replace(/"/g, '`') : statement
}

const LONG_PERMISSION = `https://graph.example.com/${'scopes:orders.readwrite.all/'.repeat(3)}x`

describe.each(servers.map((db) => [db.name, db] as const))(
  "grant's widths on an app's own table on %s",
  (_name, db) => {
    it('grants a value longer than 100 characters into a text column', async () => {
      expect([...LONG_PERMISSION].length).toBeGreaterThan(100)
      const table = tableName(db)
      await execute(db.url, [
        `create table ${table} (email varchar(200) not null, permission text not null)`,
      ])
      const store = new SqlAuthzStore({
        url: db.url,
        tables: { permissions: table },
        columns: { user: 'email', id: null },
      })
      try {
        expect(await store.grant('permissions', 'alice@example.com', LONG_PERMISSION)).toBe(true)
        expect(await store.lookup('permissions', 'alice@example.com')).toEqual([LONG_PERMISSION])
        expect(await store.revoke('permissions', 'alice@example.com', LONG_PERMISSION)).toBe(1)
      } finally {
        await store.close()
      }
    })

    it('oidc-guard grant does too, given the table and columns', async () => {
      const table = tableName(db)
      await execute(db.url, [
        `create table ${table} (email varchar(200) not null, permission text not null)`,
      ])
      const names = ['--permissions-table', table, '--user-column', 'email', '--no-id-column']
      const granted = await cli([
        'grant',
        'permission',
        'bob',
        LONG_PERMISSION,
        '--url',
        db.url,
        ...names,
      ])
      expect(granted.err).toBe('')
      expect(granted.code).toBe(0)
      const listed = await cli(['permissions', 'bob', '--json', '--url', db.url, ...names])
      expect(JSON.parse(listed.out)).toEqual([LONG_PERMISSION])
    })

    it('a value too long for a narrow column fails naming that column and its width', async () => {
      const table = tableName(db)
      await execute(db.url, [
        quoted(
          db,
          `create table ${table} (username varchar(50) not null, "group" varchar(20) not null)`,
        ),
      ])
      const store = new SqlAuthzStore({
        url: db.url,
        tables: { groups: table },
        columns: { id: null },
      })
      try {
        await expect(store.grant('groups', 'alice', 'g'.repeat(30))).rejects.toThrow(
          `the groups grant was not stored: the value (30 characters) is longer than ${table}.group holds (20 characters); widen that column to store it`,
        )
        await expect(store.grant('groups', 'u'.repeat(60), 'admin')).rejects.toThrow(
          `the user (60 characters) is longer than ${table}.username holds (50 characters)`,
        )
        expect(await store.lookup('groups', 'alice')).toEqual([])
      } finally {
        await store.close()
      }
    })

    it('an id column too narrow for the KSUID is named, with columns: { id: null } offered', async () => {
      const table = tableName(db)
      await execute(db.url, [
        quoted(
          db,
          `create table ${table} (id varchar(10), username varchar(50) not null, "group" varchar(20) not null)`,
        ),
      ])
      const store = new SqlAuthzStore({ url: db.url, tables: { groups: table } })
      try {
        await expect(store.grant('groups', 'alice', 'admin')).rejects.toThrow(
          `the id grant writes (27 characters) is longer than ${table}.id holds (10 characters); widen that column to store it, or give columns: { id: null }`,
        )
      } finally {
        await store.close()
      }
    })
  },
)

describe("grant's widths on the default tables", () => {
  const db = sqliteDatabase()
  afterAll(() => db.cleanup())

  it("are checked beforehand, as the default tables' width", async () => {
    const store = new SqlAuthzStore({ url: db.url })
    try {
      await store.init()
      await expect(store.grant('groups', 'alice', 'x'.repeat(101))).rejects.toThrow(
        "the value is longer than 100 characters: the default tables' width (varchar(100))",
      )
      await expect(store.grant('groups', 'u'.repeat(501), 'x')).rejects.toThrow(
        "the user is longer than 500 characters: the default tables' width (varchar(500))",
      )
    } finally {
      await store.close()
    }
    const wide = await cli(['grant', 'group', 'alice', 'x'.repeat(101), '--url', db.url])
    expect(wide.code).toBe(2)
    expect(wide.err).toContain("the default tables' width")
  })
})

describe.each(databases.map((db) => [db.name, db] as const))(
  'value columns of a number or boolean type on %s',
  (_name, db) => {
    async function lookupIn(type: string, literal: string): Promise<string[]> {
      const table = tableName(db)
      await execute(db.url, [
        quoted(
          db,
          `create table ${table} (username varchar(20) not null, "group" ${type} not null)`,
        ),
        quoted(db, `insert into ${table} (username, "group") values ('alice', ${literal})`),
      ])
      const store = new SqlAuthzStore({
        url: db.url,
        tables: { groups: table },
        columns: { id: null },
      })
      try {
        return await store.lookup('groups', 'alice')
      } finally {
        await store.close()
      }
    }

    it.each(['integer', 'bigint', 'numeric', 'smallint'])(
      '%s 7 is answered as the text "7", as every database answers it',
      async (type) => {
        expect(await lookupIn(type, '7')).toEqual(['7'])
      },
    )

    it('a boolean is answered as its text', async () => {
      // PostgreSQL has a boolean type; MySQL and SQLite store true as 1.
      expect(await lookupIn('boolean', 'true')).toEqual([db.name === 'postgres' ? 'true' : '1'])
    })
  },
)

describe('a SQLite blob is still refused', () => {
  const db = sqliteDatabase()
  afterAll(() => db.cleanup())

  it('answers text, integer and real values, and refuses a blob', async () => {
    await execute(db.url, [
      `create table fixsql13_blob (username text not null, "group")`,
      `insert into fixsql13_blob values ('alice', 'admin'), ('alice', 7), ('alice', 2.5), ('bob', x'61646d696e')`,
    ])
    const store = new SqlAuthzStore({ url: db.url, tables: { groups: 'fixsql13_blob' } })
    try {
      expect(await store.lookup('groups', 'alice')).toEqual(['2.5', '7', 'admin'])
      await expect(store.lookup('groups', 'bob')).rejects.toThrow(
        'fixsql13_blob.group holds a value that is not text',
      )
    } finally {
      await store.close()
    }
  })
})

describe.each(postgres.map((db) => [db.name, db] as const))(
  'a PostgreSQL uuid user column',
  (_name, db) => {
    const id = '6e9a1c8e-0f6b-4c1e-9a51-3f1e2d4c5b6a'
    let table: string
    let store: SqlAuthzStore

    beforeAll(async () => {
      table = tableName(db)
      await execute(db.url, [
        `create table ${table} (username uuid not null, "group" text not null, unique (username, "group"))`,
        `insert into ${table} values ('${id}', 'admin')`,
      ])
      store = new SqlAuthzStore({ url: db.url, tables: { groups: table }, columns: { id: null } })
    })
    afterAll(() => store.close())

    it('answers [] for a key that is no UUID (no row can hold it), not a failure', async () => {
      expect(await store.lookup('groups', id)).toEqual(['admin'])
      expect(await store.lookup('groups', 'alice')).toEqual([])
      expect(await store.lookup('groups', id.toUpperCase())).toEqual([]) // not the same text
      expect(await store.revoke('groups', 'alice', 'admin')).toBe(0)
    })

    it('still compares the column as it is, so that its index serves the lookup', async () => {
      const [plan] = await execute(db.url, [
        `explain select 1 from ${table} where username = '${id}' and username::text collate "C" = '${id}'`,
      ])
      // The key is converted to uuid, not the column to text: an index condition, whatever the plan.
      expect(JSON.stringify(plan)).toContain(`(username = '${id}'::uuid)`)
    })

    it('a grant of a key that is no UUID says so', async () => {
      await expect(store.grant('groups', 'alice', 'admin')).rejects.toThrow(
        /^the groups grant was not stored: the user or the value is not of the type of fixsql13_\w+'s columns \(username uuid, group text\)/,
      )
    })
  },
)

describe('sqlite::memory: is one database', () => {
  it('shared by the stores and sources that give the same pool options', async () => {
    const seed = new SqlAuthzStore({ url: 'sqlite::memory:', tables: { groups: 'fixsql13_mem' } })
    await seed.init()
    await seed.grant('groups', 'alice', 'admin')
    const same = new SqlGroupsProvider({
      url: 'sqlite::memory:',
      tables: { groups: 'fixsql13_mem' },
    })
    try {
      expect(await same.store.lookup('groups', 'alice')).toEqual(['admin'])
      // Another pool would be another, empty, database: refused, not a 503 on every lookup.
      let refused: unknown
      try {
        new SqlGroupsProvider({ url: 'sqlite::memory:', pool: { queryTimeoutMs: 500 } })
      } catch (error) {
        refused = error
      }
      expect(refused).toBeInstanceOf(ConfigError)
      expect((refused as ConfigError).problems[0]).toMatch(
        /^pool must be the same for every store and source on sqlite::memory:/,
      )
    } finally {
      await same.close()
      await seed.close()
    }
    // Once none holds it, it is gone: a new one starts empty, whatever its pool options.
    const later = new SqlAuthzStore({ url: 'sqlite::memory:', pool: { queryTimeoutMs: 500 } })
    try {
      await expect(later.lookup('groups', 'alice')).rejects.toThrow(/no such table/)
    } finally {
      await later.close()
    }
  })
})

describe('fromEnv() with several providers', () => {
  const db = sqliteDatabase()
  afterAll(() => db.cleanup())

  function build(providers: string): string[] {
    const lines: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) })
    const context: EnvContext = { jwksCache: undefined as never, logger, production: false }
    const problems = new Problems()
    const env = { AUTH_PROVIDER: providers, AUTHZ_DATABASE_URL: db.url, AUTHZ_SQL_FACETS: 'groups' }
    const sources = sqlSourcesEnv.create(new EnvReader(env, problems), context)
    problems.throwIfAny()
    void (sources.groups as SqlGroupsProvider).close()
    return lines.map((line) => (JSON.parse(line) as { msg: string }).msg)
  }

  it('warns at start-up that one SQL source serves every issuer by the same id', () => {
    const [warning, ...rest] = build('cognito, oidc')
    expect(rest).toEqual([])
    expect(warning).toBe(
      'AUTHZ_DATABASE_URL: one SQL source serves the users of every provider of AUTH_PROVIDER=cognito,oidc alike, looked up by their "sub" claim alone: a user of one issuer gets the rights granted to a user of another issuer with the same "sub". Use a claim unique across the issuers (AUTHZ_SQL_ID_CLAIM), or build one source per issuer in code (docs/authorization-sql.md, "Several issuers")',
    )
  })

  it('says nothing with one provider', () => {
    expect(build('cognito')).toEqual([])
    expect(build('oidc,OIDC')).toEqual([])
  })
})

// ---- The docs' example, verbatim (docs/authorization-sql.md, "Several issuers") ----
function docsExample(
  app: Express,
  url: string,
  corpIdp: JwksProvider,
  partnerIdp: JwksProvider,
): { corpGroups: SqlGroupsProvider; partnerGroups: SqlGroupsProvider } {
  // Each issuer's users get the groups of their issuer's table, and no other's.
  function groupsByIssuer(sources: ReadonlyMap<string, SqlGroupsProvider>): GroupsProvider {
    const sourceOf = (user: User) => {
      const issuer = user.claims.iss
      return issuer === undefined ? undefined : sources.get(issuer)
    }
    return {
      async fetchGroups(user, context) {
        const source = sourceOf(user)
        if (source === undefined) throw new Error('no groups table for this issuer')
        return source.fetchGroups(user, context)
      },
      // The answers are cached under the issuer and this key: the value the source looks up.
      cacheKey: (user) => sourceOf(user)?.cacheKey(user),
    }
  }

  const corpGroups = new SqlGroupsProvider({ url, tables: { groups: 'corp_groups' } })
  const partnerGroups = new SqlGroupsProvider({ url, tables: { groups: 'partner_groups' } })
  const groups = groupsByIssuer(
    new Map([
      ['https://corp.example', corpGroups],
      ['https://partner.example', partnerGroups],
    ]),
  )
  app.use(jwtAuth({ providers: [corpIdp, partnerIdp], groups }))
  // ---- end of the docs' example ----
  return { corpGroups, partnerGroups }
}

describe("the docs' source per issuer", () => {
  const db = sqliteDatabase()
  const issuers: Record<'corp' | 'partner', TestIssuer> = {} as never
  let app: Express
  let sources: { corpGroups: SqlGroupsProvider; partnerGroups: SqlGroupsProvider }

  const providerOf = (idp: TestIssuer) =>
    new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({ fetch: idp.fetch }),
    })

  beforeAll(async () => {
    for (const name of ['corp', 'partner'] as const) {
      issuers[name] = await createTestIssuer({ listen: false, issuer: `https://${name}.example` })
    }
    for (const groups of ['corp_groups', 'partner_groups']) {
      const store = new SqlAuthzStore({ url: db.url, tables: { groups } })
      await store.init()
      await store.close()
    }
    const corp = new SqlAuthzStore({ url: db.url, tables: { groups: 'corp_groups' } })
    await corp.grant('groups', 'alice', 'admin')
    await corp.close()
    app = express()
    sources = docsExample(app, db.url, providerOf(issuers.corp), providerOf(issuers.partner))
    app.get('/admin', requireGroups(['admin']), (_req, res) => void res.send('admin area'))
  })

  afterAll(async () => {
    await sources.corpGroups.close()
    await sources.partnerGroups.close()
    db.cleanup()
  })

  it('is in the docs as it is here', () => {
    const doc = readFileSync(
      join(import.meta.dirname, '..', '..', 'docs', 'authorization-sql.md'),
      'utf8',
    )
    const block = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)]
      .map((match) => match[1]!)
      .find((code) => code.includes('function groupsByIssuer'))
    expect(block).toBeDefined()
    const code = (text: string) =>
      text
        .split('\n')
        .filter((line) => !/^(import|declare) /.test(line))
        .map((line) => line.trim())
        .join('\n')
        .trim()
    const self = readFileSync(import.meta.filename, 'utf8')
    const here =
      /---- The docs' example[^\n]*\n[\s\S]*?\): \{[^\n]*\n([\s\S]*?)\n\s*\/\/ ---- end/.exec(self)
    expect(code(here![1]!)).toBe(code(block!))
  })

  it("gives alice of the partner issuer none of the corp issuer's alice's groups", async () => {
    const get = (idp: TestIssuer) =>
      request(app)
        .get('/admin')
        .set('Authorization', `Bearer ${idp.mint({ sub: 'alice' })}`)
    expect((await get(issuers.corp)).status).toBe(200)
    expect((await get(issuers.partner)).status).toBe(403)
    expect((await get(issuers.corp)).status).toBe(200) // cached under each issuer apart
    expect((await get(issuers.partner)).status).toBe(403)
  })
})

describe('a facet that is none of the three', () => {
  it.each(['group', 'Groups', '__proto__', 'constructor', 'toString'])(
    '%j is refused by lookup, grant and revoke, naming the three',
    async (facet) => {
      const store = new SqlAuthzStore({ url: 'sqlite::memory:' })
      const message = `facet must be groups, roles or permissions, got ${JSON.stringify(facet)}`
      const wrong = facet as 'groups'
      try {
        for (const call of [
          store.lookup(wrong, 'alice'),
          store.grant(wrong, 'alice', 'admin'),
          store.revoke(wrong, 'alice', 'admin'),
        ]) {
          const error: unknown = await call.then(
            () => undefined,
            (reason: unknown) => reason,
          )
          expect(error).toBeInstanceOf(TypeError)
          expect((error as Error).message).toBe(message)
        }
      } finally {
        await store.close()
      }
    },
  )
})

const GENERATED_IDS: Record<TestDatabase['name'], string[]> = {
  postgres: [
    'id serial primary key',
    'id bigint generated always as identity primary key',
    'id uuid primary key default gen_random_uuid()',
  ],
  mariadb: ['id int auto_increment primary key', 'id bigint unsigned auto_increment primary key'],
  sqlite: ['id integer primary key', 'id integer primary key autoincrement'],
}

describe.each(databases.map((db) => [db.name, db] as const))(
  'an id column the database generates, on %s',
  (_name, db) => {
    it.each(GENERATED_IDS[db.name])('%s: grant says to give columns: { id: null }', async (id) => {
      const table = tableName(db)
      await execute(db.url, [
        quoted(
          db,
          `create table ${table} (${id}, username varchar(50) not null, "group" varchar(50) not null)`,
        ),
      ])
      const store = new SqlAuthzStore({ url: db.url, tables: { groups: table } })
      try {
        await expect(store.grant('groups', 'alice', 'admin')).rejects.toThrow(
          `the groups grant was not stored: ${table}.id does not take the text id grant writes (a 27-character KSUID), as a column whose ids the database generates (serial, identity, auto_increment, INTEGER PRIMARY KEY) does not; give columns: { id: null } (the CLI's --no-id-column) so that the database fills it`,
        )
      } finally {
        await store.close()
      }
      const advised = new SqlAuthzStore({
        url: db.url,
        tables: { groups: table },
        columns: { id: null },
      })
      try {
        expect(await advised.grant('groups', 'alice', 'admin')).toBe(true)
        expect(await advised.lookup('groups', 'alice')).toEqual(['admin'])
      } finally {
        await advised.close()
      }
    })
  },
)

describe('idClaim', () => {
  it.each([' sub', 'sub ', '\temail'])('%j, with spaces around it, is refused', (idClaim) => {
    let refused: unknown
    try {
      new SqlGroupsProvider({ url: 'sqlite::memory:', idClaim })
    } catch (error) {
      refused = error
    }
    expect(refused).toBeInstanceOf(ConfigError)
    expect((refused as ConfigError).problems).toEqual([
      `idClaim must be a claim name without spaces around it, got ${JSON.stringify(idClaim)}: write ${JSON.stringify(idClaim.trim())}`,
    ])
  })
})

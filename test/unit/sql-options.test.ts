// SQL sources: URLs, names and options are checked at construction; the environment factory.

import { describe, expect, it } from 'vitest'
import {
  maskUrl,
  parseDatabaseUrl,
  sqlSourcesEnv,
  SqlAuthzStore,
  SqlGroupsProvider,
  SqlPermissionsProvider,
  SqlRolesProvider,
  type SqlSourceOptions,
} from '../../providers/sql/index.js'
import { ksuid } from '../../providers/sql/ksuid.js'
import { ConfigError } from '../../src/errors.js'
import { EnvReader } from '../../src/env.js'
import type { EnvContext } from '../../src/from-env.js'
import { silentLogger } from '../../src/logger.js'
import { Problems } from '../../src/options.js'

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('parseDatabaseUrl', () => {
  it.each([
    ['postgres://u@db.example:5432/authz', 'postgres', 'postgres://u@db.example:5432/authz'],
    ['postgresql://u@db.example/authz', 'postgres', 'postgres://u@db.example/authz'],
    ['postgresql+asyncpg://u@db.example/authz', 'postgres', 'postgres://u@db.example/authz'],
    ['mysql://root@127.0.0.1:3306/test', 'mysql', 'mysql://root@127.0.0.1:3306/test'],
    ['mariadb://root@127.0.0.1/test', 'mysql', 'mysql://root@127.0.0.1/test'],
    ['mysql+aiomysql://root@127.0.0.1/test', 'mysql', 'mysql://root@127.0.0.1/test'],
  ])('%s is %s', (url, dialect, normalised) => {
    expect(parseDatabaseUrl(url)).toMatchObject({ dialect, url: normalised })
  })

  it.each([
    ['sqlite:./authz.db', './authz.db'],
    ['sqlite:authz.db', 'authz.db'],
    ['sqlite:/var/lib/authz.db', '/var/lib/authz.db'],
    ['sqlite:///relative.db', 'relative.db'],
    ['sqlite:////var/lib/authz.db', '/var/lib/authz.db'],
    ['sqlite+aiosqlite:///relative.db', 'relative.db'],
    ['sqlite::memory:', ':memory:'],
    ['sqlite://', ':memory:'],
    ['sqlite://:memory:', ':memory:'],
  ])('%s is the SQLite file %s', (url, path) => {
    expect(parseDatabaseUrl(url)).toMatchObject({ dialect: 'sqlite', path })
  })

  it.each([
    [undefined, /database URL/],
    ['', /database URL/],
    ['redis://127.0.0.1', /must start with/],
    ['https://db.example', /must start with/],
    ['authz.db', /must start with/],
    ['sqlite:', /without a path/],
    ['sqlite://host/file.db', /with a host/],
    ['sqlite:./a.db?mode=ro', /query/],
    ['postgres://', /no host/],
    ['postgres://u:pa ss@[bad/db', /not a valid URL/],
  ])('refuses %j', (url, problem) => {
    const result = parseDatabaseUrl(url)
    expect(result).toEqual(expect.any(String))
    expect(result).toMatch(problem)
  })

  it('never echoes a password, even in a URL it cannot parse', () => {
    expect(parseDatabaseUrl('postgres://u:hunter2@[bad/db')).not.toContain('hunter2')
    const target = parseDatabaseUrl('postgres://u:hunter2@db.example/authz')
    expect(target).toMatchObject({ display: 'postgres://u:***@db.example/authz' })
  })

  it('maskUrl hides passwords and text that is not a URL', () => {
    expect(maskUrl('mysql://root:hunter2@db/x')).toBe('mysql://root:***@db/x')
    expect(maskUrl('postgres://db/x')).toBe('postgres://db/x')
    expect(maskUrl('sqlite:./a.db')).toBe('sqlite:./a.db')
    expect(maskUrl('not a url hunter2')).toBe('(17 characters, hidden)')
  })
})

describe('SQL source options are checked at construction, every problem at once', () => {
  const sources = [SqlGroupsProvider, SqlRolesProvider, SqlPermissionsProvider]

  it.each(sources)('%o lists every problem with the option named', (Source) => {
    const problems = problemsOf(
      () =>
        new Source({
          url: 'redis://x',
          idClaim: '',
          tables: { groups: 'authz_groups; drop table users', roles: '1roles' },
          columns: { user: 'user name', permissions: 'x'.repeat(49) },
          pool: { size: 0, acquireTimeoutMs: -1, queryTimeoutMs: Infinity, maxWaiting: 1.5 },
          maxValues: 0,
        }),
    )
    for (const name of [
      'url',
      'idClaim',
      'tables.groups',
      'tables.roles',
      'columns.user',
      'columns.permissions',
      'pool.size',
      'pool.acquireTimeoutMs',
      'pool.queryTimeoutMs',
      'pool.maxWaiting',
      'maxValues',
    ]) {
      expect(problems.some((problem) => problem.startsWith(`${name} `))).toBe(true)
    }
  })

  it.each([
    [{}, /either url .* or client/],
    [{ url: 'sqlite::memory:', client: {} }, /either url .* or client/],
    [{ client: { query: () => 1 } }, /client must be a Kysely instance, a pg Pool/],
    [{ url: 'sqlite::memory:', dialect: 'postgres' }, /contradicts the url/],
    [{ url: 'sqlite::memory:', dialect: 'oracle' }, /dialect must be one of/],
    [
      { client: { getExecutor: () => ({ adapter: new (class Odd {})() }), schema: {} } },
      /dialect is required with this Kysely instance/,
    ],
    [{ url: 'sqlite::memory:', tables: { groups: 'same', roles: 'same' } }, /different table/],
    [{ url: 'sqlite::memory:', tables: 'authz' }, /tables must be an object/],
    [{ url: 'sqlite::memory:', pool: 5 }, /pool must be an object/],
  ])('refuses %j', (options, problem) => {
    const problems = problemsOf(() => new SqlAuthzStore(options as never))
    expect(problems.join('\n')).toMatch(problem)
  })

  it('refuses a shared store together with options that say where the tables are', () => {
    const store = new SqlAuthzStore({ url: 'sqlite::memory:' })
    const problems = problemsOf(
      () => new SqlGroupsProvider({ store, url: 'sqlite::memory:', tables: {} }),
    )
    expect(problems).toEqual([expect.stringMatching(/either store or url, tables/)])
    expect(problemsOf(() => new SqlGroupsProvider({ store: {} as never }))).toEqual([
      'store must be a SqlAuthzStore',
    ])
  })

  it('accepts the examples of the documentation', async () => {
    const made = [
      new SqlPermissionsProvider({ url: 'postgres://127.0.0.1/test' }),
      new SqlGroupsProvider({ url: 'sqlite:./authz.db', idClaim: 'email' }),
      new SqlRolesProvider({
        url: 'mysql://root@127.0.0.1:3306/test',
        idClaim: 'cognito:username',
      }),
    ]
    expect(made.map((source) => source.idClaim)).toEqual(['sub', 'email', 'cognito:username'])
    expect(made.map((source) => source.store.dialect)).toEqual(['postgres', 'sqlite', 'mysql'])
    // Construction connects to nothing, so closing opens nothing either.
    await Promise.all(made.map((source) => source.close()))
  })

  it('never puts a password in a problem', () => {
    const problems = problemsOf(
      () => new SqlAuthzStore({ url: 'postgres://u:hunter2@[broken/db', maxValues: -1 }),
    )
    expect(problems.join('\n')).not.toContain('hunter2')
  })
})

describe('SqlAuthzStore.statements: the schema in each dialect, without a connection', () => {
  it.each(['postgres', 'mysql', 'sqlite'] as const)(
    '%s: seed-compatible tables with a unique lookup index',
    async (dialect) => {
      const statements = await SqlAuthzStore.statements(dialect)
      expect(statements).toHaveLength(6)
      const q = dialect === 'mysql' ? '`' : '"'
      for (const [table, column] of [
        ['authz_groups', 'group'],
        ['authz_roles', 'role'],
        ['authz_permissions', 'permission'],
      ]) {
        const create = statements.find((s) =>
          s.includes(`create table if not exists ${q}${table}${q}`),
        )
        expect(create).toContain(`${q}username${q} varchar(500) not null`)
        expect(create).toContain(`${q}${column}${q} varchar(100) not null`)
        expect(create).toContain(`${q}id${q} varchar(36)`)
        const index = statements.find(
          (s) => s.includes(`index`) && s.includes(`on ${q}${table}${q}`),
        )
        expect(index).toContain(`unique index`)
        expect(index).toContain(`(${q}username${q}, ${q}${column}${q})`)
      }
      if (dialect === 'mysql') {
        expect(statements.filter((s) => s.includes('collate utf8mb4_bin'))).toHaveLength(3)
      }
    },
  )

  it('uses the configured names, and leaves out the id column when told', async () => {
    const statements = await SqlAuthzStore.statements('postgres', {
      tables: { groups: 'acl_groups' },
      columns: { user: 'email', groups: 'group_name', id: null },
    })
    expect(statements[0]).toBe(
      'create table if not exists "acl_groups" ("email" varchar(500) not null, "group_name" varchar(100) not null)',
    )
    await expect(
      SqlAuthzStore.statements('postgres', { tables: { groups: 'x"; drop table y; --' } }),
    ).rejects.toThrow(ConfigError)
  })
})

describe('ksuid', () => {
  it('makes 27-character base-62 ids that sort by time', () => {
    const ids = [ksuid(1_700_000_000_000), ksuid(1_700_000_001_000), ksuid(1_800_000_000_000)]
    for (const id of ids) expect(id).toMatch(/^[0-9A-Za-z]{27}$/)
    expect([...ids].sort()).toEqual(ids)
    expect(ksuid()).not.toBe(ksuid())
  })
})

describe('sqlSourcesEnv', () => {
  const context: EnvContext = {
    jwksCache: undefined as never,
    logger: silentLogger,
    production: false,
  }

  function fromEnv(env: Record<string, string>) {
    const problems = new Problems()
    const sources = sqlSourcesEnv.create(new EnvReader(env, problems), context)
    let listed: readonly string[] = []
    try {
      problems.throwIfAny()
    } catch (error) {
      listed = (error as ConfigError).problems
    }
    return { sources, problems: listed }
  }

  it('builds nothing without a URL', () => {
    expect(fromEnv({})).toEqual({ sources: {}, problems: [] })
  })

  it('takes permissions only by default, so token groups and roles stay the provider’s', async () => {
    const { sources, problems } = fromEnv({ AUTHZ_DATABASE_URL: 'sqlite::memory:' })
    expect(problems).toEqual([])
    expect(Object.keys(sources)).toEqual(['permissions'])
    expect(sources.permissions).toBeInstanceOf(SqlPermissionsProvider)
    await (sources.permissions as SqlPermissionsProvider).close()
  })

  it('reads the facets, the id claim, the pool bounds and the seed’s alias', async () => {
    const { sources, problems } = fromEnv({
      AUTHZ_SQLALCHEMY_DATABASE_URI: 'postgresql+asyncpg://app:pw@127.0.0.1:5432/test',
      AUTHZ_SQL_FACETS: 'groups, roles,permissions',
      AUTHZ_SQL_ID_CLAIM: 'cognito:username',
      AUTHZ_POOL_SIZE: '3',
      AUTHZ_POOL_TIMEOUT_IN_SECONDS: '0.5',
      AUTHZ_QUERY_TIMEOUT_IN_SECONDS: '2',
    })
    expect(problems).toEqual([])
    const groups = sources.groups as SqlGroupsProvider
    expect(groups).toBeInstanceOf(SqlGroupsProvider)
    expect(sources.roles).toBeInstanceOf(SqlRolesProvider)
    expect(groups.idClaim).toBe('cognito:username')
    expect(groups.store.database).toBe('postgres://app:***@127.0.0.1:5432/test')
    const all = [sources.groups, sources.roles, sources.permissions] as SqlSourceOptions[]
    await Promise.all(all.map((source) => (source as unknown as SqlGroupsProvider).close()))
  })

  it('reports every problem, naming the variable and never showing the password', () => {
    const { sources, problems } = fromEnv({
      AUTHZ_DATABASE_URL: 'redis://u:hunter2@cache',
      AUTHZ_SQLALCHEMY_DATABASE_URI: 'postgres://u:hunter2@db/x',
      AUTHZ_SQL_FACETS: 'groups,profile',
      AUTHZ_POOL_SIZE: '2.5',
      AUTHZ_POOL_TIMEOUT_IN_SECONDS: '-1',
      AUTHZ_QUERY_TIMEOUT_IN_SECONDS: '100000',
    })
    expect(sources).toEqual({})
    const text = problems.join('\n')
    expect(text).not.toContain('hunter2')
    for (const name of [
      'AUTHZ_DATABASE_URL must start with',
      'AUTHZ_DATABASE_URL and AUTHZ_SQLALCHEMY_DATABASE_URI',
      'AUTHZ_SQL_FACETS must list groups, roles or permissions, got "profile"',
      'AUTHZ_POOL_SIZE must be a whole number',
      'AUTHZ_POOL_TIMEOUT_IN_SECONDS must be a number above 0',
      'AUTHZ_QUERY_TIMEOUT_IN_SECONDS must be at most 86400 seconds',
    ]) {
      expect(text).toContain(name)
    }
  })

  it('names the variable when a built source refuses an option', () => {
    const { sources, problems } = fromEnv({
      AUTHZ_DATABASE_URL: 'sqlite::memory:',
      AUTHZ_POOL_SIZE: '5000',
    })
    expect(sources).toEqual({})
    expect(problems).toEqual([
      expect.stringMatching(/^AUTHZ_POOL_SIZE must be a whole number from 1 to 1000/),
    ])
  })

  it('refuses SQL settings without a URL', () => {
    expect(fromEnv({ AUTHZ_SQL_FACETS: 'groups' }).problems).toEqual([
      'AUTHZ_SQL_FACETS and AUTHZ_SQL_ID_CLAIM need AUTHZ_DATABASE_URL, which is not set',
    ])
  })

  it('lists every variable it reads', () => {
    expect([...sqlSourcesEnv.variables].sort()).toEqual([
      'AUTHZ_DATABASE_URL',
      'AUTHZ_POOL_SIZE',
      'AUTHZ_POOL_TIMEOUT_IN_SECONDS',
      'AUTHZ_QUERY_TIMEOUT_IN_SECONDS',
      'AUTHZ_SQLALCHEMY_DATABASE_URI',
      'AUTHZ_SQL_FACETS',
      'AUTHZ_SQL_ID_CLAIM',
    ])
  })
})

// SQL review 9, options checked at construction: misspelt names, loggers, dialects, MySQL charsets,
// pool variables without a URL, missing packages, init()'s time-out and the CLI's --timeout.

import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  parseDatabaseUrl,
  sqlSourcesEnv,
  SqlAuthzStore,
  SqlGroupsProvider,
  SqlPermissionsProvider,
} from '../../providers/sql/index.js'
import { sqlCommands } from '../../providers/sql/cli.js'
import { driverPackages } from '../../providers/sql/drivers.js'
import { missingPackages } from '../../src/optional-package.js'
import { ConfigError } from '../../src/errors.js'
import { EnvReader } from '../../src/env.js'
import type { EnvContext } from '../../src/from-env.js'
import { silentLogger } from '../../src/logger.js'
import { Problems } from '../../src/options.js'
import { sqliteDatabase } from '../helpers/sql.js'

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('expected a ConfigError')
}

const url = 'sqlite::memory:'

describe('misspelt option names', () => {
  it.each([
    [
      'store: tabels',
      () => new SqlAuthzStore({ url, tabels: {} } as never),
      /"tabels" is not an option \(did you mean tables\?\)/,
    ],
    [
      'source: idclaim',
      () => new SqlGroupsProvider({ url, idclaim: 'email' } as never),
      /^SqlGroupsProvider: "idclaim" is not an option \(did you mean idClaim\?\)/,
    ],
    [
      'tables.group',
      () => new SqlGroupsProvider({ url, tables: { group: 'acl' } } as never),
      /^tables: "group" is not an option \(did you mean groups\?\)/,
    ],
    [
      'columns.usr',
      () => new SqlPermissionsProvider({ url, columns: { usr: 'email' } } as never),
      /^columns: "usr" is not an option \(did you mean user\?\)/,
    ],
    [
      'pool.timeout',
      () => new SqlGroupsProvider({ url, pool: { timeout: 10 } } as never),
      /^pool: "timeout" is not an option/,
    ],
  ])('%s is refused, naming the option meant', (_, build, problem) => {
    expect(problemsOf(build)).toEqual([expect.stringMatching(problem)])
  })

  it('takes every option the types name, and reports each unknown once', async () => {
    const source = new SqlGroupsProvider({
      url,
      dialect: 'sqlite',
      pool: { size: 1, acquireTimeoutMs: 10, queryTimeoutMs: 10, maxWaiting: 0 },
      tables: { groups: 'a', roles: 'b', permissions: 'c' },
      columns: { user: 'u', id: null, groups: 'g', roles: 'r', permissions: 'p' },
      maxValues: 5,
      logger: silentLogger,
      idClaim: 'email',
    })
    await source.close()
    expect(problemsOf(() => new SqlGroupsProvider({ url, sotre: 1 } as never))).toHaveLength(1)
  })

  it('refuses a logger beside a shared store, which would ignore it', async () => {
    const store = new SqlAuthzStore({ url })
    try {
      expect(problemsOf(() => new SqlGroupsProvider({ store, logger: silentLogger }))).toEqual([
        expect.stringMatching(/^give either store or logger/),
      ])
    } finally {
      await store.close()
    }
  })
})

describe('logger', () => {
  it.each([
    ['false', false],
    ['undefined', undefined],
    ['a pino logger', silentLogger],
  ])('takes %s', async (_, logger) => {
    const store = new SqlAuthzStore({ url, logger: logger as never })
    await store.close()
  })

  it.each([
    ['a string', 'x', /^logger must be a pino logger .*, got string/],
    [
      'console',
      console,
      /^logger must be a pino logger .*; it has no child\(\), isLevelEnabled\(\)/,
    ],
    ['true', true, /^logger must be a pino logger/],
  ])('refuses %s, which pg would call when an idle connection drops', (_, logger, problem) => {
    expect(problemsOf(() => new SqlGroupsProvider({ url, logger: logger as never }))).toEqual([
      expect.stringMatching(problem),
    ])
  })
})

describe('SqlAuthzStore.statements', () => {
  it.each(['mariadb', 'MySQL', undefined])(
    'refuses the dialect %s, naming the three',
    async (dialect) => {
      const statements = SqlAuthzStore.statements(dialect as never)
      await expect(statements).rejects.toBeInstanceOf(ConfigError)
      await expect(statements).rejects.toThrow('dialect must be one of postgres, mysql, sqlite')
    },
  )
})

describe('a MySQL URL’s charset', () => {
  it.each(['latin1', 'ascii', 'binary', 'LATIN1_SWEDISH_CI', 'cp1250', 'utf16'])(
    'refuses %s, which would change keys and values on the way',
    (charset) => {
      const target = parseDatabaseUrl(`mysql://u@h/db?charset=${charset}`)
      expect(target).toEqual(expect.stringMatching(/^has the charset ".*", which would change/))
    },
  )

  it.each(['utf8mb4', 'UTF8MB4_UNICODE_CI', 'utf8mb4_bin', 'utf8', 'UTF8_GENERAL_CI', 'utf8mb3'])(
    'takes %s',
    (charset) => {
      expect(parseDatabaseUrl(`mysql://u@h/db?charset=${charset}`)).toMatchObject({
        dialect: 'mysql',
      })
    },
  )
})

describe('the pool variables without AUTHZ_DATABASE_URL', () => {
  const context = { logger: silentLogger } as unknown as EnvContext

  function fromEnv(env: Record<string, string>): readonly string[] {
    const problems = new Problems()
    expect(sqlSourcesEnv.create(new EnvReader(env, problems), context)).toEqual({})
    try {
      problems.throwIfAny()
      return []
    } catch (error) {
      return (error as ConfigError).problems
    }
  }

  it.each([
    [{ AUTHZ_POOL_SIZE: '5' }, 'AUTHZ_POOL_SIZE needs AUTHZ_DATABASE_URL, which is not set'],
    [
      { AUTHZ_POOL_TIMEOUT_IN_SECONDS: '2', AUTHZ_QUERY_TIMEOUT_IN_SECONDS: '4' },
      'AUTHZ_POOL_TIMEOUT_IN_SECONDS and AUTHZ_QUERY_TIMEOUT_IN_SECONDS need AUTHZ_DATABASE_URL, which is not set',
    ],
  ])('%o is refused, as AUTHZ_SQL_FACETS is', (env, problem) => {
    expect(fromEnv(env)).toEqual([problem])
  })
})

describe('missingPackages', () => {
  it('finds the packages that are installed, and names one that is not', () => {
    expect(missingPackages(driverPackages('postgres'))).toEqual([])
    expect(missingPackages(['kysely', 'oidc-guard-no-such-driver-review9'])).toEqual([
      'oidc-guard-no-such-driver-review9',
    ])
  })

  it('counts only "not found" as missing', () => {
    const failing = (code: string) => () => {
      throw Object.assign(new Error(code), { code })
    }
    expect(missingPackages(['pg'], failing('MODULE_NOT_FOUND'))).toEqual(['pg'])
    expect(missingPackages(['pg'], failing('ERR_PACKAGE_PATH_NOT_EXPORTED'))).toEqual([])
  })
})

describe('init options', () => {
  it.each([
    [{ timeoutMs: 0 }, /^init timeoutMs must be/],
    [{ timeoutMs: 'long' }, /^init timeoutMs must be/],
    [{ timeout: 600 }, /^init: "timeout" is not an option \(did you mean timeoutMs\?\)/],
  ])('refuses %o', async (options, problem) => {
    const store = new SqlAuthzStore({ url })
    try {
      const failure = await store.init(options as never).catch((error: unknown) => error)
      expect(failure).toBeInstanceOf(ConfigError)
      expect((failure as ConfigError).problems).toEqual([expect.stringMatching(problem)])
    } finally {
      await store.close()
    }
  })
})

describe('oidc-guard sql init --timeout', () => {
  const sql = sqlCommands.find((command) => command.name === 'sql')!

  async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = []
    const err: string[] = []
    const code = await sql.run(args, {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: {},
    })
    return { code, out, err }
  }

  it.each(['0', '-1', 'abc', '1e3', '86401'])('refuses %s', async (seconds) => {
    const database = sqliteDatabase()
    const { code, err } = await run(['init', '--url', database.url, `--timeout=${seconds}`])
    expect(code).toBe(2)
    expect(err[0]).toMatch(/--timeout must be a number of seconds above 0, at most 86400/)
    expect(existsSync(database.url.slice('sqlite:'.length))).toBe(false)
  })

  it('refuses it with --print, which runs nothing', async () => {
    const { code, err } = await run(['init', '--print', '--dialect', 'mysql', '--timeout', '5'])
    expect(code).toBe(2)
    expect(err[0]).toMatch(/--timeout goes without --print/)
  })

  it('creates the tables with it, and lists it in its help', async () => {
    const database = sqliteDatabase()
    try {
      const { code, out } = await run(['init', '--url', database.url, '--timeout', '1.5'])
      expect(code).toBe(0)
      expect(out[0]).toMatch(/^tables ready in/)
      expect((await run(['--help'])).out.join('\n')).toMatch(/--timeout SECONDS/)
    } finally {
      database.cleanup()
    }
  })
})

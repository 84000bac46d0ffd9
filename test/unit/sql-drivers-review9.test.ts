// SQL review 9: a driver that is not installed is a ConfigError when the source is built (fromEnv()
// fails at start-up), not a 503 at every request. Nothing is uninstalled: the dialects are made to
// need a package that does not exist, and the real resolver looks for it.

import { describe, expect, it, vi } from 'vitest'
import { sqlSourcesEnv, SqlAuthzStore, SqlPermissionsProvider } from '../../providers/sql/index.js'
import { ConfigError } from '../../src/errors.js'
import { EnvReader } from '../../src/env.js'
import type { EnvContext } from '../../src/from-env.js'
import { silentLogger } from '../../src/logger.js'
import { Problems } from '../../src/options.js'

const MISSING = 'oidc-guard-missing-driver-review9'

vi.mock(import('../../providers/sql/drivers.js'), async (importOriginal) => {
  const actual = await importOriginal()
  return {
    ...actual,
    driverPackages: (dialect) => [...actual.driverPackages(dialect), MISSING],
  }
})

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('a URL whose driver is not installed', () => {
  it.each([
    ['postgres', 'postgres://app@127.0.0.1:5432/authz'],
    ['mysql', 'mysql://app@127.0.0.1:3306/authz'],
    ['sqlite', 'sqlite::memory:'],
  ])(
    '%s: refused at construction, naming the option and the npm install to run',
    (dialect, url) => {
      const problem = `url is a ${dialect} URL, which needs the package "${MISSING}", not installed: npm install ${MISSING}`
      expect(problemsOf(() => new SqlAuthzStore({ url }))).toEqual([problem])
      expect(problemsOf(() => new SqlPermissionsProvider({ url }))).toEqual([problem])
    },
  )

  it('names AUTHZ_DATABASE_URL when fromEnv() builds the sources', () => {
    const problems = new Problems()
    const context = { logger: silentLogger } as unknown as EnvContext
    const env = new EnvReader({ AUTHZ_DATABASE_URL: 'postgres://app:secret@db/authz' }, problems)
    expect(sqlSourcesEnv.create(env, context)).toEqual({})
    expect(() => problems.throwIfAny()).toThrow(
      `AUTHZ_DATABASE_URL is a postgres URL, which needs the package "${MISSING}", not installed: npm install ${MISSING}`,
    )
  })
})

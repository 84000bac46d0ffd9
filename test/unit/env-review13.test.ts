// Review 13, configuration from the environment: values wrapped in the quotes an env loader kept,
// fromEnv()'s `env` copy, misspelt names in any case and under other prefixes, createVerifier with
// no provider under the disabled switch, and cognitoIdentityPoolFromEnv's `env`.

import { inspect } from 'node:util'
import { pino } from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createVerifier, fromEnv, jwtAuth } from '../../src/index.js'
import { EnvReader } from '../../src/env.js'
import { Problems } from '../../src/options.js'
import { CognitoProvider, cognitoIdentityPoolFromEnv } from '../../providers/cognito/index.js'
import { problemsOf } from '../helpers/problems.js'

const JWKS_ENV = {
  AUTH_PROVIDER: 'jwks',
  AUTH_PROVIDER_ISSUER: 'https://idp.example.com/',
  AUTH_PROVIDER_JWKS_URI: 'https://idp.example.com/jwks',
  AUTH_PROVIDER_AUDIENCE: 'api',
}
const POOL = 'eu-west-1_AbCdE1234'
const IDENTITY_POOL = 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'

function memoryLogger() {
  const lines: Record<string, unknown>[] = []
  const logger = pino(
    { level: 'trace' },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  )
  const about = (name: string) =>
    lines.filter((line) => line['variable'] === name).map((line) => String(line['msg']))
  return { logger, about }
}

/** What fromEnv(env) warns about `name`, through its logger and on stderr. */
function warningsAbout(name: string, env: Record<string, string>) {
  const { logger, about } = memoryLogger()
  const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
  fromEnv(env, { logger })
  const stderr = emitted.mock.calls.map(([message]) => String(message))
  emitted.mockRestore()
  return { logged: about(name), stderr: stderr.filter((message) => message.includes(name)) }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('a value wrapped in the quotes an env loader kept (defect 1)', () => {
  const quoted = (name: string, shown: string) =>
    `${name} is wrapped in quotes, which your env loader kept: remove them, got ${shown}`

  it('is refused for a string read as written (the audience), naming the variable', () => {
    expect(problemsOf(() => fromEnv({ ...JWKS_ENV, AUTH_PROVIDER_AUDIENCE: '"api"' }))).toEqual([
      quoted('AUTH_PROVIDER_AUDIENCE', '"\\"api\\""'),
    ])
  })

  it.each([
    ['AUTH_GROUPS_CLAIM', "'groups'"],
    ['AUTH_ROLES_CLAIM', '"roles"'],
    ['AUTH_PERMISSIONS_CLAIM', '"permissions"'],
  ])('is refused for %s=%s, a string or list otherwise taken with its quotes', (name, value) => {
    expect(problemsOf(() => fromEnv({ ...JWKS_ENV, [name]: value }))).toEqual([
      quoted(name, JSON.stringify(value)),
    ])
  })

  it('is refused for AUTH_REDIS_PREFIX, otherwise taken with its quotes', () => {
    const env = {
      ...JWKS_ENV,
      AUTH_REDIS_URL: 'redis://127.0.0.1:6379',
      AUTH_REDIS_PREFIX: '"orders:"',
    }
    expect(problemsOf(() => fromEnv(env, { logger: false }))).toEqual([
      quoted('AUTH_REDIS_PREFIX', '"\\"orders:\\""'),
    ])
  })

  it('is said so, alone, for a switch and a number, not as "must be true or false"', () => {
    expect(
      problemsOf(() =>
        fromEnv({
          ...JWKS_ENV,
          AUTH_CREDENTIALS_REQUIRED: '"true"',
          AUTH_SOURCE_TIMEOUT_MS: "'2000'",
        }),
      ),
    ).toEqual([
      quoted('AUTH_CREDENTIALS_REQUIRED', '"\\"true\\""'),
      quoted('AUTH_SOURCE_TIMEOUT_MS', `"'2000'"`),
    ])
  })

  it('is refused for AUTHZ_SQL_ID_CLAIM and AUTHZ_SQL_FACETS, once each', () => {
    const problems = problemsOf(() =>
      fromEnv({
        ...JWKS_ENV,
        AUTHZ_DATABASE_URL: 'postgres://app@127.0.0.1:5432/test',
        AUTHZ_SQL_ID_CLAIM: '"username"',
        AUTHZ_SQL_FACETS: '"groups"',
      }),
    )
    expect(problems).toEqual([
      quoted('AUTHZ_SQL_FACETS', '"\\"groups\\""'),
      quoted('AUTHZ_SQL_ID_CLAIM', '"\\"username\\""'),
    ])
  })

  it("hides a secret's value, and the password and query of a URL", () => {
    const problems = problemsOf(() =>
      fromEnv({
        ...JWKS_ENV,
        AUTH_PROVIDER_ISSUER: '"https://user:pa55word@idp.example.com/?token=t0ken"',
        AUTHZ_DATABASE_URL: '"postgres://app:hunter2@127.0.0.1/test"',
      }),
    )
    expect(problems).toContainEqual(
      expect.stringMatching(
        /^AUTH_PROVIDER_ISSUER is wrapped in quotes, which your env loader kept/,
      ),
    )
    expect(problems).toContainEqual(quoted('AUTHZ_DATABASE_URL', '(39 characters, hidden)'))
    const text = problems.join('\n')
    for (const secret of ['pa55word', 't0ken', 'hunter2']) expect(text).not.toContain(secret)
  })

  it('is refused for AUTH_MIDDLEWARE_DISABLED read by jwtAuth itself, with what to do', () => {
    const problems = problemsOf(() =>
      jwtAuth({ providers: [], env: { AUTH_MIDDLEWARE_DISABLED: '"true"' } }),
    )
    expect(problems).toContainEqual(quoted('AUTH_MIDDLEWARE_DISABLED', '"\\"true\\""'))
    expect(problems.join('\n')).not.toContain('must be true or false')
  })

  it('is one problem for a variable read twice (the log level)', () => {
    const problems = problemsOf(() =>
      fromEnv({ ...JWKS_ENV, AUTH_MIDDLEWARE_LOG_LEVEL: "'debug'" }),
    )
    expect(problems).toEqual([quoted('AUTH_MIDDLEWARE_LOG_LEVEL', `"'debug'"`)])
  })

  it('is read without the quotes once reported, so no second problem follows', () => {
    const problems = new Problems()
    const reader = new EnvReader({ NAME: ' "value" ', EMPTY: '""' }, problems)
    expect(reader.string('NAME')).toBe('value')
    expect(reader.string('NAME')).toBe('value')
    expect(reader.string('EMPTY')).toBeUndefined()
    expect(problems.size).toBe(2)
  })

  it('stops no start-up for a variable that is set but not read (only warned about)', () => {
    const { logger } = memoryLogger()
    expect(() =>
      fromEnv(
        { ...JWKS_ENV, JWT_LEEWAY: '"60"', AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: '"abc"' },
        { logger },
      ),
    ).not.toThrow()
  })

  it('leaves NODE_ENV read as before: "production" with its quotes is production', () => {
    const problems = problemsOf(() =>
      jwtAuth(fromEnv({ ...JWKS_ENV, NODE_ENV: '"production"', AUTH_MIDDLEWARE_DISABLED: 'true' })),
    )
    expect(problems.join('\n')).toMatch(/NODE_ENV=production/)
    expect(problems.join('\n')).not.toContain('NODE_ENV is wrapped')
  })

  it('keeps values with quotes inside, or one quote, as written', () => {
    const problems = new Problems()
    const reader = new EnvReader({ A: 'say "hi"', B: '"open', C: `"mixed'` }, problems)
    expect([reader.string('A'), reader.string('B'), reader.string('C')]).toEqual([
      'say "hi"',
      '"open',
      `"mixed'`,
    ])
    expect(problems.size).toBe(0)
  })

  it('AUTHZ_SQL_FACETS names an unknown facet quoted, so it cannot be misread', () => {
    const problems = problemsOf(() =>
      fromEnv({
        ...JWKS_ENV,
        AUTHZ_DATABASE_URL: 'postgres://app@127.0.0.1:5432/test',
        AUTHZ_SQL_FACETS: 'groups,perms',
      }),
    )
    expect(problems).toEqual([
      'AUTHZ_SQL_FACETS must list groups, roles or permissions, got "perms"',
    ])
  })
})

describe("fromEnv()'s env option (defect 2)", () => {
  const SECRETS = {
    AWS_SECRET_ACCESS_KEY: 'AWSs3cret',
    AUTHZ_DATABASE_URL: 'postgres://app:DBs3cret@127.0.0.1:5432/test',
    AUTH_REDIS_URL: 'redis://:REDISs3cret@127.0.0.1:6379',
  }

  it('holds only the variables jwtAuth and createVerifier read, frozen', () => {
    const options = fromEnv(
      {
        ...JWKS_ENV,
        ...SECRETS,
        NODE_ENV: 'development',
        AUTH_MIDDLEWARE_LOG_LEVEL: 'warn',
        AUTH_MIDDLEWARE_ALLOW_DISABLED_IN_PRODUCTION: 'false',
      },
      { logger: false },
    )
    expect(options.env).toEqual({
      NODE_ENV: 'development',
      AUTH_MIDDLEWARE_LOG_LEVEL: 'warn',
      AUTH_MIDDLEWARE_ALLOW_DISABLED_IN_PRODUCTION: 'false',
    })
    expect(Object.isFrozen(options.env)).toBe(true)
  })

  it('leaks no secret of the process when the options are logged', () => {
    const options = fromEnv({ ...JWKS_ENV, ...SECRETS }, { logger: false })
    for (const shown of [inspect(options, { depth: 10 }), JSON.stringify(options)]) {
      for (const secret of ['AWSs3cret', 'DBs3cret', 'REDISs3cret']) {
        expect(shown).not.toContain(secret)
      }
    }
  })

  it('still carries the disabled switch and NODE_ENV through a spread', () => {
    const disabled = { ...JWKS_ENV, AUTH_MIDDLEWARE_DISABLED: 'true' }
    const middleware = jwtAuth({ ...fromEnv(disabled, { logger: false }), disabled: false })
    expect(middleware.verifier).toBeDefined()
    const production = { ...disabled, NODE_ENV: 'production' }
    expect(problemsOf(() => jwtAuth({ ...fromEnv(production, { logger: false }) }))).toEqual([
      expect.stringMatching(/while NODE_ENV=production/),
    ])
  })
})

describe('a misspelt name whose prefix is in another case (defect 3)', () => {
  it.each([
    ['auth_credentials_required', 'AUTH_CREDENTIALS_REQUIRED'],
    ['Auth_Credentials_Required', 'AUTH_CREDENTIALS_REQUIRED'],
    ['authz_database_url', 'AUTHZ_DATABASE_URL'],
    ['auth_credential_required', 'AUTH_CREDENTIALS_REQUIRED'],
  ])('%s is warned about, naming %s, on stderr too', (name, meant) => {
    const { logged, stderr } = warningsAbout(name, { ...JWKS_ENV, [name]: 'true' })
    expect(logged).toEqual([expect.stringContaining(`did you mean ${meant}?`)])
    expect(stderr).toEqual([expect.stringContaining(`did you mean ${meant}?`)])
  })

  it('a lower-case name close to none of ours is left alone (another program may read it)', () => {
    const { logged, stderr } = warningsAbout('auth_session_store', {
      ...JWKS_ENV,
      auth_session_store: 'memory',
    })
    expect([...logged, ...stderr]).toEqual([])
  })
})

describe('names under other prefixes (defect 4)', () => {
  it.each([
    ['JWKS_CACHE_INTERVAL_MINUTES', 'JWKS_CACHE_INTERVAL'],
    ['JWKS_CACHE_USAGE', 'JWKS_CACHE_USAGES'],
    ['jwks_cache_interval', 'JWKS_CACHE_INTERVAL'],
    ['JWKS_CACHE_INTERVAL_MS', 'JWKS_CACHE_INTERVAL'],
  ])('%s is a misspelling of %s', (name, meant) => {
    const { logged, stderr } = warningsAbout(name, { ...JWKS_ENV, [name]: '5' })
    expect(logged).toEqual([expect.stringContaining(`did you mean ${meant}?`)])
    expect(stderr).toEqual([expect.stringContaining(`did you mean ${meant}?`)])
  })

  it('an unknown JWKS_CACHE_* name is warned about as the AUTH_* ones are', () => {
    const { logged } = warningsAbout('JWKS_CACHE_BACKEND', { ...JWKS_ENV, JWKS_CACHE_BACKEND: 'x' })
    expect(logged).toEqual([
      expect.stringMatching(/^unknown environment variable JWKS_CACHE_BACKEND/),
    ])
  })

  it("the seed's JWKS_CACHE_STRATEGY is no typo under another provider than cognito", () => {
    const { logged } = warningsAbout('JWKS_CACHE_STRATEGY', {
      ...JWKS_ENV,
      JWKS_CACHE_STRATEGY: 'both',
    })
    expect(logged).toEqual([])
  })

  it.each([
    ['OIDC_GUARD_CREDENTIALS_REQUIRED', 'AUTH_CREDENTIALS_REQUIRED'],
    ['OIDC_GUARD_DISABLED', 'AUTH_MIDDLEWARE_DISABLED'],
    ['OIDC_GUARD_JWKS_CACHE_INTERVAL', 'JWKS_CACHE_INTERVAL'],
    ['oidc_guard_revocation', 'AUTH_REVOCATION'],
  ])('%s: oidc-guard reads AUTH_* variables, did you mean %s?', (name, meant) => {
    const { logged, stderr } = warningsAbout(name, { ...JWKS_ENV, [name]: 'true' })
    expect(logged).toEqual([
      expect.stringContaining(`(oidc-guard reads AUTH_* variables): did you mean ${meant}?`),
    ])
    expect(stderr).toEqual([
      expect.stringContaining(`oidc-guard reads AUTH_* variables; did you mean ${meant}?`),
    ])
  })

  it('any other OIDC_GUARD_* variable is warned about too', () => {
    const { logged } = warningsAbout('OIDC_GUARD_FLAVOUR', { ...JWKS_ENV, OIDC_GUARD_FLAVOUR: 'x' })
    expect(logged).toEqual([expect.stringContaining('oidc-guard reads AUTH_* variables')])
  })
})

describe('no provider under the disabled switch (defect 5)', () => {
  const DISABLED = { AUTH_MIDDLEWARE_DISABLED: 'true' }

  it('createVerifier(fromEnv()) says AUTH_PROVIDER is unset and createVerifier needs one', () => {
    const problems = problemsOf(() => createVerifier(fromEnv(DISABLED, { logger: false })))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/AUTH_PROVIDER is unset/)
    expect(problems[0]).toMatch(/createVerifier ignores disabled/)
    expect(problems[0]).not.toContain('jwtAuth({')
  })

  it('jwtAuth({ ...fromEnv(), disabled: false }) says so in terms of disabled: false', () => {
    const problems = problemsOf(() =>
      jwtAuth({ ...fromEnv(DISABLED, { logger: false }), disabled: false }),
    )
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/AUTH_PROVIDER is unset/)
    expect(problems[0]).toMatch(/with disabled: false, jwtAuth verifies tokens/)
  })

  it('createVerifier with no provider names createVerifier, not jwtAuth alone', () => {
    for (const options of [{ providers: [] }, {}]) {
      const problems = problemsOf(() => createVerifier(options))
      expect(problems).toHaveLength(1)
      expect(problems[0]).toMatch(/^a provider is required: give createVerifier/)
    }
  })

  it('jwtAuth(fromEnv()) still starts disabled', () => {
    const { logger } = memoryLogger()
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    expect(jwtAuth({ ...fromEnv(DISABLED, { logger: false }), logger }).verifier).toBeUndefined()
  })
})

describe("cognitoIdentityPoolFromEnv's environment (defect 6)", () => {
  const ENV = { IDENTITY_POOL_ID: IDENTITY_POOL, USER_POOL_ID: POOL }

  it('takes it as env, as every other API does', () => {
    expect(cognitoIdentityPoolFromEnv({ env: ENV })).toMatchObject({
      identityPoolId: IDENTITY_POOL,
      loginKey: `cognito-idp.eu-west-1.amazonaws.com/${POOL}`,
    })
  })

  it('still takes environment, its former name', () => {
    expect(cognitoIdentityPoolFromEnv({ environment: ENV }).identityPoolId).toBe(IDENTITY_POOL)
  })

  it('refuses both at once', () => {
    expect(problemsOf(() => cognitoIdentityPoolFromEnv({ env: ENV, environment: ENV }))).toEqual([
      'cognitoIdentityPoolFromEnv: give env, not both env and environment (its former name)',
    ])
  })

  it.each([
    [
      { env: 'production' },
      "env must be an object of environment variables (process.env, or { NAME: 'value' }), got a string",
    ],
    [
      { environment: 'production' },
      "environment must be an object of environment variables (process.env, or { NAME: 'value' }), got a string",
    ],
    [
      { env: { IDENTITY_POOL_ID: 5 } },
      "env.IDENTITY_POOL_ID must be a string, as environment variables are (write '5'), got a number",
    ],
  ])('refuses %o as no environment, alone, before any variable is read', (options, problem) => {
    expect(
      problemsOf(() =>
        cognitoIdentityPoolFromEnv(
          options as unknown as Parameters<typeof cognitoIdentityPoolFromEnv>[0],
        ),
      ),
    ).toEqual([problem])
  })

  it('reports a misspelt option name with a refused environment', () => {
    const provider = new CognitoProvider({ userPoolId: POOL, clientId: 'c', tokenUse: 'id' })
    const problems = problemsOf(() =>
      cognitoIdentityPoolFromEnv({
        env: 'x',
        userPoolProvidr: provider,
      } as unknown as Parameters<typeof cognitoIdentityPoolFromEnv>[0]),
    )
    expect(problems).toHaveLength(2)
    expect(problems[0]).toMatch(/"userPoolProvidr" is not an option/)
    expect(problems[1]).toMatch(/^env must be an object/)
  })
})

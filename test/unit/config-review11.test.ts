// Review 11, config: misspelt AUTH_* variables said on stderr with the name meant, the seed's
// Cognito variables (JWT_LEEWAY read, the others warned about), fromEnv's second argument checked,
// and one provider listed twice named as such.

import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { cognito, type CognitoTestIssuer } from '../../src/testing.js'
import { ConfigError, createVerifier, fromEnv, jwtAuth } from '../../src/index.js'
import { EntraIdProvider } from '../../providers/entra-id/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'

const JWKS_ENV = {
  AUTH_PROVIDER: 'jwks',
  AUTH_PROVIDER_ISSUER: 'https://idp.example.com/',
  AUTH_PROVIDER_JWKS_URI: 'https://idp.example.com/jwks',
  AUTH_PROVIDER_AUDIENCE: 'api',
}

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  return expect.unreachable('expected a ConfigError')
}

function memoryLogger() {
  const lines: Record<string, unknown>[] = []
  const logger = pino(
    { level: 'trace' },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  )
  const about = (name: string) =>
    lines.filter((line) => line['variable'] === name).map((line) => String(line['msg']))
  return { logger, lines, about, text: () => lines.map((line) => String(line['msg'])).join('\n') }
}

/** The Node.js warnings emitted while `run` runs: [message, code]. */
function processWarnings(run: () => void): [string, unknown][] {
  const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
  try {
    run()
    return emitted.mock.calls.map(([message, options]) => [
      String(message),
      (options as { code?: unknown } | undefined)?.code,
    ])
  } finally {
    emitted.mockRestore()
  }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('a misspelt AUTH_* variable (defect 1)', () => {
  it('is said on stderr, naming the variable meant, whatever the log level', () => {
    const env = {
      ...JWKS_ENV,
      AUTH_MIDDLEWARE_LOG_LEVEL: 'error',
      AUTH_REVOCATON: 'redis',
      AUTH_CREDENTIAL_REQUIRED: 'true',
    }
    const warnings = processWarnings(() => fromEnv(env))
    expect(warnings).toEqual([
      [
        'environment variable AUTH_REVOCATON is not read by oidc-guard (did you mean AUTH_REVOCATION?): the setting it was meant for is not in force',
        'OIDC_GUARD_MISSPELT_AUTH_REVOCATON',
      ],
      [
        'environment variable AUTH_CREDENTIAL_REQUIRED is not read by oidc-guard (did you mean AUTH_CREDENTIALS_REQUIRED?): the setting it was meant for is not in force',
        'OIDC_GUARD_MISSPELT_AUTH_CREDENTIAL_REQUIRED',
      ],
    ])
    // Once per process and name: a second fromEnv with the same mistake says nothing more.
    expect(processWarnings(() => fromEnv(env))).toEqual([])
  })

  it('is said on stderr with logger: false too, a unit left out and AUTHZ_* included', () => {
    const env = { ...JWKS_ENV, AUTH_SOURCE_TIMEOUT: '2000', AUTHZ_SQL_FACET: 'groups' }
    const warnings = processWarnings(() => fromEnv(env, { logger: false }))
    expect(
      warnings.map(([message, code]) => [code, message.match(/did you mean (\w+)/)?.[1]]),
    ).toEqual([
      ['OIDC_GUARD_MISSPELT_AUTH_SOURCE_TIMEOUT', 'AUTH_SOURCE_TIMEOUT_MS'],
      ['OIDC_GUARD_MISSPELT_AUTHZ_SQL_FACET', 'AUTHZ_SQL_FACETS'],
    ])
  })

  it('names the variable meant in the log line as well', () => {
    const { logger, about } = memoryLogger()
    processWarnings(() => fromEnv({ ...JWKS_ENV, AUTH_REALMS: 'orders' }, { logger }))
    expect(about('AUTH_REALMS')).toEqual([
      'unknown environment variable AUTH_REALMS ignored (a typo?): did you mean AUTH_REALM? The setting it was meant for is not in force',
    ])
  })

  it("leaves other software's AUTH_* variables a log line, never a stderr warning or an error", () => {
    const { logger, about } = memoryLogger()
    const env = {
      ...JWKS_ENV,
      AUTH_SECRET: 'next-auth-secret',
      AUTH_URL: 'https://app.example.com',
    }
    const warnings = processWarnings(() => fromEnv(env, { logger }))
    expect(warnings).toEqual([])
    expect(about('AUTH_SECRET')).toEqual([
      'unknown environment variable AUTH_SECRET ignored (a typo?); every variable is listed in docs/configuration.md of the oidc-guard package',
    ])
    expect(about('AUTH_URL')).toHaveLength(1)
    expect(about('AUTH_URL')[0]).not.toContain('did you mean')
  })
})

describe("the seed's Cognito variables (defect 2)", () => {
  let pool: CognitoTestIssuer

  beforeAll(async () => {
    pool = await cognito.createCognitoIssuer(undefined, undefined, { listen: true })
  })

  afterAll(() => pool.close())

  const cognitoEnv = (extra: Record<string, string> = {}) => ({
    AUTH_PROVIDER: 'cognito',
    USER_POOL_ID: pool.pool.userPoolId,
    USER_POOL_CLIENT_ID: pool.clientId,
    AUTH_PROVIDER_AWS_COGNITO_JWKS_URI: pool.idp.jwksUri,
    ...extra,
  })

  it('JWT_LEEWAY is the clock tolerance of the Cognito provider', async () => {
    const now = Math.floor(Date.now() / 1000)
    const expired30sAgo = pool.access(undefined, { exp: now - 30, iat: now - 600 })
    const lenient = createVerifier(fromEnv(cognitoEnv({ JWT_LEEWAY: '60' }), { logger: false }))
    await expect(lenient(expired30sAgo)).resolves.toMatchObject({ provider: 'cognito' })
    const strict = createVerifier(fromEnv(cognitoEnv(), { logger: false }))
    await expect(strict(expired30sAgo)).rejects.toMatchObject({ description: 'token expired' })
  })

  it('JWT_LEEWAY has the bounds of clockToleranceSec', () => {
    expect(problemsOf(() => fromEnv(cognitoEnv({ JWT_LEEWAY: '301' }), { logger: false }))).toEqual(
      ['JWT_LEEWAY must be a number of seconds from 0 to 300, got "301"'],
    )
    expect(
      problemsOf(() => fromEnv(cognitoEnv({ JWT_LEEWAY: '60s' }), { logger: false })).join('\n'),
    ).toMatch(/^JWT_LEEWAY must be a number of seconds/)
  })

  it('the seed variables that are not read are warned about with their reason under cognito', () => {
    const { logger, about, text } = memoryLogger()
    fromEnv(
      cognitoEnv({
        JWKS_URL_TEMPLATE: 'https://proxy.internal/{}/{}/jwks.json',
        USER_POOL_CLIENT_SECRET: 's3cr3t-client-secret',
        JWKS_CACHE_STRATEGY: 'time',
        JWKS_BACKGROUND_REFRESH: 'false',
        JWKS_BACKGROUND_REFRESH_THRESHOLD: '0.5',
        JWT_SECRET_KEY: 'hmac-secret-value',
        JWT_ALGORITHM: 'HS256',
        ENABLE_AWS_CREDENTIALS: 'true',
        CREDENTIALS_DURATION_SECONDS: '900',
      }),
      { logger },
    )
    expect(about('JWKS_URL_TEMPLATE')).toEqual([
      expect.stringMatching(
        /^JWKS_URL_TEMPLATE is not read: .*set AUTH_PROVIDER_AWS_COGNITO_JWKS_URI/,
      ),
    ])
    for (const name of [
      'USER_POOL_CLIENT_SECRET',
      'JWKS_CACHE_STRATEGY',
      'JWKS_BACKGROUND_REFRESH',
      'JWKS_BACKGROUND_REFRESH_THRESHOLD',
      'JWT_SECRET_KEY',
      'JWT_ALGORITHM',
      'ENABLE_AWS_CREDENTIALS',
      'CREDENTIALS_DURATION_SECONDS',
    ]) {
      expect(about(name), name).toEqual([
        expect.stringMatching(new RegExp(`^${name} (is not read|was not used)`)),
      ])
    }
    expect(text()).not.toMatch(/s3cr3t|hmac-secret-value/)
  })

  it('they are not warned about when AUTH_PROVIDER does not include cognito (they may be the app’s), but JWT_LEEWAY names the jwks provider’s setting', () => {
    const { logger, about } = memoryLogger()
    fromEnv(
      {
        ...JWKS_ENV,
        JWKS_URL_TEMPLATE: 'https://x/{}',
        USER_POOL_CLIENT_SECRET: 'x',
        JWT_LEEWAY: '60',
      },
      { logger },
    )
    expect([...about('JWKS_URL_TEMPLATE'), ...about('USER_POOL_CLIENT_SECRET')]).toEqual([])
    // The seed's clock tolerance is a setting the jwks and oidc providers have under another name.
    expect(about('JWT_LEEWAY')).toEqual([
      expect.stringMatching(
        /^JWT_LEEWAY is read for AUTH_PROVIDER=cognito only: .*AUTH_PROVIDER_CLOCK_TOLERANCE_SEC/,
      ),
    ])
  })
})

describe("fromEnv's second argument (defect 5)", () => {
  it('takes nothing, {} or { logger }', () => {
    expect(() => fromEnv(JWKS_ENV)).not.toThrow()
    expect(() => fromEnv(JWKS_ENV, undefined)).not.toThrow()
    expect(() => fromEnv(JWKS_ENV, {})).not.toThrow()
    expect(() => fromEnv(JWKS_ENV, { logger: false })).not.toThrow()
  })

  it('refuses a misspelt key, naming the option meant', () => {
    expect(problemsOf(() => fromEnv(JWKS_ENV, { loger: false } as never))).toEqual([
      'fromEnv: "loger" is not an option (did you mean logger?); the options are logger',
    ])
  })

  it.each<[string, unknown, string]>([
    ['null', null, 'null'],
    ['a string', 'x', 'a string'],
    ['an array', [], 'an array'],
    ['a Map', new Map(), 'an instance of Map'],
  ])('refuses %s with a ConfigError saying what to pass', (_, settings, kind) => {
    expect(problemsOf(() => fromEnv(JWKS_ENV, settings as never))).toEqual([
      `fromEnv: the second argument must be an options object, fromEnv(env, { logger }), or left out; got ${kind}`,
    ])
  })

  it('refuses a logger given in place of { logger }, saying how to give it', () => {
    const [problem] = problemsOf(() => fromEnv(JWKS_ENV, pino({ level: 'silent' }) as never))
    expect(problem).toMatch(/^fromEnv: the second argument must be an options object/)
    expect(problem).toMatch(/: to give a logger, write fromEnv\(env, \{ logger \}\)$/)
  })
})

describe('one provider listed twice (defect 6)', () => {
  const jwks = (name: string, issuer = 'https://idp.example.com/') =>
    new JwksProvider({ name, issuer, jwksUri: `${issuer}jwks`, audience: 'api' })

  it('is named as such, by its own place in the list', () => {
    const p = jwks('jwks')
    expect(problemsOf(() => jwtAuth({ providers: [p, p], logger: false }))).toEqual([
      'providers[1] is providers[0] ("jwks") listed twice: list each provider once',
    ])
    const q = jwks('other', 'https://other.example.com/')
    expect(problemsOf(() => jwtAuth({ providers: [p, q, p], logger: false }))).toEqual([
      'providers[2] is providers[0] ("jwks") listed twice: list each provider once',
    ])
  })

  it('two distinct providers sharing an issuer are named by their own places', () => {
    const a = jwks('a')
    const b = jwks('b')
    const other = jwks('other', 'https://other.example.com/')
    expect(problemsOf(() => jwtAuth({ providers: [other, a, b, a], logger: false }))).toEqual([
      'providers[3] is providers[1] ("a") listed twice: list each provider once',
      'two providers accept the issuer "https://idp.example.com/": providers[1] ("a") and providers[2] ("b"); give it to one of them',
    ])
  })

  it('a templated provider (Entra ID, any tenant) listed twice is not said to conflict with itself', () => {
    const any = new EntraIdProvider({
      name: 'any-tenant',
      tenantId: 'organizations',
      allowedTenants: '*',
      audience: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
      logger: false,
    })
    expect(problemsOf(() => jwtAuth({ providers: [any, any], logger: false }))).toEqual([
      'providers[1] is providers[0] ("any-tenant") listed twice: list each provider once',
    ])
  })
})

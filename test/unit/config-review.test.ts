// fromEnv as reviewed: production from the env given, the disabled switch with providers, AUTHZ_*
// typos, variable names in the generic providers' problems, database URLs that do not decode.

import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JwksProvider } from '../../providers/jwks/index.js'
import { parseDatabaseUrl, SqlPermissionsProvider } from '../../providers/sql/index.js'
import { ConfigError, createVerifier, fromEnv, jwtAuth } from '../../src/index.js'
import { assumingProduction, isProduction } from '../../src/options.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ audience: 'api://review' })
})

afterAll(() => idp.close())

function problemsOf(build: () => unknown): string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return [...(error as ConfigError).problems]
  }
  return expect.unreachable('expected a ConfigError')
}

function memoryLogger() {
  const lines: string[] = []
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) })
  return { logger, messages: () => lines.map((line) => JSON.parse(line).msg as string) }
}

const remote = {
  AUTH_PROVIDER_ISSUER: 'http://auth.example.com/',
  AUTH_PROVIDER_JWKS_URI: 'http://auth.example.com/jwks.json',
  AUTH_PROVIDER_AUDIENCE: 'api',
}

describe('fromEnv(env): NODE_ENV=production in the env given counts', () => {
  it.each([
    [
      'jwks',
      [
        'AUTH_PROVIDER=jwks: issuer (AUTH_PROVIDER_ISSUER) must use https (plain http is allowed only on loopback or outside production), got "http://auth.example.com/"',
        'AUTH_PROVIDER=jwks: jwksUri (AUTH_PROVIDER_JWKS_URI) must use https (plain http is allowed only on loopback or outside production), got "http://auth.example.com/jwks.json"',
      ],
    ],
    [
      'oidc',
      [
        'AUTH_PROVIDER=oidc: issuer (AUTH_PROVIDER_ISSUER) must use https (plain http is allowed only on loopback or outside production), got "http://auth.example.com/"',
      ],
    ],
  ])('AUTH_PROVIDER=%s refuses plain-http URLs off loopback', (provider, expected) => {
    expect(isProduction()).toBe(false) // the test process itself is not in production
    const env = { ...remote, AUTH_PROVIDER: provider }
    expect(() => fromEnv(env, { logger: false })).not.toThrow()
    expect(
      problemsOf(() => fromEnv({ ...env, NODE_ENV: 'production' }, { logger: false })),
    ).toEqual(expected)
    // The assumption ends with fromEnv: a provider built in code afterwards is not affected.
    expect(isProduction()).toBe(false)
    expect(
      () =>
        new JwksProvider({
          issuer: remote.AUTH_PROVIDER_ISSUER,
          jwksUri: remote.AUTH_PROVIDER_JWKS_URI,
          audience: 'api',
        }),
    ).not.toThrow()
  })

  it('assumingProduction answers production inside only, restores the outer answer, even on a throw', () => {
    expect(assumingProduction(true, () => isProduction())).toBe(true)
    expect(assumingProduction(false, () => isProduction())).toBe(false)
    expect(assumingProduction(true, () => assumingProduction(false, () => isProduction()))).toBe(
      true,
    )
    expect(() =>
      assumingProduction(true, () => {
        throw new Error('boom')
      }),
    ).toThrow('boom')
    expect(isProduction()).toBe(false)
    // An env given explicitly is read as it is.
    expect(assumingProduction(true, () => isProduction({ NODE_ENV: 'development' }))).toBe(false)
  })
})

describe('fromEnv with AUTH_MIDDLEWARE_DISABLED=true', () => {
  const disabledEnv = () => ({
    AUTH_MIDDLEWARE_DISABLED: 'true',
    AUTH_PROVIDER: 'jwks',
    AUTH_PROVIDER_ISSUER: idp.issuer,
    AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
    AUTH_PROVIDER_AUDIENCE: 'api://review',
  })

  it('still builds the providers, so disabled: false spread after it verifies tokens', async () => {
    const options = fromEnv(disabledEnv(), { logger: false })
    expect(options.disabled).toBe(true)
    expect(options.providers?.map((provider) => provider.name)).toEqual(['jwks'])
    const auth = jwtAuth({ ...options, disabled: false, logger: false })
    expect(auth.verifier).toBeDefined()
    expect((await auth.verifier!(idp.mint({ sub: 'alice' }))).id).toBe('alice')
  })

  it('checks every other variable too, with AUTH_PROVIDER optional', () => {
    expect(fromEnv({ AUTH_MIDDLEWARE_DISABLED: 'true' }, { logger: false }).providers).toEqual([])
    expect(
      problemsOf(() =>
        fromEnv(
          {
            ...disabledEnv(),
            AUTH_PROVIDER_ISSUER: 'ftp://issuer.example',
            AUTH_REALM: 'a"b',
            AUTHZ_DATABASE_URL: 'postgress://db/authz',
          },
          { logger: false },
        ),
      ),
    ).toEqual([
      'AUTH_PROVIDER=jwks: issuer (AUTH_PROVIDER_ISSUER) must use https (plain http is allowed only on loopback or outside production), got "ftp://issuer.example"',
      expect.stringMatching(/^AUTHZ_DATABASE_URL must start with postgres:\/\//),
      'AUTH_REALM must be a string of visible ASCII characters without " or \\, got "a\\"b"',
    ])
  })

  it('fetches nothing while it builds them (the test setup fails any fetch off this machine)', async () => {
    const options = fromEnv(
      {
        AUTH_MIDDLEWARE_DISABLED: 'true',
        // Two providers that discover or fetch keys (jwks and oidc would share one issuer).
        AUTH_PROVIDER: 'oidc,cognito',
        AUTH_PROVIDER_ISSUER: 'https://auth.example.com/',
        AUTH_PROVIDER_AUDIENCE: 'api',
        USER_POOL_ID: 'eu-west-1_AbCdE1234',
        AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'client',
      },
      { logger: false },
    )
    jwtAuth({ ...options, logger: false })
    expect(options.providers).toHaveLength(2)
    await new Promise((resolve) => setTimeout(resolve, 50))
  })
})

describe('fromEnv: typos of AUTHZ_* variables', () => {
  it('warns about an unknown AUTHZ_* name as it does about AUTH_* ones, pointing at the docs', () => {
    const { logger, messages } = memoryLogger()
    fromEnv(
      {
        AUTH_PROVIDER: 'jwks',
        AUTH_PROVIDER_ISSUER: idp.issuer,
        AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
        AUTH_PROVIDER_AUDIENCE: 'api://review',
        AUTHZ_DATABASE_URL: 'sqlite::memory:',
        AUTHZ_SQL_FACET: 'groups', // AUTHZ_SQL_FACETS
        AUTHZ_DATABASE_URI: 'postgres://app:hunter2@db/authz', // AUTHZ_DATABASE_URL
        AUTHZ_MAX_OVERFLOW: '10', // the seed's: no equivalent
      },
      { logger },
    )
    const text = messages()
    expect(text).toContain(
      'unknown environment variable AUTHZ_SQL_FACET ignored (a typo?): did you mean AUTHZ_SQL_FACETS? The setting it was meant for is not in force',
    )
    expect(text.join('\n')).toContain('unknown environment variable AUTHZ_DATABASE_URI ignored')
    expect(text).toContain(
      'AUTHZ_MAX_OVERFLOW is a pool setting of the Python package with no equivalent here: it is ignored (AUTHZ_POOL_SIZE and AUTHZ_POOL_TIMEOUT_IN_SECONDS are read)',
    )
    // The near-miss names the variable meant (AUTHZ_DATABASE_URL), never the value's secret.
    expect(text.join('\n')).toContain('did you mean AUTHZ_DATABASE_URL?')
    expect(text.join('\n')).not.toMatch(/hunter2/)
  })
})

describe('fromEnv: the generic providers’ problems name the variable', () => {
  const jwks = () => ({
    AUTH_PROVIDER: 'jwks',
    AUTH_PROVIDER_ISSUER: idp.issuer,
    AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
    AUTH_PROVIDER_AUDIENCE: 'api://review',
  })

  it('an algorithm the provider refuses is reported under AUTH_PROVIDER_ALGORITHMS', () => {
    expect(
      problemsOf(() =>
        fromEnv({ ...jwks(), AUTH_PROVIDER_ALGORITHMS: 'rs256' }, { logger: false }),
      ),
    ).toEqual([
      'AUTH_PROVIDER=jwks: algorithms (AUTH_PROVIDER_ALGORITHMS) contains "rs256": only asymmetric algorithms are accepted (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA); none and HMAC never are',
    ])
  })

  it.each([
    ['jwks', '', 'is required when AUTH_PROVIDER includes jwks: the API'],
    ['oidc', '', 'is required when AUTH_PROVIDER includes oidc: the API'],
    ['jwks', ' , ', 'must be a comma-separated list, got " , "'],
  ])(
    'a missing audience is one problem for %s (AUTH_PROVIDER_AUDIENCE=%j), not two',
    (provider, value, text) => {
      expect(
        problemsOf(() =>
          fromEnv(
            { ...jwks(), AUTH_PROVIDER: provider, AUTH_PROVIDER_AUDIENCE: value },
            { logger: false },
          ),
        ),
      ).toEqual([expect.stringContaining(`AUTH_PROVIDER_AUDIENCE ${text}`)])
    },
  )
})

describe('database URLs whose parts do not percent-decode', () => {
  const problem =
    'must percent-encode its user, password, host and database name: a % as %25 (value hidden: it may carry a password)'

  it.each([
    'mysql://root:pa%ZZss@127.0.0.1:3306/test',
    'postgres://app:100%@db.example/authz',
    'postgres://us%er@db.example/authz',
    'postgres://app@db.example/auth%z',
  ])('%s is refused at construction, the value hidden', (url) => {
    expect(parseDatabaseUrl(url)).toBe(problem)
    expect(problemsOf(() => new SqlPermissionsProvider({ url }))).toEqual([`url ${problem}`])
    expect(
      problemsOf(() =>
        fromEnv(
          {
            AUTH_PROVIDER: 'jwks',
            AUTH_PROVIDER_ISSUER: idp.issuer,
            AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
            AUTH_PROVIDER_AUDIENCE: 'api://review',
            AUTHZ_DATABASE_URL: url,
          },
          { logger: false },
        ),
      ),
    ).toEqual([`AUTHZ_DATABASE_URL ${problem}`])
  })

  it('an encoded % is accepted', async () => {
    expect(parseDatabaseUrl('mysql://root:pa%25ss@127.0.0.1:3306/test')).toMatchObject({
      dialect: 'mysql',
      display: 'mysql://root:***@127.0.0.1:3306/test',
    })
    await new SqlPermissionsProvider({ url: 'mysql://root:pa%25ss@127.0.0.1:3306/test' }).close()
  })
})

describe('createVerifier(fromEnv()) is unaffected by the scoped production answer', () => {
  it('verifies with a loopback issuer under NODE_ENV=production in the env given', async () => {
    const verify = createVerifier(
      fromEnv(
        {
          NODE_ENV: 'production',
          AUTH_PROVIDER: 'jwks',
          AUTH_PROVIDER_ISSUER: idp.issuer,
          AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
          AUTH_PROVIDER_AUDIENCE: 'api://review',
        },
        { logger: false },
      ),
    )
    expect((await verify(idp.mint({ sub: 'bob' }))).id).toBe('bob')
  })
})

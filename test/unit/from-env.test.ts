import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isSecretVariable, showValue } from '../../src/env.js'
import { ConfigError, createVerifier, fromEnv, User } from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import {
  CLIENT_APP,
  CLIENT_ID,
  JANE as ENTRA_JANE,
  OTHER_TENANT,
  TENANT,
  v2AccessTokenClaims,
  v2Issuer,
} from '../fake-idp/entra.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer() // listens on 127.0.0.1: fromEnv's key cache uses the real fetch
})

afterAll(() => idp.close())

function memoryLogger() {
  const lines: string[] = []
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) })
  return { logger, lines, messages: () => lines.map((line) => JSON.parse(line).msg as string) }
}

const jwksVars = () => ({
  AUTH_PROVIDER: 'jwks',
  AUTH_PROVIDER_ISSUER: idp.issuer,
  AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
  AUTH_PROVIDER_AUDIENCE: idp.audience,
})

function problemsOf(build: () => unknown): string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return [...(error as ConfigError).problems]
  }
  return expect.unreachable('expected a ConfigError')
}

describe('fromEnv: a whole setup from environment variables', () => {
  it('AUTH_PROVIDER=jwks builds a provider that verifies real tokens', async () => {
    const options = fromEnv(jwksVars(), { logger: false })
    const verify = createVerifier(options)
    const user = await verify(idp.mint({ sub: 'alice' }))
    expect(user.id).toBe('alice')
    await expect(verify(idp.mint({ sub: 'alice' }, { tamper: 'signature' }))).rejects.toMatchObject(
      {
        status: 401,
      },
    )
  })

  it('AUTH_PROVIDER=oidc discovers the keys', async () => {
    const { AUTH_PROVIDER_JWKS_URI: _unused, ...vars } = jwksVars()
    const verify = createVerifier(fromEnv({ ...vars, AUTH_PROVIDER: 'OIDC' }, { logger: false }))
    expect((await verify(idp.mint({ sub: 'bob' }))).provider).toBe('oidc')
  })

  it('middleware, source-cache and claim-source variables land in the options', async () => {
    const options = fromEnv(
      {
        ...jwksVars(),
        AUTH_CREDENTIALS_REQUIRED: 'true',
        AUTH_REALM: 'orders',
        AUTH_SOURCE_TIMEOUT_MS: '1500',
        AUTH_SOURCE_CACHE_TTL_MS: '10000',
        AUTH_ROLES_CLAIM: 'realm_access.roles,https://example.com/roles',
        AUTH_MIDDLEWARE_LOG_LEVEL: 'DEBUG',
      },
      { logger: false },
    )
    expect(options).toMatchObject({
      credentialsRequired: true,
      realm: 'orders',
      sourceTimeoutMs: 1500,
      sourceCache: { ttlMs: 10000 },
      logLevel: 'debug',
    })
    const user = await createVerifier(options)(
      idp.mint({
        sub: 'carol',
        realm_access: { roles: ['admin'] },
        'https://example.com/roles': ['editor'],
      }),
    )
    expect(await user.roles).toEqual(['admin', 'editor'])
    expect(
      fromEnv({ ...jwksVars(), AUTH_SOURCE_CACHE: 'false' }, { logger: false }).sourceCache,
    ).toBe(false)
  })

  it('reports every problem at once, naming the variable, the value seen and what was expected', () => {
    const problems = problemsOf(() =>
      fromEnv(
        {
          AUTH_PROVIDER: 'jwks,keycloak',
          AUTH_PROVIDER_ISSUER: 'ftp://issuer.example',
          AUTH_MIDDLEWARE_LOG_LEVEL: 'loud',
          JWKS_CACHE_INTERVAL: 'soon',
          AUTH_CREDENTIALS_REQUIRED: 'sometimes',
          AUTH_SOURCE_TIMEOUT_MS: '-5',
        },
        { logger: false },
      ),
    )
    expect(problems).toEqual([
      'AUTH_MIDDLEWARE_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'JWKS_CACHE_INTERVAL must be a number above 0, got "soon"',
      'AUTH_PROVIDER_JWKS_URI is required when AUTH_PROVIDER includes jwks',
      "AUTH_PROVIDER_AUDIENCE is required when AUTH_PROVIDER includes jwks: the API's identifier as it appears in the tokens' aud claim",
      expect.stringMatching(/^AUTH_PROVIDER names "keycloak"; known providers: jwks, oidc/),
      'AUTH_CREDENTIALS_REQUIRED must be true or false, got "sometimes"',
      'AUTH_SOURCE_TIMEOUT_MS must be a whole number from 1 to 2147483647, got "-5"',
    ])
  })

  it('a provider’s own validation joins the list, labelled with the provider', () => {
    const problems = problemsOf(() =>
      fromEnv({ ...jwksVars(), AUTH_PROVIDER_ISSUER: 'ftp://issuer.example' }, { logger: false }),
    )
    expect(problems).toEqual([
      'AUTH_PROVIDER=jwks: issuer (AUTH_PROVIDER_ISSUER) must use https (plain http is allowed only on loopback or outside production), got "ftp://issuer.example"',
    ])
  })

  it.each([
    ['AUTHZ_DATABASE_URL', true],
    ['AUTH_MIDDLEWARE_CLIENT_SECRET', true],
    ['AUTH_API_KEY', true],
    ['AUTH_BASIC_PASSWORD', true],
    ['GRAPH_TOKEN', true],
    ['AUTH_CREDENTIALS_REQUIRED', false],
    ['AUTH_PROVIDER_AWS_COGNITO_TOKEN_USE', false],
    ['AUTH_PROVIDER_JWKS_URI', false],
  ])('%s is masked in problems and logs: %s', (name, secret) => {
    expect(isSecretVariable(name)).toBe(secret)
    expect(showValue(name, 'p@ss')).toBe(secret ? '(4 characters, hidden)' : '"p@ss"')
  })

  it('clock tolerances are seconds from 0 to 300: a value in milliseconds is refused, naming the variable', () => {
    expect(() =>
      fromEnv({ ...jwksVars(), AUTH_PROVIDER_CLOCK_TOLERANCE_SEC: '0' }, { logger: false }),
    ).not.toThrow()
    expect(
      problemsOf(() =>
        fromEnv({ ...jwksVars(), AUTH_PROVIDER_CLOCK_TOLERANCE_SEC: '300000' }, { logger: false }),
      ),
    ).toEqual([
      'AUTH_PROVIDER_CLOCK_TOLERANCE_SEC must be a number of seconds from 0 to 300, got "300000"',
    ])
    const entra = {
      AUTH_PROVIDER: 'entra-id',
      AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID: 'api://orders',
    }
    expect(
      problemsOf(() =>
        fromEnv({ ...entra, AUTH_PROVIDER_AZURE_ENTRA_ID_LEEWAY: '300000' }, { logger: false }),
      ),
    ).toContainEqual(
      expect.stringMatching(
        /^AUTH_PROVIDER_AZURE_ENTRA_ID_LEEWAY must be a number of seconds from 0 to 300/,
      ),
    )
    // Just over the bound: refused by the environment reader, under the variable's own name.
    expect(
      problemsOf(() =>
        fromEnv({ ...entra, AUTH_PROVIDER_AZURE_ENTRA_ID_LEEWAY: '301' }, { logger: false }),
      ),
    ).toEqual([
      'AUTH_PROVIDER_AZURE_ENTRA_ID_LEEWAY must be a number of seconds from 0 to 300, got "301"',
    ])
    expect(() =>
      fromEnv({ ...entra, AUTH_PROVIDER_AZURE_ENTRA_ID_LEEWAY: '300' }, { logger: false }),
    ).not.toThrow()
  })

  it('AUTH_PROVIDER_CLOCK_TOLERANCE_SEC reaches the provider: it decides how late a token may be', async () => {
    const expired = idp.mint({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 30 })
    const verifyWith = (tolerance?: string) =>
      createVerifier(
        fromEnv(
          tolerance === undefined
            ? jwksVars()
            : { ...jwksVars(), AUTH_PROVIDER_CLOCK_TOLERANCE_SEC: tolerance },
          { logger: false },
        ),
      )(expired)
    await expect(verifyWith('60')).resolves.toMatchObject({ id: 'alice' })
    await expect(verifyWith('0')).rejects.toMatchObject({ status: 401 })
    await expect(verifyWith()).rejects.toMatchObject({ status: 401 }) // the default: 5 s
  })

  it('the realm and timers are checked with the rest, each problem naming its variable', () => {
    expect(
      problemsOf(() =>
        fromEnv(
          {
            ...jwksVars(),
            AUTH_REALM: 'a"b',
            AUTH_SOURCE_TIMEOUT_MS: '1e12',
            AUTH_SOURCE_CACHE_TTL_MS: '2147483648',
          },
          { logger: false },
        ),
      ),
    ).toEqual([
      'AUTH_REALM must be a string of visible ASCII characters without " or \\, got "a\\"b"',
      'AUTH_SOURCE_TIMEOUT_MS must be a whole number from 1 to 2147483647, got "1e12"',
      'AUTH_SOURCE_CACHE_TTL_MS must be a whole number from 1 to 2147483647, got "2147483648"',
    ])
  })

  it('warns about a provider’s variables set while AUTH_PROVIDER does not name it: they are not in force', () => {
    const { logger, messages } = memoryLogger()
    fromEnv(
      {
        AUTH_PROVIDER: 'oidc',
        AUTH_PROVIDER_ISSUER: idp.issuer,
        AUTH_PROVIDER_AUDIENCE: idp.audience,
        AUTH_PROVIDER_JWKS_URI: idp.jwksUri, // jwks only: oidc discovers the keys instead
        AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'client-1',
        USER_POOL_ID: 'eu-west-1_abc', // not an AUTH_ name: may be the app's own
      },
      { logger },
    )
    expect(messages()).toEqual([
      'AUTH_PROVIDER_JWKS_URI is set, but AUTH_PROVIDER does not include jwks: it is ignored',
      'AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID is set, but AUTH_PROVIDER does not include cognito: it is ignored',
    ])
  })

  it("warns in production of a plain-http issuer on this machine: oidc-guard mint's, pasted by mistake?", () => {
    const warned = (env: Record<string, string>) => {
      const { logger, messages } = memoryLogger()
      fromEnv(env, { logger })
      return messages().filter((message) => message.includes('plain-http issuer'))
    }
    const production = { ...jwksVars(), NODE_ENV: 'production' }
    expect(warned(production)).toEqual([
      'AUTH_PROVIDER_ISSUER is a plain-http issuer on this machine in production, as the local development issuer of oidc-guard mint is: check that it is meant',
    ])
    expect(warned({ ...production, AUTH_PROVIDER: 'oidc' })).toHaveLength(1)
    expect(warned(jwksVars())).toEqual([]) // development: what mint is for
    expect(warned({ ...production, AUTH_PROVIDER_ISSUER: 'https://login.example.com/' })).toEqual(
      [],
    )
  })

  it('AUTH_PROVIDER is required unless authentication is disabled', () => {
    expect(problemsOf(() => fromEnv({}, { logger: false }))[0]).toMatch(
      /^AUTH_PROVIDER is required \(one or more of jwks, oidc/,
    )
    expect(
      problemsOf(() => fromEnv({ AUTH_PROVIDER: 'jwks,JWKS', ...{} }, { logger: false })),
    ).toContain('AUTH_PROVIDER names jwks twice')
  })

  it('warns once about unknown AUTH_* variables (typos) and the unsupported kill switch, which changes nothing', async () => {
    const { logger, messages } = memoryLogger()
    const options = fromEnv(
      {
        ...jwksVars(),
        AUTH_PROVIDER_AUDIENSE: 'x',
        AUTH_API_KEY: 'super-secret-value',
        // A misspelt secret: its name escapes the secret pattern, so no value is ever shown.
        AUTH_REDIS_ULR: 'redis://:hunter2@cache:6379/0',
        AUTH_MIDDLEWARE_JSON_REPOSITORY_PATH: 'config/users.json', // documented, not a typo
        JWT_TOKEN_VERIFICATION_DISABLED: 'true',
      },
      { logger },
    )
    const text = messages().join('\n')
    expect(text).toContain('unknown environment variable AUTH_PROVIDER_AUDIENSE ignored (a typo?)')
    expect(text).toContain('unknown environment variable AUTH_API_KEY ignored')
    expect(text).toContain('unknown environment variable AUTH_REDIS_ULR ignored')
    expect(text).not.toContain('AUTH_MIDDLEWARE_JSON_REPOSITORY_PATH')
    expect(text).not.toContain('super-secret-value')
    expect(text).not.toContain('hunter2')
    expect(text).toContain('JWT_TOKEN_VERIFICATION_DISABLED is not supported')
    const verify = createVerifier(options)
    await expect(verify(idp.mint({ sub: 'x' }, { tamper: 'signature' }))).rejects.toMatchObject({
      code: 'ERR_AUTH_SIGNATURE_INVALID',
    })
  })

  it('AUTH_MIDDLEWARE_DISABLED=true needs no provider and yields the disabled switch', () => {
    const options = fromEnv({ AUTH_MIDDLEWARE_DISABLED: 'TRUE' }, { logger: false })
    expect(options.disabled).toBe(true)
    expect(User.synthetic().isSynthetic).toBe(true)
  })
})

describe('fromEnv: several providers at once', () => {
  it('AUTH_PROVIDER=cognito,jwks routes each token to its own provider by iss', async () => {
    const pool = 'eu-west-1_EnvCombo1'
    const poolIssuer = `https://cognito-idp.eu-west-1.amazonaws.com/${pool}`
    const cognito = await createTestIssuer({ issuer: poolIssuer, algorithms: ['RS256'] })
    try {
      const verify = createVerifier(
        fromEnv(
          {
            ...jwksVars(),
            AUTH_PROVIDER: 'cognito,jwks',
            USER_POOL_ID: pool,
            AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'comboclient1',
            AUTH_PROVIDER_AWS_COGNITO_JWKS_URI: cognito.jwksUri,
          },
          { logger: false },
        ),
      )
      expect(verify.providers.map((provider) => provider.name)).toEqual(['cognito', 'jwks'])
      const access = cognito.mint({
        sub: 'u-1',
        aud: undefined,
        token_use: 'access',
        client_id: 'comboclient1',
        username: 'jane',
        'cognito:groups': ['admin'],
      })
      const fromPool = await verify(access)
      expect([fromPool.provider, fromPool.name, await fromPool.groups]).toEqual([
        'cognito',
        'jane',
        ['admin'],
      ])
      expect((await verify(idp.mint({ sub: 'generic' }))).provider).toBe('jwks')
      await expect(
        verify(cognito.mint({ sub: 'u-1', token_use: 'id', aud: 'other' })),
      ).rejects.toMatchObject({
        status: 401,
      })
    } finally {
      await cognito.close()
    }
  })

  it('AUTH_PROVIDER=entra-id,cognito: both vendors side by side, Entra roles from the token', async () => {
    const pool = 'us-east-1_EnvCombo2'
    const cognito = await createTestIssuer({
      issuer: `https://cognito-idp.us-east-1.amazonaws.com/${pool}`,
      algorithms: ['RS256'],
    })
    const entra = await createTestIssuer({ issuer: v2Issuer(TENANT), algorithms: ['RS256'] })
    try {
      const verify = createVerifier(
        fromEnv(
          {
            AUTH_PROVIDER: 'entra-id,cognito',
            AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: TENANT,
            AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID: CLIENT_ID,
            AUTH_PROVIDER_AZURE_ENTRA_ID_JWKS_URI: entra.jwksUri,
            USER_POOL_ID: pool,
            AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'comboclient1',
            AUTH_PROVIDER_AWS_COGNITO_JWKS_URI: cognito.jwksUri,
          },
          { logger: false },
        ),
      )
      const now = Math.floor(Date.now() / 1000)
      const claims = v2AccessTokenClaims(
        { tid: TENANT, audience: CLIENT_ID, clientApp: CLIENT_APP, now },
        { ...ENTRA_JANE, roles: ['Orders.Admin'] },
      )
      const fromEntra = await verify(entra.mint(claims))
      expect([fromEntra.provider, fromEntra.id, await fromEntra.roles]).toEqual([
        'entra-id',
        ENTRA_JANE.oid,
        ['Orders.Admin'],
      ])
      const fromPool = await verify(
        cognito.mint({ sub: 'u', aud: undefined, token_use: 'access', client_id: 'comboclient1' }),
      )
      expect(fromPool.provider).toBe('cognito')
      const otherTenant = v2AccessTokenClaims(
        { tid: OTHER_TENANT, audience: CLIENT_ID, clientApp: CLIENT_APP, now },
        ENTRA_JANE,
      )
      await expect(verify(entra.mint(otherTenant))).rejects.toMatchObject({ status: 401 })
    } finally {
      await Promise.all([cognito.close(), entra.close()])
    }
  })

  it('every provider’s problems are reported together, labelled', () => {
    const problems = problemsOf(() =>
      fromEnv({ AUTH_PROVIDER: 'cognito,jwks', USER_POOL_ID: 'nonsense' }, { logger: false }),
    )
    expect(problems.some((problem) => problem.includes('USER_POOL_ID'))).toBe(true)
    expect(problems).toContain('AUTH_PROVIDER_ISSUER is required when AUTH_PROVIDER includes jwks')
  })
})

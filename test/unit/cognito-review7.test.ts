// Review 7 of Cognito: the identity pool logs why it answers 503, options a Cognito pool cannot
// honour are refused, env problems name their variable, and the docs promise no emulator.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { ConfigError, createVerifier, UnavailableError, type User } from '../../src/index.js'
import { createTestIssuer } from '../../src/testing.js'
import { defaultLogger, EnvReader, Problems, JwksCache } from '../../src/spi.js'
import {
  CognitoIdentityPoolProvider,
  CognitoProvider,
  cognitoEnv,
  type AwsClientLike,
  type CognitoIdentityPoolProviderOptions,
  type CognitoProviderOptions,
} from '../../providers/cognito/index.js'
import { createCognitoIssuer, type CognitoTestIssuer } from '../fake-idp/cognito.js'

const root = join(import.meta.dirname, '..', '..')
const POOL = 'eu-west-1_TestPool1'
const IDENTITY_POOL = 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'

let cognito: CognitoTestIssuer
let user: User
let idToken: string

beforeAll(async () => {
  cognito = await createCognitoIssuer(POOL)
  const provider = new CognitoProvider({ ...cognito.providerOptions, tokenUse: 'id' })
  idToken = cognito.id()
  user = await createVerifier({ provider, logger: false })(idToken)
})

afterAll(async () => {
  await cognito.close()
})

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

/** An AWS SDK service error, as the SDK v3 throws them. */
function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } })
}

function failingWith(error: unknown): AwsClientLike {
  return { send: () => Promise.reject(error) }
}

/** A pino logger writing its records to `lines`, at debug. */
function capture(lines: Record<string, unknown>[]) {
  return pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  )
}

function identityPool(
  options: Partial<CognitoIdentityPoolProviderOptions>,
): CognitoIdentityPoolProvider {
  return new CognitoIdentityPoolProvider({
    identityPoolId: IDENTITY_POOL,
    userPoolId: POOL,
    ...options,
  })
}

describe('CognitoIdentityPoolProvider logs why it answers 503', () => {
  it('a mistyped identity pool (ResourceNotFoundException): warns with the scrubbed cause, never the token', async () => {
    const lines: Record<string, unknown>[] = []
    const error = awsError('ResourceNotFoundException', 'IdentityPool not found.')
    const pool = identityPool({ client: failingWith(error), logger: capture(lines) })
    await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(UnavailableError)
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        identityPoolId: IDENTITY_POOL,
        kind: 'ResourceNotFoundException',
        err: expect.objectContaining({
          type: 'ResourceNotFoundException',
          message: 'IdentityPool not found.',
        }),
        msg: 'AWS credentials exchange failed; answering 503',
      }),
    ])
    expect(JSON.stringify(lines)).not.toContain(idToken)
    expect(JSON.stringify(lines)).not.toContain(idToken.split('.')[1]!)
  })

  it('scrubs a token an error message carries', async () => {
    const lines: Record<string, unknown>[] = []
    const error = awsError('InternalErrorException', `failed for ${idToken}`)
    const pool = identityPool({ client: failingWith(error), logger: capture(lines) })
    await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(UnavailableError)
    expect(lines).toHaveLength(1)
    expect(JSON.stringify(lines)).not.toContain(idToken.split('.')[1]!)
  })

  it('a storm of one kind is one warning a minute, the rest at debug, then counted', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const lines: Record<string, unknown>[] = []
    const error = awsError('TooManyRequestsException', 'Rate exceeded')
    const pool = identityPool({ client: failingWith(error), logger: capture(lines) })
    for (let call = 0; call < 5; call += 1) {
      await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(UnavailableError)
    }
    expect(lines.map((line) => line['level'])).toEqual([40, 20, 20, 20, 20])
    // Another kind is not hidden by the storm.
    const other = identityPool({
      client: failingWith(awsError('AccessDeniedException', 'not allowed')),
      logger: capture(lines),
    })
    await expect(other.getAwsCredentials(user)).rejects.toBeInstanceOf(UnavailableError)
    expect(lines.at(-1)).toMatchObject({ level: 40, kind: 'AccessDeniedException' })
    vi.setSystemTime(Date.now() + 61_000)
    await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(UnavailableError)
    expect(lines.at(-1)).toMatchObject({
      level: 40,
      kind: 'TooManyRequestsException',
      sinceLastWarning: 4,
    })
  })

  it('a refused token (401) is not logged as an outage', async () => {
    const lines: Record<string, unknown>[] = []
    const error = awsError('NotAuthorizedException', 'Invalid login token.')
    const pool = identityPool({ client: failingWith(error), logger: capture(lines) })
    await expect(pool.getAwsCredentials(user)).rejects.toMatchObject({ status: 401 })
    // Logged once, as the token's refusal (review 10: a pool refusing everyone must show), never
    // as an outage.
    expect(lines.map((line) => line.msg)).toEqual([
      'AWS refused the token for credentials; answering 401',
    ])
  })

  it("logs to oidc-guard's own logger by default", async () => {
    const warn = vi.spyOn(defaultLogger(), 'warn').mockImplementation(() => undefined)
    const error = awsError('ResourceNotFoundException', 'IdentityPool not found.')
    const pool = identityPool({ client: failingWith(error) })
    await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(UnavailableError)
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ kind: 'ResourceNotFoundException' }),
      'AWS credentials exchange failed; answering 503',
    )
  })

  it('does not depend on the JWKS_CACHE_* variables, which configure a cache it does not use', async () => {
    vi.stubEnv('JWKS_CACHE_INTERVAL', '2880')
    vi.resetModules() // a process-wide key cache not yet made, as in an app's first call
    try {
      const fresh = await import('../../providers/cognito/index.js')
      const build = () =>
        new fresh.CognitoIdentityPoolProvider({
          identityPoolId: IDENTITY_POOL,
          userPoolId: POOL,
          client: failingWith(new Error('x')),
        })
      expect(build).not.toThrow()
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it.each<[string, unknown, RegExp]>([
    ['a string', 'debug', /logger must be a pino logger .* got string/],
    ['null', null, /logger must be a pino logger .* got null/],
    [
      'console',
      console,
      /logger must be a pino logger .*; it has no child\(\), isLevelEnabled\(\)/,
    ],
  ])('refuses %s as logger with a ConfigError', (_case, logger, message) => {
    const build = () => identityPool({ logger } as unknown as CognitoIdentityPoolProviderOptions)
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(message)
  })
})

describe('CognitoProvider refuses JwksProvider options a user pool cannot honour', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'typ',
      { typ: 'at+jwt' },
      /typ is not an option of CognitoProvider: Cognito tokens carry no typ/,
    ],
    [
      'issuer',
      { issuer: 'https://other.example.com' },
      /issuer is not an option of CognitoProvider: the issuer derives from userPoolId/,
    ],
  ])('refuses %s with a ConfigError saying why', (_option, extra, message) => {
    const build = () =>
      new CognitoProvider({
        ...cognito.providerOptions,
        ...extra,
      } as unknown as CognitoProviderOptions)
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(message)
  })
})

describe('cognitoEnv names the variable of a bad key URL', () => {
  it('AUTH_PROVIDER_AWS_COGNITO_JWKS_URI, not only the option', () => {
    const problems = new Problems()
    const env = new EnvReader(
      {
        USER_POOL_ID: POOL,
        AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'clientA',
        AUTH_PROVIDER_AWS_COGNITO_JWKS_URI: 'https://keys.example.com/jwks.json?x=1',
      },
      problems,
    )
    const context = {
      jwksCache: new JwksCache(),
      logger: pino({ enabled: false }),
      production: false,
    }
    let thrown: unknown
    try {
      cognitoEnv.create(env, context)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ConfigError)
    expect((thrown as ConfigError).problems).toEqual([
      expect.stringMatching(
        /^jwksUri \(AUTH_PROVIDER_AWS_COGNITO_JWKS_URI\) must not have a query/,
      ),
    ])
  })
})

describe('emulators signing with their own issuer (LocalStack)', () => {
  const localStackPool = 'us-east-1_db019d67e6704e89a7bc087c8485bd00'
  const localStackIssuer = `http://localhost.localstack.cloud:4566/${localStackPool}`

  it('are refused even with jwksUri pointing at their keys: the issuers stay the real ones', async () => {
    const emulator = await createTestIssuer({
      issuer: localStackIssuer,
      algorithms: ['RS256'],
      listen: false,
    })
    try {
      const provider = new CognitoProvider({
        userPoolId: localStackPool,
        clientId: 'app',
        jwksUri: `${localStackIssuer}/.well-known/jwks.json`,
        fetch: emulator.fetch,
      })
      const token = emulator.mint(
        { aud: undefined, token_use: 'access', client_id: 'app', username: 'jane' },
        { header: { typ: undefined } },
      )
      await expect(createVerifier({ provider, logger: false })(token)).rejects.toMatchObject({
        code: 'ERR_AUTH_ISSUER_UNKNOWN',
      })
    } finally {
      await emulator.close()
    }
  })

  it('are not promised by the docs or the option’s TSDoc', () => {
    const guide = readFileSync(join(root, 'docs/providers/cognito.md'), 'utf8')
    const section = guide.slice(guide.indexOf('## LocalStack and tests'))
    expect(section).toMatch(/not\s+supported/)
    expect(section).not.toContain('127.0.0.1:4566')
    expect(section).toContain("createTestIssuer({ kind: 'cognito' })")
    const source = readFileSync(join(root, 'providers/cognito/cognito-provider.ts'), 'utf8')
    const jwksUriDoc = source.slice(
      source.indexOf('Where the keys are'),
      source.indexOf('jwksUri?:'),
    )
    expect(jwksUriDoc).not.toMatch(/\(LocalStack, tests\)/)
    expect(jwksUriDoc).toMatch(/not supported/)
  })
})

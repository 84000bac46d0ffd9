// Review 10 of Cognito: identity-pool credentials an SDK client can mark, the identity pool's own
// refusals logged (a 503 when they name its configuration), refreshBeforeSec bounded, loginKey
// and credentials checked in full, and cognitoIdentityPoolFromEnv's option names checked first.

import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConfigError,
  createVerifier,
  InvalidTokenError,
  UnavailableError,
  type User,
} from '../../src/index.js'
import {
  CognitoIdentityPoolProvider,
  CognitoProfileProvider,
  CognitoProvider,
  cognitoIdentityPoolFromEnv,
  type AwsClientLike,
  type CognitoIdentityPoolProviderOptions,
} from '../../providers/cognito/index.js'
import { createCognitoIssuer, type CognitoTestIssuer } from '../fake-idp/cognito.js'

const POOL = 'eu-west-1_TestPool1'
const IDENTITY_POOL = 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'
const LOGIN_KEY = `cognito-idp.eu-west-1.amazonaws.com/${POOL}`

let cognito: CognitoTestIssuer
let provider: CognitoProvider
let user: User
let idToken: string

beforeAll(async () => {
  cognito = await createCognitoIssuer(POOL)
  provider = new CognitoProvider({ ...cognito.providerOptions, tokenUse: 'id' })
  idToken = cognito.id()
  user = await createVerifier({ provider, logger: false })(idToken)
})

afterAll(async () => {
  await cognito.close()
})

/** An AWS SDK service error, as the SDK v3 throws them. */
function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } })
}

function failingWith(error: unknown): AwsClientLike {
  return { send: () => Promise.reject(error) }
}

/** A client answering GetId and GetCredentialsForIdentity like AWS. */
function answering(): AwsClientLike {
  return {
    send: async (command) => {
      const name = (command as object).constructor.name
      if (name === 'GetIdCommand') return { IdentityId: 'eu-west-1:identity' }
      return {
        Credentials: {
          AccessKeyId: 'ASIAEXAMPLE',
          SecretKey: 'secret',
          SessionToken: 'session',
          Expiration: new Date(Date.now() + 3_600_000),
        },
      }
    },
  }
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
  } as CognitoIdentityPoolProviderOptions)
}

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  return []
}

describe('the credentials getAwsCredentials returns', () => {
  it('are not frozen (the SDK marks them: credentials.$source), yet their fields are read-only', async () => {
    const pool = identityPool({ client: answering() })
    const credentials = await pool.getAwsCredentials(user)
    expect(Object.isFrozen(credentials)).toBe(false)
    // What @aws-sdk/core's setCredentialFeature does to the credentials a client is given.
    const marked = credentials as unknown as { $source?: Record<string, string> }
    marked.$source = {}
    marked.$source['CREDENTIALS_CODE'] = 'e'
    expect(marked.$source).toEqual({ CREDENTIALS_CODE: 'e' })
    // No caller can alter what the cache serves the next request.
    const writable = credentials as { -readonly [K in keyof typeof credentials]: unknown }
    expect(() => (writable.accessKeyId = 'ASIAOTHER')).toThrow(TypeError)
    expect(() => delete writable.sessionToken).toThrow(TypeError)
    const again = await pool.getAwsCredentials(user)
    expect(again).toBe(credentials)
    expect(again).toMatchObject({ accessKeyId: 'ASIAEXAMPLE', sessionToken: 'session' })
  })
})

describe('AWS refusing the token (NotAuthorizedException)', () => {
  it.each([
    'Invalid login token. Token is not from a supported provider of this identity pool.',
    "Invalid login token. Issuer doesn't match providerName",
  ])('naming the identity pool’s configuration (%s): 503, logged at warn', async (message) => {
    const lines: Record<string, unknown>[] = []
    const error = awsError('NotAuthorizedException', message)
    const pool = identityPool({ client: failingWith(error), logger: capture(lines) })
    const failure = await pool.getAwsCredentials(user).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(UnavailableError)
    expect(failure).toMatchObject({ status: 503, code: 'ERR_AUTH_SOURCE_UNAVAILABLE' })
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        kind: 'NotAuthorizedException',
        loginKey: LOGIN_KEY,
        hint: expect.stringContaining(LOGIN_KEY),
        err: expect.objectContaining({ message }),
        msg: "the identity pool refuses the user pool's tokens for its own configuration; answering 503",
      }),
    ])
    expect(JSON.stringify(lines)).not.toContain(idToken)
  })

  it('about the token: still 401, logged at warn the first time per message, then at debug', async () => {
    const lines: Record<string, unknown>[] = []
    let message = 'Invalid login token. Token expired: 1700000001 >= 1700000000'
    const client: AwsClientLike = {
      send: () => Promise.reject(awsError('NotAuthorizedException', message)),
    }
    const pool = identityPool({ client, logger: capture(lines) })
    for (let i = 0; i < 3; i++) {
      message = `Invalid login token. Token expired: ${1700000001 + i} >= 1700000000`
      const failure = await pool.getAwsCredentials(user).catch((e: unknown) => e)
      expect(failure).toBeInstanceOf(InvalidTokenError)
      expect(failure).toMatchObject({ status: 401, code: 'ERR_AUTH_TOKEN_REJECTED' })
    }
    message = 'Invalid login token. Not a valid OpenId Connect identity token.'
    await expect(pool.getAwsCredentials(user)).rejects.toMatchObject({ status: 401 })
    expect(lines.map((line) => [line['level'], line['msg']])).toEqual([
      [40, 'AWS refused the token for credentials; answering 401'],
      [20, 'AWS refused the token for credentials; answering 401'],
      [20, 'AWS refused the token for credentials; answering 401'],
      [40, 'AWS refused the token for credentials; answering 401'],
    ])
    expect(lines[0]).toMatchObject({
      identityPoolId: IDENTITY_POOL,
      err: expect.objectContaining({ type: 'NotAuthorizedException' }),
    })
    expect(JSON.stringify(lines)).not.toContain(idToken)
  })
})

describe('refreshBeforeSec', () => {
  it.each([1801, 3600, 300_000])('refuses %s, saying why', (refreshBeforeSec) => {
    expect(problemsOf(() => identityPool({ client: answering(), refreshBeforeSec }))).toEqual([
      `refreshBeforeSec must be at most 1800 (in seconds, not milliseconds), got ${refreshBeforeSec}: identity-pool credentials last an hour, so a margin that long would fetch new ones on every call`,
    ])
  })

  it('takes up to 1800, and still reports a non-number once', () => {
    expect(problemsOf(() => identityPool({ refreshBeforeSec: 1800 }))).toEqual([])
    expect(problemsOf(() => identityPool({ refreshBeforeSec: Infinity }))).toEqual([
      'refreshBeforeSec must be a finite number ≥ 0, got Infinity',
    ])
  })
})

describe('loginKey', () => {
  const withKey = (loginKey: unknown) => () =>
    new CognitoIdentityPoolProvider({
      identityPoolId: IDENTITY_POOL,
      loginKey,
    } as CognitoIdentityPoolProviderOptions)

  it.each<[string, string, RegExp]>([
    ['a trailing slash', `${LOGIN_KEY}/`, /loginKey must not end with "\/"/],
    ['a trailing newline', `${LOGIN_KEY}\n`, /loginKey must not contain whitespace/],
    ['a leading space', ` ${LOGIN_KEY}`, /loginKey must not contain whitespace/],
    ['a half-removed scheme', `https:/${LOGIN_KEY}`, /without a scheme/],
    ['a host without its region', `cognito-idp.amazonaws.com/${POOL}`, /the host naming the pool/],
    [
      'a region other than the pool’s',
      `cognito-idp.us-east-1.amazonaws.com/${POOL}`,
      /the host naming the pool's region/,
    ],
    ['no user pool', 'cognito-idp.eu-west-1.amazonaws.com/', /must not end with/],
    ['a path after the pool', `${LOGIN_KEY}/x`, /the host naming the pool's region/],
    ['another domain', `cognito-idp.eu-west-1.amazonaws.com.evil/${POOL}`, /the host naming/],
  ])('refuses %s', (_case, loginKey, message) => {
    const problems = problemsOf(withKey(loginKey))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(message)
  })

  it.each([
    LOGIN_KEY,
    `issuer-cognito-idp.eu-west-1.amazonaws.com/${POOL}`,
    'cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_AbC9',
    // The provider name of another OpenID Connect provider the identity pool trusts.
    'login.example.com/tenant',
  ])('takes %s', (loginKey) => {
    expect(withKey(loginKey)()).toMatchObject({ loginKey })
  })
})

describe('AWS client credentials', () => {
  it.each<[string, unknown]>([
    ['empty strings', { accessKeyId: '', secretAccessKey: '' }],
    ['an empty secret', { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: '' }],
    ['a blank access key', { accessKeyId: '  ', secretAccessKey: 'secret' }],
  ])('refuses %s', (_case, credentials) => {
    const problems = problemsOf(
      () => new CognitoProfileProvider({ userPoolId: POOL, credentials } as never),
    )
    expect(problems).toEqual([
      'CognitoProfileProvider: credentials must be { accessKeyId, secretAccessKey, sessionToken? } (non-empty strings) or a function returning them',
    ])
  })

  it('takes filled keys', () => {
    const credentials = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' }
    expect(problemsOf(() => new CognitoProfileProvider({ userPoolId: POOL, credentials }))).toEqual(
      [],
    )
  })
})

describe('cognitoIdentityPoolFromEnv', () => {
  it('reports a misspelt option even while a variable is missing, in one report', () => {
    const problems = problemsOf(() =>
      cognitoIdentityPoolFromEnv({
        environment: { IDENTITY_POOL_ID: IDENTITY_POOL },
        userPoolProvder: provider,
      } as never),
    )
    expect(problems).toEqual([
      expect.stringMatching(
        /^cognitoIdentityPoolFromEnv: "userPoolProvder" is not an option \(did you mean userPoolProvider\?\)/,
      ),
      'USER_POOL_ID is required when no userPoolProvider is given',
    ])
  })

  it('reports a misspelt option once when the provider is built, with its other problems', () => {
    const problems = problemsOf(() =>
      cognitoIdentityPoolFromEnv({
        environment: { IDENTITY_POOL_ID: IDENTITY_POOL },
        userPoolProvider: provider,
        timeoutMS: 10,
        refreshBeforeSec: -1,
      } as never),
    )
    expect(problems).toEqual([
      expect.stringMatching(/^cognitoIdentityPoolFromEnv: "timeoutMS" is not an option/),
      expect.stringMatching(/^refreshBeforeSec must be/),
    ])
  })

  it('names the identity pool and its region as variables, not options', () => {
    const problems = problemsOf(() =>
      cognitoIdentityPoolFromEnv({
        environment: { IDENTITY_POOL_ID: IDENTITY_POOL },
        userPoolProvider: provider,
        identityPoolId: IDENTITY_POOL,
      } as never),
    )
    expect(problems).toEqual([
      expect.stringMatching(/^cognitoIdentityPoolFromEnv: "identityPoolId" is not an option/),
    ])
  })

  it('still builds from known options', () => {
    const pool = cognitoIdentityPoolFromEnv({
      environment: { IDENTITY_POOL_ID: IDENTITY_POOL },
      userPoolProvider: provider,
      timeoutMs: 10,
    })
    expect(pool).toMatchObject({ identityPoolId: IDENTITY_POOL, loginKey: LOGIN_KEY })
  })
})

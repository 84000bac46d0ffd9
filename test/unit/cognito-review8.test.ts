// Cognito review 8: an identity pool that can never answer says so, early refreshes that meet an
// outage keep the credentials, clear() wins over an exchange in flight, bounded maxIdentities,
// a profile source of another pool, and an async checkClaims.

import { pino, type Logger } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  ConfigError,
  createVerifier,
  CredentialsRequiredError,
  InvalidTokenError,
  JwksCache,
  UnavailableError,
  User,
  type JwtClaims,
  type Verifier,
} from '../../src/index.js'
import {
  CognitoIdentityPoolProvider,
  cognitoIdentityPoolFromEnv,
  CognitoProfileProvider,
  CognitoProvider,
  type AwsClientLike,
  type CognitoIdentityPoolProviderOptions,
} from '../../providers/cognito/index.js'
import { createCognitoIssuer, JANE, type CognitoTestIssuer } from '../fake-idp/cognito.js'

const IDENTITY_POOL = 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'
const POOL = 'eu-west-1_TestPool1'
const OTHER_POOL = 'eu-west-1_OtherPool9'

let cognito: CognitoTestIssuer
let other: CognitoTestIssuer
let provider: CognitoProvider
let verify: Verifier

beforeAll(async () => {
  ;[cognito, other] = await Promise.all([
    createCognitoIssuer(POOL),
    createCognitoIssuer(OTHER_POOL),
  ])
  provider = new CognitoProvider({
    userPoolId: POOL,
    clientId: cognito.clientId,
    tokenUse: 'any',
    jwksCache: new JwksCache({ fetch: cognito.fetch }),
  })
  const otherProvider = new CognitoProvider({
    userPoolId: OTHER_POOL,
    clientId: other.clientId,
    tokenUse: 'any',
    jwksCache: new JwksCache({ fetch: other.fetch }),
  })
  verify = createVerifier({ providers: [provider, otherProvider], logger: false })
})

afterAll(async () => {
  await Promise.all([cognito.close(), other.close()])
})

afterEach(() => {
  vi.useRealTimers()
})

/** A pino logger whose lines are kept, parsed. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) })
  return { logger, lines }
}

const warnings = (lines: Record<string, unknown>[]) => lines.filter((line) => line['level'] === 40)

function awsError(name: string): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 400 } })
}

/** A fake SDK client answering GetId and GetCredentialsForIdentity, each answer with new keys. */
function fakeClient(lifetimeSec = 3600) {
  const sent: string[] = []
  let gate: Promise<void> = Promise.resolve()
  let failure: unknown
  const client: AwsClientLike = {
    async send(command) {
      const name = (command as object).constructor.name
      const { input } = command as { input: Record<string, unknown> }
      sent.push(name)
      await gate
      if (failure !== undefined) throw failure
      if (name === 'GetIdCommand') return { IdentityId: 'eu-west-1:identity' }
      return {
        IdentityId: input['IdentityId'],
        Credentials: {
          AccessKeyId: `ASIA${sent.length}`,
          SecretKey: 'secret',
          SessionToken: 'session',
          Expiration: new Date(Date.now() + lifetimeSec * 1000),
        },
      }
    },
  }
  return {
    client,
    count: (name: string) => sent.filter((sentName) => sentName === name).length,
    hold() {
      let release!: () => void
      gate = new Promise((resolve) => (release = resolve))
      return () => {
        gate = Promise.resolve()
        release()
      }
    },
    failWith(error: unknown) {
      failure = error
    },
  }
}

/** Options as a caller's config loader might give them: `undefined` drops a default. */
function identityPool(options: Record<string, unknown> = {}): CognitoIdentityPoolProvider {
  return new CognitoIdentityPoolProvider({
    identityPoolId: IDENTITY_POOL,
    userPoolProvider: provider,
    logger: false,
    ...options,
  } as CognitoIdentityPoolProviderOptions)
}

describe('an identity pool that could never answer says so', () => {
  it.each<[string, Record<string, unknown>]>([
    ["tokenUse: 'access'", { tokenUse: 'access' }],
    ['the default tokenUse', {}],
  ])('refuses, at construction, a userPoolProvider with %s', (_case, options) => {
    const accessOnly = new CognitoProvider({ userPoolId: POOL, clientId: 'c', ...options })
    const build = () => identityPool({ userPoolProvider: accessOnly })
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(/tokenUse: 'id'/)
  })

  it.each(['id', 'any'] as const)("takes a userPoolProvider with tokenUse: '%s'", (tokenUse) => {
    const idTokens = new CognitoProvider({ userPoolId: POOL, clientId: 'c', tokenUse })
    expect(identityPool({ userPoolProvider: idTokens }).loginKey).toBe(
      `cognito-idp.eu-west-1.amazonaws.com/${POOL}`,
    )
  })

  it('a mistyped userPoolId: 401, and one warning naming both pools, however many requests', async () => {
    const { logger, lines } = capturingLogger()
    const aws = fakeClient()
    const pool = identityPool({
      userPoolProvider: undefined,
      userPoolId: 'eu-west-1_TestPoo11',
      client: aws.client,
      logger,
    })
    const user = await verify(cognito.id(JANE))
    for (let i = 0; i < 3; i++) {
      await expect(pool.getAwsCredentials(user)).rejects.toMatchObject({
        status: 401,
        code: 'ERR_AUTH_TOKEN_TYPE_INVALID',
      })
    }
    expect(warnings(lines)).toHaveLength(1)
    expect(warnings(lines)[0]).toMatchObject({
      loginKey: 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPoo11',
      tokenIssuer: cognito.pool.issuer,
      hint: expect.stringMatching(/fix userPoolId/),
    })
    expect(aws.count('GetIdCommand')).toBe(0)
  })

  it('a token of the global issuer form where the key names the regional one: the warning gives the key', async () => {
    const { logger, lines } = capturingLogger()
    // The pool named by its regional key (the default form) while its tokens carry the global one.
    const pool = cognitoIdentityPoolFromEnv({
      environment: { IDENTITY_POOL_ID: IDENTITY_POOL, USER_POOL_ID: POOL },
      logger,
    })
    const user = await verify(cognito.id(JANE, {}, { issuerForm: 'global' }))
    await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(InvalidTokenError)
    expect(warnings(lines)).toEqual([
      expect.objectContaining({
        hint: expect.stringContaining(`"issuer-cognito-idp.eu-west-1.amazonaws.com/${POOL}"`),
      }),
    ])
  })

  it('a userPoolProvider of the global form gives the global login key', () => {
    const global = new CognitoProvider({
      userPoolId: POOL,
      clientId: 'c',
      tokenUse: 'id',
      issuerForm: 'global',
    })
    const pool = cognitoIdentityPoolFromEnv({
      environment: { IDENTITY_POOL_ID: IDENTITY_POOL },
      userPoolProvider: global,
    })
    expect(pool.loginKey).toBe(`issuer-cognito-idp.eu-west-1.amazonaws.com/${POOL}`)
  })

  it('an access token of the pool: 401 and one warning saying to send the ID token', async () => {
    const { logger, lines } = capturingLogger()
    const pool = identityPool({ client: fakeClient().client, logger })
    const user = await verify(cognito.access(JANE))
    await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(InvalidTokenError)
    await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(InvalidTokenError)
    expect(warnings(lines)).toEqual([
      expect.objectContaining({ hint: expect.stringMatching(/send the ID token/) }),
    ])
  })

  it('a token of another vendor is refused without a warning: it says nothing of the configuration', async () => {
    const { logger, lines } = capturingLogger()
    const pool = identityPool({ client: fakeClient().client, logger })
    const user = new User(
      {
        provider: 'entra',
        claims: { iss: 'https://login.example.com/tenant/v2.0' },
        token: 'a.b.c',
      },
      { id: 'x' },
      {},
    )
    await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(InvalidTokenError)
    expect(warnings(lines)).toEqual([])
  })
})

describe('an anonymous user', () => {
  it('is refused with 401 ERR_AUTH_CREDENTIALS_REQUIRED, not invalid_token, without calling AWS', async () => {
    const aws = fakeClient()
    const failure = await identityPool({ client: aws.client })
      .getAwsCredentials(User.anonymous)
      .catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(CredentialsRequiredError)
    expect(failure).toMatchObject({
      status: 401,
      code: 'ERR_AUTH_CREDENTIALS_REQUIRED',
      error: 'unauthorized',
    })
    expect(aws.count('GetIdCommand')).toBe(0)
  })
})

describe('an early refresh that fails', () => {
  const start = new Date('2030-01-01T00:00:00Z')
  // Inside the 300 s refresh window of one-hour credentials, which are still valid.
  const early = new Date(start.getTime() + 3400_000)

  async function cachedThenFailing(error: unknown) {
    vi.useFakeTimers({ toFake: ['Date'], now: start })
    const { logger, lines } = capturingLogger()
    const aws = fakeClient()
    const pool = identityPool({ client: aws.client, logger })
    const user = await verify(cognito.id(JANE))
    const first = await pool.getAwsCredentials(user)
    vi.setSystemTime(early)
    aws.failWith(error)
    return { aws, pool, user, first, lines }
  }

  it.each<[string, () => unknown]>([
    ['an AWS internal error', () => awsError('InternalErrorException')],
    ['throttling', () => awsError('TooManyRequestsException')],
    ['a network error', () => new TypeError('fetch failed')],
  ])(
    '(%s) serves the still-valid cached credentials, logs, and keeps the identity',
    async (_case, error) => {
      const { aws, pool, user, first, lines } = await cachedThenFailing(error())
      await expect(pool.getAwsCredentials(user)).resolves.toBe(first)
      expect(warnings(lines)).toEqual([
        expect.objectContaining({ msg: expect.stringMatching(/serving the cached credentials/) }),
      ])
      aws.failWith(undefined)
      // Served without a new attempt for 30 s after the failure, then renewed.
      await expect(pool.getAwsCredentials(user)).resolves.toBe(first)
      vi.setSystemTime(new Date(early.getTime() + 30_000))
      const renewed = await pool.getAwsCredentials(user)
      expect(renewed.accessKeyId).not.toBe(first.accessKeyId)
      expect(aws.count('GetIdCommand')).toBe(1)
    },
  )

  it('after a failed refresh, requests are served at once, with no exchange, for 30 s', async () => {
    const { aws, pool, user, first } = await cachedThenFailing(awsError('InternalErrorException'))
    await expect(pool.getAwsCredentials(user)).resolves.toBe(first)
    const attempts = aws.count('GetCredentialsForIdentityCommand')
    for (let index = 0; index < 5; index += 1) {
      await expect(pool.getAwsCredentials(user)).resolves.toBe(first)
    }
    expect(aws.count('GetCredentialsForIdentityCommand')).toBe(attempts)
    vi.setSystemTime(new Date(early.getTime() + 30_000))
    await expect(pool.getAwsCredentials(user)).resolves.toBe(first) // tried again, failed again
    expect(aws.count('GetCredentialsForIdentityCommand')).toBe(attempts + 1)
  })

  it('once the cached credentials have expired, the failure is a 503', async () => {
    const { pool, user } = await cachedThenFailing(awsError('InternalErrorException'))
    vi.setSystemTime(new Date(start.getTime() + 3601_000))
    await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(UnavailableError)
  })

  it('an identity AWS no longer has (ResourceNotFoundException): its credentials are not served, and the next call asks GetId again', async () => {
    const { aws, pool, user } = await cachedThenFailing(awsError('ResourceNotFoundException'))
    await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(UnavailableError)
    aws.failWith(undefined)
    await pool.getAwsCredentials(user)
    expect(aws.count('GetIdCommand')).toBe(2)
  })

  it('a refused token (NotAuthorizedException): 401, and the entry is dropped', async () => {
    const { aws, pool, user } = await cachedThenFailing(awsError('NotAuthorizedException'))
    await expect(pool.getAwsCredentials(user)).rejects.toMatchObject({
      status: 401,
      code: 'ERR_AUTH_TOKEN_REJECTED',
    })
    aws.failWith(undefined)
    await pool.getAwsCredentials(user)
    expect(aws.count('GetIdCommand')).toBe(2)
  })
})

describe('maxIdentities is bounded', () => {
  it.each([2 ** 53, 1e9, 10_000_001])('refuses %d with a ConfigError', (maxIdentities) => {
    const build = () => identityPool({ maxIdentities })
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(/maxIdentities must be a whole number from 1 to 10000000/)
  })
})

describe('clear() wins over an exchange in flight', () => {
  it.each<[string, (pool: CognitoIdentityPoolProvider, user: User) => void]>([
    ['clear()', (pool) => pool.clear()],
    ['clear(user)', (pool, user) => pool.clear(user)],
  ])('%s: the exchange answers its callers but caches nothing', async (_case, clear) => {
    const aws = fakeClient()
    const pool = identityPool({ client: aws.client })
    const user = await verify(cognito.id(JANE))
    const release = aws.hold()
    const first = pool.getAwsCredentials(user)
    await vi.waitFor(() => expect(aws.count('GetIdCommand')).toBe(1))
    clear(pool, user)
    // A call after clear() does not join the exchange that began before it.
    const second = pool.getAwsCredentials(user)
    release()
    const [a, b] = await Promise.all([first, second])
    expect(a.accessKeyId).not.toBe(b.accessKeyId)
    // The later exchange's answer is the one kept; the earlier one's finishing did not drop it.
    await expect(pool.getAwsCredentials(user)).resolves.toBe(b)
    expect(aws.count('GetCredentialsForIdentityCommand')).toBe(2)
  })
})

describe('CognitoProfileProvider of another pool than the tokens', () => {
  it('gives {} and warns once per pool', async () => {
    const { logger, lines } = capturingLogger()
    const profile = new CognitoProfileProvider({ userPoolId: 'eu-west-1_TestPoo11', logger })
    const user = await verify(cognito.access(JANE))
    await expect(profile.fetchProfile(user)).resolves.toEqual({})
    await expect(profile.fetchProfile(user)).resolves.toEqual({})
    expect(warnings(lines)).toEqual([
      expect.objectContaining({
        userPoolId: 'eu-west-1_TestPoo11',
        tokenIssuer: cognito.pool.issuer,
        msg: expect.stringMatching(/check userPoolId/),
      }),
    ])
  })

  it('says nothing of a token of another vendor', async () => {
    const { logger, lines } = capturingLogger()
    const profile = new CognitoProfileProvider({ userPoolId: POOL, logger })
    const user = new User(
      { provider: 'entra', claims: { iss: 'https://login.example.com/tenant/v2.0' } },
      { id: 'x' },
      {},
    )
    await expect(profile.fetchProfile(user)).resolves.toEqual({})
    expect(warnings(lines)).toEqual([])
  })

  it('refuses a logger that is not one', () => {
    expect(
      () => new CognitoProfileProvider({ userPoolId: POOL, logger: 'warn' as unknown as Logger }),
    ).toThrow(ConfigError)
  })
})

describe('an async checkClaims of a CognitoProvider subclass', () => {
  class AsyncChecked extends CognitoProvider {
    protected override async checkClaims(claims: JwtClaims): Promise<void> {
      await Promise.resolve()
      if (claims['custom:tenant'] === 'evil') {
        throw new InvalidTokenError('ERR_AUTH_TOKEN_REJECTED', 'wrong tenant')
      }
    }
  }

  it('refuses with 401 when it rejects, and leaves no rejection unhandled', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const checked = new AsyncChecked({
        userPoolId: POOL,
        clientId: cognito.clientId,
        jwksCache: new JwksCache({ fetch: cognito.fetch }),
      })
      const verifyChecked = createVerifier({ provider: checked, logger: false })
      await expect(
        verifyChecked(cognito.access(JANE, { 'custom:tenant': 'evil' })),
      ).rejects.toMatchObject({
        status: 401,
        code: 'ERR_AUTH_TOKEN_REJECTED',
      })
      await expect(verifyChecked(cognito.access(JANE))).resolves.toMatchObject({ id: JANE.sub })
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
    expect(unhandled).toEqual([])
  })
})

// CognitoIdentityPoolProvider with an injected client: the exchange, the cache per identity, expiry, failures.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  ConfigError,
  createVerifier,
  InvalidTokenError,
  UnavailableError,
  User,
  type Verifier,
} from '../../src/index.js'
import {
  CognitoIdentityPoolProvider,
  CognitoProvider,
  type AwsClientLike,
  type CognitoIdentityPoolProviderOptions,
} from '../../providers/cognito/index.js'
import { createCognitoIssuer, JANE, type CognitoTestIssuer } from '../fake-idp/cognito.js'

const IDENTITY_POOL = 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'
const BOB = { sub: 'b0b0b0b0-0000-4000-8000-000000000000', username: 'bob' }

let cognito: CognitoTestIssuer
let other: CognitoTestIssuer
let provider: CognitoProvider
let verify: Verifier

beforeAll(async () => {
  ;[cognito, other] = await Promise.all([
    createCognitoIssuer('eu-west-1_TestPool1'),
    createCognitoIssuer('eu-west-1_OtherPool9'),
  ])
  provider = new CognitoProvider({
    userPoolId: cognito.pool.userPoolId,
    clientId: cognito.clientId,
    tokenUse: 'any',
    fetch: cognito.idp.fetch,
  })
  const otherProvider = new CognitoProvider({
    userPoolId: other.pool.userPoolId,
    clientId: other.clientId,
    tokenUse: 'any',
    fetch: other.idp.fetch,
  })
  verify = createVerifier({ providers: [provider, otherProvider], logger: false })
})

afterAll(async () => {
  await Promise.all([cognito.close(), other.close()])
})

afterEach(() => {
  vi.useRealTimers()
})

interface Sent {
  readonly command: string
  readonly input: Record<string, unknown>
}

/** A fake SDK client answering GetId and GetCredentialsForIdentity like AWS, recording each call. */
function fakeClient(options: { lifetimeSec?: number } = {}) {
  const sent: Sent[] = []
  let gate: Promise<void> = Promise.resolve()
  let failure: unknown
  let answer: unknown
  const client: AwsClientLike = {
    async send(command, sendOptions) {
      const { input } = command as { input: Record<string, unknown> }
      const name = (command as object).constructor.name
      sent.push({ command: name, input })
      await gate
      sendOptions?.abortSignal?.throwIfAborted()
      if (failure !== undefined) throw failure
      if (answer !== undefined) return answer
      if (name === 'GetIdCommand') {
        const token = Object.values(input['Logins'] as Record<string, string>)[0]!
        const sub = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub
        return { IdentityId: `eu-west-1:${sub}` }
      }
      return {
        IdentityId: input['IdentityId'],
        Credentials: {
          AccessKeyId: `ASIA${sent.length}`,
          SecretKey: 'secret',
          SessionToken: 'session',
          Expiration: new Date(Date.now() + (options.lifetimeSec ?? 3600) * 1000),
        },
      }
    },
  }
  return {
    client,
    sent,
    count: (name: string) => sent.filter((call) => call.command === name).length,
    hold() {
      let release!: () => void
      gate = new Promise((resolve) => (release = resolve))
      return release
    },
    failWith(error: unknown) {
      failure = error
    },
    answerWith(value: unknown) {
      answer = value
    },
  }
}

function identityPool(
  client: AwsClientLike,
  options: Partial<CognitoIdentityPoolProviderOptions> = {},
): CognitoIdentityPoolProvider {
  return new CognitoIdentityPoolProvider({
    identityPoolId: IDENTITY_POOL,
    userPoolProvider: provider,
    client,
    ...options,
  })
}

function awsError(name: string): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 400 } })
}

describe('CognitoIdentityPoolProvider.getAwsCredentials', () => {
  it('sends the raw ID token under the user pool login key (the seed sent an object repr)', async () => {
    const aws = fakeClient()
    const token = cognito.id()
    const credentials = await identityPool(aws.client).getAwsCredentials(await verify(token))
    const logins = { [`cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1`]: token }
    expect(aws.sent).toEqual([
      { command: 'GetIdCommand', input: { IdentityPoolId: IDENTITY_POOL, Logins: logins } },
      {
        command: 'GetCredentialsForIdentityCommand',
        input: { IdentityId: `eu-west-1:${JANE.sub}`, Logins: logins },
      },
    ])
    expect(credentials).toEqual({
      accessKeyId: 'ASIA2',
      secretAccessKey: 'secret',
      sessionToken: 'session',
      expiration: expect.any(Date),
      identityId: `eu-west-1:${JANE.sub}`,
    })
    expect(Object.isFrozen(credentials)).toBe(false) // the SDK marks the credentials it is given
  })

  it('reuses the credentials of one token across requests until shortly before expiry', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-01-01T00:00:00Z') })
    const aws = fakeClient({ lifetimeSec: 3600 })
    const pool = identityPool(aws.client)
    const token = cognito.id()
    const first = await pool.getAwsCredentials(await verify(token))
    const again = await pool.getAwsCredentials(await verify(token))
    expect(again).toBe(first)
    expect([aws.count('GetIdCommand'), aws.count('GetCredentialsForIdentityCommand')]).toEqual([
      1, 1,
    ])

    // Still more than 300 s left: cached.
    vi.setSystemTime(new Date('2030-01-01T00:54:59Z'))
    expect(await pool.getAwsCredentials(await verify(token))).toBe(first)
    // 300 s or less left: refreshed with the known identity id, no second GetId.
    vi.setSystemTime(new Date('2030-01-01T00:55:00Z'))
    const refreshed = await pool.getAwsCredentials(await verify(token))
    expect(refreshed).not.toBe(first)
    expect(refreshed.identityId).toBe(first.identityId)
    expect([aws.count('GetIdCommand'), aws.count('GetCredentialsForIdentityCommand')]).toEqual([
      1, 2,
    ])
  })

  it("never serves one token's credentials to another token of the same user (the role is chosen per token)", async () => {
    // Like an identity pool's role mapping: the admin app's tokens with the admin group get the
    // admin role; any other token of the same user gets the read-only role.
    const sent: string[] = []
    const client: AwsClientLike = {
      async send(command) {
        const { input } = command as { input: Record<string, unknown> }
        const token = Object.values(input['Logins'] as Record<string, string>)[0]!
        sent.push(token)
        if ((command as object).constructor.name === 'GetIdCommand') {
          return { IdentityId: `eu-west-1:${JANE.sub}` }
        }
        const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
        const admin = claims.aud === 'adminApp' && claims['cognito:groups']?.includes('admin')
        return {
          Credentials: {
            AccessKeyId: admin ? 'ASIA-ADMIN-ROLE' : 'ASIA-READONLY-ROLE',
            SecretKey: 'secret',
            SessionToken: 'session',
            Expiration: new Date(Date.now() + 3_600_000),
          },
        }
      },
    }
    const twoApps = new CognitoProvider({
      userPoolId: cognito.pool.userPoolId,
      clientId: ['adminApp', 'kioskApp'],
      tokenUse: 'id',
      fetch: cognito.fetch,
    })
    const verifyTwoApps = createVerifier({ provider: twoApps, logger: false })
    const pool = identityPool(client, { userPoolProvider: twoApps })
    const adminToken = cognito.id(JANE, { aud: 'adminApp' })
    const kioskToken = cognito.id({ ...JANE, groups: [] }, { aud: 'kioskApp' })
    const admin = await pool.getAwsCredentials(await verifyTwoApps(adminToken))
    const kiosk = await pool.getAwsCredentials(await verifyTwoApps(kioskToken))
    expect(admin.accessKeyId).toBe('ASIA-ADMIN-ROLE')
    expect(kiosk.accessKeyId).toBe('ASIA-READONLY-ROLE')
    expect(sent).toEqual([adminToken, adminToken, kioskToken, kioskToken])
    // Each token keeps its own: the admin token is still served from the cache.
    expect(await pool.getAwsCredentials(await verifyTwoApps(adminToken))).toBe(admin)
    expect(sent).toHaveLength(4)
  })

  it('honours refreshBeforeSec', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-01-01T00:00:00Z') })
    const aws = fakeClient({ lifetimeSec: 3600 })
    const pool = identityPool(aws.client, { refreshBeforeSec: 0 })
    const token = cognito.id()
    const first = await pool.getAwsCredentials(await verify(token))
    vi.setSystemTime(new Date('2030-01-01T00:59:59Z'))
    expect(await pool.getAwsCredentials(await verify(token))).toBe(first)
    // The token is still valid (clock tolerance); the credentials are not.
    vi.setSystemTime(new Date('2030-01-01T01:00:00Z'))
    expect(await pool.getAwsCredentials(await verify(token))).not.toBe(first)
  })

  it('concurrent calls with two tokens of one user make two exchanges', async () => {
    const aws = fakeClient()
    const pool = identityPool(aws.client)
    const release = aws.hold()
    const [first, second] = await Promise.all([verify(cognito.id()), verify(cognito.id())])
    const calls = [first!, second!, first!, second!].map((user) => pool.getAwsCredentials(user))
    release()
    const results = await Promise.all(calls)
    expect(results[0]).toBe(results[2])
    expect(results[1]).toBe(results[3])
    expect(results[0]).not.toBe(results[1])
    expect(aws.count('GetCredentialsForIdentityCommand')).toBe(2)
  })

  it('concurrent calls with one token share one exchange', async () => {
    const aws = fakeClient()
    const pool = identityPool(aws.client)
    const release = aws.hold()
    const user = await verify(cognito.id())
    const calls = Array.from({ length: 20 }, () => pool.getAwsCredentials(user))
    release()
    const results = await Promise.all(calls)
    expect(new Set(results).size).toBe(1)
    expect([aws.count('GetIdCommand'), aws.count('GetCredentialsForIdentityCommand')]).toEqual([
      1, 1,
    ])
  })

  it('keeps identities apart, in a bounded LRU', async () => {
    const aws = fakeClient()
    const pool = identityPool(aws.client, { maxIdentities: 1 })
    const janeToken = cognito.id(JANE)
    const jane = await pool.getAwsCredentials(await verify(janeToken))
    const bob = await pool.getAwsCredentials(await verify(cognito.id(BOB)))
    expect(bob.identityId).toBe(`eu-west-1:${BOB.sub}`)
    expect(bob.identityId).not.toBe(jane.identityId)
    // Jane was evicted by Bob: a new exchange.
    const janeAgain = await pool.getAwsCredentials(await verify(janeToken))
    expect(janeAgain).not.toBe(jane)
    expect(aws.count('GetIdCommand')).toBe(3)
  })

  it('clear() forgets one user (every token of theirs) or every user', async () => {
    const aws = fakeClient()
    const pool = identityPool(aws.client)
    const [user, sameUser, bob] = await Promise.all([
      verify(cognito.id()),
      verify(cognito.id()),
      verify(cognito.id(BOB)),
    ])
    await Promise.all([user, sameUser, bob].map((who) => pool.getAwsCredentials(who!)))
    expect(aws.count('GetCredentialsForIdentityCommand')).toBe(3)
    pool.clear(user)
    await Promise.all([user, sameUser, bob].map((who) => pool.getAwsCredentials(who!)))
    // Both of Jane's tokens were forgotten, Bob's was not.
    expect(aws.count('GetCredentialsForIdentityCommand')).toBe(5)
    pool.clear()
    await pool.getAwsCredentials(user!)
    expect(aws.count('GetCredentialsForIdentityCommand')).toBe(6)
  })

  it('AWS refusing the token (NotAuthorizedException): 401 ERR_AUTH_TOKEN_REJECTED, not cached, never a 503 to retry', async () => {
    const aws = fakeClient()
    const pool = identityPool(aws.client)
    const user = await verify(cognito.id())
    const cause = awsError('NotAuthorizedException')
    aws.failWith(cause)
    const failure = await pool.getAwsCredentials(user).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(InvalidTokenError)
    expect(failure).toMatchObject({
      status: 401,
      code: 'ERR_AUTH_TOKEN_REJECTED',
      description: 'AWS refused the token for credentials',
      cause,
    })
    aws.failWith(undefined)
    await expect(pool.getAwsCredentials(user)).resolves.toMatchObject({
      accessKeyId: expect.any(String),
    })
  })

  it.each<[string, () => unknown]>([
    ['a network error', () => new TypeError('fetch failed')],
    ['an AWS throttling error', () => awsError('TooManyRequestsException')],
    ['an AWS internal error', () => awsError('InternalErrorException')],
    // Bad input our configuration built (the pool id, the identity id), not the token.
    ['an AWS parameter error', () => awsError('InvalidParameterException')],
  ])('%s: 503 ERR_AUTH_SOURCE_UNAVAILABLE, not cached', async (_case, error) => {
    const aws = fakeClient()
    const pool = identityPool(aws.client)
    const user = await verify(cognito.id())
    const cause = error()
    aws.failWith(cause)
    const failure = await pool.getAwsCredentials(user).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(UnavailableError)
    expect(failure).toMatchObject({
      status: 503,
      code: 'ERR_AUTH_SOURCE_UNAVAILABLE',
      description: 'AWS credentials are temporarily unavailable',
      cause,
    })
    aws.failWith(undefined)
    await expect(pool.getAwsCredentials(user)).resolves.toMatchObject({
      accessKeyId: expect.any(String),
    })
  })

  it('an AWS error on refresh forgets the identity, so the next call asks GetId again', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-01-01T00:00:00Z') })
    const aws = fakeClient()
    const pool = identityPool(aws.client)
    const user = await verify(cognito.id())
    await pool.getAwsCredentials(user)
    vi.setSystemTime(new Date('2030-01-01T02:00:00Z'))
    aws.failWith(awsError('ResourceNotFoundException'))
    await expect(pool.getAwsCredentials(user)).rejects.toBeInstanceOf(UnavailableError)
    aws.failWith(undefined)
    await pool.getAwsCredentials(user)
    expect(aws.count('GetIdCommand')).toBe(2)
  })

  // Each answer names an identity, so that GetId succeeds and the credentials are what is judged.
  const later = () => new Date(Date.now() + 3_600_000)
  const good = () => ({ AccessKeyId: 'a', SecretKey: 's', SessionToken: 't', Expiration: later() })
  it.each<[string, () => unknown]>([
    ['no credentials', () => ({})],
    ['no session token', () => ({ ...good(), SessionToken: undefined })],
    ['an empty access key id', () => ({ ...good(), AccessKeyId: '' })],
    ['an empty secret key', () => ({ ...good(), SecretKey: '' })],
    ['an expiration that is not a date', () => ({ ...good(), Expiration: 5 })],
    ['an invalid date', () => ({ ...good(), Expiration: new Date(Number.NaN) })],
    ['null', () => null],
  ])('a malformed answer (%s) is a 503, never credentials', async (_case, credentials) => {
    const aws = fakeClient()
    aws.answerWith({ IdentityId: 'eu-west-1:x', Credentials: credentials() })
    const failure = await identityPool(aws.client)
      .getAwsCredentials(await verify(cognito.id()))
      .catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(UnavailableError)
    expect(aws.count('GetCredentialsForIdentityCommand')).toBe(1)
  })

  it('the same answer with every field well formed is credentials (the cases above fail on one field)', async () => {
    const aws = fakeClient()
    aws.answerWith({ IdentityId: 'eu-west-1:x', Credentials: good() })
    await expect(
      identityPool(aws.client).getAwsCredentials(await verify(cognito.id())),
    ).resolves.toMatchObject({ accessKeyId: 'a', identityId: 'eu-west-1:x' })
  })

  it('a hanging AWS is abandoned after timeoutMs: 503', async () => {
    const aws = fakeClient()
    const release = aws.hold()
    const failure = await identityPool(aws.client, { timeoutMs: 20 })
      .getAwsCredentials(await verify(cognito.id()))
      .catch((e: unknown) => e)
    release()
    expect(failure).toBeInstanceOf(UnavailableError)
  })

  it.each<[string, () => Promise<User>]>([
    ['an access token', () => verify(cognito.access())],
    ['an ID token of another user pool', () => verify(other.id())],
    ['a user without a token', async () => new User({ provider: 'basic' }, { id: 'alice' }, {})],
    [
      // Without its scheme, the issuer reads as the login key itself: only the https check refuses it.
      "a user whose issuer is the pool's without https://",
      async () => {
        const verified = await verify(cognito.id())
        const iss = String(verified.claims.iss).replace(/^https:\/\//, '')
        const origin = {
          provider: 'cognito',
          claims: { ...verified.claims, iss },
          token: verified.token,
        }
        return new User(origin, { id: verified.id }, {})
      },
    ],
  ])('refuses %s with 401 ERR_AUTH_TOKEN_TYPE_INVALID, without calling AWS', async (_case, who) => {
    const aws = fakeClient()
    const failure = await identityPool(aws.client)
      .getAwsCredentials(await who())
      .catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(InvalidTokenError)
    expect(failure).toMatchObject({ status: 401, code: 'ERR_AUTH_TOKEN_TYPE_INVALID' })
    expect(aws.sent).toEqual([])
  })
})

describe('CognitoIdentityPoolProvider options', () => {
  it('derives the login key from userPoolProvider, userPoolId or takes loginKey', () => {
    const key = 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool1'
    const base = { identityPoolId: IDENTITY_POOL }
    expect(new CognitoIdentityPoolProvider({ ...base, userPoolProvider: provider }).loginKey).toBe(
      key,
    )
    expect(
      new CognitoIdentityPoolProvider({ ...base, userPoolId: 'eu-west-1_TestPool1' }).loginKey,
    ).toBe(key)
    expect(new CognitoIdentityPoolProvider({ ...base, loginKey: key })).toMatchObject({
      loginKey: key,
      region: 'eu-west-1',
    })
  })

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'no identity pool',
      { identityPoolId: undefined },
      /identityPoolId \(IDENTITY_POOL_ID\) is required/,
    ],
    [
      'a user pool id as identity pool',
      { identityPoolId: 'eu-west-1_TestPool1' },
      /must look like/,
    ],
    ['a contradicting region', { region: 'us-east-1' }, /contradicts/],
    ['no user pool', { userPoolProvider: undefined }, /exactly one way/],
    ['two user pools', { userPoolId: 'eu-west-1_TestPool1' }, /exactly one way/],
    [
      'a login key with a scheme',
      { userPoolProvider: undefined, loginKey: 'https://cognito-idp.eu-west-1.amazonaws.com/x' },
      /without a scheme/,
    ],
    [
      'a client and an endpoint',
      { client: { send: async () => ({}) }, endpoint: 'http://127.0.0.1:1' },
      /either client or endpoint/,
    ],
    ['a client without send', { client: {} }, /client must be an AWS SDK v3 client/],
    [
      'an endpoint with a query',
      { endpoint: 'http://127.0.0.1:1/?a=b' },
      /endpoint must not have a query/,
    ],
    ['zero identities', { maxIdentities: 0 }, /maxIdentities/],
    ['a zero time-out', { timeoutMs: 0 }, /timeoutMs/],
    ['a negative refresh margin', { refreshBeforeSec: -1 }, /refreshBeforeSec/],
  ])('refuses %s', (_case, overrides, message) => {
    const build = () =>
      new CognitoIdentityPoolProvider({
        identityPoolId: IDENTITY_POOL,
        userPoolProvider: provider,
        ...overrides,
      } as CognitoIdentityPoolProviderOptions)
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(message)
  })
})

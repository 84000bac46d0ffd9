// The AWS SDK on the wire: profile (AdminGetUser, GetUser) and identity pool exchange against a fake AWS on 127.0.0.1.

import type { Express, NextFunction, Request, Response } from 'express'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  authErrorHandler,
  ConfigError,
  createVerifier,
  InvalidTokenError,
  JwksCache,
  jwtAuth,
  requireUser,
  type JwtAuthOptions,
} from '../../src/index.js'
import {
  CognitoIdentityPoolProvider,
  CognitoProfileProvider,
  CognitoProvider,
  type CognitoIdentityPoolProviderOptions,
  type CognitoProfileProviderOptions,
} from '../../providers/cognito/index.js'
import { FAKE_CREDENTIALS, startFakeAws, type FakeAws } from '../fake-aws/server.js'
import { createCognitoIssuer, JANE, type CognitoTestIssuer } from '../fake-idp/cognito.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'

const POOL = 'eu-west-1_TestPool1'
const IDENTITY_POOL = 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'

let cognito: CognitoTestIssuer
let aws: FakeAws
let downEndpoint: string
const closers: (() => void)[] = []

beforeAll(async () => {
  ;[cognito, aws] = await Promise.all([
    createCognitoIssuer(POOL),
    startFakeAws({
      userPoolId: POOL,
      identityPoolId: IDENTITY_POOL,
      users: [
        {
          username: 'jane',
          sub: JANE.sub,
          attributes: { email: 'jane@example.com', given_name: 'Jane', 'custom:team': 'blue' },
        },
      ],
    }),
  ])
  // A port that was just free: connections to it are refused.
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  downEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  await new Promise((resolve) => server.close(resolve))
})

afterAll(async () => {
  await Promise.all([cognito.close(), aws.close()])
})

afterEach(() => {
  for (const close of closers.splice(0)) close()
  aws.reset()
  vi.useRealTimers()
})

function cognitoProvider(): CognitoProvider {
  return new CognitoProvider({
    userPoolId: POOL,
    clientId: cognito.clientId,
    tokenUse: 'any',
    // The kit's fetch serves the pool's keys under both issuer forms.
    jwksCache: new JwksCache({ fetch: cognito.fetch }),
  })
}

function profileSource(
  options: Partial<CognitoProfileProviderOptions> = {},
): CognitoProfileProvider {
  const source = new CognitoProfileProvider({
    userPoolId: POOL,
    endpoint: aws.endpoint,
    credentials: FAKE_CREDENTIALS,
    maxAttempts: 1,
    ...options,
  })
  closers.push(() => source.close())
  return source
}

function identityPool(
  provider: CognitoProvider,
  options: Partial<CognitoIdentityPoolProviderOptions> = {},
): CognitoIdentityPoolProvider {
  const pool = new CognitoIdentityPoolProvider({
    identityPoolId: IDENTITY_POOL,
    userPoolProvider: provider,
    endpoint: aws.endpoint,
    maxAttempts: 1,
    // The outages these tests provoke are read from the answers; logging them is tested apart.
    logger: false,
    ...options,
  })
  closers.push(() => pool.close())
  return pool
}

/** Express 4 does not catch rejected promises: hand them to the error handler ourselves. */
function route(handler: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch(next)
  }
}

describe('CognitoProfileProvider options', () => {
  it.each<[string, unknown, RegExp]>([
    [
      'another operation',
      'ListUsers',
      /operation must be 'AdminGetUser' or 'GetUser', got "ListUsers"/,
    ],
    // null is no opt-out: it once became AdminGetUser silently.
    ['a null operation', null, /operation must be 'AdminGetUser' or 'GetUser', got null/],
  ])('refuses %s with a ConfigError', (_case, operation, message) => {
    const build = () =>
      new CognitoProfileProvider({
        userPoolId: POOL,
        operation,
      } as unknown as CognitoProfileProviderOptions)
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(message)
  })
})

describe.each(EXPRESS_MAJORS)('Cognito and AWS on %s', (_name, createApp) => {
  function appWith(options: Partial<JwtAuthOptions>, pool?: CognitoIdentityPoolProvider): Express {
    const app = createApp()
    app.use(jwtAuth({ provider: cognitoProvider(), realm: 'api', logger: false, ...options }))
    app.get(
      '/profile',
      requireUser(),
      route(async (req, res) => {
        res.json(await req.currentUser.profile)
      }),
    )
    app.get(
      '/aws',
      requireUser(),
      route(async (req, res) => {
        const credentials = await pool!.getAwsCredentials(req.currentUser)
        res.json({ identityId: credentials.identityId, accessKeyId: credentials.accessKeyId })
      }),
    )
    app.use(authErrorHandler({ realm: 'api' }))
    return app
  }

  const get = (app: Express, path: string, token: string) =>
    request(app).get(path).set('Authorization', `Bearer ${token}`)

  describe('CognitoProfileProvider', () => {
    it('AdminGetUser: the attributes of the token’s username, signed with the app’s credentials', async () => {
      const res = await get(appWith({ profile: profileSource() }), '/profile', cognito.access())
      expect(res.status).toBe(200)
      expect(res.body).toEqual({
        sub: JANE.sub,
        email: 'jane@example.com',
        given_name: 'Jane',
        'custom:team': 'blue',
      })
      expect(aws.requests).toEqual([
        expect.objectContaining({
          operation: 'AdminGetUser',
          body: { UserPoolId: POOL, Username: 'jane' },
        }),
      ])
      expect(aws.requests[0]!.headers['authorization']).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIAFAKEFAKEFAKEFAKE\/\d+\/eu-west-1\/cognito-idp\//,
      )
    })

    it('AdminGetUser with an ID token reads cognito:username', async () => {
      const res = await get(appWith({ profile: profileSource() }), '/profile', cognito.id())
      expect(res.body.email).toBe('jane@example.com')
      expect(aws.requests[0]!.body).toEqual({ UserPoolId: POOL, Username: 'jane' })
    })

    it('GetUser: the user’s own access token, unsigned', async () => {
      const token = cognito.access()
      // GetUser is not signed: no credentials at all.
      const profile = new CognitoProfileProvider({
        userPoolId: POOL,
        endpoint: aws.endpoint,
        operation: 'GetUser',
      })
      closers.push(() => profile.close())
      const res = await get(appWith({ profile }), '/profile', token)
      expect(res.status).toBe(200)
      expect(res.body['custom:team']).toBe('blue')
      expect(aws.requests[0]).toMatchObject({ operation: 'GetUser', body: { AccessToken: token } })
      expect(aws.requests[0]!.headers['authorization']).toBeUndefined()
    })

    it('GetUser after GlobalSignOut: Cognito refuses the token, fetchProfile rejects with 401 ERR_AUTH_TOKEN_REVOKED', async () => {
      const profile = profileSource({ operation: 'GetUser' })
      const user = await createVerifier({ provider: cognitoProvider(), logger: false })(
        cognito.access(),
      )
      aws.globalSignOut('jane')
      const failure = await profile.fetchProfile(user).catch((error: unknown) => error)
      expect(failure).toBeInstanceOf(InvalidTokenError)
      expect(failure).toMatchObject({
        status: 401,
        code: 'ERR_AUTH_TOKEN_REVOKED',
        description: 'token revoked',
      })
      expect(aws.counts.GetUser).toBe(1)
    })

    it('GetUser after GlobalSignOut: 401 invalid_token with the Bearer challenge, never a 503 to retry', async () => {
      const app = appWith({ profile: profileSource({ operation: 'GetUser' }) })
      aws.globalSignOut('jane')
      const res = await get(app, '/profile', cognito.access())
      expect(res.status).toBe(401)
      expect(res.headers['retry-after']).toBeUndefined()
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="api", error="invalid_token", error_description="token revoked"',
      )
      expect(res.body).toEqual({ error: 'invalid_token', error_description: 'token revoked' })
    })

    it('GetUser refused for another reason (a disabled user): 401 ERR_AUTH_TOKEN_REJECTED', async () => {
      aws.fail('GetUser', { type: 'NotAuthorizedException', message: 'User is disabled.' })
      const user = await createVerifier({ provider: cognitoProvider(), logger: false })(
        cognito.access(),
      )
      await expect(
        profileSource({ operation: 'GetUser' }).fetchProfile(user),
      ).rejects.toMatchObject({
        status: 401,
        code: 'ERR_AUTH_TOKEN_REJECTED',
        description: 'Cognito refused the token',
      })
    })

    it('a token of the global issuer form (multi-Region pools) gets its profile too, never {}', async () => {
      const token = cognito.access(JANE, {}, { issuerForm: 'global' })
      const res = await get(appWith({ profile: profileSource() }), '/profile', token)
      expect(res.status).toBe(200)
      expect(res.body.email).toBe('jane@example.com')
      expect(aws.counts.AdminGetUser).toBe(1)
    })

    it('GetUser with an ID token: 401 (it never can), and AWS is not called', async () => {
      const profile = profileSource({ operation: 'GetUser' })
      const res = await get(appWith({ profile }), '/profile', cognito.id())
      expect(res.status).toBe(401)
      expect(res.headers['retry-after']).toBeUndefined()
      expect(res.body).toEqual({
        error: 'invalid_token',
        error_description: 'the profile needs an access token',
      })
      expect(aws.requests).toEqual([])
    })

    it('a user deleted from the pool has the profile {}', async () => {
      const nobody = { sub: '00000000-0000-4000-8000-000000000000', username: 'deleted' }
      const res = await get(
        appWith({ profile: profileSource() }),
        '/profile',
        cognito.access(nobody),
      )
      expect(res.status).toBe(200)
      expect(res.body).toEqual({})
      expect(aws.counts.AdminGetUser).toBe(1)
    })

    it('an M2M client has the profile {} without any AWS call', async () => {
      const res = await get(appWith({ profile: profileSource() }), '/profile', cognito.m2m())
      expect(res.body).toEqual({})
      expect(aws.requests).toEqual([])
    })

    it('is asked once per request, and reused across requests of one user for the source cache TTL', async () => {
      const app = appWith({ profile: profileSource() })
      await get(app, '/profile', cognito.access())
      await get(app, '/profile', cognito.access())
      expect(aws.counts.AdminGetUser).toBe(1)
    })

    it.each<[string, Parameters<FakeAws['fail']>[1]]>([
      ['an internal error', { status: 500, type: 'InternalErrorException' }],
      ['throttling', { status: 400, type: 'TooManyRequestsException' }],
      ['access denied (IAM)', { status: 400, type: 'AccessDeniedException' }],
      // AdminGetUser is signed with the app's credentials: a refusal is about them, not the user.
      ['NotAuthorizedException to the app', { status: 400, type: 'NotAuthorizedException' }],
      ['an unknown pool', { status: 400, type: 'ResourceNotFoundException' }],
      ['a malformed answer', { body: { Username: 'jane' } }],
    ])(
      'AWS answering %s: 503 temporarily_unavailable with Retry-After, never {}',
      async (_case, failure) => {
        aws.fail('AdminGetUser', failure)
        const res = await get(appWith({ profile: profileSource() }), '/profile', cognito.access())
        expect(res.status).toBe(503)
        expect(res.headers['retry-after']).toBe('5')
        expect(res.body).toEqual({
          error: 'temporarily_unavailable',
          error_description: 'the profile is temporarily unavailable',
        })
      },
    )

    it('the SDK endpoint down: 503', async () => {
      const profile = profileSource({ endpoint: downEndpoint })
      const res = await get(appWith({ profile }), '/profile', cognito.access())
      expect(res.status).toBe(503)
      expect(res.body.error).toBe('temporarily_unavailable')
    })

    it('AWS hanging: 503 once the source time-out passes', async () => {
      aws.hang('AdminGetUser')
      const app = appWith({ profile: profileSource(), sourceTimeoutMs: 100 })
      const res = await get(app, '/profile', cognito.access())
      expect(res.status).toBe(503)
      expect(aws.counts.AdminGetUser).toBe(1)
    })
  })

  describe('CognitoIdentityPoolProvider', () => {
    it('exchanges the ID token for credentials: GetId then GetCredentialsForIdentity, unsigned', async () => {
      const provider = cognitoProvider()
      const token = cognito.id()
      const res = await get(appWith({ provider }, identityPool(provider)), '/aws', token)
      expect(res.status).toBe(200)
      expect(res.body).toEqual({
        identityId: expect.stringMatching(/^eu-west-1:[0-9a-f-]{36}$/),
        accessKeyId: expect.stringMatching(/^ASIA/),
      })
      const logins = { [aws.loginKey]: token }
      expect(aws.requests.map(({ operation, body }) => ({ operation, body }))).toEqual([
        { operation: 'GetId', body: { IdentityPoolId: IDENTITY_POOL, Logins: logins } },
        {
          operation: 'GetCredentialsForIdentity',
          body: { IdentityId: res.body.identityId, Logins: logins },
        },
      ])
      expect(aws.requests.every((sent) => sent.headers['authorization'] === undefined)).toBe(true)
    })

    it('reuses the credentials of one token across requests, and refreshes them near expiry', async () => {
      vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-06-01T12:00:00Z') })
      const provider = cognitoProvider()
      const app = appWith({ provider }, identityPool(provider))
      const token = cognito.id()
      const first = await get(app, '/aws', token)
      const second = await get(app, '/aws', token)
      expect(second.body).toEqual(first.body)
      expect(aws.counts).toMatchObject({ GetId: 1, GetCredentialsForIdentity: 1 })
      // The fake issues credentials for an hour; 300 s before they end they are renewed.
      vi.setSystemTime(new Date('2030-06-01T12:55:01Z'))
      const third = await get(app, '/aws', token)
      expect(third.body.identityId).toBe(first.body.identityId)
      expect(third.body.accessKeyId).not.toBe(first.body.accessKeyId)
      expect(aws.counts).toMatchObject({ GetId: 1, GetCredentialsForIdentity: 2 })
    })

    it('a new token of the same user gets its own credentials: the identity pool picks the role from each token', async () => {
      const provider = cognitoProvider()
      const app = appWith({ provider }, identityPool(provider))
      const admin = await get(app, '/aws', cognito.id(JANE))
      const demoted = await get(app, '/aws', cognito.id({ ...JANE, groups: [] }))
      expect(demoted.status).toBe(200)
      expect(demoted.body.identityId).toBe(admin.body.identityId)
      expect(demoted.body.accessKeyId).not.toBe(admin.body.accessKeyId)
      expect(aws.counts).toMatchObject({ GetId: 2, GetCredentialsForIdentity: 2 })
      // Each exchange carried its own token, so AWS could map each to its role.
      const logins = aws.requests
        .filter((sent) => sent.operation === 'GetCredentialsForIdentity')
        .map((sent) => Object.values(sent.body['Logins'] as Record<string, string>)[0])
      expect(new Set(logins).size).toBe(2)
    })

    it('concurrent requests of one user share one exchange', async () => {
      const provider = cognitoProvider()
      const app = appWith({ provider }, identityPool(provider))
      const token = cognito.id()
      const answers = await Promise.all(Array.from({ length: 8 }, () => get(app, '/aws', token)))
      expect(new Set(answers.map((res) => res.body.accessKeyId)).size).toBe(1)
      expect(aws.counts).toMatchObject({ GetId: 1, GetCredentialsForIdentity: 1 })
    })

    it('an access token: 401 invalid_token, AWS is not called', async () => {
      const provider = cognitoProvider()
      const res = await get(appWith({ provider }, identityPool(provider)), '/aws', cognito.access())
      expect(res.status).toBe(401)
      expect(res.body).toEqual({
        error: 'invalid_token',
        error_description: "AWS credentials need an ID token of the identity pool's user pool",
      })
      expect(aws.requests).toEqual([])
    })

    it('AWS refusing the token: 401 invalid_token with the Bearer challenge, never a 503 to retry', async () => {
      aws.fail('GetId', {
        type: 'NotAuthorizedException',
        status: 400,
        message: 'Invalid login token. Token expired.',
      })
      const provider = cognitoProvider()
      const res = await get(appWith({ provider }, identityPool(provider)), '/aws', cognito.id())
      expect(res.status).toBe(401)
      expect(res.headers['retry-after']).toBeUndefined()
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="api", error="invalid_token", error_description="AWS refused the token for credentials"',
      )
      expect(res.body).toEqual({
        error: 'invalid_token',
        error_description: 'AWS refused the token for credentials',
      })
    })

    it.each<[string, (provider: CognitoProvider) => CognitoIdentityPoolProvider]>([
      ['the SDK endpoint down', (provider) => identityPool(provider, { endpoint: downEndpoint })],
      ['AWS failing', (provider) => (aws.fail('all', {}), identityPool(provider))],
      [
        'AWS throttling',
        (provider) => (
          aws.fail('GetCredentialsForIdentity', { type: 'TooManyRequestsException', status: 400 }),
          identityPool(provider)
        ),
      ],
      [
        'AWS hanging past timeoutMs',
        (provider) => (
          aws.hang('GetCredentialsForIdentity'),
          identityPool(provider, { timeoutMs: 100 })
        ),
      ],
    ])('%s: 503 temporarily_unavailable', async (_case, build) => {
      const provider = cognitoProvider()
      const res = await get(appWith({ provider }, build(provider)), '/aws', cognito.id())
      expect(res.status).toBe(503)
      expect(res.headers['retry-after']).toBe('5')
      expect(res.body).toEqual({
        error: 'temporarily_unavailable',
        error_description: 'AWS credentials are temporarily unavailable',
      })
    })
  })
})

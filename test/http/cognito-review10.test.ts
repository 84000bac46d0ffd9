// Review 10 of Cognito on the wire: identity-pool credentials work in a signed SDK call (the docs'
// own pattern), and AdminGetUser never hands a deleted user's token the attributes of whoever
// registered the same username since.

import {
  AdminGetUserCommand,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider'
import type { Express, NextFunction, Request, Response } from 'express'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { authErrorHandler, JwksCache, jwtAuth, requireUser } from '../../src/index.js'
import type { JwtClaims, UserIdentity } from '../../src/spi.js'
import {
  CognitoIdentityPoolProvider,
  CognitoProfileProvider,
  CognitoProvider,
} from '../../providers/cognito/index.js'
import { FAKE_CREDENTIALS, startFakeAws, type FakeAws } from '../fake-aws/server.js'
import { createCognitoIssuer, JANE, type CognitoTestIssuer } from '../fake-idp/cognito.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'

const POOL = 'eu-west-1_TestPool1'
const IDENTITY_POOL = 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'
// Another person who signed up as "jane" once the first jane was deleted: a new sub.
const NEW_JANE = {
  username: 'jane',
  sub: '11111111-2222-4333-8444-555555555555',
  attributes: { email: 'new-jane@other.example', 'custom:tenant': 'other-co' },
}

let cognito: CognitoTestIssuer
let aws: FakeAws
const closers: (() => void)[] = []

beforeAll(async () => {
  ;[cognito, aws] = await Promise.all([
    createCognitoIssuer(POOL),
    startFakeAws({
      userPoolId: POOL,
      identityPoolId: IDENTITY_POOL,
      users: [{ username: 'jane', sub: JANE.sub, attributes: { email: 'jane@example.com' } }],
    }),
  ])
})

afterAll(async () => {
  await Promise.all([cognito.close(), aws.close()])
})

afterEach(() => {
  for (const close of closers.splice(0)) close()
  aws.reset()
})

function cognitoProvider(): CognitoProvider {
  return new CognitoProvider({
    userPoolId: POOL,
    clientId: cognito.clientId,
    tokenUse: 'any',
    jwksCache: new JwksCache({ fetch: cognito.fetch }),
  })
}

const get = (app: Express, path: string, token: string) =>
  request(app).get(path).set('Authorization', `Bearer ${token}`)

describe.each(EXPRESS_MAJORS)('%s', (_major, createApp) => {
  /** The docs' identity-pool route, with CognitoIdentityProviderClient standing in for S3Client. */
  function filesApp(): Express {
    const provider = cognitoProvider()
    const identityPool = new CognitoIdentityPoolProvider({
      identityPoolId: IDENTITY_POOL,
      userPoolProvider: provider,
      endpoint: aws.endpoint,
      maxAttempts: 1,
      logger: false,
    })
    closers.push(() => identityPool.close())
    const app = createApp()
    app.use(jwtAuth({ provider, logger: false }))
    app.get('/files', requireUser(), (req: Request, res: Response, next: NextFunction) => {
      const signedCall = async () => {
        const credentials = await identityPool.getAwsCredentials(req.currentUser)
        const client = new CognitoIdentityProviderClient({
          region: 'eu-west-1',
          endpoint: aws.endpoint,
          maxAttempts: 1,
          credentials,
        })
        closers.push(() => client.destroy())
        const answer = await client.send(
          new AdminGetUserCommand({ UserPoolId: POOL, Username: 'jane' }),
        )
        res.json({ username: answer.Username, sessionToken: credentials.sessionToken })
      }
      signedCall().catch(next)
    })
    app.use(authErrorHandler())
    return app
  }

  it('identity-pool credentials sign an SDK v3 call (new Client({ credentials })), again from the cache', async () => {
    const app = filesApp()
    const token = cognito.id()
    const first = await get(app, '/files', token)
    expect(first.status).toBe(200)
    expect(first.body).toEqual({ username: 'jane', sessionToken: expect.any(String) })
    const signed = aws.requests.filter((call) => call.operation === 'AdminGetUser')
    expect(signed.at(-1)!.headers['x-amz-security-token']).toBe(first.body.sessionToken)
    // The same (cached) credentials, already marked by the first client, given to a second one.
    const second = await get(app, '/files', token)
    expect(second.status).toBe(200)
    expect(second.body.sessionToken).toBe(first.body.sessionToken)
    expect(aws.counts.GetCredentialsForIdentity).toBe(1)
  })

  describe('AdminGetUser of a username someone else has taken since', () => {
    function profileApp(): Express {
      const profile = new CognitoProfileProvider({
        userPoolId: POOL,
        endpoint: aws.endpoint,
        credentials: FAKE_CREDENTIALS,
        maxAttempts: 1,
        logger: false,
      })
      closers.push(() => profile.close())
      const app = createApp()
      app.use(jwtAuth({ provider: cognitoProvider(), profile, logger: false }))
      app.get('/profile', requireUser(), (req: Request, res: Response, next: NextFunction) => {
        req.currentUser.profile.then((attributes) => res.json(attributes), next)
      })
      app.use(authErrorHandler())
      return app
    }

    it.each([
      ['an access token', () => cognito.access(JANE)],
      ['an ID token', () => cognito.id(JANE)],
    ])('%s of the deleted user gets {}, not the newcomer’s attributes', async (_kind, mint) => {
      aws.putUser(NEW_JANE)
      const res = await get(profileApp(), '/profile', mint())
      expect(res.status).toBe(200)
      expect(res.body).toEqual({})
      // Asked, and answered with the newcomer: the sub told them apart.
      expect(aws.requests.at(-1)).toMatchObject({ operation: 'AdminGetUser' })
    })

    it('the newcomer’s own token gets the newcomer’s attributes', async () => {
      aws.putUser(NEW_JANE)
      const res = await get(profileApp(), '/profile', cognito.access(NEW_JANE))
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ sub: NEW_JANE.sub, ...NEW_JANE.attributes })
    })

    it('the user the pool still has gets their attributes', async () => {
      const res = await get(profileApp(), '/profile', cognito.access(JANE))
      expect(res.body).toEqual({ sub: JANE.sub, email: 'jane@example.com' })
    })

    it('is matched by the token’s sub, not by user.id, which a provider may key otherwise', async () => {
      // An app that keys its users by username, through the provider's extension point.
      class ByUsername extends CognitoProvider {
        protected override identity(claims: JwtClaims): UserIdentity {
          const id = claims['username'] ?? claims['cognito:username']
          return { ...super.identity(claims), id: typeof id === 'string' ? id : '' }
        }
      }
      const profile = new CognitoProfileProvider({
        userPoolId: POOL,
        endpoint: aws.endpoint,
        credentials: FAKE_CREDENTIALS,
        maxAttempts: 1,
        logger: false,
      })
      closers.push(() => profile.close())
      const provider = new ByUsername({
        userPoolId: POOL,
        clientId: cognito.clientId,
        tokenUse: 'any',
        jwksCache: new JwksCache({ fetch: cognito.fetch }),
      })
      const app = createApp()
      app.use(jwtAuth({ provider, profile, logger: false }))
      app.get('/profile', requireUser(), (req: Request, res: Response, next: NextFunction) => {
        req.currentUser.profile.then(
          (attributes) => res.json({ id: req.currentUser.id, profile: attributes }),
          next,
        )
      })
      const res = await get(app, '/profile', cognito.access(JANE))
      expect(res.status).toBe(200)
      expect(res.body).toEqual({
        id: 'jane',
        profile: { sub: JANE.sub, email: 'jane@example.com' },
      })
    })
  })
})

// Cognito review fixes: the global issuer form AWS refuses to serve, GetUser per token, client ids,
// env, Cognito-only claim shapes, the ID token's client, and rules a subclass cannot drop.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConfigError,
  createVerifier,
  InsufficientScopeError,
  InvalidTokenError,
  JwksCache,
  UnavailableError,
  type JwtClaims,
} from '../../src/index.js'
import { EnvReader, Problems } from '../../src/spi.js'
import {
  CognitoProfileProvider,
  CognitoProvider,
  cognitoEnv,
  type CognitoProviderOptions,
} from '../../providers/cognito/index.js'
import { createCognitoIssuer, JANE, type CognitoTestIssuer } from '../fake-idp/cognito.js'
import { pino } from 'pino'

const POOL = 'eu-west-1_TestPool1'
const CLIENT = '3n4example5client6id7abc8'
const OTHER_CLIENT = '9other8client7id6example5'

let cognito: CognitoTestIssuer
// Other keys, same pool id: a forger.
let forger: CognitoTestIssuer

beforeAll(async () => {
  ;[cognito, forger] = await Promise.all([
    createCognitoIssuer(POOL, CLIENT),
    createCognitoIssuer(POOL, CLIENT),
  ])
})

afterAll(async () => {
  await Promise.all([cognito.close(), forger.close()])
})

/** The pool's fetch, except that the global form's key URL answers `status` (counted). */
function globalAnswering(status: number): { fetch: typeof fetch; globalFetches: () => number } {
  let count = 0
  const fetch: typeof globalThis.fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input)
    if (!url.startsWith(cognito.pool.globalIssuer)) return cognito.fetch(input, init)
    count += 1
    return Promise.resolve(new Response('{"message":"Forbidden"}', { status }))
  }
  return { fetch, globalFetches: () => count }
}

function providerWith(options: Partial<CognitoProviderOptions> = {}): CognitoProvider {
  return new CognitoProvider({
    userPoolId: POOL,
    clientId: CLIENT,
    jwksCache: new JwksCache({ fetch: cognito.fetch }),
    ...options,
  })
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('the promise resolved'),
    (failure: unknown) => failure,
  )
}

function configProblems(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  return expect.unreachable('no ConfigError')
}

describe('the global issuer form whose key set AWS refuses (HTTP 4xx)', () => {
  it('a forged token naming the global form: 401 ERR_AUTH_ISSUER_MISMATCH, not a 503, every time', async () => {
    const { fetch, globalFetches } = globalAnswering(403)
    const provider = providerWith({ jwksCache: new JwksCache({ fetch }) })
    await provider.hydrate()
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const error = await failureOf(
        provider.verifyToken(forger.access(JANE, {}, { issuerForm: 'global' })),
      )
      expect(error).toBeInstanceOf(InvalidTokenError)
      expect(error).toMatchObject({
        code: 'ERR_AUTH_ISSUER_MISMATCH',
        status: 401,
        description: 'issuer not used by this user pool',
      })
    }
    // The failure is remembered by the cache's back-off: the forger does not drive fetches.
    expect(globalFetches()).toBe(1)
    // Regional tokens are unaffected, and health reports the primary form.
    await expect(provider.verifyToken(cognito.access(JANE))).resolves.toBeDefined()
    expect(provider.health()).toMatchObject({ ok: true })
  })

  it.each([500, 503, 429, 408])('an HTTP %i there stays an outage: 503', async (status) => {
    const { fetch } = globalAnswering(status)
    const provider = providerWith({ jwksCache: new JwksCache({ fetch }) })
    const error = await failureOf(
      provider.verifyToken(cognito.access(JANE, {}, { issuerForm: 'global' })),
    )
    expect(error).toBeInstanceOf(UnavailableError)
    expect(error).toMatchObject({ code: 'ERR_AUTH_KEYS_UNAVAILABLE', status: 503 })
  })

  it("the primary form's key set answering 4xx is an outage (issuerForm 'global')", async () => {
    const { fetch } = globalAnswering(403)
    const provider = providerWith({ issuerForm: 'global', jwksCache: new JwksCache({ fetch }) })
    const error = await failureOf(
      provider.verifyToken(cognito.access(JANE, {}, { issuerForm: 'global' })),
    )
    expect(error).toMatchObject({ code: 'ERR_AUTH_KEYS_UNAVAILABLE', status: 503 })
  })

  it('a jwksUri override answering 4xx is an outage for every form', async () => {
    const jwksUri = 'https://keys.example.test/jwks.json'
    const fetch: typeof globalThis.fetch = () => Promise.resolve(new Response('', { status: 404 }))
    const provider = providerWith({ jwksUri, jwksCache: new JwksCache({ fetch }) })
    const error = await failureOf(
      provider.verifyToken(cognito.access(JANE, {}, { issuerForm: 'global' })),
    )
    expect(error).toMatchObject({ code: 'ERR_AUTH_KEYS_UNAVAILABLE', status: 503 })
  })
})

describe('AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM and the client id variables', () => {
  function fromEnv(env: Record<string, string>) {
    const problems = new Problems()
    const context = {
      jwksCache: new JwksCache(),
      logger: pino({ level: 'silent' }),
      production: false,
    }
    let provider: unknown
    try {
      provider = cognitoEnv.create(new EnvReader(env, problems), context)
      problems.throwIfAny()
    } catch (error) {
      return { provider: undefined, problems: (error as ConfigError).problems }
    }
    return { provider: provider as CognitoProvider, problems: [] }
  }

  it.each([
    ['regional', 1],
    ['global', 1],
    ['ANY', 2],
  ] as const)('AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM=%s', (value, issuers) => {
    const { provider, problems } = fromEnv({
      USER_POOL_ID: POOL,
      AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: CLIENT,
      AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM: value,
    })
    expect(problems).toEqual([])
    expect(provider?.issuerForm).toBe(value.toLowerCase())
    expect(provider?.issuers).toHaveLength(issuers)
  })

  it('AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM outside its values is a ConfigError naming it', () => {
    const { problems } = fromEnv({
      USER_POOL_ID: POOL,
      AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: CLIENT,
      AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM: 'both',
    })
    expect(problems).toEqual([
      expect.stringMatching(
        /^AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM must be one of any, regional, global/,
      ),
    ])
  })

  it('the same client ids in another order under both names are one setting', () => {
    const { provider, problems } = fromEnv({
      USER_POOL_ID: POOL,
      AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'clientA,clientB',
      USER_POOL_CLIENT_ID: 'clientB, clientA',
    })
    expect(problems).toEqual([])
    expect(provider?.clientIds).toEqual(['clientA', 'clientB'])
    expect(
      fromEnv({
        USER_POOL_ID: POOL,
        AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'clientA,clientB',
        USER_POOL_CLIENT_ID: 'clientA,clientC',
      }).problems,
    ).toEqual([expect.stringMatching(/both set, to different client ids/)])
  })
})

describe('clientId: Cognito app client ids only', () => {
  it.each([
    ["'*'", '*', /"\*" is no wildcard here: use null to accept every app client/],
    ["'*' in a list", [CLIENT, '*'], /"\*" is no wildcard here: use null/],
    ['surrounding spaces', ` ${CLIENT} `, /" 3n4example5client6id7abc8 " is not an app client id/],
    ['a pool id given by mistake', POOL, /"eu-west-1_TestPool1" is not an app client id/],
    ['a comma-separated string', 'clientA,clientB', /is not an app client id/],
  ])('%s is a ConfigError', (_label, clientId, message) => {
    const problems = configProblems(() => new CognitoProvider({ userPoolId: POOL, clientId }))
    expect(problems).toEqual([expect.stringMatching(message)])
  })

  it('letters, digits, _ and + are accepted, and null still accepts every client', () => {
    expect(new CognitoProvider({ userPoolId: POOL, clientId: 'a_B+9' }).clientIds).toEqual([
      'a_B+9',
    ])
    expect(new CognitoProvider({ userPoolId: POOL, clientId: null }).clientIds).toBeNull()
  })
})

describe('claim shapes Cognito never issues', () => {
  it('an access token whose scope is a list: 401 ERR_AUTH_CLAIM_INVALID', async () => {
    const error = await failureOf(
      providerWith().verifyToken(cognito.access(JANE, { scope: ['openid', 'orders/write'] })),
    )
    expect(error).toBeInstanceOf(InvalidTokenError)
    expect(error).toMatchObject({
      code: 'ERR_AUTH_CLAIM_INVALID',
      description: 'invalid scope claim',
    })
  })

  it('a token without kid: 401 ERR_AUTH_HEADER_INVALID, before any key fetch', async () => {
    let fetches = 0
    const fetch: typeof globalThis.fetch = (input, init) => {
      fetches += 1
      return cognito.fetch(input, init)
    }
    const provider = providerWith({ jwksCache: new JwksCache({ fetch }) })
    const token = cognito.access(JANE, {}, { header: { kid: undefined } })
    const error = await failureOf(provider.verifyToken(token))
    expect(error).toMatchObject({
      code: 'ERR_AUTH_HEADER_INVALID',
      description: 'missing kid header parameter',
    })
    expect(fetches).toBe(0)
  })
})

describe("an ID token's app client", () => {
  const identityOf = async (provider: CognitoProvider, token: string) =>
    provider.createUser(await provider.verifyToken(token), {})

  it('several audiences: clientId is azp (ours), never the first audience', async () => {
    const provider = providerWith({ tokenUse: 'id' })
    const token = cognito.id(JANE, { aud: [OTHER_CLIENT, CLIENT], azp: CLIENT })
    expect((await identityOf(provider, token)).clientId).toBe(CLIENT)
  })

  it('an azp naming another client is refused, even with our client as the one audience', async () => {
    const provider = providerWith({ tokenUse: 'id' })
    const error = await failureOf(provider.verifyToken(cognito.id(JANE, { azp: OTHER_CLIENT })))
    expect(error).toMatchObject({
      code: 'ERR_AUTH_AUDIENCE_MISMATCH',
      description: 'token issued to another app client (azp)',
    })
  })

  it('with clientId null, several audiences and no azp name no client', async () => {
    const provider = providerWith({ tokenUse: 'id', clientId: null })
    const token = cognito.id(JANE, { aud: [OTHER_CLIENT, CLIENT] })
    expect((await identityOf(provider, token)).clientId).toBeUndefined()
    expect((await identityOf(provider, cognito.id(JANE))).clientId).toBe(CLIENT)
  })
})

describe("a subclass's checkClaims adds rules; Cognito's own always run", () => {
  const seen: JwtClaims[] = []
  class TenantChecked extends CognitoProvider {
    protected override checkClaims(claims: JwtClaims): void {
      seen.push(claims)
      if (claims['custom:tenant'] === 'evil') {
        throw new InvalidTokenError('ERR_AUTH_TOKEN_REJECTED', 'wrong tenant')
      }
    }
  }
  const provider = () =>
    new TenantChecked({
      userPoolId: POOL,
      clientId: CLIENT,
      tokenUse: 'access',
      jwksCache: new JwksCache({ fetch: cognito.fetch }),
    })

  it.each([
    [
      'an ID token where access tokens are expected',
      () => cognito.id(JANE),
      'ERR_AUTH_TOKEN_TYPE_INVALID',
    ],
    [
      'an access token of another app client',
      () => cognito.access(JANE, { client_id: OTHER_CLIENT }),
      'ERR_AUTH_AUDIENCE_MISMATCH',
    ],
  ])('%s is still refused, before the hook runs', async (_label, token, code) => {
    seen.length = 0
    const error = await failureOf(provider().verifyToken(token()))
    expect(error).toMatchObject({ code })
    expect(seen).toEqual([])
  })

  it('the hook runs on tokens that pass Cognito’s rules, and can refuse them', async () => {
    await expect(provider().verifyToken(cognito.access(JANE))).resolves.toBeDefined()
    const error = await failureOf(
      provider().verifyToken(cognito.access(JANE, { 'custom:tenant': 'evil' })),
    )
    expect(error).toMatchObject({ code: 'ERR_AUTH_TOKEN_REJECTED', description: 'wrong tenant' })
  })
})

describe("CognitoProfileProvider with operation 'GetUser'", () => {
  interface Call {
    readonly token: unknown
  }
  /** A fake SDK client: GetUser answers per token, as Cognito does. */
  function fakeCognito(answer: (token: unknown) => unknown) {
    const calls: Call[] = []
    const client = {
      send(command: unknown): Promise<unknown> {
        const token = (command as { input?: { AccessToken?: unknown } }).input?.AccessToken
        calls.push({ token })
        try {
          return Promise.resolve(answer(token))
        } catch (error) {
          return Promise.reject(error)
        }
      },
    }
    return { client, calls }
  }
  const awsError = (name: string, message: string) =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } })
  const attributes = { UserAttributes: [{ Name: 'email', Value: 'jane@example.com' }] }

  function verifierWith(client: { send(command: unknown): Promise<unknown> }) {
    const profile = new CognitoProfileProvider({ userPoolId: POOL, operation: 'GetUser', client })
    return createVerifier({ provider: providerWith(), profile, logger: false })
  }

  it('is fromToken: its answers are never shared, so a revoked session gets no cached profile', async () => {
    expect(new CognitoProfileProvider({ userPoolId: POOL, operation: 'GetUser' }).fromToken).toBe(
      true,
    )
    expect(new CognitoProfileProvider({ userPoolId: POOL }).fromToken).toBe(false)
    const revoked = cognito.access(JANE)
    const current = cognito.access(JANE)
    const { client, calls } = fakeCognito((token) => {
      if (token === revoked)
        throw awsError('NotAuthorizedException', 'Access Token has been revoked')
      return attributes
    })
    const verify = verifierWith(client)
    await expect((await verify(current)).profile).resolves.toEqual({ email: 'jane@example.com' })
    const error = await failureOf((await verify(revoked)).profile)
    expect(error).toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED', status: 401 })
    // And the same token, asked again, is asked again.
    await expect((await verify(current)).profile).resolves.toEqual({ email: 'jane@example.com' })
    expect(calls.map((call) => call.token)).toEqual([current, revoked, current])
  })

  it('an access token without aws.cognito.signin.user.admin: 403, and Cognito is not called', async () => {
    const { client, calls } = fakeCognito(() => attributes)
    const user = await verifierWith(client)(cognito.access(JANE, { scope: 'openid email' }))
    const error = await failureOf(user.profile)
    expect(error).toBeInstanceOf(InsufficientScopeError)
    expect(error).toMatchObject({
      status: 403,
      scopes: ['aws.cognito.signin.user.admin'],
      description: 'the token lacks the aws.cognito.signin.user.admin scope the profile needs',
    })
    expect(calls).toEqual([])
  })

  it('Cognito answering "does not have required scopes": 403 too, never a 401 to refresh', async () => {
    const { client } = fakeCognito(() => {
      throw awsError('NotAuthorizedException', 'Access Token does not have required scopes')
    })
    const user = await verifierWith(client)(cognito.access(JANE))
    expect(await failureOf(user.profile)).toMatchObject({ status: 403 })
  })

  it.each([
    ['PasswordResetRequiredException', 'Password reset required for the user'],
    ['UserNotConfirmedException', 'User is not confirmed.'],
  ])('%s: 401 ERR_AUTH_TOKEN_REJECTED, not a 503 to retry', async (name, message) => {
    const { client } = fakeCognito(() => {
      throw awsError(name, message)
    })
    const user = await verifierWith(client)(cognito.access(JANE))
    const error = await failureOf(user.profile)
    expect(error).toBeInstanceOf(InvalidTokenError)
    expect(error).toMatchObject({ code: 'ERR_AUTH_TOKEN_REJECTED', status: 401 })
  })
})

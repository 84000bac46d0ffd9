// cognitoEnv and cognitoIdentityPoolFromEnv: the seed's variable names, prefixed new ones, every problem at once.

import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { ConfigError, JwksCache } from '../../src/index.js'
import { EnvReader, Problems, type Env, type EnvContext } from '../../src/spi.js'
import {
  CognitoProvider,
  cognitoEnv,
  cognitoIdentityPoolFromEnv,
} from '../../providers/cognito/index.js'

const POOL = 'eu-west-1_TestPool1'
const IDENTITY_POOL = 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'

function contextWith(lines: string[] = []): EnvContext {
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) })
  return { jwksCache: new JwksCache(), logger, production: false }
}

function create(env: Env, lines?: string[]) {
  const problems = new Problems()
  const context = contextWith(lines)
  const reader = new EnvReader(env, problems)
  let provider: ReturnType<typeof cognitoEnv.create>
  let thrown: unknown
  try {
    provider = cognitoEnv.create(reader, context)
  } catch (error) {
    thrown = error
  }
  let reported: readonly string[] = []
  try {
    problems.throwIfAny()
  } catch (error) {
    reported = (error as ConfigError).problems
  }
  return { provider: provider!, context, reported, thrown }
}

describe('cognitoEnv', () => {
  it('is selected by AUTH_PROVIDER=cognito and lists every variable it reads', () => {
    expect(cognitoEnv.name).toBe('cognito')
    expect([...cognitoEnv.variables].sort()).toEqual([
      'AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID',
      'AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM',
      'AUTH_PROVIDER_AWS_COGNITO_JWKS_URI',
      'AUTH_PROVIDER_AWS_COGNITO_TOKEN_USE',
      'JWT_LEEWAY',
      'USER_POOL_CLIENT_ID',
      'USER_POOL_ID',
      'USER_POOL_REGION',
    ])
  })

  it('builds a provider from USER_POOL_ID and the client ids, sharing the process-wide key cache', () => {
    const { provider, context, reported } = create({
      USER_POOL_ID: POOL,
      USER_POOL_REGION: 'eu-west-1',
      AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'clientA, clientB',
    })
    expect(reported).toEqual([])
    expect(provider).toBeInstanceOf(CognitoProvider)
    const cognito = provider as CognitoProvider
    expect(cognito).toMatchObject({
      userPoolId: POOL,
      tokenUse: 'access',
      clientIds: ['clientA', 'clientB'],
    })
    expect((cognito as unknown as { cache: JwksCache }).cache).toBe(context.jwksCache)
  })

  it('reads the token use and the key URL override', () => {
    const { provider } = create({
      USER_POOL_ID: POOL,
      AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'clientA',
      AUTH_PROVIDER_AWS_COGNITO_TOKEN_USE: 'ID',
      AUTH_PROVIDER_AWS_COGNITO_JWKS_URI: 'http://127.0.0.1:4566/keys.json',
    })
    expect(provider).toMatchObject({ tokenUse: 'id', jwksUri: 'http://127.0.0.1:4566/keys.json' })
  })

  it("falls back to the seed's USER_POOL_CLIENT_ID; both names with different ids are refused", () => {
    expect(create({ USER_POOL_ID: POOL, USER_POOL_CLIENT_ID: 'seed' }).provider).toMatchObject({
      clientIds: ['seed'],
    })
    const same = create({
      USER_POOL_ID: POOL,
      USER_POOL_CLIENT_ID: 'a, b',
      AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'a,b',
    })
    expect(same.reported).toEqual([])
    expect(same.provider).toMatchObject({ clientIds: ['a', 'b'] })
    const both = create({
      USER_POOL_ID: POOL,
      USER_POOL_CLIENT_ID: 'seed',
      AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'new',
    })
    expect(both.reported).toEqual([
      'AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID and USER_POOL_CLIENT_ID (its older name) are both set, to different client ids; keep one',
    ])
    // One list holding the other is still two different sets of app clients, either way round.
    for (const [older, newer] of [
      ['a,b', 'a'],
      ['a', 'a,b'],
    ]) {
      expect(
        create({
          USER_POOL_ID: POOL,
          USER_POOL_CLIENT_ID: older,
          AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: newer,
        }).reported,
      ).toEqual([expect.stringMatching(/are both set, to different client ids; keep one$/)])
    }
  })

  it('* accepts every app client of the pool, deliberately, with a warning', () => {
    const lines: string[] = []
    const { provider, reported } = create(
      { USER_POOL_ID: POOL, AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: '*' },
      lines,
    )
    expect(reported).toEqual([])
    expect(provider).toMatchObject({ clientIds: null })
    expect(lines.join('')).toMatch(/every app client of the user pool/)
  })

  it('reports every missing or invalid variable together', () => {
    const { provider, reported } = create({
      AUTH_PROVIDER_AWS_COGNITO_TOKEN_USE: 'refresh',
    })
    expect(provider).toBeUndefined()
    expect(reported).toEqual([
      'USER_POOL_ID is required when AUTH_PROVIDER=cognito',
      'AUTH_PROVIDER_AWS_COGNITO_TOKEN_USE must be one of access, id, any, got "refresh"',
      expect.stringMatching(
        /^AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID is required when AUTH_PROVIDER=cognito/,
      ),
    ])
  })

  it('checks the pool even when the client id is missing, so every problem is reported at once', () => {
    const { reported } = create({ USER_POOL_ID: POOL, USER_POOL_REGION: 'us-east-1' })
    expect(reported).toEqual([
      expect.stringMatching(/^AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID is required/),
      expect.stringMatching(/USER_POOL_REGION.*contradicts/),
    ])
  })

  it('refuses * mixed with client ids', () => {
    const { reported, provider } = create({
      USER_POOL_ID: POOL,
      AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: '*,clientA',
    })
    expect(provider).toBeUndefined()
    expect(reported).toEqual([
      'AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID is either * or a list of client ids',
    ])
  })

  it('COG-08: a region contradicting USER_POOL_ID is a ConfigError naming both variables', () => {
    const { thrown } = create({
      USER_POOL_ID: POOL,
      USER_POOL_REGION: 'us-east-1',
      AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID: 'clientA',
    })
    expect(thrown).toBeInstanceOf(ConfigError)
    expect((thrown as ConfigError).problems).toEqual([
      expect.stringMatching(/USER_POOL_REGION.*contradicts.*USER_POOL_ID/),
    ])
  })
})

describe('cognitoIdentityPoolFromEnv', () => {
  it('reads IDENTITY_POOL_ID and the user pool of USER_POOL_ID', () => {
    const identityPool = cognitoIdentityPoolFromEnv({
      environment: {
        IDENTITY_POOL_ID: IDENTITY_POOL,
        IDENTITY_POOL_REGION: 'eu-west-1',
        USER_POOL_ID: POOL,
      },
    })
    expect(identityPool).toMatchObject({
      identityPoolId: IDENTITY_POOL,
      region: 'eu-west-1',
      loginKey: `cognito-idp.eu-west-1.amazonaws.com/${POOL}`,
    })
  })

  it('names the pool by its global issuer when AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM is global', () => {
    const environment = { IDENTITY_POOL_ID: IDENTITY_POOL, USER_POOL_ID: POOL }
    expect(
      cognitoIdentityPoolFromEnv({
        environment: { ...environment, AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM: 'global' },
      }).loginKey,
    ).toBe(`issuer-cognito-idp.eu-west-1.amazonaws.com/${POOL}`)
    for (const form of ['regional', 'any']) {
      expect(
        cognitoIdentityPoolFromEnv({
          environment: { ...environment, AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM: form },
        }).loginKey,
      ).toBe(`cognito-idp.eu-west-1.amazonaws.com/${POOL}`)
    }
  })

  it('takes the user pool of a provider instead of USER_POOL_ID', () => {
    const provider = new CognitoProvider({
      userPoolId: 'us-east-1_Other1',
      clientId: 'c',
      tokenUse: 'id',
    })
    const identityPool = cognitoIdentityPoolFromEnv({
      environment: { IDENTITY_POOL_ID: IDENTITY_POOL, USER_POOL_ID: POOL },
      userPoolProvider: provider,
    })
    expect(identityPool.loginKey).toBe('cognito-idp.us-east-1.amazonaws.com/us-east-1_Other1')
  })

  it('reports every problem together', () => {
    expect(() => cognitoIdentityPoolFromEnv({ environment: {} })).toThrow(ConfigError)
    try {
      cognitoIdentityPoolFromEnv({ environment: {} })
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        'IDENTITY_POOL_ID is required for AWS credentials',
        'USER_POOL_ID is required when no userPoolProvider is given',
      ])
    }
    try {
      cognitoIdentityPoolFromEnv({
        environment: {
          IDENTITY_POOL_ID: IDENTITY_POOL,
          IDENTITY_POOL_REGION: 'us-east-1',
          USER_POOL_ID: 'x',
        },
      })
      expect.unreachable()
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        expect.stringMatching(/IDENTITY_POOL_REGION.*contradicts/),
        expect.stringMatching(/USER_POOL_ID.*must look like/),
      ])
    }
  })
})

describe('a client id variable set to nothing but commas', () => {
  it.each(['AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID', 'USER_POOL_CLIENT_ID'])(
    '%s=, draws its own problem only, not "required" as if it were unset',
    (name) => {
      const { reported } = create({ USER_POOL_ID: POOL, [name]: ',' })
      expect(reported).toEqual([`${name} must be a comma-separated list, got ","`])
    },
  )
})

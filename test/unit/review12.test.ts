// Review 12, the small ones: a provider's own `revalidate` that throws or answers a promise, scopes
// of Cognito tokens from `scope` only, no made-up loginKey problem beside a malformed USER_POOL_ID,
// and a profile's 503 in English.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { CognitoProvider, cognitoIdentityPoolFromEnv } from '../../providers/cognito/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import {
  ConfigError,
  createVerifier,
  InvalidTokenError,
  type JwtProvider,
  type VerifiedToken,
} from '../../src/index.js'
import { EntraIdProvider } from '../../providers/entra-id/index.js'
import { apiKeyAuth, generateApiKey } from '../../src/index.js'
import { sourceUnavailable } from '../../src/source-answers.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { createCognitoIssuer, type CognitoTestIssuer } from '../fake-idp/cognito.js'

let issuer: TestIssuer
let cognito: CognitoTestIssuer

beforeAll(async () => {
  issuer = await createTestIssuer({ audience: 'api' })
  cognito = await createCognitoIssuer('eu-west-1_TestPool1')
})

afterAll(async () => {
  await issuer.close()
  await cognito.close()
})

/** A custom provider wrapping the JWKS one, whose remembered verifications answer `revalidate`. */
function wrapped(revalidate: (inner: VerifiedToken, nowSec: number) => unknown): JwtProvider {
  const inner = new JwksProvider({
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    audience: 'api',
  })
  return {
    name: 'custom',
    issuers: inner.issuers,
    async verifyToken(token, parsed) {
      const verified = await inner.verifyToken(token, parsed)
      return {
        token: verified.token,
        header: verified.header,
        claims: verified.claims,
        revalidate: (nowSec: number) => revalidate(verified, nowSec) as boolean,
      }
    },
    createUser: (verified, sources) => inner.createUser(verified, sources),
  }
}

describe("a remembered token whose provider's revalidate misbehaves is verified afresh", () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('a revalidate that throws: the token is checked again, never a TypeError out of fromCache', async () => {
    let calls = 0
    const verify = createVerifier({
      provider: wrapped(() => {
        calls += 1
        throw new TypeError('list not loaded')
      }),
      logger: false,
    })
    const token = issuer.mint({})
    await verify(token)
    expect(() => verify.fromCache(token)).not.toThrow()
    expect(verify.fromCache(token)).toBeUndefined()
    expect(calls).toBeGreaterThan(0)
    await expect(verify(token)).resolves.toMatchObject({ id: expect.any(String) })
  })

  it('an async revalidate that rejects is observed: no unhandled rejection, the token checked again', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const verify = createVerifier({
        provider: wrapped(() => Promise.reject(new Error('revocation list unreachable'))),
        logger: false,
      })
      const token = issuer.mint({})
      await verify(token)
      expect(verify.fromCache(token)).toBeUndefined()
      await verify(token)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('an async revalidate (a promise, always truthy) does not keep an expired token', async () => {
    const verify = createVerifier({
      provider: wrapped(async (inner, nowSec) => inner.revalidate!(nowSec)),
      logger: false,
    })
    const token = issuer.mint({}, { expiresInSec: 60 })
    await verify(token)
    expect(verify.fromCache(token)).toBeUndefined()
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3_600_000 })
    expect(verify.fromCache(token)).toBeUndefined()
    await expect(verify(token)).rejects.toBeInstanceOf(InvalidTokenError)
  })
})

describe('Cognito scopes', () => {
  it('come from `scope` only: an `scp` claim added by a trigger grants none', async () => {
    const provider = new CognitoProvider({ ...cognito.providerOptions, tokenUse: 'any' })
    const verify = createVerifier({ provider, logger: false })
    const user = await verify(cognito.id(undefined, { scp: ['orders/write'] }))
    expect(user.scopes).toEqual([])
    const access = await verify(cognito.access(undefined, { scp: 'orders/write' }))
    expect(access.scopes).not.toContain('orders/write')
  })
})

describe('cognitoIdentityPoolFromEnv with a malformed USER_POOL_ID', () => {
  it.each(['regional', 'global'])('reports only that, under the %s issuer form', (form) => {
    let error: unknown
    try {
      cognitoIdentityPoolFromEnv({
        environment: {
          IDENTITY_POOL_ID: 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
          USER_POOL_ID: 'eu-west-1-AbCdE1234',
          AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM: form,
        },
      })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const { problems } = error as ConfigError
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/^userPoolId \(USER_POOL_ID\) must look like/)
  })
})

describe('cognitoIdentityPoolFromEnv lists every problem beside a malformed USER_POOL_ID', () => {
  it.each(['regional', 'global'])('under the %s issuer form', (form) => {
    let error: unknown
    try {
      cognitoIdentityPoolFromEnv({
        environment: {
          IDENTITY_POOL_ID: 'not-an-identity-pool',
          USER_POOL_ID: 'bogus',
          AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM: form,
        },
      })
    } catch (caught) {
      error = caught
    }
    const { problems } = error as ConfigError
    expect(problems).toHaveLength(2)
    expect(problems[0]).toMatch(/^identityPoolId \(IDENTITY_POOL_ID\) must look like/)
    expect(problems[1]).toMatch(/^userPoolId \(USER_POOL_ID\) must look like/)
  })
})

describe("Entra's authorityHost error", () => {
  it('hides a query, as every URL in a configuration error', () => {
    let error: unknown
    try {
      new EntraIdProvider({
        tenantId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
        audience: 'api://x',
        authorityHost: 'https://login.microsoftonline.us/?sig=SECRET',
      })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).not.toContain('SECRET')
    expect((error as Error).message).toContain('"https://login.microsoftonline.us/?[hidden]"')
  })
})

describe("an API key's expiry written with a space before the time", () => {
  it.each(['0049-12-31 23:59:59', '0049-12-31 23:59:59Z', '2001-01-01 00:00:00+05'])(
    '%j is read as ISO 8601 writes it (a year 49, not 2049): the key is expired',
    async (expiresAt) => {
      const key = generateApiKey({ prefix: 'og_' })
      const auth = apiKeyAuth({ keys: [{ id: 'k', hash: key.hash, expiresAt }], logger: false })
      await expect(auth.authenticate(key.key)).rejects.toMatchObject({
        status: 401,
        code: 'ERR_AUTH_CREDENTIALS_INVALID',
      })
    },
  )

  it('an offset past ±23 hours is refused, as it is after a T', () => {
    const key = generateApiKey({ prefix: 'og_' })
    expect(() =>
      apiKeyAuth({
        keys: [{ id: 'k', hash: key.hash, expiresAt: '2099-06-01 10:00:00+99' }],
        logger: false,
      }),
    ).toThrow(ConfigError)
  })
})

describe("a facet's 503", () => {
  it.each([
    ['groups', 'groups are temporarily unavailable'],
    ['profile', 'profile is temporarily unavailable'],
  ])('%s: %s', (facet, text) => {
    expect(sourceUnavailable(facet, undefined).message).toBe(text)
  })
})

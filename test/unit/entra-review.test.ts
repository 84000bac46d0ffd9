// EntraIdProvider after review: a named tenant's every token routed to its provider, the verifier's
// length limit following the providers', the test kit's clouds, option checks, and checkClaims.

import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AuthError,
  ConfigError,
  createVerifier,
  InvalidTokenError,
  JwksCache,
  protectedResourceMetadata,
  type JwtClaims,
} from '../../src/index.js'
import { buildFromEnv, type Env } from '../../src/spi.js'
import { createTestIssuer } from '../../src/testing.js'
import { pino } from 'pino'
import { JwksProvider } from '../../providers/jwks/index.js'
import {
  EntraIdProvider,
  entraIdEnv,
  type EntraIdProviderOptions,
} from '../../providers/entra-id/index.js'
import {
  APP_ID_URI,
  CLIENT_ID,
  createEntraIssuer,
  JANE,
  OTHER_TENANT,
  TENANT,
  v1AccessTokenClaims,
  v1Issuer,
  v2AccessTokenClaims,
  v2Issuer,
  type EntraTestIssuer,
} from '../fake-idp/entra.js'

const CUSTOMERS_API = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0'

let entra: EntraTestIssuer

beforeAll(async () => {
  entra = await createEntraIssuer()
})

afterAll(() => entra.close())

/** `provider` on success, else the refusal as `status description`. */
async function outcome(verification: Promise<{ provider: string }>): Promise<string> {
  return verification.then(
    (user) => user.provider,
    (error: unknown) => {
      expect(error).toBeInstanceOf(AuthError)
      return `${(error as AuthError).status} ${(error as AuthError).description}`
    },
  )
}

function configError(build: () => unknown): string {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).message
  }
  return expect.unreachable('the configuration was accepted')
}

const v1Of = (tid: string, audience: string) =>
  entra.mint(v1AccessTokenClaims(entra.context(tid, audience), JANE))
const v2Of = (tid: string, audience: string) =>
  entra.mint(v2AccessTokenClaims(entra.context(tid, audience), JANE))

describe('a named tenant’s tokens go to its provider, whatever their version', () => {
  // `home`: its own tenant, v2.0 only. `customers`: any other tenant a predicate admits, v1.0 too.
  function homeAndCustomers() {
    const asked: string[] = []
    const home = new EntraIdProvider({
      name: 'home',
      tenantId: TENANT,
      audience: CLIENT_ID,
      fetch: entra.fetch,
    })
    const customers = new EntraIdProvider({
      name: 'customers',
      tenantId: 'organizations',
      audience: CUSTOMERS_API,
      acceptV1: true,
      allowedTenants: (tid) => {
        asked.push(tid)
        return true
      },
      fetch: entra.fetch,
    })
    return { asked, verify: createVerifier({ providers: [home, customers], logger: false }) }
  }

  it('a v1.0 token of the home tenant never reaches the open provider, nor its predicate', async () => {
    const { asked, verify } = homeAndCustomers()
    // Before: accepted by `customers`, its predicate asked about the home tenant.
    expect(await outcome(verify(v1Of(TENANT, CUSTOMERS_API)))).toBe(
      '401 v1.0 tokens are not accepted',
    )
    expect(asked).toEqual([])
  })

  it('the home provider refuses its tenant’s v1.0 token saying why', async () => {
    const { verify } = homeAndCustomers()
    expect(await outcome(verify(v1Of(TENANT, CLIENT_ID)))).toBe('401 v1.0 tokens are not accepted')
  })

  it('other tenants’ tokens, both versions, still go to the open provider', async () => {
    const { asked, verify } = homeAndCustomers()
    expect(await outcome(verify(v1Of(OTHER_TENANT, CUSTOMERS_API)))).toBe('customers')
    expect(await outcome(verify(v2Of(OTHER_TENANT, CUSTOMERS_API)))).toBe('customers')
    expect(await outcome(verify(v2Of(TENANT, CLIENT_ID)))).toBe('home')
    expect(asked).toEqual([OTHER_TENANT, OTHER_TENANT])
  })

  it('lists the accepted issuer forms of a named tenant as its issuers, the others as refused', () => {
    const single = new EntraIdProvider({ tenantId: TENANT, audience: CLIENT_ID })
    expect(single.issuers).toEqual([v2Issuer(TENANT)])
    expect(single.refusedIssuers).toEqual([v1Issuer(TENANT)])
    const v1Only = new EntraIdProvider({
      tenantId: 'organizations',
      allowedTenants: [OTHER_TENANT],
      audience: APP_ID_URI,
      acceptV1: true,
      acceptV2: false,
    })
    expect(v1Only.issuers).toEqual([v1Issuer(OTHER_TENANT)])
    expect(v1Only.refusedIssuers).toEqual([v2Issuer(OTHER_TENANT)])
    const both = new EntraIdProvider({ tenantId: TENANT, audience: CLIENT_ID, acceptV1: true })
    expect(both.refusedIssuers).toEqual([])
  })

  it('announces only accepted issuers as authorization servers', () => {
    const single = new EntraIdProvider({ tenantId: TENANT, audience: CLIENT_ID })
    const metadata = protectedResourceMetadata({
      resource: 'https://api.example.com',
      providers: [single],
    })
    expect(metadata.document.authorization_servers).toEqual([v2Issuer(TENANT)])
  })

  it('one tenant split across two providers by version is a ConfigError saying why', () => {
    const message = configError(() =>
      createVerifier({
        logger: false,
        providers: [
          new EntraIdProvider({ name: 'new-api', tenantId: TENANT, audience: CLIENT_ID }),
          new EntraIdProvider({
            name: 'old-api',
            tenantId: TENANT,
            audience: APP_ID_URI,
            acceptV1: true,
            acceptV2: false,
          }),
        ],
      }),
    )
    expect(message).toContain(
      `providers[0] ("new-api") and providers[1] ("old-api") both name the tenant ${TENANT}, whose every token (v1.0 and v2.0) goes to the one provider naming it: make one provider with both audiences (acceptV1 for v1.0 tokens)`,
    )
  })
})

describe('a refused issuer yields to a provider that accepts it', () => {
  it('an Entra provider (v2.0 only) beside a JwksProvider for its tenant’s v1.0 issuer: the v1.0 tokens go to the JwksProvider', async () => {
    const entraV2 = new EntraIdProvider({
      ...entra.providerOptions,
      name: 'entra',
      acceptV1: false,
    })
    expect(entraV2.refusedIssuers).toEqual([v1Issuer(TENANT)])
    const legacy = new JwksProvider({
      name: 'legacy',
      issuer: v1Issuer(TENANT),
      jwksUri: entra.idp.jwksUri,
      audience: APP_ID_URI,
      fetch: entra.fetch,
    })
    for (const providers of [
      [entraV2, legacy],
      [legacy, entraV2],
    ]) {
      const verify = createVerifier({ logger: false, providers })
      expect((await verify(v1Of(TENANT, APP_ID_URI))).provider).toBe('legacy')
      expect((await verify(entra.v2())).provider).toBe('entra')
    }
  })
})

describe('Entra discovery failures', () => {
  it('a document naming another issuer is logged as an error on the key cache’s logger, and health says why', async () => {
    const lines: Array<{ level: number; msg: string }> = []
    const logger = pino(
      { level: 'trace' },
      { write: (line: string) => void lines.push(JSON.parse(line)) },
    )
    const lying: typeof fetch = async (input, init) =>
      String(input).endsWith('openid-configuration')
        ? Response.json({
            issuer: v2Issuer(OTHER_TENANT),
            jwks_uri: 'https://login.microsoftonline.com/x/keys',
          })
        : entra.fetch(input, init)
    const provider = new EntraIdProvider({
      tenantId: TENANT,
      audience: CLIENT_ID,
      jwksCache: new JwksCache({ fetch: lying, logger }),
    })
    const error = await provider.verifyToken(entra.v2()).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'ERR_AUTH_KEYS_UNAVAILABLE' })
    const errors = lines.filter((line) => line.level === 50)
    expect(errors).toHaveLength(1)
    expect(JSON.stringify(errors[0])).toContain(OTHER_TENANT)
    expect(provider.health().lastError).toContain(OTHER_TENANT)
  })
})

describe('the verifier decodes tokens as long as its providers accept', () => {
  // About 24 KiB: an Entra token with 450 groups.
  const groups = Array.from({ length: 450 }, () => randomUUID())
  const longToken = () => entra.v2({ ...JANE, groups })
  const provider = (options: Partial<EntraIdProviderOptions> = {}) =>
    new EntraIdProvider({ ...entra.providerOptions, ...options })

  it('a provider’s maxTokenLength above 16 KiB is not cut short by the verifier’s default', async () => {
    expect(longToken().length).toBeGreaterThan(16 * 1024)
    const raised = provider({ maxTokenLength: 32 * 1024 })
    expect(raised.maxTokenLength).toBe(32 * 1024)
    const verify = createVerifier({ provider: raised, logger: false })
    await expect(verify(longToken())).resolves.toMatchObject({ id: JANE.oid })
    // The longest of several providers.
    const other = provider({ name: 'other', tenantId: OTHER_TENANT })
    const both = createVerifier({ providers: [other, raised], logger: false })
    await expect(both(longToken())).resolves.toBeDefined()
  })

  it('without a raised limit, or below the verifier’s own, the token is too large', async () => {
    const tooLarge = { code: 'ERR_AUTH_TOKEN_TOO_LARGE' }
    expect(provider().maxTokenLength).toBe(16 * 1024)
    await expect(
      createVerifier({ provider: provider(), logger: false })(longToken()),
    ).rejects.toMatchObject(tooLarge)
    const capped = createVerifier({
      provider: provider({ maxTokenLength: 32 * 1024 }),
      maxTokenLength: 16 * 1024,
      logger: false,
    })
    await expect(capped(longToken())).rejects.toMatchObject(tooLarge)
  })
})

describe('the test kit’s Entra clouds', () => {
  it('providerOptions name the authority host when it is not the public cloud’s', async () => {
    const publicCloud = await createTestIssuer({ kind: 'entra-id' })
    const gov = await createTestIssuer({ kind: 'entra-id', host: 'login.microsoftonline.us' })
    try {
      expect(publicCloud.providerOptions).not.toHaveProperty('authorityHost')
      expect(gov.providerOptions.authorityHost).toBe('login.microsoftonline.us')
      const verify = createVerifier({
        provider: new EntraIdProvider(gov.providerOptions),
        logger: false,
      })
      await expect(verify(gov.mint({}, { preset: 'v2' }))).resolves.toBeDefined()
    } finally {
      await Promise.all([publicCloud.close(), gov.close()])
    }
  })

  it('v1.0 tokens of the China cloud carry its own STS host', async () => {
    const host = 'login.partner.microsoftonline.cn'
    const china = await createTestIssuer({ kind: 'entra-id', host })
    try {
      const token = china.mint({}, { preset: 'v1' })
      const iss = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).iss
      expect(iss).toBe(`https://sts.chinacloudapi.cn/${TENANT}/`)
      expect(v1Issuer(TENANT, host)).toBe(iss)
      const provider = new EntraIdProvider({ ...china.providerOptions, acceptV1: true })
      const verify = createVerifier({ provider, logger: false })
      await expect(verify(token)).resolves.toBeDefined()
      await expect(
        verify(china.app({ version: '1.0' }, { aud: APP_ID_URI })),
      ).resolves.toMatchObject({ isM2M: true })
    } finally {
      await china.close()
    }
  })
})

describe('option checks', () => {
  function envProblems(env: Env): readonly string[] {
    try {
      buildFromEnv({ providers: [entraIdEnv], sources: [] }, env, { logger: false })
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      return (error as ConfigError).problems
    }
    return expect.unreachable('the environment was accepted')
  }

  it('B2C policies without a tenant name report the missing name only', () => {
    const problems = envProblems({
      AUTH_PROVIDER: 'entra-id',
      AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: TENANT,
      AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID: CLIENT_ID,
      AUTH_PROVIDER_AZURE_ENTRA_ID_B2C_POLICIES: 'B2C_1_signin',
    })
    expect(problems).toHaveLength(1)
    expect(problems[0]).toContain('b2c.tenantName (AUTH_PROVIDER_AZURE_ENTRA_ID_B2C_TENANT_NAME)')
    expect(problems.join('\n')).not.toContain('authorityHost')
  })

  it.each(['organizations', 'common'])(
    'an External ID authority with tenantId %s is a ConfigError: its tenants are single-tenant',
    (tenantId) => {
      const message = configError(
        () =>
          new EntraIdProvider({
            tenantId,
            allowedTenants: '*',
            authorityHost: 'contoso.ciamlogin.com',
            audience: CLIENT_ID,
          }),
      )
      expect(message).toContain(
        `tenantId (AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID) ${tenantId} cannot be used with the External ID authority contoso.ciamlogin.com: External ID tenants are single-tenant`,
      )
    },
  )

  it('an External ID tenant by id is accepted; a social sign-in counts as a guest', async () => {
    const ciam = await createEntraIssuer({ host: 'contoso.ciamlogin.com' })
    try {
      const options = { ...ciam.providerOptions }
      expect(options.authorityHost).toBe('contoso.ciamlogin.com')
      const google = ciam.v2(JANE, { idp: 'google.com' })
      expect(
        await outcome(
          createVerifier({ provider: new EntraIdProvider(options), logger: false })(google),
        ),
      ).toBe('401 guest users are not allowed')
      const guests = new EntraIdProvider({ ...options, allowGuestUsers: true })
      expect(await outcome(createVerifier({ provider: guests, logger: false })(google))).toBe(
        'entra-id',
      )
    } finally {
      await ciam.close()
    }
  })
})

describe('a subclass’s checkClaims', () => {
  class RequireCae extends EntraIdProvider {
    readonly seen: JwtClaims[] = []
    protected override checkClaims(claims: JwtClaims): void {
      this.seen.push(claims)
      if (claims['xms_cc'] === undefined) {
        throw new InvalidTokenError('ERR_AUTH_TOKEN_REJECTED', 'client is not CAE-capable')
      }
    }
  }

  it('runs on every token that passes Entra’s rules, and its refusal is the answer', async () => {
    const provider = new RequireCae(entra.providerOptions)
    const verify = createVerifier({ provider, logger: false })
    await expect(verify(entra.v2())).rejects.toMatchObject({
      code: 'ERR_AUTH_TOKEN_REJECTED',
      description: 'client is not CAE-capable',
    })
    await expect(verify(entra.v2(JANE, { xms_cc: ['cp1'] }))).resolves.toBeDefined()
    expect(provider.seen).toHaveLength(2)
  })

  it('cannot take Entra’s rules away: they run first, and a refused token never reaches it', async () => {
    class AcceptEverything extends EntraIdProvider {
      calls = 0
      protected override checkClaims(): void {
        this.calls += 1
      }
    }
    const provider = new AcceptEverything(entra.providerOptions)
    const verify = createVerifier({ provider, logger: false })
    expect(await outcome(verify(entra.v2(JANE, { acct: 1 })))).toBe(
      '401 guest users are not allowed',
    )
    expect(await outcome(verify(entra.v2(JANE, { scp: undefined, roles: undefined })))).toBe(
      '401 token has neither scp nor roles: not an access token for this API',
    )
    expect(await outcome(verify(entra.v1()))).toBe('401 v1.0 tokens are not accepted')
    expect(provider.calls).toBe(0)
  })

  it('runs after the tenant predicate admitted the tenant', async () => {
    const order: string[] = []
    class Traced extends EntraIdProvider {
      protected override checkClaims(): void {
        order.push('checkClaims')
      }
    }
    const provider = new Traced({
      tenantId: 'organizations',
      audience: CLIENT_ID,
      allowedTenants: async () => {
        order.push('predicate')
        return true
      },
      fetch: entra.fetch,
    })
    await provider.verifyToken(entra.v2())
    expect(order).toEqual(['predicate', 'checkClaims'])
  })
})

// EntraIdProvider after the eighth review: an async checkClaims awaited, B2C users never M2M, a
// failing tenant predicate logged once per outage, Graph resolver options checked, and a version
// the configuration does not accept refused as such whatever the token's audience.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import {
  AuthError,
  ConfigError,
  createVerifier,
  InvalidTokenError,
  type JwtClaims,
} from '../../src/index.js'
import { EntraIdProvider, GraphGroupResolver } from '../../providers/entra-id/index.js'
import {
  b2cAccessTokenClaims,
  CLIENT_ID,
  createEntraIssuer,
  JANE,
  TENANT,
  type EntraTestIssuer,
} from '../fake-idp/entra.js'

let entra: EntraTestIssuer

beforeAll(async () => {
  entra = await createEntraIssuer()
})

afterAll(() => entra.close())

/** `ok` on success, else the refusal as `status code description`. */
async function outcome(verification: Promise<unknown>): Promise<string> {
  return verification.then(
    () => 'ok',
    (error: unknown) => {
      expect(error).toBeInstanceOf(AuthError)
      const { status, code, description } = error as AuthError
      return `${status} ${code} ${description}`
    },
  )
}

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  throw new Error('no ConfigError')
}

describe('an async checkClaims', () => {
  class BlockList extends EntraIdProvider {
    protected override async checkClaims(claims: JwtClaims): Promise<void> {
      await new Promise((resolve) => setImmediate(resolve))
      if (claims['oid'] === JANE.oid) {
        throw new InvalidTokenError('ERR_AUTH_TOKEN_REJECTED', 'user is blocked')
      }
    }
  }

  it('is awaited: its rejection refuses the token with 401, and nothing is left unhandled', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => void unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const verify = createVerifier({
        provider: new BlockList(entra.providerOptions),
        logger: false,
      })
      expect(await outcome(verify(entra.v2()))).toBe('401 ERR_AUTH_TOKEN_REJECTED user is blocked')
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('admits the token when it resolves', async () => {
    const provider = new BlockList(entra.providerOptions)
    const other = { ...JANE, oid: '11111111-2222-4333-8444-555555555555' }
    await expect(provider.verifyToken(entra.v2(other))).resolves.toBeDefined()
  })
})

describe('isM2M in Azure AD B2C', () => {
  const HOST = 'contoso.b2clogin.com'
  let b2c: EntraTestIssuer

  beforeAll(async () => {
    b2c = await createEntraIssuer({ host: HOST, b2cTenantName: 'contoso' })
  })

  afterAll(() => b2c.close())

  it('is false for a user token without scp, whose sub is the user’s object id', async () => {
    const provider = new EntraIdProvider({
      tenantId: TENANT,
      audience: CLIENT_ID,
      requireScopeOrRole: false,
      b2c: { tenantName: 'contoso', policies: ['B2C_1_signin'] },
      fetch: b2c.fetch,
    })
    const claims = b2cAccessTokenClaims(
      { ...b2c.context(TENANT), host: HOST },
      JANE,
      'B2C_1_signin',
    )
    // A token requested with the client id as its scope: aud is the client id, and no scp.
    const token = b2c.mint({ ...claims, scp: undefined, sub: JANE.oid, oid: JANE.oid })
    const user = await createVerifier({ provider, logger: false })(token)
    expect(user).toMatchObject({ id: JANE.oid, isM2M: false })
    const app = b2c.mint({ ...claims, scp: undefined, idtyp: 'app' })
    expect((await createVerifier({ provider, logger: false })(app)).isM2M).toBe(true)
  })

  it('still takes the oid = sub fallback outside B2C', async () => {
    const provider = new EntraIdProvider({ ...entra.providerOptions, requireScopeOrRole: false })
    const token = entra.v2(JANE, { scp: undefined, sub: JANE.oid, oid: JANE.oid })
    expect((await createVerifier({ provider, logger: false })(token)).isM2M).toBe(true)
  })
})

describe('a failing allowedTenants predicate', () => {
  it('is logged as a warning with its cause and tid when it starts failing, once per outage', async () => {
    const lines: string[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
    let down = true
    const provider = new EntraIdProvider({
      ...entra.providerOptions,
      tenantId: 'organizations',
      logger,
      allowedTenants: async () => {
        if (down) throw new Error('ECONNREFUSED 127.0.0.1:5432 tenant db down')
        return true
      },
    })
    const verify = () => provider.verifyToken(entra.v2())
    const unavailable =
      '503 ERR_AUTH_SOURCE_UNAVAILABLE the tenant allow-list cannot be checked right now'
    expect(await outcome(verify())).toBe(unavailable)
    expect(await outcome(verify())).toBe(unavailable)
    const warnings = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(warnings()).toEqual([
      expect.objectContaining({
        level: 40,
        tid: TENANT,
        err: expect.objectContaining({ message: 'ECONNREFUSED 127.0.0.1:5432 tenant db down' }),
      }),
    ])
    down = false
    expect(await outcome(verify())).toBe('ok')
    down = true
    expect(await outcome(verify())).toBe(unavailable)
    expect(warnings()).toHaveLength(2)
  })
})

describe('GraphGroupResolver option checks', () => {
  const build = (options: Record<string, unknown>) => () =>
    new GraphGroupResolver({ getGraphToken: () => 't', ...options })

  it.each<[string, unknown]>([
    ['a string', 'false'],
    ['a number', 0],
    ['null', null],
  ])('refuses securityEnabledOnly as %s', (_what, value) => {
    expect(problemsOf(build({ securityEnabledOnly: value }))).toEqual([
      expect.stringMatching(/^securityEnabledOnly must be true or false, got /),
    ])
  })

  it.each<[string, unknown]>([
    ['null', null],
    ['true', true],
    ['a string', 'no'],
    ['a list', []],
  ])('refuses cache as %s with a ConfigError, never a TypeError', (_what, value) => {
    expect(problemsOf(build({ cache: value }))).toEqual([
      expect.stringMatching(/^cache must be \{ ttlMs, max \} or false, got /),
    ])
  })

  it('takes booleans, false, settings, and nothing', () => {
    expect(build({ securityEnabledOnly: false, cache: false })).not.toThrow()
    expect(build({ securityEnabledOnly: true, cache: { ttlMs: 1_000, max: 5 } })).not.toThrow()
    expect(build({})).not.toThrow()
  })
})

describe('a version the configuration does not accept', () => {
  it('is refused as such, whatever the audience, before the signature is relied on', async () => {
    const provider = new EntraIdProvider({ ...entra.providerOptions, audience: CLIENT_ID })
    const verify = createVerifier({ provider, logger: false })
    const refused = '401 ERR_AUTH_TOKEN_TYPE_INVALID v1.0 tokens are not accepted'
    // A v1.0 token's aud is the App ID URI by default, which this API does not list.
    expect(await outcome(verify(entra.v1()))).toBe(refused)
    expect(await outcome(verify(entra.v1(JANE, { aud: CLIENT_ID })))).toBe(refused)
  })

  it('decides only refusals early: an accepted version still needs its signature', async () => {
    const provider = new EntraIdProvider({ ...entra.providerOptions, acceptV1: true })
    const verify = createVerifier({ provider, logger: false })
    expect(await outcome(verify(entra.v1()))).toBe('ok')
    const tampered = entra.v1(JANE, {}, { tamper: 'signature' })
    expect(await outcome(verify(tampered))).toMatch(/^401 ERR_AUTH_SIGNATURE_INVALID /)
    const v2Only = createVerifier({
      provider: new EntraIdProvider(entra.providerOptions),
      logger: false,
    })
    const forged = entra.v2(JANE, {}, { tamper: 'payload' })
    expect(await outcome(v2Only(forged))).toMatch(/^401 ERR_AUTH_SIGNATURE_INVALID /)
  })
})

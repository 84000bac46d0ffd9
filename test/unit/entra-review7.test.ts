// Entra ID after the seventh review: B2C readiness per user flow, Graph lookups surviving clear(),
// scrubbed Graph logs, identifiers trimmed, env messages, and a refused tenant's predicate not
// asked again for a minute.

import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { AuthError, ConfigError, createVerifier, JwksCache, type User } from '../../src/index.js'
import { EnvReader, Problems, type Env } from '../../src/spi.js'
import {
  EntraIdProvider,
  entraIdEnv,
  GraphGroupResolver,
  type EntraIdProviderOptions,
} from '../../providers/entra-id/index.js'
import { TENANT_REFUSAL_TTL_MS } from '../../providers/entra-id/tenant-check.js'
import {
  b2cAccessTokenClaims,
  CLIENT_ID,
  createEntraIssuer,
  JANE,
  OTHER_TENANT,
  TENANT,
  v2AccessTokenClaims,
  type EntraTestIssuer,
} from '../fake-idp/entra.js'

const B2C_HOST = 'contoso.b2clogin.com'
const UPPER_CLIENT_ID = CLIENT_ID.toUpperCase()

let entra: EntraTestIssuer

beforeAll(async () => {
  entra = await createEntraIssuer()
})

afterAll(() => entra.close())

afterEach(() => {
  vi.useRealTimers()
})

function sink(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) })
  return { logger, lines }
}

function configProblems(options: unknown): readonly string[] {
  try {
    new EntraIdProvider(options as EntraIdProviderOptions)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  throw new Error('expected a ConfigError')
}

/** `id` on success, else the refusal as `status code`. */
async function outcome(verification: Promise<User>): Promise<string> {
  return verification.then(
    (user) => `ok ${user.id}`,
    (error: unknown) => {
      expect(error).toBeInstanceOf(AuthError)
      return `${(error as AuthError).status} ${(error as AuthError).code}`
    },
  )
}

describe('B2C readiness', () => {
  it('is not ok while one user flow cannot serve, naming it', async () => {
    const site = await createEntraIssuer({ host: B2C_HOST, b2cTenantName: 'contoso' })
    try {
      const fetch: typeof globalThis.fetch = (input, init) =>
        String(input).includes('/B2C_1_broken/')
          ? Promise.resolve(new Response('gone', { status: 404 }))
          : site.fetch(input, init)
      const provider = new EntraIdProvider({
        tenantId: site.tid,
        audience: CLIENT_ID,
        authorityHost: B2C_HOST,
        b2c: { tenantName: 'contoso', policies: ['B2C_1_signin', 'B2C_1_broken'] },
        jwksCache: new JwksCache({ fetch }),
      })
      const verify = createVerifier({ provider, logger: false })
      const tokenOf = (tfp: string) =>
        site.mint(b2cAccessTokenClaims({ ...site.context(), host: B2C_HOST }, JANE, tfp))
      expect(await outcome(verify(tokenOf('B2C_1_signin')))).toBe(`ok ${JANE.oid}`)
      expect(await outcome(verify(tokenOf('B2C_1_broken')))).toBe('503 ERR_AUTH_KEYS_UNAVAILABLE')
      // The first flow's keys alone made the report ok; the second's 503s are what it is about.
      const health = provider.health()
      expect(health).toMatchObject({ ok: false, keyCount: 1 })
      expect(health.lastError).toMatch(/^user flow B2C_1_broken: .*HTTP 404$/)
    } finally {
      await site.close()
    }
  })

  it('is ok once every user flow holds keys', async () => {
    const site = await createEntraIssuer({ host: B2C_HOST, b2cTenantName: 'contoso' })
    try {
      const provider = new EntraIdProvider({
        tenantId: site.tid,
        audience: CLIENT_ID,
        authorityHost: B2C_HOST,
        b2c: { tenantName: 'contoso', policies: ['B2C_1_signin', 'B2C_1_reset'] },
        fetch: site.fetch,
      })
      await provider.hydrate()
      expect(provider.health()).toMatchObject({ ok: true, keyCount: 1 })
    } finally {
      await site.close()
    }
  })
})

/** A Graph stand-in whose answers wait until released; a dropped request rejects at once. */
function heldGraph() {
  const held: Array<() => void> = []
  let called: () => void = () => undefined
  const fetch = (_input: unknown, init?: RequestInit): Promise<Response> =>
    new Promise((resolve, reject) => {
      held.push(() => resolve(Response.json({ value: ['g1'] })))
      init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error))
      called()
    })
  const nextCall = () => new Promise<void>((resolve) => (called = resolve))
  return { fetch, held, nextCall }
}

const graphUser = (oid: string) =>
  ({ claims: { oid, tid: TENANT }, isM2M: false }) as unknown as User

describe('GraphGroupResolver and its own cache', () => {
  it('answers a lookup waiting while clear() runs, from a lookup started after it', async () => {
    const graph = heldGraph()
    const resolver = new GraphGroupResolver({ getGraphToken: () => 't', fetch: graph.fetch })
    const first = graph.nextCall()
    const pending = resolver.fetchGroups(graphUser(JANE.oid))
    await first
    const second = graph.nextCall()
    resolver.clear()
    await second
    expect(graph.held).toHaveLength(2)
    graph.held[1]!()
    await expect(pending).resolves.toEqual(['g1'])
  })

  it('answers lookups whose entries evict each other (a cache too small)', async () => {
    const resolver = new GraphGroupResolver({
      getGraphToken: () => 't',
      cache: { max: 1 },
      fetch: () => Promise.resolve(Response.json({ value: ['g'] })),
    })
    const answers = await Promise.allSettled([
      resolver.fetchGroups(graphUser(JANE.oid)),
      resolver.fetchGroups(graphUser(OTHER_TENANT)),
    ])
    expect(answers.map((answer) => answer.status)).toEqual(['fulfilled', 'fulfilled'])
  })

  it('logs a failing token callback scrubbed: never the user token it quotes', async () => {
    const { logger, lines } = sink()
    const resolver = new GraphGroupResolver({
      getGraphToken: (user) => {
        throw new Error(`on-behalf-of exchange failed for assertion ${String(user.token)}`)
      },
      logger,
    })
    const token = entra.v2()
    const user = { ...graphUser(JANE.oid), token } as unknown as User
    await expect(resolver.fetchGroups(user)).rejects.toMatchObject({
      code: 'ERR_AUTH_SOURCE_UNAVAILABLE',
    })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('[redacted token]')
    expect(lines[0]).not.toContain(token.split('.')[2])
  })
})

describe('identifiers in options', () => {
  it('trims an audience and lower-cases its client id, deriving api://', async () => {
    const provider = new EntraIdProvider({
      tenantId: TENANT,
      audience: ` ${UPPER_CLIENT_ID} `,
      fetch: entra.fetch,
    })
    expect(provider.audience).toEqual([CLIENT_ID, `api://${CLIENT_ID}`])
    const verify = createVerifier({ provider, logger: false })
    expect(await outcome(verify(entra.v2()))).toBe(`ok ${JANE.oid}`)
  })

  it('trims and lower-cases allowed client apps', async () => {
    const app = v2AccessTokenClaims(entra.context(), JANE)['azp'] as string
    const provider = new EntraIdProvider({
      ...entra.providerOptions,
      allowedClientApps: [` ${app.toUpperCase()}`],
    })
    const verify = createVerifier({ provider, logger: false })
    expect(await outcome(verify(entra.v2()))).toBe(`ok ${JANE.oid}`)
  })

  it.each<[string, Record<string, unknown>, string]>([
    ['a blank client app', { allowedClientApps: ['  '] }, 'allowedClientApps'],
    ['a client app with a space', { allowedClientApps: ['a b'] }, 'allowedClientApps'],
    ['an audience with a space', { audience: 'api://orders api' }, 'audience'],
    ['a blank audience in a list', { audience: [CLIENT_ID, ' '] }, 'audience'],
  ])('refuses %s', (_name, options, option) => {
    const problems = configProblems({ tenantId: TENANT, audience: CLIENT_ID, ...options })
    expect(problems).toEqual([expect.stringContaining(`${option} (AUTH_PROVIDER_AZURE_ENTRA_ID_`)])
  })

  it('reports a null audience once', () => {
    expect(configProblems({ tenantId: TENANT, audience: null })).toEqual([
      expect.stringContaining('cannot be null'),
    ])
  })
})

const ENV: Env = {
  AUTH_PROVIDER: 'entra-id',
  AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: TENANT,
  AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID: 'api://orders',
}

/** entraIdEnv run on `env`: the provider (if built), the problems, and the log lines. */
function fromEnvironment(env: Env) {
  const { logger, lines } = sink()
  const problems = new Problems()
  const context = { jwksCache: new JwksCache({ fetch: entra.fetch }), logger, production: false }
  let provider: unknown
  let error: unknown
  try {
    provider = entraIdEnv.create(new EnvReader(env, problems), context)
    problems.throwIfAny()
  } catch (caught) {
    error = caught
  }
  const reported = error instanceof ConfigError ? error.problems : []
  return { provider: provider as EntraIdProvider | undefined, problems: reported, lines }
}

describe('entraIdEnv', () => {
  it('takes an application id as APP_SIGNING_KEYS, as the option does', async () => {
    const { provider, problems } = fromEnvironment({
      ...ENV,
      AUTH_PROVIDER_AZURE_ENTRA_ID_APP_SIGNING_KEYS: UPPER_CLIENT_ID,
    })
    expect(problems).toEqual([])
    entra.setAppKeys(CLIENT_ID, entra.idp.jwks())
    await provider!.hydrate()
    expect(provider!.health().jwksUri).toMatch(new RegExp(`\\?appid=${CLIENT_ID}$`))
  })

  it('still takes true and false, and names the app id when refusing anything else', () => {
    expect(
      fromEnvironment({ ...ENV, AUTH_PROVIDER_AZURE_ENTRA_ID_APP_SIGNING_KEYS: 'off' }).problems,
    ).toEqual([])
    expect(
      fromEnvironment({
        ...ENV,
        AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID: CLIENT_ID,
        AUTH_PROVIDER_AZURE_ENTRA_ID_APP_SIGNING_KEYS: 'yes',
      }).problems,
    ).toEqual([])
    expect(
      fromEnvironment({ ...ENV, AUTH_PROVIDER_AZURE_ENTRA_ID_APP_SIGNING_KEYS: 'my-app' }).problems,
    ).toEqual([
      'AUTH_PROVIDER_AZURE_ENTRA_ID_APP_SIGNING_KEYS must be true, false or an application (client) ID (a GUID), got "my-app"',
    ])
  })

  it('warns of every tenant accepted only once the provider is built', () => {
    const refused = fromEnvironment({ ...ENV, AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS: '*' })
    expect(refused.problems).toEqual([expect.stringContaining('is for multi-tenant apps')])
    expect(refused.lines).toEqual([])
    const built = fromEnvironment({
      ...ENV,
      AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: 'common',
      AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS: '*',
    })
    expect(built.lines.join('')).toContain('tokens of every Entra tenant are accepted')
  })

  it('names TOKEN_VERSIONS when v1.0 is asked of B2C', () => {
    const { problems } = fromEnvironment({
      ...ENV,
      AUTH_PROVIDER_AZURE_ENTRA_ID_TOKEN_VERSIONS: '1.0,2.0',
      AUTH_PROVIDER_AZURE_ENTRA_ID_B2C_TENANT_NAME: 'contoso',
      AUTH_PROVIDER_AZURE_ENTRA_ID_B2C_POLICIES: 'B2C_1_signin',
    })
    expect(problems).toEqual([
      expect.stringContaining('AUTH_PROVIDER_AZURE_ENTRA_ID_TOKEN_VERSIONS'),
    ])
  })
})

describe('an allowedTenants predicate', () => {
  function predicateVerifier(allows: (tid: string) => boolean | Promise<boolean>) {
    const provider = new EntraIdProvider({
      tenantId: 'organizations',
      audience: CLIENT_ID,
      allowedTenants: allows,
      fetch: entra.fetch,
    })
    return createVerifier({ provider, logger: false })
  }

  it('is not asked again about a tenant it refused, for a minute', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] })
    vi.advanceTimersByTime(1) // lru-cache reads an entry made at performance.now() 0 as timeless
    const asked: string[] = []
    const verify = predicateVerifier((tid) => {
      asked.push(tid)
      return tid === OTHER_TENANT
    })
    const refused = entra.v2()
    for (let request = 0; request < 3; request += 1) {
      expect(await outcome(verify(refused))).toBe('401 ERR_AUTH_ISSUER_MISMATCH')
    }
    expect(asked).toEqual([TENANT])
    // Another tenant is still asked about, and admitted.
    const admitted = entra.mint(v2AccessTokenClaims(entra.context(OTHER_TENANT), JANE))
    expect(await outcome(verify(admitted))).toBe(`ok ${JANE.oid}`)
    expect(asked).toEqual([TENANT, OTHER_TENANT])
    // A minute on, the predicate is asked again (a tenant added meanwhile would be admitted),
    // though the wall clock was stepped back an hour in between: the minute is not stretched.
    vi.setSystemTime(Date.now() - 3_600_000)
    vi.advanceTimersByTime(TENANT_REFUSAL_TTL_MS + 1)
    expect(await outcome(verify(entra.v2()))).toBe('401 ERR_AUTH_ISSUER_MISMATCH')
    expect(asked).toEqual([TENANT, OTHER_TENANT, TENANT])
  })

  it('a refusal holds 60 seconds, as documented: not 59 s less, not longer', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] })
    vi.advanceTimersByTime(1)
    let asked = 0
    const verify = predicateVerifier(() => {
      asked += 1
      return false
    })
    expect(await outcome(verify(entra.v2()))).toBe('401 ERR_AUTH_ISSUER_MISMATCH')
    vi.advanceTimersByTime(59_000)
    expect(await outcome(verify(entra.v2()))).toBe('401 ERR_AUTH_ISSUER_MISMATCH')
    expect(asked).toBe(1)
    vi.advanceTimersByTime(1_001)
    expect(await outcome(verify(entra.v2()))).toBe('401 ERR_AUTH_ISSUER_MISMATCH')
    expect(asked).toBe(2)
  })

  it('is asked again after it failed: an outage is not a refusal', async () => {
    let calls = 0
    const verify = predicateVerifier(() => {
      calls += 1
      if (calls === 1) throw new Error('database down')
      return true
    })
    const token = entra.v2()
    expect(await outcome(verify(token))).toBe('503 ERR_AUTH_SOURCE_UNAVAILABLE')
    expect(await outcome(verify(token))).toBe(`ok ${JANE.oid}`)
    expect(calls).toBe(2)
  })
})

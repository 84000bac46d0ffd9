// Entra ID review 13: an alias host's v1-only provider takes Entra's real key issuer (strictly);
// the docs name real ways to drop a removed tenant's tokens; GraphGroupResolver waits out Graph's
// throttling per tenant and logs Graph's reason; fromEnv reports every problem at once.

import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createVerifier, UnavailableError, User } from '../../src/index.js'
import { buildFromEnv, type Env } from '../../src/spi.js'
import {
  EntraIdProvider,
  entraIdEnv,
  GraphGroupResolver,
  type GraphGroupResolverOptions,
} from '../../providers/entra-id/index.js'
import { MAX_THROTTLED_TENANTS } from '../../providers/entra-id/graph.js'
import { UNSTATED_THROTTLE_SEC } from '../../providers/entra-id/graph-answers.js'
import { createEntraIssuer, type EntraTestIssuer } from '../../src/testing-entra.js'
import { startFakeGraph, type FakeGraph } from '../fake-graph/server.js'
import { CLIENT_ID, JANE, TENANT } from '../fake-idp/entra.js'
import { problemsOf, refusal } from '../helpers/problems.js'

const root = new URL('../../', import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), 'utf8')
/** Markdown and JSDoc as one line of words, whatever the wrapping. */
const flat = (text: string) => text.replace(/\s*\n\s*(\*\s*)?/g, ' ')

describe('#1 a v1-only provider keeping an alias host, with its own jwksUri', () => {
  const OTHER_TENANT = '3c2b1a09-8f7e-4d6c-b5a4-93827160f5e4'

  const HOSTS = ['login.windows.net', 'login.microsoft.com', 'login.microsoftonline.com']
  const issuers = new Map<string, EntraTestIssuer>()

  beforeAll(async () => {
    for (const host of HOSTS) issuers.set(host, await createEntraIssuer({ host }))
  })

  afterAll(() => Promise.all([...issuers.values()].map((entra) => entra.close())))

  /** A v1 token checked by a v1-only provider on `host`, whose keys name `keyIssuer`. */
  function verifyWithKeyIssuer(host: string, keyIssuer: string) {
    const entra = issuers.get(host)!
    entra.setKeyIssuer(keyIssuer)
    const provider = new EntraIdProvider({
      ...entra.providerOptions,
      authorityHost: host,
      jwksUri: `https://${host}/common/discovery/v2.0/keys`,
      acceptV1: true,
      acceptV2: false,
      logger: false,
    })
    return provider.verifyToken(entra.v1())
  }

  it.each(['login.windows.net', 'login.microsoft.com'])(
    '%s: takes keys naming login.microsoftonline.com, as Entra publishes them',
    async (host) => {
      const verified = await verifyWithKeyIssuer(
        host,
        'https://login.microsoftonline.com/{tenantid}/v2.0',
      )
      expect(verified.claims.iss).toBe(`https://sts.windows.net/${TENANT}/`)
      // The tenant filled in by Entra itself (a single tenant's keys) holds too.
      await verifyWithKeyIssuer(host, `https://login.microsoftonline.com/${TENANT}/v2.0`)
    },
  )

  it.each([
    ['another cloud', 'https://login.microsoftonline.us/{tenantid}/v2.0'],
    ['China', 'https://login.partner.microsoftonline.cn/{tenantid}/v2.0'],
    ['another tenant', `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0`],
    ['an unrelated host', 'https://evil.example/{tenantid}/v2.0'],
    ['the v1 form of another tenant', `https://sts.windows.net/${OTHER_TENANT}/`],
  ])('still refuses keys naming %s', async (_what, keyIssuer) => {
    const error = await refusal(verifyWithKeyIssuer('login.windows.net', keyIssuer))
    expect(error.code).toBe('ERR_AUTH_ISSUER_MISMATCH')
    expect(error.description).toBe('signing key is not valid for the token issuer')
  })

  it('a provider on the canonical host is not widened to the alias', async () => {
    const error = await refusal(
      verifyWithKeyIssuer('login.microsoftonline.com', 'https://login.windows.net/{tenantid}/v2.0'),
    )
    expect(error.code).toBe('ERR_AUTH_ISSUER_MISMATCH')
  })
})

describe('#2 a removed tenant: the docs name what really drops its remembered tokens', () => {
  it('names no token-cache clearing, which no API does, but restart, tokenCache: false, revocation', () => {
    const docs = flat(read('docs/providers/entra-id.md'))
    expect(docs).not.toMatch(/`clear` the verifier's token cache/)
    expect(docs).toContain('no call empties the verifier')
    expect(docs).toContain('restart the instances')
    expect(docs).toContain('`tokenCache: false`')
    expect(docs).toContain('[scaling](../scaling.md#revocation)')
    expect(docs).toContain('`revokeSubject(iss, sub)`')
    expect(docs).toContain(
      '`revocation: { isRevoked: (verified) => removed.has(verified.claims.tid) }`',
    )
  })

  it('both documented ways refuse a remembered token of a tenant removed from the predicate', async () => {
    const entra = await createEntraIssuer()
    try {
      const allowed = new Set([TENANT])
      const removed = new Set<string>()
      const provider = () =>
        new EntraIdProvider({
          ...entra.providerOptions,
          tenantId: 'organizations',
          allowedTenants: (tid) => allowed.has(tid),
          logger: false,
        })
      const revoking = createVerifier({
        provider: provider(),
        logger: false,
        revocation: { isRevoked: (verified) => removed.has(String(verified.claims['tid'])) },
      })
      const uncached = createVerifier({ provider: provider(), logger: false, tokenCache: false })
      const token = entra.v2()
      expect((await revoking(token)).id).toBe(JANE.oid)
      expect((await uncached(token)).id).toBe(JANE.oid)
      allowed.delete(TENANT)
      removed.add(TENANT)
      expect((await refusal(revoking(token))).code).toBe('ERR_AUTH_TOKEN_REVOKED')
      expect((await refusal(uncached(token))).description).toBe('tenant is not allowed')
    } finally {
      await entra.close()
    }
  })
})

describe('#3 GraphGroupResolver waits out Graph’s throttling', () => {
  const TOKEN = 'graph-token-for-tests'
  const TENANT_B = '3c2b1a09-8f7e-4d6c-b5a4-93827160f5e4'
  const GROUPS = ['0b5d4a3e-1111-4c2b-9a8f-7e6d5c4b3a21']
  let graph: FakeGraph
  /** Added to performance.now(): how far the tests have moved the resolver's clock. */
  let offsetMs = 0

  beforeAll(async () => {
    graph = await startFakeGraph({ token: TOKEN, members: { [JANE.oid]: GROUPS } })
    const now = performance.now.bind(performance)
    vi.spyOn(performance, 'now').mockImplementation(() => now() + offsetMs)
  })

  afterAll(async () => {
    vi.restoreAllMocks()
    await graph.close()
  })

  afterEach(() => {
    graph.fail(undefined)
    ;(graph.requests as unknown[]).length = 0
  })

  const userOf = (tid = TENANT) =>
    new User(
      { provider: 'entra-id', claims: { oid: JANE.oid, tid, sub: 'pairwise' } },
      { id: JANE.oid },
      {},
    )
  const resolver = (options: Partial<GraphGroupResolverOptions> = {}) =>
    new GraphGroupResolver({
      getGraphToken: () => TOKEN,
      graphEndpoint: graph.endpoint,
      ...options,
    })

  async function outage(promise: Promise<unknown>): Promise<UnavailableError> {
    const error = await promise.then(
      () => expect.unreachable('Graph answered'),
      (caught: unknown) => caught,
    )
    expect(error).toBeInstanceOf(UnavailableError)
    expect((error as UnavailableError).code).toBe('ERR_AUTH_SOURCE_UNAVAILABLE')
    return error as UnavailableError
  }

  it.each([429, 503])(
    'after a %i with Retry-After, answers 503 with the time left without calling Graph, for that tenant only',
    async (status) => {
      const graphResolver = resolver()
      graph.fail({ status, retryAfter: '120' })
      expect((await outage(graphResolver.fetchGroups(userOf()))).retryAfterSec).toBe(120)
      for (let request = 0; request < 5; request += 1) {
        const error = await outage(graphResolver.fetchGroups(userOf()))
        expect(error.retryAfterSec).toBeGreaterThan(0)
        expect(error.retryAfterSec).toBeLessThanOrEqual(120)
      }
      expect(graph.requests).toHaveLength(1)
      // Graph throttles per app and tenant: another tenant's lookup is made (and answered).
      graph.fail(undefined)
      expect(await graphResolver.fetchGroups(userOf(TENANT_B))).toEqual(GROUPS)
      expect(graph.requests).toHaveLength(2)
      offsetMs += 60_000
      expect((await outage(graphResolver.fetchGroups(userOf()))).retryAfterSec).toBe(60)
      expect(graph.requests).toHaveLength(2)
      // The window over, Graph is asked again.
      offsetMs += 60_001
      expect(await graphResolver.fetchGroups(userOf())).toEqual(GROUPS)
      expect(graph.requests).toHaveLength(3)
    },
  )

  it('with cache: false as well', async () => {
    const graphResolver = resolver({ cache: false })
    graph.fail({ status: 429, retryAfter: '30' })
    await outage(graphResolver.fetchGroups(userOf()))
    await outage(graphResolver.fetchGroups(userOf()))
    expect(graph.requests).toHaveLength(1)
    offsetMs += 30_001
  })

  it('a failure that is not a throttling holds nothing back, whatever Retry-After says', async () => {
    const graphResolver = resolver()
    graph.fail({ status: 503 })
    await outage(graphResolver.fetchGroups(userOf()))
    graph.fail({ status: 500, retryAfter: '120' })
    await outage(graphResolver.fetchGroups(userOf()))
    graph.fail({ status: 429, retryAfter: '0' })
    await outage(graphResolver.fetchGroups(userOf()))
    graph.fail(undefined)
    expect(await graphResolver.fetchGroups(userOf())).toEqual(GROUPS)
    expect(graph.requests).toHaveLength(4)
  })

  it.each([
    ['no Retry-After', undefined],
    ['a Retry-After that is neither seconds nor a date', 'soon'],
    ['a negative Retry-After', '-5'],
  ])(
    `a 429 with %s holds the tenant back ${UNSTATED_THROTTLE_SEC} s, as Graph asks`,
    async (_case, retryAfter) => {
      expect(UNSTATED_THROTTLE_SEC).toBe(5)
      const graphResolver = resolver()
      graph.fail({ status: 429, ...(retryAfter === undefined ? {} : { retryAfter }) })
      expect((await outage(graphResolver.fetchGroups(userOf()))).retryAfterSec).toBe(5)
      expect((await outage(graphResolver.fetchGroups(userOf()))).retryAfterSec).toBe(5)
      expect(graph.requests).toHaveLength(1)
      graph.fail(undefined)
      offsetMs += 5_001
      expect(await graphResolver.fetchGroups(userOf())).toEqual(GROUPS)
      expect(graph.requests).toHaveLength(2)
    },
  )

  it('a Retry-After given as an HTTP date is a wait until then', async () => {
    const graphResolver = resolver()
    const inAMinute = new Date(Math.ceil(Date.now() / 1000) * 1000 + 60_000).toUTCString()
    graph.fail({ status: 429, retryAfter: inAMinute })
    const wait = (await outage(graphResolver.fetchGroups(userOf()))).retryAfterSec!
    expect(wait).toBeGreaterThanOrEqual(59)
    expect(wait).toBeLessThanOrEqual(61)
    await outage(graphResolver.fetchGroups(userOf()))
    expect(graph.requests).toHaveLength(1)
    graph.fail(undefined)
    offsetMs += wait * 1000 + 1
    expect(await graphResolver.fetchGroups(userOf())).toEqual(GROUPS)
    // A date already past asks for no wait.
    graph.fail({ status: 429, retryAfter: new Date(Date.now() - 60_000).toUTCString() })
    await outage(graphResolver.fetchGroups(userOf(TENANT_B)))
    graph.fail(undefined)
    expect(await graphResolver.fetchGroups(userOf(TENANT_B))).toEqual(GROUPS)
    expect(graph.requests).toHaveLength(4)
  })

  it(`remembers at most ${MAX_THROTTLED_TENANTS} tenants, the oldest forgotten first`, async () => {
    const calls: string[] = []
    const throttling = (url: string) => {
      calls.push(url)
      return Promise.resolve(new Response('{}', { status: 429, headers: { 'retry-after': '300' } }))
    }
    const graphResolver = resolver({ fetch: throttling, cache: false })
    const tenant = (index: number) => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`
    for (let index = 0; index <= MAX_THROTTLED_TENANTS; index += 1) {
      await outage(graphResolver.fetchGroups(userOf(tenant(index))))
    }
    expect(calls).toHaveLength(MAX_THROTTLED_TENANTS + 1)
    // The most recent are still held back; the first was forgotten to make room.
    await outage(graphResolver.fetchGroups(userOf(tenant(MAX_THROTTLED_TENANTS))))
    await outage(graphResolver.fetchGroups(userOf(tenant(1))))
    expect(calls).toHaveLength(MAX_THROTTLED_TENANTS + 1)
    await outage(graphResolver.fetchGroups(userOf(tenant(0))))
    expect(calls).toHaveLength(MAX_THROTTLED_TENANTS + 2)
    offsetMs += 300_001
  })
})

describe('#4 an overage resolver without a cache of its own is asked on every request', () => {
  it('says so in the option’s JSDoc and in the docs, recommending GraphGroupResolver’s cache', () => {
    const jsdoc = flat(read('providers/entra-id/options.ts'))
    expect(jsdoc).toContain('**Called on every request** whose token overflows')
    expect(jsdoc).toContain('prefer `GraphGroupResolver`, or cache the answers yourself')
    const docs = flat(read('docs/providers/entra-id.md'))
    expect(docs).toContain('**It is called on every request whose token overflows**')
    expect(docs).toContain(
      'prefer `GraphGroupResolver` and its cache, or cache the answers yourself',
    )
  })

  it('which is what happens: five requests with one token, five calls', async () => {
    const entra = await createEntraIssuer()
    try {
      let calls = 0
      const provider = new EntraIdProvider({
        ...entra.providerOptions,
        logger: false,
        groupOverageResolver: () => {
          calls += 1
          return ['g']
        },
      })
      const verify = createVerifier({ provider, logger: false })
      const token = entra.v2(JANE, { groups: undefined, hasgroups: true })
      for (let request = 0; request < 5; request += 1) await (await verify(token)).groups
      expect(calls).toBe(5)
    } finally {
      await entra.close()
    }
  })
})

describe('#5 fromEnv reports every problem of the Entra variables at once', () => {
  const PREFIX = 'AUTH_PROVIDER_AZURE_ENTRA_ID_'
  const GRAPH_APP = '00000003-0000-0000-c000-000000000000'
  const fromEnv = (env: Env) => () =>
    buildFromEnv(
      { providers: [entraIdEnv], sources: [] },
      { AUTH_PROVIDER: 'entra-id', ...env },
      { logger: false },
    )

  it('a mixed ALLOWED_TENANTS still lets the constructor report the rest', () => {
    const problems = problemsOf(
      fromEnv({
        [`${PREFIX}TENANT_ID`]: 'organizations',
        [`${PREFIX}ALLOWED_TENANTS`]: `*,${TENANT}`,
        [`${PREFIX}AUDIENCE_ID`]: GRAPH_APP,
        [`${PREFIX}AUTHORITY_HOST`]: 'login.windows.net',
      }),
    )
    expect(problems).toEqual([
      `${PREFIX}ALLOWED_TENANTS is either * or a list of tenant ids`,
      expect.stringMatching(/AUTHORITY_HOST\) must not be login\.windows\.net, an alias/),
      expect.stringMatching(/AUDIENCE_ID\) names Microsoft Graph/),
    ])
  })

  it('the ids of a mixed list are checked too', () => {
    const problems = problemsOf(
      fromEnv({
        [`${PREFIX}TENANT_ID`]: 'organizations',
        [`${PREFIX}ALLOWED_TENANTS`]: '*,contoso',
        [`${PREFIX}AUDIENCE_ID`]: CLIENT_ID,
      }),
    )
    expect(problems).toEqual([
      `${PREFIX}ALLOWED_TENANTS is either * or a list of tenant ids`,
      expect.stringMatching(/ALLOWED_TENANTS\) must be a non-empty list of tenant ids/),
    ])
  })

  it.each<[string, Env, RegExp[]]>([
    [
      'TENANT_ID missing',
      { [`${PREFIX}AUDIENCE_ID`]: CLIENT_ID, [`${PREFIX}AUTHORITY_HOST`]: 'login.windows.net' },
      [/TENANT_ID is required/, /must not be login\.windows\.net, an alias/],
    ],
    [
      'AUDIENCE_ID missing',
      { [`${PREFIX}TENANT_ID`]: TENANT, [`${PREFIX}ALLOWED_CLIENT_APPS`]: 'a b' },
      [/AUDIENCE_ID is required/, /ALLOWED_CLIENT_APPS\) must be a non-empty list/],
    ],
    [
      'both missing',
      { [`${PREFIX}TOKEN_VERSIONS`]: '1.0', [`${PREFIX}AUTHORITY_HOST`]: 'login.windows.net' },
      [/TENANT_ID is required/, /AUDIENCE_ID is required/, /an alias of login\.microsoftonline/],
    ],
    // The stand-ins add no problem of their own: a tenant list, B2C, app signing keys.
    [
      'TENANT_ID missing, with a tenant list',
      { [`${PREFIX}AUDIENCE_ID`]: CLIENT_ID, [`${PREFIX}ALLOWED_TENANTS`]: TENANT },
      [/TENANT_ID is required/],
    ],
    [
      'TENANT_ID missing, with B2C',
      {
        [`${PREFIX}AUDIENCE_ID`]: CLIENT_ID,
        [`${PREFIX}B2C_TENANT_NAME`]: 'contoso',
        [`${PREFIX}B2C_POLICIES`]: 'B2C_1_signin',
      },
      [/TENANT_ID is required/],
    ],
    [
      'AUDIENCE_ID missing, with APP_SIGNING_KEYS=true',
      { [`${PREFIX}TENANT_ID`]: TENANT, [`${PREFIX}APP_SIGNING_KEYS`]: 'true' },
      [/AUDIENCE_ID is required/],
    ],
    [
      'ALLOWED_TENANTS=*,*',
      {
        [`${PREFIX}TENANT_ID`]: 'organizations',
        [`${PREFIX}AUDIENCE_ID`]: CLIENT_ID,
        [`${PREFIX}ALLOWED_TENANTS`]: '*,*',
      },
      [/ALLOWED_TENANTS is either \* or a list/],
    ],
  ])('%s: every problem, and no provider', (_what, env, expected) => {
    const problems = problemsOf(fromEnv(env))
    expect(problems).toEqual(expected.map((pattern) => expect.stringMatching(pattern)))
  })

  it('JWT_LEEWAY, the seed’s clock tolerance that only cognito reads, is warned about with the Entra setting to use', () => {
    const lines: string[] = []
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => void lines.push(JSON.parse(line).msg as string) },
    )
    buildFromEnv(
      { providers: [entraIdEnv], sources: [] },
      {
        AUTH_PROVIDER: 'entra-id',
        [`${PREFIX}TENANT_ID`]: TENANT,
        [`${PREFIX}AUDIENCE_ID`]: CLIENT_ID,
        JWT_LEEWAY: '60',
      },
      { logger },
    )
    expect(lines.filter((line) => line.startsWith('JWT_LEEWAY'))).toEqual([
      `JWT_LEEWAY is read for AUTH_PROVIDER=cognito only: for entra-id set ${PREFIX}LEEWAY (seconds)`,
    ])
  })

  it('a complete configuration still builds its provider', () => {
    const options = fromEnv({
      [`${PREFIX}TENANT_ID`]: 'organizations',
      [`${PREFIX}ALLOWED_TENANTS`]: TENANT,
      [`${PREFIX}AUDIENCE_ID`]: CLIENT_ID,
    })()
    expect(options.providers?.[0]).toBeInstanceOf(EntraIdProvider)
  })
})

describe('#6 Graph failures are logged with Graph’s reason', () => {
  const TOKEN = 'graph-token-for-tests'
  let graph: FakeGraph
  const lines: Record<string, unknown>[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) })

  beforeAll(async () => {
    graph = await startFakeGraph({ token: TOKEN, members: { [JANE.oid]: ['g'] } })
  })

  afterAll(() => graph.close())

  afterEach(() => {
    graph.fail(undefined)
    ;(graph.requests as unknown[]).length = 0
    lines.length = 0
  })

  const user = new User(
    { provider: 'entra-id', claims: { oid: JANE.oid, tid: TENANT } },
    { id: JANE.oid },
    {},
  )
  const lookup = async (options: Partial<GraphGroupResolverOptions> = {}) => {
    const resolver = new GraphGroupResolver({
      getGraphToken: () => TOKEN,
      graphEndpoint: graph.endpoint,
      logger,
      ...options,
    })
    const error = await resolver.fetchGroups(user).then(
      () => expect.unreachable('Graph answered'),
      (caught: unknown) => caught,
    )
    expect(error).toBeInstanceOf(UnavailableError)
    expect(lines).toHaveLength(1)
    return (lines[0]!['err'] as { message: string }).message
  }

  it('a refusal: its error.code and error.message', async () => {
    graph.fail({
      status: 403,
      body: {
        error: {
          code: 'Authorization_RequestDenied',
          message: 'Insufficient privileges to complete the operation.',
          innerError: { date: '2025-01-01T00:00:00', 'request-id': 'r' },
        },
      },
    })
    expect(await lookup()).toBe(
      'Graph answered HTTP 403: Authorization_RequestDenied: Insufficient privileges to complete the operation.',
    )
  })

  it('cut short and on one line, control characters gone', async () => {
    graph.fail({
      status: 401,
      body: {
        error: {
          code: 'Invalid\u001b[31mToken',
          message: `forged\n{"level":60,"msg":"fake"}\r\u202e${'x'.repeat(1000)}`,
        },
      },
    })
    const message = await lookup()
    expect(message).toMatch(/^Graph answered HTTP 401: Invalid \[31mToken: forged \{"level":60/)
    expect(message).not.toMatch(/\p{Cc}|\u202e/u)
    expect(message.endsWith(`${'x'.repeat(100)}…`)).toBe(true)
    expect(message.length).toBeLessThan(700)
  })

  it.each<[string, unknown]>([
    ['not JSON', '<html>Bad gateway</html>'],
    ['JSON without error', { message: 'no' }],
    ['longer than the bytes read', { error: { code: 'Big', message: 'y'.repeat(100_000) } }],
  ])('a body %s: the status alone', async (_what, body) => {
    graph.fail({ status: 502, body })
    expect(await lookup()).toBe('Graph answered HTTP 502')
  })

  it('getGraphToken returning the MSAL result: says so, and Graph is not called', async () => {
    const msalResult = { accessToken: TOKEN, tokenType: 'Bearer' }
    expect(await lookup({ getGraphToken: () => msalResult as unknown as string })).toBe(
      'getGraphToken must return the access token string, got an object (did you return the MSAL result instead of its accessToken?)',
    )
    expect(graph.requests).toHaveLength(0)
  })

  it.each<[string, unknown, string]>([
    ['a number', 42, 'getGraphToken must return the access token string, got a number'],
    ['nothing', undefined, 'getGraphToken returned no token'],
    ['an empty string', '', 'getGraphToken returned no token'],
  ])('getGraphToken returning %s: says what it got', async (_what, token, message) => {
    expect(await lookup({ getGraphToken: () => token as string })).toBe(message)
  })
})

// Outages and abuse over HTTP: the key endpoint down, slow, huge, malformed or redirecting;
// discovery lying; kid floods; key rotation under traffic; authorization sources failing or
// hanging. Every failure is a 503 (or a 401 for the forged tokens), never a 500, never a handler
// run, and service comes back by itself. Only Date is faked, so time-outs use real timers.

import express from 'express'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  JwksCache,
  jwtAuth,
  requireGroups,
  requirePermissions,
  requireUser,
  type GroupsProvider,
  type PermissionsProvider,
  type JwksCacheOptions,
  type JwtAuthOptions,
  type JwtProvider,
} from '../../src/index.js'
import { createTestIssuer, type TestIssuer, type TestIssuerOptions } from '../../src/testing.js'
import { JwksProvider, OidcProvider } from '../../providers/jwks/index.js'
import { endlessBody, startCanary, startCountingServer } from '../helpers/http.js'
import { serve, type AppClient, type Reply } from './http-client.js'

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0)
const MINUTE = 60_000

/** Everything a test started, closed after it whatever happened. */
const cleanup: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close()
})

function at(ms: number): void {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(ms)
}

async function issuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const idp = await createTestIssuer({ algorithms: ['ES256'], ...options })
  cleanup.push(() => idp.close())
  return idp
}

function jwksProvider(
  idp: TestIssuer,
  cache: JwksCacheOptions = {},
  jwksUri = idp.jwksUri,
): JwksProvider {
  return new JwksProvider({
    issuer: idp.issuer,
    jwksUri,
    audience: idp.audience,
    jwksCache: new JwksCache(cache),
  })
}

/** An app with a guarded route whose handler counts its runs, served on 127.0.0.1. */
async function appFor(
  provider: JwtProvider,
  options: Partial<JwtAuthOptions> = {},
): Promise<AppClient & { runs: () => number }> {
  let runs = 0
  const app = express()
  app.use(jwtAuth({ provider, realm: 'api', logger: false, ...options }))
  app.get('/open', (_req, res) => {
    runs += 1
    res.json({ handler: 'ran' })
  })
  app.get('/guarded', requireUser(), (req, res) => {
    runs += 1
    res.json({ handler: 'ran', id: req.currentUser.id })
  })
  app.get('/grouped', requireGroups(['admin']), (req, res) => {
    runs += 1
    res.json({ handler: 'ran', id: req.currentUser.id })
  })
  app.get('/permitted', requirePermissions(['orders:read']), (req, res) => {
    runs += 1
    res.json({ handler: 'ran', id: req.currentUser.id })
  })
  const client = await serve(app)
  cleanup.push(() => client.close())
  return Object.assign(client, { runs: () => runs })
}

const bearer = (token: string) => `Bearer ${token}`

/** Polls `condition` (a background refresh landing) for up to `limitMs` of real time. */
async function until(
  condition: () => boolean | Promise<boolean>,
  limitMs = 2_000,
): Promise<boolean> {
  const deadline = performance.now() + limitMs
  while (!(await condition())) {
    if (performance.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return true
}

function expectUnavailable(reply: Reply): void {
  expect(reply.status).toBe(503)
  expect(reply.headers['retry-after']).toMatch(/^\d+$/)
  expect(reply.headers['www-authenticate']).toBeUndefined()
  expect(reply.body['error']).toBe('temporarily_unavailable')
}

function expectInvalidToken(reply: Reply, description?: string): void {
  expect(reply.status).toBe(401)
  expect(reply.body['error']).toBe('invalid_token')
  if (description !== undefined) expect(reply.body['error_description']).toBe(description)
}

describe('the key endpoint fails before anything is cached (JWKS-07, 09, 10, 11, 12)', () => {
  const failures: [string, (idp: TestIssuer, attacker: string) => void][] = [
    ['answers 503', (idp) => idp.respondWith('jwks', { status: 503, body: 'down' })],
    ['answers 500', (idp) => idp.respondWith('jwks', { status: 500 })],
    ['answers 404', (idp) => idp.respondWith('jwks', { status: 404 })],
    ['hangs past the time-out', (idp) => idp.respondWith('jwks', { hang: true })],
    ['is slower than the time-out', (idp) => idp.respondWith('jwks', { delayMs: 2_000 })],
    [
      'answers 5 MB',
      (idp) =>
        idp.respondWith('jwks', { body: `{"keys":[],"x":"${'x'.repeat(5 * 1024 * 1024)}"}` }),
    ],
    ['answers invalid JSON', (idp) => idp.respondWith('jwks', { body: '{"keys":[' })],
    [
      'answers an HTML page with 200',
      (idp) =>
        idp.respondWith('jwks', {
          body: '<html>maintenance</html>',
          headers: { 'content-type': 'text/html' },
        }),
    ],
    ['answers {"keys":"x"}', (idp) => idp.setJwks({ keys: 'x' })],
    ['answers {}', (idp) => idp.setJwks({})],
    [
      'redirects to the attacker',
      (idp, attacker) =>
        idp.respondWith('jwks', { status: 302, headers: { location: `${attacker}/jwks.json` } }),
    ],
  ]

  it.each(failures)(
    '%s: 503 with Retry-After, handler not run; the next request after recovery passes',
    async (_case, fail) => {
      at(T0)
      const [idp, attacker] = await Promise.all([issuer(), startCanary()])
      cleanup.push(attacker.close)
      fail(idp, attacker.url)
      const app = await appFor(jwksProvider(idp, { timeoutMs: 200 }))
      const token = bearer(idp.mint({ sub: 'alice' }))
      expectUnavailable(await app.get('/guarded', token))
      expect(app.runs()).toBe(0)
      expect((await app.get('/open')).status).toBe(200) // anonymous routes keep working
      expect(attacker.hits()).toBe(0)

      idp.respondWith('jwks', undefined)
      idp.setJwks(undefined)
      at(T0 + 2_000) // past the first back-off
      const recovered = await app.get('/guarded', token)
      expect(recovered.status).toBe(200)
      expect(recovered.body['id']).toBe('alice')
    },
  )

  it('refuses connections: 503', async () => {
    at(T0)
    const idp = await issuer()
    const closed = await startCountingServer(() => undefined)
    await closed.close()
    const app = await appFor(jwksProvider(idp, {}, `${closed.url}/jwks.json`))
    expectUnavailable(await app.get('/guarded', bearer(idp.mint())))
    expect(app.runs()).toBe(0)
  })

  it('streams an endless chunked body: cut off at the size cap, 503', async () => {
    at(T0)
    const idp = await issuer()
    const endless = await startCountingServer((_req, res) => endlessBody(res))
    cleanup.push(endless.close)
    const app = await appFor(
      jwksProvider(idp, { maxResponseBytes: 64 * 1024 }, `${endless.url}/jwks.json`),
    )
    expectUnavailable(await app.get('/guarded', bearer(idp.mint())))
    expect(endless.hits).toBe(1)
  })

  it('within the back-off a second request is answered at once, without another fetch', async () => {
    at(T0)
    const idp = await issuer()
    idp.respondWith('jwks', { status: 503 })
    const app = await appFor(jwksProvider(idp))
    const token = bearer(idp.mint())
    expectUnavailable(await app.get('/guarded', token))
    const fetches = idp.counts.jwks
    for (let i = 0; i < 20; i += 1) expectUnavailable(await app.get('/guarded', token))
    expect(idp.counts.jwks).toBe(fetches)
  })
})

describe('the key endpoint fails once keys are cached (JWKS-08, JWKS-11)', () => {
  const MALFORMED: [string, (idp: TestIssuer) => void][] = [
    ['answers 503', (idp) => idp.respondWith('jwks', { status: 503 })],
    ['answers invalid JSON', (idp) => idp.respondWith('jwks', { body: 'not json' })],
    ['answers {"keys":"x"}', (idp) => idp.setJwks({ keys: 'x' })],
    ['hangs', (idp) => idp.respondWith('jwks', { hang: true })],
  ]

  it.each(MALFORMED)(
    '%s after the refresh interval: the last good keys keep serving, unknown kids get 401',
    async (_case, fail) => {
      at(T0)
      const idp = await issuer()
      const app = await appFor(jwksProvider(idp, { timeoutMs: 200 }))
      expect((await app.get('/guarded', bearer(idp.mint()))).status).toBe(200)
      fail(idp)
      at(T0 + 21 * MINUTE) // past the 20 min refresh interval, within stale-if-error (1 h)
      for (let i = 0; i < 3; i += 1) {
        expect((await app.get('/guarded', bearer(idp.mint({ sub: `u${i}` })))).status).toBe(200)
      }
      expectInvalidToken(await app.get('/guarded', bearer(idp.mint({}, { kid: 'rotated-away' }))))
      at(T0 + 81 * MINUTE) // interval + stale-if-error: too stale to trust
      expectUnavailable(await app.get('/guarded', bearer(idp.mint())))
      idp.respondWith('jwks', undefined)
      idp.setJwks(undefined)
      at(T0 + 90 * MINUTE)
      expect((await app.get('/guarded', bearer(idp.mint()))).status).toBe(200)
    },
  )

  // A set whose every member is unusable is a failed fetch, not a rotation to "no keys".
  it('JWKS-11: a refresh answering keys that are not objects keeps the last good set', async () => {
    at(T0)
    const idp = await issuer()
    const app = await appFor(jwksProvider(idp))
    expect((await app.get('/guarded', bearer(idp.mint()))).status).toBe(200)
    idp.setJwks({ keys: [1, 'a', null] })
    at(T0 + 21 * MINUTE)
    await app.get('/guarded', bearer(idp.mint())) // starts the background refresh
    await until(async () => (await app.get('/guarded', bearer(idp.mint()))).status !== 200, 3_000)
    expect((await app.get('/guarded', bearer(idp.mint()))).status).toBe(200)
  })

  it('a hanging refetch for an unknown kid never queues requests whose key is cached (JWKS-09)', async () => {
    at(T0)
    const idp = await issuer()
    const app = await appFor(jwksProvider(idp, { timeoutMs: 5_000 }))
    expect((await app.get('/guarded', bearer(idp.mint()))).status).toBe(200)
    idp.respondWith('jwks', { hang: true })
    at(T0 + MINUTE) // past the cooldown: the unknown kid may refetch
    let unknownDone = false
    const unknown = app.get('/guarded', bearer(idp.mint({}, { kid: 'new-kid' }))).finally(() => {
      unknownDone = true
    })
    for (let i = 0; i < 10; i += 1)
      expect((await app.get('/guarded', bearer(idp.mint()))).status).toBe(200)
    expect(unknownDone).toBe(false)
    await idp.close() // ends the hanging fetch
    expect([401, 503]).toContain((await unknown).status)
  })
})

describe('kid floods (JWKS-03, JWKS-04, JWKS-05)', () => {
  const randomKid = () => randomBytes(9).toString('base64url')

  it('1,000 tokens with random unknown kids over three cooldowns: at most one fetch per cooldown, valid tokens pass throughout', async () => {
    at(T0)
    const idp = await issuer()
    const app = await appFor(jwksProvider(idp))
    expect((await app.get('/guarded', bearer(idp.mint()))).status).toBe(200)
    expect(idp.counts.jwks).toBe(1)
    const windows = 3
    let validSent = 0
    for (let window = 0; window < windows; window += 1) {
      at(T0 + window * 30_000 + 1)
      const requests: [string, string][] = []
      const valid: boolean[] = []
      for (let i = 0; i < 334; i += 1) {
        requests.push(['/guarded', bearer(idp.mint({ sub: 'forger' }, { kid: randomKid() }))])
        valid.push(false)
        if (i % 10 === 0) {
          requests.push(['/guarded', bearer(idp.mint({ sub: 'valid' }))])
          valid.push(true)
          validSent += 1
        }
      }
      const replies = await app.all(requests)
      replies.forEach((reply, index) => {
        if (valid[index]) expect(reply.status).toBe(200)
        else expectInvalidToken(reply)
      })
    }
    // The first window is inside the cooldown of the initial fetch; the next two refetch once each.
    expect(idp.counts.jwks - 1).toBeLessThanOrEqual(windows - 1)
    expect(app.runs()).toBe(validSent + 1)
  })

  it('an empty key set does not lift the cooldown: no fetch per request', async () => {
    at(T0)
    const idp = await issuer()
    idp.setJwks({ keys: [] })
    const app = await appFor(jwksProvider(idp))
    const requests = Array.from({ length: 300 }, (): [string, string] => [
      '/guarded',
      bearer(idp.mint({}, { kid: randomKid() })),
    ])
    for (const reply of await app.all(requests)) expectInvalidToken(reply)
    expect(idp.counts.jwks).toBe(1)
  })

  it('a flood while the refetch fails keeps the cached keys: valid tokens pass, forged ones get 401', async () => {
    at(T0)
    const idp = await issuer()
    const app = await appFor(jwksProvider(idp))
    expect((await app.get('/guarded', bearer(idp.mint()))).status).toBe(200)
    idp.respondWith('jwks', { status: 503 })
    at(T0 + 31_000)
    const requests: [string, string][] = []
    for (let i = 0; i < 200; i += 1) {
      requests.push(
        ['/guarded', bearer(idp.mint({}, { kid: randomKid() }))],
        ['/guarded', bearer(idp.mint({ sub: 'valid' }))],
      )
    }
    const replies = await app.all(requests)
    replies.forEach((reply, index) => {
      if (index % 2 === 1) expect(reply.status).toBe(200)
      else expect([401, 503]).toContain(reply.status)
    })
    expect(idp.counts.jwks).toBeLessThanOrEqual(2)
  })
})

describe('cold start and rotation (JWKS-06, JWKS-20, JWKS-21, JWKS-22)', () => {
  it('200 concurrent requests on a cold cache: one discovery, one key fetch, all pass', async () => {
    at(T0)
    const idp = await issuer()
    const provider = new OidcProvider({
      issuer: idp.issuer,
      audience: idp.audience,
      jwksCache: new JwksCache(),
    })
    const app = await appFor(provider)
    const requests = Array.from({ length: 200 }, (_, i): [string, string] => [
      '/guarded',
      bearer(idp.mint({ sub: `u${i}` })),
    ])
    const replies = await app.all(requests, 200)
    expect(replies.map((reply) => reply.status)).toEqual(requests.map(() => 200))
    expect(idp.counts).toEqual({ jwks: 1, discovery: 1 })
  })

  it('key rotation mid-traffic: no token a correct server would accept is refused', async () => {
    at(T0)
    const idp = await issuer()
    const app = await appFor(jwksProvider(idp))
    const old = () => bearer(idp.mint({ sub: 'old-key' }))
    expect((await app.get('/guarded', old())).status).toBe(200)

    // The IdP publishes a new key beside the old one, and signs with it at once.
    at(T0 + 5 * MINUTE)
    const before = idp.jwks().keys.map((key) => key['kid'])
    const oldTokens = Array.from({ length: 100 }, old)
    idp.rotateKeys({ keepOld: true })
    const fresh = () => bearer(idp.mint({ sub: 'new-key' }))
    const mixed = oldTokens.flatMap((token): [string, string][] => [
      ['/guarded', token],
      ['/guarded', fresh()],
    ])
    const replies = await app.all(mixed, 50)
    expect(replies.filter((reply) => reply.status !== 200)).toEqual([])
    expect(idp.counts.jwks).toBe(2) // exactly one refetch, shared by every new-key request

    // The old key is withdrawn; after the next refresh only its tokens are refused.
    idp.setJwks({ keys: idp.jwks().keys.filter((key) => !before.includes(key['kid'])) })
    at(T0 + 26 * MINUTE)
    expect((await app.get('/guarded', fresh())).status).toBe(200) // triggers the background refresh
    expect(await until(async () => (await app.get('/guarded', oldTokens[0]!)).status === 401)).toBe(
      true,
    )
    expect(idp.counts.jwks).toBe(3)
    const after = await app.all(
      Array.from({ length: 20 }, (_, i): [string, string] => [
        '/guarded',
        i % 2 === 0 ? fresh() : oldTokens[i]!,
      ]),
    )
    after.forEach((reply, i) => {
      if (i % 2 === 0) expect(reply.status).toBe(200)
      else expectInvalidToken(reply)
    })
  })

  it('a key published since the last fetch is found by exactly one refetch once the cooldown allows it', async () => {
    at(T0)
    const idp = await issuer()
    const app = await appFor(jwksProvider(idp))
    expect((await app.get('/guarded', bearer(idp.mint()))).status).toBe(200)
    idp.rotateKeys()
    at(T0 + 30_000)
    const replies = await app.all(
      Array.from({ length: 50 }, (): [string, string] => ['/guarded', bearer(idp.mint())]),
      50,
    )
    expect(replies.every((reply) => reply.status === 200)).toBe(true)
    expect(idp.counts.jwks).toBe(2)
  })

  it('no refetch before the refresh interval, one after it', async () => {
    at(T0)
    const idp = await issuer()
    const app = await appFor(jwksProvider(idp))
    for (let minute = 0; minute < 20; minute += 1) {
      at(T0 + minute * MINUTE)
      expect((await app.get('/guarded', bearer(idp.mint()))).status).toBe(200)
    }
    expect(idp.counts.jwks).toBe(1)
    at(T0 + 20 * MINUTE + 1)
    expect((await app.get('/guarded', bearer(idp.mint()))).status).toBe(200)
    expect(await until(() => idp.counts.jwks === 2)).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(idp.counts.jwks).toBe(2)
  })
})

describe('discovery (JWKS-24, JWKS-25, JWKS-26, JWKS-27)', () => {
  async function discovered(overrides: Record<string, unknown> | undefined) {
    const idp = await issuer({ issuer: 'https://login.discovery.test', listen: false })
    idp.setDiscovery(overrides)
    const fetched: string[] = []
    const provider = new OidcProvider({
      issuer: idp.issuer,
      audience: idp.audience,
      fetch: (url, init) => {
        fetched.push(url)
        return idp.fetch(url, init)
      },
      logger: false, // the rows provoke the errors discovery logs; they read the answers
    })
    return { idp, fetched, app: await appFor(provider) }
  }

  it.each<[string, (attacker: string) => Record<string, unknown>]>([
    ['names another issuer (JWKS-24)', () => ({ issuer: 'https://evil.discovery.test' })],
    ['names no jwks_uri (JWKS-26)', () => ({ jwks_uri: undefined })],
    [
      'names a plain-http jwks_uri for an https issuer (JWKS-25)',
      () => ({ jwks_uri: 'http://jwks.attacker.test/jwks.json' }),
    ],
    [
      'names the attacker’s jwks_uri (a discovery answer is trusted only for its own issuer)',
      (attacker) => ({ issuer: attacker, jwks_uri: `${attacker}/jwks.json` }),
    ],
    ['names a relative jwks_uri (JWKS-25)', () => ({ jwks_uri: '/jwks.json' })],
    [
      'names a jwks_uri with credentials (JWKS-25)',
      () => ({ jwks_uri: 'https://user:pw@login.discovery.test/.well-known/jwks.json' }),
    ],
  ])('%s: 503, no token accepted, nothing fetched but discovery', async (_case, overrides) => {
    at(T0)
    const attacker = await startCanary()
    cleanup.push(attacker.close)
    const { idp, fetched, app } = await discovered(overrides(attacker.url))
    expectUnavailable(await app.get('/guarded', bearer(idp.mint())))
    expectInvalidToken(
      await app.get('/guarded', bearer(idp.mint({ iss: 'https://evil.discovery.test' }))),
    )
    expect(app.runs()).toBe(0)
    expect(new Set(fetched)).toEqual(new Set([`${idp.issuer}/.well-known/openid-configuration`]))
    expect(attacker.hits()).toBe(0)
  })

  it('a failed discovery is retried after a short back-off, not kept as the answer (JWKS-27)', async () => {
    at(T0)
    const { idp, app } = await discovered(undefined)
    idp.respondWith('discovery', { status: 500 })
    const token = bearer(idp.mint())
    expectUnavailable(await app.get('/guarded', token))
    expectUnavailable(await app.get('/guarded', token))
    expect(idp.counts.discovery).toBe(1) // within the back-off: no new request
    idp.respondWith('discovery', undefined)
    at(T0 + 1_500)
    expect((await app.get('/guarded', token)).status).toBe(200)
    expect(idp.counts.discovery).toBe(2)
  })
})

describe('authorization sources failing or hanging (AUTHZ-08, AUTHZ-09, AUTHZ-11)', () => {
  type Mode = 'ok' | 'throw' | 'hang' | 'nonsense'

  /** A groups and permissions source that can be made to fail, hang or answer nonsense. */
  function source(): GroupsProvider & PermissionsProvider & { mode: Mode; calls: number } {
    const state = {
      mode: 'ok' as Mode,
      calls: 0,
      fetchGroups: (_user: unknown, context?: { signal: AbortSignal }) => answer(context),
      fetchPermissions: (_user: unknown, context?: { signal: AbortSignal }) => answer(context),
    }
    const answer = (context?: { signal: AbortSignal }): Promise<readonly string[]> => {
      state.calls += 1
      if (state.mode === 'throw') return Promise.reject(new Error('LDAP down'))
      if (state.mode === 'nonsense') return Promise.resolve(null as never)
      if (state.mode === 'hang') {
        return new Promise<readonly string[]>((_resolve, reject) =>
          context?.signal.addEventListener('abort', () => reject(new Error('aborted'))),
        )
      }
      return Promise.resolve(['admin', 'orders:read'])
    }
    return state
  }

  const CASES = (['groups', 'permissions'] as const).flatMap((facet) =>
    (['throw', 'hang', 'nonsense'] as const).map((mode) => [facet, mode] as const),
  )

  it.each(CASES)(
    'a %s source that answers "%s": 503 on the guarded route, handler not run, other routes served, then recovery with the cache on',
    async (facet, mode) => {
      at(T0)
      const idp = await issuer()
      const sources = source()
      const app = await appFor(jwksProvider(idp), {
        groups: sources,
        permissions: sources,
        sourceTimeoutMs: 100,
      })
      const route = facet === 'groups' ? '/grouped' : '/permitted'
      const token = bearer(idp.mint({ sub: 'alice' }))
      sources.mode = mode
      expectUnavailable(await app.get(route, token))
      expect(app.runs()).toBe(0)
      expect((await app.get('/guarded', token)).status).toBe(200) // lazy: no guard asked for it
      sources.mode = 'ok'
      const recovered = await app.get(route, token)
      expect(recovered.status).toBe(200)
      const calls = sources.calls
      expect((await app.get(route, token)).status).toBe(200)
      expect(sources.calls).toBe(calls) // the good answer is cached, the failure was not
    },
  )
})

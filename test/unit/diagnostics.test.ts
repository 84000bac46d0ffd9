// diagnostics_channel events and the health report: what a metrics system or a probe sees.

import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  CHANNELS,
  createVerifier,
  JwksCache,
  MemoryRevocationStore,
  type SharedCacheTier,
} from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider, OidcProvider } from '../../providers/jwks/index.js'
import { silentLogger } from '../../src/logger.js'
import { Enrichment } from '../../src/enrichment.js'
import { User } from '../../src/user.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://diag.example' })
})

afterAll(() => idp.close())

function record(names: string[]) {
  const events: Array<[string, unknown]> = []
  const listeners = names.map((name) => {
    const listener = (message: unknown) => void events.push([name, message])
    subscribe(name, listener)
    return [name, listener] as const
  })
  return { events, stop: () => listeners.forEach(([name, fn]) => unsubscribe(name, fn)) }
}

describe('diagnostics channels', () => {
  it('publish a pass, a rejection, a JWKS fetch and a source failure', async () => {
    const { events, stop } = record(Object.values(CHANNELS))
    try {
      const provider = new JwksProvider({
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: idp.audience,
        jwksCache: new JwksCache({ fetch: idp.fetch }),
      })
      const verify = createVerifier({
        provider,
        logger: false,
        groups: {
          fetchGroups: (user) => {
            // A source quoting the request it made: the token must not reach the channel.
            throw new Error(`directory down for Bearer ${user.token} (${user.token})`)
          },
        },
      })
      const token = idp.mint({ sub: 'alice' })
      const user = await verify(token)
      await verify(token)
      await expect(verify(idp.mint({ sub: 'x' }, { tamper: 'signature' }))).rejects.toThrow()
      await expect(user.groups).rejects.toThrow()
      expect(events).toEqual([
        [CHANNELS.jwks, { uri: idp.jwksUri, outcome: 'fetched', keyCount: 1 }],
        [CHANNELS.verify, { outcome: 'pass', provider: 'jwks', cached: false }],
        [CHANNELS.verify, { outcome: 'pass', provider: 'jwks', cached: true }],
        [
          CHANNELS.verify,
          {
            outcome: 'reject',
            code: 'ERR_AUTH_SIGNATURE_INVALID',
            provider: 'jwks',
            cached: false,
          },
        ],
        [
          CHANNELS.source,
          {
            facet: 'groups',
            provider: 'jwks',
            outcome: 'failed',
            error: 'directory down for Bearer [redacted] ([redacted token])',
          },
        ],
      ])
    } finally {
      stop()
    }
  })

  it('publish revocations and JWKS failures', async () => {
    const { events, stop } = record([CHANNELS.revocation, CHANNELS.jwks])
    try {
      const store = new MemoryRevocationStore()
      const cache = new JwksCache({ fetch: idp.fetch })
      const provider = new JwksProvider({
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: idp.audience,
        jwksCache: cache,
      })
      const verify = createVerifier({ provider, logger: false, revocation: store })
      const token = idp.mint({ sub: 'alice', jti: 'j' })
      store.revokeToken('j')
      await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' })
      idp.respondWith('jwks', { status: 500 })
      await expect(cache.hydrate(idp.jwksUri)).rejects.toThrow()
      idp.respondWith('jwks', undefined)
      expect(events.map(([name, event]) => [name, (event as { outcome: string }).outcome])).toEqual(
        [
          [CHANNELS.jwks, 'fetched'],
          [CHANNELS.revocation, 'revoked'],
          [CHANNELS.jwks, 'failed'],
        ],
      )
    } finally {
      stop()
    }
  })
})

describe('health', () => {
  it('reports each provider’s keys, and is not ok before keys are held or when a part is down', async () => {
    const jwks = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({ fetch: idp.fetch }),
    })
    const store = new MemoryRevocationStore()
    const verify = createVerifier({ provider: jwks, logger: false, revocation: store })
    const before = await verify.health()
    expect(before.ok).toBe(false)
    expect(before.providers[0]).toMatchObject({ name: 'jwks', ok: false, keyCount: 0 })
    await verify.hydrate()
    await verify(idp.mint({ sub: 'a' }))
    const after = await verify.health()
    expect(after).toMatchObject({
      ok: true,
      providers: [
        { name: 'jwks', issuers: [idp.issuer], ok: true, jwksUri: idp.jwksUri, keyCount: 1 },
      ],
      tokenCache: { size: 1 },
    })
    expect(after.providers[0]!.fetchedAt).toBeInstanceOf(Date)

    const broken = createVerifier({
      provider: jwks,
      logger: false,
      revocation: {
        isRevoked: () => false,
        health: () => Promise.reject(new Error('redis://default:hunter2@cache:6379 down')),
      },
    })
    expect(await broken.health()).toMatchObject({
      ok: false,
      revocation: { ok: false, detail: 'redis://[redacted]@cache:6379 down' },
    })
  })

  it('a provider without keys starts fetching them when asked for its health, once per 5 s at most', async () => {
    const jwks = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({ fetch: idp.fetch }),
    })
    const verify = createVerifier({ provider: jwks, logger: false })
    idp.respondWith('jwks', { status: 503, body: 'down' })
    idp.resetCounts()
    try {
      expect((await verify.health()).ok).toBe(false)
      await vi.waitFor(async () => {
        expect((await verify.health()).providers[0]!.lastError).toEqual(expect.any(String))
      })
      for (let probe = 0; probe < 5; probe += 1) await verify.health()
      expect(idp.counts.jwks).toBe(1) // probes inside the gap start nothing more
      idp.respondWith('jwks', undefined)
      const later = Date.now() + 5_000
      vi.spyOn(Date, 'now').mockImplementation(() => later)
      await vi.waitFor(async () => expect((await verify.health()).ok).toBe(true))
      expect(idp.counts.jwks).toBe(2)
    } finally {
      vi.restoreAllMocks()
      idp.respondWith('jwks', undefined)
    }
  })

  it('an OIDC provider reports no keys until discovery ran, which its health report starts', async () => {
    const oidc = new OidcProvider({ issuer: idp.issuer, audience: idp.audience, fetch: idp.fetch })
    const verify = createVerifier({ provider: oidc, logger: false })
    expect((await verify.health()).providers[0]).toMatchObject({
      ok: false,
      lastError: 'keys not located yet',
    })
    await vi.waitFor(async () => {
      expect((await verify.health()).providers[0]).toMatchObject({ ok: true, jwksUri: idp.jwksUri })
    })
  })

  it('an OIDC provider reports no keys until hydrate ran', async () => {
    const oidc = new OidcProvider({ issuer: idp.issuer, audience: idp.audience, fetch: idp.fetch })
    const verify = createVerifier({ provider: oidc, logger: false })
    expect((await verify.health()).providers[0]).toMatchObject({
      ok: false,
      lastError: 'keys not located yet',
    })
    await verify.hydrate()
    expect((await verify.health()).providers[0]).toMatchObject({ ok: true, jwksUri: idp.jwksUri })
  })
})

describe('a shared cache tier under the authorization cache', () => {
  function memoryTier() {
    const store = new Map<string, unknown>()
    const listeners: Array<(keys: readonly string[]) => void> = []
    const state = { down: false, gets: 0 }
    const tier: SharedCacheTier = {
      get: async (key) => {
        state.gets += 1
        if (state.down) throw new Error('ECONNREFUSED')
        return store.get(key)
      },
      set: async (key, value) => {
        if (state.down) throw new Error('ECONNREFUSED')
        store.set(key, value)
      },
      invalidate: async (keys) => {
        for (const key of keys) store.delete(key)
        for (const listener of listeners) listener(keys)
      },
      onInvalidate: (listener) => void listeners.push(listener),
    }
    return { tier, store, state }
  }
  const userOf = (sources: ReturnType<Enrichment['wrap']>) =>
    new User(
      { provider: 't', claims: { iss: 'https://i', sub: 'alice' }, token: 't' },
      { id: 'alice' },
      sources,
    )

  it('a second instance reads what the first stored; forget evicts on every instance', async () => {
    const { tier } = memoryTier()
    let calls = 0
    const source = { fetchGroups: () => ((calls += 1), [`v${calls}`]) }
    const one = new Enrichment({ sourceCache: { shared: tier } }, silentLogger)
    const two = new Enrichment({ sourceCache: { shared: tier } }, silentLogger)
    expect(await userOf(one.wrap({ groups: source })).groups).toEqual(['v1'])
    await new Promise((resolve) => setImmediate(resolve)) // the shared write is not awaited
    expect(await userOf(two.wrap({ groups: source })).groups).toEqual(['v1'])
    expect(calls).toBe(1)
    await one.forget('https://i', 'alice')
    expect(await userOf(two.wrap({ groups: source })).groups).toEqual(['v2'])
  })

  it('a tier that is down degrades to the sources, never to a failure or a grant', async () => {
    const { tier, state } = memoryTier()
    state.down = true
    const enrichment = new Enrichment({ sourceCache: { shared: tier } }, silentLogger)
    expect(
      await userOf(enrichment.wrap({ groups: { fetchGroups: () => ['ops'] } })).groups,
    ).toEqual(['ops'])
    const failing = {
      fetchGroups: (): string[] => {
        throw new Error('db down')
      },
    }
    const other = new Enrichment({ sourceCache: { shared: tier } }, silentLogger)
    await expect(userOf(other.wrap({ groups: failing })).groups).rejects.toMatchObject({
      status: 503,
    })
  })

  it('a corrupt shared entry is ignored and replaced by the source’s answer', async () => {
    const { tier, store } = memoryTier()
    store.set('groups\nhttps://i\nalice', { not: 'a list' })
    const enrichment = new Enrichment({ sourceCache: { shared: tier } }, silentLogger)
    expect(
      await userOf(enrichment.wrap({ groups: { fetchGroups: () => ['ops'] } })).groups,
    ).toEqual(['ops'])
  })
})

// healthHandler(): 200 when every part can serve, 503 when one cannot; key sets, caches and the
// Redis stores in the report; a minimal answer for probes from outside.

import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { RedisRevocationStore, RedisSharedCache } from '../../providers/redis/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import {
  ConfigError,
  createVerifier,
  jwtAuth,
  MemoryRevocationStore,
  type VerifierOptions,
} from '../../src/index.js'
import { healthHandler } from '../../src/health-handler.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'

const PREFIX = `oidc-guard-test:health:${process.pid}:${randomBytes(4).toString('hex')}:`

let idp: TestIssuer
let admin: Redis

beforeAll(async () => {
  admin = await connectTestRedis()
  idp = await createTestIssuer({ listen: false, issuer: 'https://health.example' })
})

afterEach(() => idp.respondWith('jwks', undefined))

afterAll(async () => {
  await deleteKeys(admin, PREFIX)
  admin.disconnect()
  await idp.close()
})

function options(extra: Partial<VerifierOptions> = {}): VerifierOptions {
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    fetch: idp.fetch,
  })
  return { provider, logger: false, ...extra }
}

describe.each(EXPRESS_MAJORS)('healthHandler on %s', (_name, makeApp) => {
  it('answers 200 with the report once the keys are held, never cached', async () => {
    const verifier = createVerifier(options({ revocation: new MemoryRevocationStore() }))
    const app = makeApp()
    app.get('/health', healthHandler(verifier))
    await verifier(idp.mint({ sub: 'alice' }))
    const res = await request(app).get('/health')
    expect(res.status).toBe(200)
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.body).toMatchObject({
      ok: true,
      providers: [
        { name: 'jwks', issuers: [idp.issuer], ok: true, jwksUri: idp.jwksUri, keyCount: 1 },
      ],
      tokenCache: { size: 1 },
      sourceCache: { size: 0 },
    })
    expect(res.body.providers[0].keyAgeSec).toBeGreaterThanOrEqual(0)
    expect(typeof res.body.providers[0].fetchedAt).toBe('string')
  })

  it('answers 503 while a provider holds no keys, with the last fetch error', async () => {
    const auth = jwtAuth(options())
    const app = makeApp()
    app.get('/health', healthHandler(auth))
    idp.respondWith('jwks', { status: 503, body: 'down' })
    await auth.verifier!(idp.mint({ sub: 'alice' })).catch(() => undefined)
    const res = await request(app).get('/health')
    expect(res.status).toBe(503)
    expect(res.body.ok).toBe(false)
    expect(res.body.providers[0]).toMatchObject({ ok: false, keyCount: 0 })
    expect(res.body.providers[0].lastError).toEqual(expect.any(String))
  })

  it('details: false answers { ok } alone', async () => {
    const auth = jwtAuth(options())
    const app = makeApp()
    app.get('/healthz', healthHandler(auth, { details: false }))
    const res = await request(app).get('/healthz')
    expect(res.status).toBe(503) // no keys fetched yet
    expect(res.body).toEqual({ ok: false })
  })

  it('reports the Redis stores: in step, and a shared cache down is degraded but ok', async () => {
    const revocation = new RedisRevocationStore({ url: REDIS_URL, prefix: PREFIX })
    const shared = new RedisSharedCache({
      url: 'redis://127.0.0.1:1',
      prefix: PREFIX,
      timeoutMs: 100,
    })
    try {
      const verifier = createVerifier(options({ revocation, sourceCache: { shared } }))
      await revocation.ready()
      await verifier(idp.mint({ sub: 'alice' }))
      const app = makeApp()
      app.get('/health', healthHandler(verifier))
      await vi.waitFor(() => expect(shared.health().detail).toMatch(/unreachable/))
      const res = await request(app).get('/health')
      expect(res.status).toBe(200)
      expect(res.body.revocation).toEqual({ ok: true, detail: 'redis: in step, 0 revocations' })
      expect(res.body.sourceCache.shared).toMatchObject({
        ok: true,
        detail: expect.stringMatching(/^degraded/),
      })
    } finally {
      await Promise.all([revocation.close(), shared.close()])
    }
  })

  it('answers 200 { disabled } when authentication is switched off', async () => {
    const app = makeApp()
    app.get('/health', healthHandler(jwtAuth({ disabled: true, logger: false, env: {} })))
    const res = await request(app).get('/health')
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ ok: true, disabled: true })
  })

  it('answers 503 { ok: false } when the report itself fails', async () => {
    const app = makeApp()
    app.get(
      '/health',
      healthHandler({ health: () => Promise.reject(new Error('bug at /srv/x.ts')) }),
    )
    const res = await request(app).get('/health')
    expect(res.status).toBe(503)
    expect(res.body).toEqual({ ok: false })
  })
})

it('healthHandler refuses what is neither a verifier nor jwtAuth’s middleware', () => {
  expect(() => healthHandler({} as never)).toThrow(ConfigError)
  expect(() => healthHandler(null as never)).toThrow(/needs a verifier/)
})

// The health report after the ops review: probes warm each B2C user flow on its own, error text is
// scrubbed, healthHandler's options are checked, a store answering outside its contract is not
// ok, a provider is ok only with a key that suits its algorithms, and keyAgeSec is in the report.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import express from 'express'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  ConfigError,
  createVerifier,
  healthHandler,
  JwksCache,
  jwtAuth,
  type FetchFunction,
  type HealthHandlerOptions,
} from '../../src/index.js'
import { createTestIssuer, entra, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EntraIdProvider } from '../../providers/entra-id/index.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false })
})

afterAll(() => idp.close())

afterEach(() => {
  vi.restoreAllMocks()
})

const jwksProvider = (options: { algorithms?: ['ES256'] } = {}) =>
  new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    jwksCache: new JwksCache({ fetch: idp.fetch }),
    ...options,
  })

/** What a health route answers. */
async function probe(handler: ReturnType<typeof healthHandler>) {
  const app = express()
  app.get('/health', handler)
  return request(app).get('/health')
}

describe('health probes warm each B2C user flow on its own (ops #2)', () => {
  it('fetches a healthy flow’s fresh keys at most once while the primary flow is broken', async () => {
    const host = 'contoso.b2clogin.com'
    const site = await entra.createEntraIssuer({ host, b2cTenantName: 'contoso' })
    const requested: string[] = []
    const fetch: FetchFunction = async (input, init) => {
      const url = String(input)
      requested.push(url)
      if (url.includes('/B2C_1_broken/')) return new Response('gone', { status: 404 })
      return site.fetch(input, init)
    }
    const provider = new EntraIdProvider({
      tenantId: site.tid,
      audience: site.providerOptions.audience,
      authorityHost: host,
      b2c: { tenantName: 'contoso', policies: ['B2C_1_broken', 'B2C_1_signin'] },
      jwksCache: new JwksCache({ fetch }),
    })
    const verify = createVerifier({ provider, logger: false })
    let now = Date.now()
    vi.spyOn(Date, 'now').mockImplementation(() => now)
    // Two minutes of a probe every 5 s.
    for (let round = 0; round < 24; round += 1) {
      await verify.health()
      await new Promise((resolve) => setTimeout(resolve, 10))
      now += 5_000
    }
    const keysOf = (flow: string) =>
      requested.filter((url) => url.includes(`/${flow}/discovery/v2.0/keys`)).length
    expect(keysOf('B2C_1_signin')).toBe(1)
    // The broken flow is still retried, within discovery's back-off.
    const broken = requested.filter((url) => url.includes('/B2C_1_broken/')).length
    expect(broken).toBeGreaterThan(1)
    expect(broken).toBeLessThan(24)
    expect((await verify.health()).ok).toBe(false)
  })

  it('a single-set provider still fetches missing keys from a probe, and fresh ones never', async () => {
    let fetches = 0
    const fetch: FetchFunction = (input, init) => {
      fetches += 1
      return idp.fetch(input, init)
    }
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({ fetch }),
    })
    const verify = createVerifier({ provider, logger: false })
    let now = Date.now()
    vi.spyOn(Date, 'now').mockImplementation(() => now)
    expect((await verify.health()).ok).toBe(false)
    await new Promise((resolve) => setTimeout(resolve, 10))
    for (let round = 0; round < 10; round += 1) {
      now += 5_000
      expect((await verify.health()).ok).toBe(true)
    }
    expect(fetches).toBe(1)
  })
})

describe('error text in the health report is scrubbed (ops #3)', () => {
  it('scrubs a provider’s lastError and a store’s own detail', async () => {
    const fetch: FetchFunction = async () => {
      throw new Error('tunnel failed via proxy http://svc:Pr0xyPassw0rd@proxy.internal:3128')
    }
    const provider = new JwksProvider({
      issuer: 'https://idp.example',
      jwksUri: 'https://idp.example/jwks',
      audience: 'api',
      jwksCache: new JwksCache({ fetch }),
    })
    const verify = createVerifier({
      provider,
      logger: false,
      revocation: {
        isRevoked: () => false,
        health: () => ({ ok: false, detail: 'redis://default:hunter2@cache:6379 unreachable' }),
      },
    })
    await verify.hydrate().catch(() => undefined)
    const report = await verify.health()
    expect(report.providers[0]!.lastError).toContain('proxy.internal')
    expect(report.providers[0]!.lastError).not.toContain('Pr0xyPassw0rd')
    expect(report.revocation).toEqual({
      ok: false,
      detail: 'redis://[redacted]@cache:6379 unreachable',
    })
    const res = await probe(healthHandler(verify))
    expect(res.status).toBe(503)
    expect(res.text).not.toMatch(/Pr0xyPassw0rd|hunter2/)
  })
})

describe('healthHandler options are checked at construction (ops #4)', () => {
  const auth = () => jwtAuth({ provider: jwksProvider(), logger: false })
  const refusal = (options: unknown) => {
    try {
      healthHandler(auth(), options as HealthHandlerOptions)
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      return (error as ConfigError).problems
    }
    throw new Error('constructed')
  }

  it('refuses details that is not a boolean, naming the option', () => {
    expect(refusal({ details: 'false' })).toEqual([
      'healthHandler option details must be true or false',
    ])
    expect(refusal({ details: 0 })).toEqual(['healthHandler option details must be true or false'])
  })

  it('refuses an unknown option, naming it', () => {
    expect(refusal({ detail: false })).toEqual([
      'healthHandler has no option "detail": its only option is details',
    ])
  })

  it('refuses options that are not an object', () => {
    expect(refusal(null)).toEqual(['healthHandler options must be an object ({ details })'])
    expect(refusal('details')).toEqual(['healthHandler options must be an object ({ details })'])
  })

  it('takes details true or false, or none', async () => {
    const middleware = auth()
    await middleware.verifier!.hydrate()
    const full = await probe(healthHandler(middleware))
    expect(full.body.providers[0].jwksUri).toBe(idp.jwksUri)
    expect((await probe(healthHandler(middleware, { details: true }))).body.providers).toHaveLength(
      1,
    )
    const bare = await probe(healthHandler(middleware, { details: false }))
    expect(bare.body).toEqual({ ok: true })
  })
})

describe('a store answering health() outside its contract is not ok (ops #6)', () => {
  const BAD = 'health() answered neither { ok: true } nor { ok: false }'

  for (const [label, answer] of [
    ['false', false],
    ['{ ok: undefined }', { ok: undefined, detail: 'down' }],
    ["{ ok: 'yes' }", { ok: 'yes' }],
    ['null', null],
  ] as const) {
    it(`health() answering ${label} fails the report and the probe`, async () => {
      const verify = createVerifier({
        provider: jwksProvider(),
        logger: false,
        revocation: { isRevoked: () => false, health: async () => answer as never },
      })
      await verify.hydrate()
      const report = await verify.health()
      expect(report.ok).toBe(false)
      expect(report.revocation).toEqual({ ok: false, detail: BAD })
      expect((await probe(healthHandler(verify))).status).toBe(503)
    })
  }

  it('a store answering { ok: true } keeps the report ok', async () => {
    const verify = createVerifier({
      provider: jwksProvider(),
      logger: false,
      revocation: { isRevoked: () => false, health: () => ({ ok: true }) },
    })
    await verify.hydrate()
    const report = await verify.health()
    expect(report.ok).toBe(true)
    expect(report.revocation).toStrictEqual({ ok: true })
  })
})

describe('a provider is healthy only with a key that suits its algorithms (ops #7)', () => {
  it('is not ok when no held key suits an accepted algorithm', async () => {
    const verify = createVerifier({
      provider: jwksProvider({ algorithms: ['ES256'] }),
      logger: false,
    })
    await verify.hydrate()
    const report = await verify.health()
    expect(report.ok).toBe(false)
    expect(report.providers[0]).toMatchObject({
      ok: false,
      keyCount: 1,
      lastError: 'no key of the set suits the accepted algorithms (ES256)',
    })
  })

  it('is ok with one suitable key, and with several (no kid to choose among them)', async () => {
    const issuer = await createTestIssuer({ listen: false })
    try {
      const provider = new JwksProvider({
        issuer: issuer.issuer,
        jwksUri: issuer.jwksUri,
        audience: issuer.audience,
        jwksCache: new JwksCache({ fetch: issuer.fetch }),
      })
      const verify = createVerifier({ provider, logger: false })
      await verify.hydrate()
      expect((await verify.health()).ok).toBe(true)
      issuer.rotateKeys({ keepOld: true })
      await provider.hydrate()
      const report = await verify.health()
      expect(report.providers[0]).toMatchObject({ ok: true, keyCount: 2 })
      expect(report.ok).toBe(true)
    } finally {
      await issuer.close()
    }
  })
})

describe('verifier.health() reports keyAgeSec, as docs/scaling.md says (ops #9)', () => {
  it('gives each provider holding keys the age of its set', async () => {
    const verify = createVerifier({ provider: jwksProvider(), logger: false })
    await verify.hydrate()
    const fetched = Date.now()
    vi.spyOn(Date, 'now').mockReturnValue(fetched + 312_000)
    const [entry] = (await verify.health()).providers
    expect(entry!.keyAgeSec).toBeGreaterThanOrEqual(311)
    expect(entry!.keyAgeSec).toBeLessThanOrEqual(313)
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'scaling.md'), 'utf8')
    expect(doc).toMatch(/`verifier\.health\(\)`[^.]*`keyAgeSec`/)
  })

  it('gives none to a provider without keys', async () => {
    const verify = createVerifier({ provider: jwksProvider(), logger: false })
    idp.respondWith('jwks', { status: 503 })
    try {
      await verify.hydrate().catch(() => undefined)
      expect((await verify.health()).providers[0]).not.toHaveProperty('keyAgeSec')
    } finally {
      idp.respondWith('jwks', undefined)
    }
  })
})

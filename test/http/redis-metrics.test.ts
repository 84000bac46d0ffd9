// Metrics without a dependency: the diagnostics channels seen by a subscriber (the Prometheus
// example, and a bare one) for passes, rejections, JWKS fetches, source failures and revocations.

import { randomBytes } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runPrometheusExample } from '../../examples/prometheus.js'
import { RedisRevocationStore } from '../../providers/redis/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { CHANNELS, createVerifier } from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const PREFIX = `oidc-guard-test:metrics:${process.pid}:${randomBytes(4).toString('hex')}:`

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://metrics.example' })
})

afterAll(() => idp.close())

/** The value of a Prometheus sample whose name and labels contain every part given. */
function sample(text: string, ...parts: string[]): number | undefined {
  const line = text
    .split('\n')
    .find(
      (candidate) => !candidate.startsWith('#') && parts.every((part) => candidate.includes(part)),
    )
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

it('examples/prometheus.ts exports a pass, a rejection, a JWKS fetch, a source failure and a revocation', async () => {
  const text = await runPrometheusExample()
  expect(sample(text, 'oidc_guard_verifications_total{', 'outcome="pass"', 'cached="false"')).toBe(
    2,
  )
  expect(sample(text, 'oidc_guard_verifications_total{', 'outcome="pass"', 'cached="true"')).toBe(1)
  expect(
    sample(
      text,
      'oidc_guard_verifications_total{',
      'outcome="reject"',
      'code="ERR_AUTH_SIGNATURE_INVALID"',
    ),
  ).toBe(1)
  expect(
    sample(
      text,
      'oidc_guard_verifications_total{',
      'outcome="reject"',
      'code="ERR_AUTH_TOKEN_REVOKED"',
    ),
  ).toBe(1)
  expect(sample(text, 'oidc_guard_jwks_fetches_total{', 'outcome="fetched"')).toBe(1)
  expect(sample(text, 'oidc_guard_jwks_keys{')).toBe(1)
  expect(
    sample(text, 'oidc_guard_source_lookups_total{', 'facet="permissions"', 'outcome="failed"'),
  ).toBe(1)
  expect(sample(text, 'oidc_guard_revocation_hits_total{', 'provider="jwks"')).toBe(1)
  expect(sample(text, 'oidc_guard_healthy')).toBe(1)
  expect(sample(text, 'oidc_guard_key_set_age_seconds{', 'provider="jwks"')).toBeGreaterThanOrEqual(
    0,
  )
})

it('a bare subscriber sees the Redis store’s revocation hits and its outage as unavailable', async () => {
  const events: Array<[string, Record<string, unknown>]> = []
  const listeners = Object.values(CHANNELS).map((name) => {
    const listener = (message: unknown) =>
      void events.push([name, message as Record<string, unknown>])
    subscribe(name, listener)
    return [name, listener] as const
  })
  const store = new RedisRevocationStore({ url: REDIS_URL, prefix: PREFIX })
  const unreachable = new RedisRevocationStore({ url: 'redis://127.0.0.1:1', timeoutMs: 100 })
  try {
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      fetch: idp.fetch,
    })
    const verify = createVerifier({ provider, revocation: store, logger: false })
    const token = idp.mint({ sub: 'alice' })
    await verify(token)
    await store.revokeToken(token)
    await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_AUTH_TOKEN_REVOKED' })
    const down = createVerifier({ provider, revocation: unreachable, logger: false })
    await expect(down(idp.mint({ sub: 'bob' }))).rejects.toMatchObject({ status: 503 })

    expect(events).toContainEqual([
      CHANNELS.verify,
      { outcome: 'pass', provider: 'jwks', cached: false },
    ])
    expect(events).toContainEqual([CHANNELS.revocation, { outcome: 'revoked', provider: 'jwks' }])
    expect(events).toContainEqual([
      CHANNELS.verify,
      { outcome: 'reject', code: 'ERR_AUTH_TOKEN_REVOKED', provider: 'jwks', cached: true },
    ])
    expect(events).toContainEqual([
      CHANNELS.verify,
      expect.objectContaining({ outcome: 'unavailable', code: 'ERR_AUTH_REVOCATION_UNAVAILABLE' }),
    ])
    expect(
      events.some(([name, event]) => name === CHANNELS.jwks && event['outcome'] === 'fetched'),
    ).toBe(true)
  } finally {
    for (const [name, listener] of listeners) unsubscribe(name, listener)
    await Promise.all([store.close(), unreachable.close()])
    const { Redis } = await import('ioredis')
    const admin = new Redis(REDIS_URL)
    await admin.del(`${PREFIX}revocations`)
    admin.disconnect()
  }
})

// Review fixes: a health report that matches what a token would meet, warm-ups bound like
// requests, and one key listed twice under its kid with different metadata.

import { generateKeyPairSync } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createVerifier, JwksCache } from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { InvalidTokenError } from '../../src/errors.js'
import type { JwsAlgorithm, VerificationKey } from '../../src/jwt.js'
import { importKeySet, selectKey } from '../../src/key-set.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://review.example' })
})

afterAll(() => idp.close())

afterEach(() => {
  vi.restoreAllMocks()
  idp.respondWith('jwks', undefined)
  idp.setJwks(undefined)
  idp.resetCounts()
})

/** A fake clock: `at(ms)` moves `Date.now()` to `ms` after the start. */
function fakeClock(): { at: (ms: number) => void } {
  const start = Date.now()
  let now = start
  vi.spyOn(Date, 'now').mockImplementation(() => now)
  return { at: (ms) => void (now = start + ms) }
}

/** Lets an in-memory fetch started in the background finish (no timers involved). */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 10; turn += 1) await new Promise((resolve) => setImmediate(resolve))
}

function setup(cacheOptions: ConstructorParameters<typeof JwksCache>[0] = {}) {
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    jwksCache: new JwksCache({ fetch: idp.fetch, ...cacheOptions }),
  })
  return { provider, verify: createVerifier({ provider, logger: false }) }
}

describe('health reports only keys a token could use', () => {
  it('keys past the refresh interval plus stale-if-error are none: not ok, and a warm-up starts', async () => {
    const clock = fakeClock()
    const { provider, verify } = setup({
      refreshIntervalMs: 100,
      cooldownMs: 100,
      staleIfErrorMs: 100,
    })
    await verify.hydrate()
    idp.respondWith('jwks', { status: 503, body: 'down' })
    idp.resetCounts()
    clock.at(300) // no traffic meanwhile
    const report = provider.health()
    expect(report).toMatchObject({ ok: false, keyCount: 0 })
    expect(report.lastError).toEqual(expect.any(String))
    await settle()
    expect(idp.counts.jwks).toBe(1) // the probe started fetching the keys again
    // …and the report agrees with what a token meets.
    await expect(verify(idp.mint({ sub: 'a' }))).rejects.toMatchObject({ status: 503 })
  })

  it('a quiet instance refreshes keys due for it from its probe, so they never expire unseen', async () => {
    const clock = fakeClock()
    const { provider, verify } = setup({
      refreshIntervalMs: 1_000,
      cooldownMs: 1_000,
      staleIfErrorMs: 10_000,
    })
    await verify.hydrate()
    idp.resetCounts()
    clock.at(1_500)
    expect(provider.health()).toMatchObject({ ok: true, keyCount: 1 })
    await settle()
    expect(idp.counts.jwks).toBe(1)
    clock.at(10_500) // past the first fetch's limit, within the refreshed one's
    expect(provider.health()).toMatchObject({ ok: true, keyCount: 1 })
  })
})

describe('warm-ups from health probes are bound like requests', () => {
  it('while the IdP is down, probes every 5 s fetch within the failure back-off only', async () => {
    const clock = fakeClock()
    const { provider } = setup()
    idp.respondWith('jwks', { status: 503, body: 'down' })
    for (let ms = 0; ms <= 120_000; ms += 5_000) {
      clock.at(ms)
      expect(provider.health().ok).toBe(false)
      await settle()
    }
    // Back-off 1, 2, 4, 8, 16, then 30 s: fetches at 0, 5, 10, 15, 25, 45, 75, 105 s (not 25).
    expect(idp.counts.jwks).toBe(8)
    // A provider that never had keys still becomes ready once the IdP answers.
    idp.respondWith('jwks', undefined)
    clock.at(135_000)
    provider.health()
    await settle()
    expect(provider.health()).toMatchObject({ ok: true, keyCount: 1 })
  })

  it('an IdP answering an empty set is asked again once per cooldown, as an unknown kid would', async () => {
    const clock = fakeClock()
    const { provider } = setup({ cooldownMs: 30_000 })
    idp.setJwks({ keys: [] })
    for (let ms = 0; ms <= 60_000; ms += 5_000) {
      clock.at(ms)
      expect(provider.health().ok).toBe(false)
      await settle()
    }
    expect(idp.counts.jwks).toBe(3) // at 0, 30 and 60 s
  })
})

describe('one key listed twice under its kid', () => {
  type Jwk = Record<string, unknown>
  const pair = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey
  const rsa = pair().export({ format: 'jwk' }) as Jwk
  const other = pair().export({ format: 'jwk' }) as Jwk

  function selection(jwks: Jwk[], alg: JwsAlgorithm, kid = 'a'): string {
    const { keys } = importKeySet({ keys: jwks })
    try {
      const key: VerificationKey | undefined = selectKey(keys, alg, kid)
      return key === undefined ? 'unknown' : `alg ${String(key.alg)}`
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidTokenError)
      return (error as Error).message
    }
  }

  it('with different metadata is one key for what each entry allows', () => {
    const twice = [
      { ...rsa, kid: 'a', use: 'sig' },
      { ...rsa, kid: 'a', alg: 'RS256' },
    ]
    expect(selection(twice, 'RS256')).toMatch(/^alg /)
    // PS256: only the alg-less entry allows it, as before the merge; the RS256 one is not used.
    expect(selection(twice, 'PS256')).toBe('alg undefined')
    expect(selection([{ ...rsa, kid: 'a', alg: 'RS384' }, twice[1]!], 'RS512')).toBe(
      'no suitable signing key for the token',
    )
  })

  it('never merges two different keys, nor one key bound to two issuers (JWKS-17)', () => {
    const shared = [
      { ...rsa, kid: 'a', use: 'sig' },
      { ...other, kid: 'a', use: 'sig', alg: 'RS256' },
    ]
    expect(selection(shared, 'RS256')).toBe('no unique signing key for the token')
    const issuers = [
      { ...rsa, kid: 'a', issuer: 'https://one.example' },
      { ...rsa, kid: 'a', issuer: 'https://two.example' },
    ]
    expect(selection(issuers, 'RS256')).toBe('no unique signing key for the token')
  })

  it('verifies a token end to end', async () => {
    const published = idp.jwks().keys.find((key) => key['alg'] === 'RS256')!
    const { alg: _alg, ...bare } = published
    idp.setJwks({ keys: [{ ...bare, use: 'sig' }, published] })
    const { verify } = setup()
    const user = await verify(idp.mint({ sub: 'twice' }))
    expect(user.id).toBe('twice')
  })
})

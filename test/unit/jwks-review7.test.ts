// Review round 7, key handling: a fetch that follows a redirect, the cooldown held to the refresh
// interval, a known kid published anew for another algorithm, options that are not an object.

import { generateKeyPairSync } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { JwksProvider } from '../../providers/jwks/index.js'
import { ConfigError } from '../../src/errors.js'
import { JwksCache } from '../../src/jwks-cache.js'

const servers: Server[] = []

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  )
})

describe('a key set whose URL redirects', () => {
  it('is refused even through a fetch that drops init and follows the redirect', async () => {
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const jwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'evil' }
    const evil = await listen((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ keys: [jwk] }))
    })
    const issuer = await listen((_req, res) => {
      res.statusCode = 302
      res.setHeader('location', `${evil}/keys`)
      res.end()
    })
    const token = await new SignJWT({ sub: 'mallory' })
      .setProtectedHeader({ alg: 'ES256', kid: 'evil' })
      .setIssuer(issuer)
      .setAudience('api')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(attacker.privateKey)
    // A proxy wrapper as apps write it: the url alone, redirect: 'manual' lost.
    const fetch = (url: string | URL | Request) => globalThis.fetch(url)
    const provider = new JwksProvider({
      issuer,
      jwksUri: `${issuer}/jwks`,
      audience: 'api',
      algorithms: ['ES256'],
      jwksCache: new JwksCache({ fetch }),
    })
    await expect(provider.verifyToken(token)).rejects.toMatchObject({
      code: 'ERR_AUTH_KEYS_UNAVAILABLE',
    })
  })
})

describe('the cooldown held to the refresh interval', () => {
  it('refuses a cooldown longer than the default interval, which it would stretch', () => {
    expect(() => new JwksCache({ cooldownMs: 48 * 3_600_000 })).toThrow(
      /cooldownMs \(172800000\) must be at most refreshIntervalMs \(1200000 by default/,
    )
    expect(() => new JwksCache({ cooldownMs: 20 * 60_000 })).not.toThrow()
  })

  it('refuses options that are not an object with a ConfigError', () => {
    expect(() => new JwksCache(null as never)).toThrow(ConfigError)
  })
})

describe('a known kid published anew for another algorithm', () => {
  const issuer = 'https://idp.example'

  /** A provider over a key set whose kid `main` is an RS256 key until `publish` changes it. */
  async function reusedKid() {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    let keys: unknown[] = [
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'main', alg: 'RS256' },
    ]
    const counts = { fetches: 0 }
    const fetch = async () => {
      counts.fetches += 1
      return new Response(JSON.stringify({ keys }), { status: 200 })
    }
    const provider = new JwksProvider({
      issuer,
      jwksUri: `${issuer}/jwks`,
      audience: 'api',
      algorithms: ['RS256', 'ES256'],
      jwksCache: new JwksCache({ fetch }),
    })
    await provider.hydrate()
    const ecToken = () => {
      const now = Math.floor(Date.now() / 1000)
      return new SignJWT({ sub: 'u' })
        .setProtectedHeader({ alg: 'ES256', kid: 'main' })
        .setIssuer(issuer)
        .setAudience('api')
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(ec.privateKey)
    }
    const publishEc = () => {
      keys = [{ ...ec.publicKey.export({ format: 'jwk' }), kid: 'main', alg: 'ES256' }]
    }
    return { provider, counts, ecToken, publishEc }
  }

  it('has the set fetched again (once a cooldown), as an unknown kid has', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { provider, counts, ecToken, publishEc } = await reusedKid()
    publishEc()
    vi.setSystemTime(Date.now() + 5 * 60_000) // past the cooldown, before the scheduled refresh
    await expect(provider.verifyToken(await ecToken())).resolves.toMatchObject({
      claims: { sub: 'u' },
    })
    expect(counts.fetches).toBe(2)
  })

  it('within the cooldown, is refused without a fetch', async () => {
    const { provider, counts, ecToken } = await reusedKid()
    const token = await ecToken()
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await expect(provider.verifyToken(token)).rejects.toMatchObject({
        code: 'ERR_AUTH_KEY_NOT_FOUND',
      })
    }
    expect(counts.fetches).toBe(1)
  })
})

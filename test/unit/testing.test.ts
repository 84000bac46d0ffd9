// Proves the oidc-guard/testing kit: its tokens verify with jose, its routes answer and misbehave on demand.
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { ASYMMETRIC_ALGORITHMS } from '../../src/jwt.js'
import { createTestIssuer, signJwt } from '../../src/testing.js'
import type { TestAlgorithm, TestIssuer } from '../../src/testing.js'

const ALGORITHMS: readonly TestAlgorithm[] = ASYMMETRIC_ALGORITHMS

function decodeSegment(segment: string | undefined): unknown {
  return JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8'))
}

function verify(issuer: TestIssuer, token: string, algorithms?: string[]) {
  return jwtVerify(token, createLocalJWKSet(issuer.jwks()), {
    issuer: issuer.issuer,
    audience: issuer.audience,
    ...(algorithms === undefined ? {} : { algorithms }),
  })
}

function kidOf(issuer: TestIssuer, alg: string): unknown {
  return issuer.jwks().keys.find((key) => key.alg === alg)?.kid
}

describe('mint and signJwt', () => {
  let idp: TestIssuer
  beforeAll(async () => {
    idp = await createTestIssuer({ algorithms: ALGORITHMS, listen: false })
  })
  afterAll(() => idp.close())

  it.each(ALGORITHMS)('mints a %s token that jose verifies against the JWKS', async (alg) => {
    const token = idp.mint({ scope: 'read' }, { alg })
    const { payload, protectedHeader } = await verify(idp, token, [alg])
    expect(protectedHeader).toEqual({ alg, typ: 'JWT', kid: kidOf(idp, alg) })
    expect(payload).toMatchObject({ iss: 'https://issuer.test', sub: 'user-1', scope: 'read' })
    expect(payload.aud).toBe('api://oidc-guard-test')
    expect(payload.exp).toBe((payload.iat ?? 0) + 3600)
    expect(payload.jti).toEqual(expect.any(String))
  })

  it('serves one public signing key per algorithm, with kids prefixed by the alg', () => {
    const keys = idp.jwks().keys
    expect(keys.map((key) => key.alg)).toEqual(ALGORITHMS)
    for (const key of keys) {
      expect(key).toMatchObject({ use: 'sig', kid: expect.stringMatching(/^[a-z0-9]+-[\w-]{11}$/) })
      expect(String(key.kid).startsWith(String(key.alg).toLowerCase())).toBe(true)
      expect(key).not.toHaveProperty('d')
    }
    expect(keys.find((key) => key.alg === 'ES512')).toMatchObject({ kty: 'EC', crv: 'P-521' })
    expect(keys.find((key) => key.alg === 'EdDSA')).toMatchObject({ kty: 'OKP', crv: 'Ed25519' })
    expect(keys.find((key) => key.alg === 'PS384')).toMatchObject({ kty: 'RSA', e: 'AQAB' })
  })

  it('defaults to the first algorithm and lets claims override or remove defaults', async () => {
    const token = idp.mint({ sub: 'alice', jti: undefined, aud: ['a', 'b'] })
    expect(decodeProtectedHeader(token).alg).toBe('RS256')
    const payload = decodeSegment(token.split('.')[1])
    expect(payload).toMatchObject({ sub: 'alice', aud: ['a', 'b'] })
    expect(payload).not.toHaveProperty('jti')
  })

  it('takes iat from Date.now so fake timers apply, and exp from expiresInSec', () => {
    vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') })
    try {
      const payload = decodeSegment(idp.mint({}, { expiresInSec: -60 }).split('.')[1])
      expect(payload).toMatchObject({ iat: 1893456000, exp: 1893456000 - 60 })
    } finally {
      vi.useRealTimers()
    }
  })

  it('omits the kid with kid null, and applies header overrides last', () => {
    expect(decodeProtectedHeader(idp.mint({}, { kid: null }))).toEqual({ alg: 'RS256', typ: 'JWT' })
    const header = decodeProtectedHeader(
      idp.mint({}, { kid: 'other', header: { typ: undefined, jku: 'https://evil', crit: ['x'] } }),
    )
    expect(header).toEqual({ alg: 'RS256', kid: 'other', jku: 'https://evil', crit: ['x'] })
  })

  it('keeps __proto__ as a plain claim', () => {
    const claims = JSON.parse('{"__proto__":{"admin":true}}') as Record<string, unknown>
    const payload = Buffer.from(idp.mint(claims).split('.')[1] ?? '', 'base64url').toString()
    expect(payload).toContain('"__proto__":{"admin":true}')
  })

  it('signs rawPayload verbatim', async () => {
    const raw = '{"sub":"a","sub":"b","exp":1e400}'
    const token = idp.mint({}, { rawPayload: raw, alg: 'ES256' })
    expect(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).toBe(raw)
    const { payload } = await compactVerify(token, createLocalJWKSet(idp.jwks()))
    expect(new TextDecoder().decode(payload)).toBe(raw)
  })

  describe('tamper', () => {
    it('signature: flips a bit of the decoded signature and jose rejects it', async () => {
      const token = idp.mint({}, { alg: 'ES256', tamper: 'signature' })
      await expect(verify(idp, token)).rejects.toMatchObject({
        code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      })
    })

    it.each(['RS256', 'EdDSA'])(
      'signature: changes exactly one decoded byte of a %s signature, encoded canonically',
      (alg) => {
        // Both algorithms are deterministic, so the same input gives the same signature.
        const claims = { jti: 'fixed', iat: 1, exp: 2 }
        const [h, p, good] = idp.mint(claims, { alg }).split('.')
        const [h2, p2, bad] = idp.mint(claims, { alg, tamper: 'signature' }).split('.')
        expect([h2, p2]).toEqual([h, p])
        const before = Buffer.from(good ?? '', 'base64url')
        const after = Buffer.from(bad ?? '', 'base64url')
        expect(after.length).toBe(before.length)
        expect([...before].filter((byte, i) => byte !== after[i])).toHaveLength(1)
        expect(after.toString('base64url')).toBe(bad)
      },
    )

    it('payload: swaps in sub attacker under the old signature', async () => {
      const token = idp.mint({}, { tamper: 'payload' })
      expect(decodeSegment(token.split('.')[1])).toMatchObject({ sub: 'attacker' })
      await expect(verify(idp, token)).rejects.toMatchObject({
        code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      })
    })

    it('strip-signature and drop-signature-segment leave no signature', async () => {
      const stripped = idp.mint({}, { tamper: 'strip-signature' })
      const dropped = idp.mint({}, { tamper: 'drop-signature-segment' })
      expect(stripped).toMatch(/^[\w-]+\.[\w-]+\.$/)
      expect(dropped).toMatch(/^[\w-]+\.[\w-]+$/)
      await expect(verify(idp, stripped)).rejects.toThrow()
      await expect(verify(idp, dropped)).rejects.toThrow()
    })
  })

  it('signs with an attacker key under the issuer kid, which jose rejects', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    const token = idp.mint({}, { alg: 'ES256', key: privateKey })
    expect(decodeProtectedHeader(token).kid).toBe(kidOf(idp, 'ES256'))
    await expect(verify(idp, token)).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    })
  })

  it('forges HS256 with a secret (key confusion): a valid HMAC, refused by the JWKS', async () => {
    const secret = 'the-public-key-pem'
    const token = idp.mint({}, { hmacSecret: secret })
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256', kid: kidOf(idp, 'RS256') })
    await expect(
      jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ['HS256'] }),
    ).resolves.toBeDefined()
    await expect(verify(idp, token)).rejects.toThrow()
  })

  it('keeps a header alg that does not suit the key, signing with the key’s own alg', async () => {
    const lie = idp.mint({}, { alg: 'foo' })
    expect(decodeProtectedHeader(lie)).toMatchObject({ alg: 'foo', kid: kidOf(idp, 'RS256') })
    await expect(verify(idp, lie)).rejects.toThrow()
    const none = idp.mint({}, { alg: 'none' })
    expect(none.endsWith('.')).toBe(true)
    await expect(verify(idp, none)).rejects.toThrow()
  })

  it('signJwt signs HS, RS and none, and refuses a key that does not suit the alg', async () => {
    const hs = signJwt({ alg: 'HS384' }, { sub: 'x' }, { hmacSecret: Buffer.from('k') })
    await expect(jwtVerify(hs, Buffer.from('k'))).resolves.toMatchObject({ payload: { sub: 'x' } })
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    const ed = signJwt({ alg: 'EdDSA' }, 'hello', privateKey)
    await expect(compactVerify(ed, publicKey)).resolves.toBeDefined()
    expect(signJwt({ alg: 'none' }, 'x', privateKey).split('.')[2]).toBe('')
    expect(() => signJwt({ alg: 'RS256' }, 'x', privateKey)).toThrow(TypeError)
    expect(() => signJwt({ alg: 'ES384' }, 'x', { hmacSecret: 'k' })).toThrow(TypeError)
    expect(() => signJwt({}, 'x', privateKey)).toThrow(TypeError)
  })
})

describe('routes over HTTP and in memory', () => {
  let idp: TestIssuer
  beforeAll(async () => {
    idp = await createTestIssuer({ algorithms: ['ES256', 'EdDSA'] })
  })
  afterEach(() => {
    idp.respondWith('jwks', undefined)
    idp.respondWith('discovery', undefined)
    idp.setDiscovery(undefined)
    idp.setJwks(undefined)
    idp.resetCounts()
  })
  afterAll(() => idp.close())

  const clients: [string, () => typeof fetch][] = [
    ['HTTP', () => globalThis.fetch],
    ['in-memory', () => idp.fetch],
  ]

  it('listens on 127.0.0.1 and uses its URL as the issuer', () => {
    expect(idp.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(idp.issuer).toBe(idp.url)
    expect(idp.jwksUri).toBe(`${idp.url}/.well-known/jwks.json`)
    expect(idp.discoveryUri).toBe(`${idp.url}/.well-known/openid-configuration`)
  })

  describe.each(clients)('%s', (_name, client) => {
    it('serves the discovery document', async () => {
      const response = await client()(idp.discoveryUri)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('application/json')
      expect(await response.json()).toEqual({
        issuer: idp.issuer,
        jwks_uri: idp.jwksUri,
        id_token_signing_alg_values_supported: ['ES256', 'EdDSA'],
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
      })
    })

    it('serves the JWKS, and a token verifies against what it served', async () => {
      const response = await client()(idp.jwksUri)
      const served = (await response.json()) as ReturnType<TestIssuer['jwks']>
      expect(served).toEqual(idp.jwks())
      const token = idp.mint({}, { alg: 'EdDSA' })
      await expect(jwtVerify(token, createLocalJWKSet(served))).resolves.toBeDefined()
    })

    it('answers 404 elsewhere, and counts only the two routes', async () => {
      expect((await client()(`${idp.url}/nope`)).status).toBe(404)
      await client()(`${idp.jwksUri}?x=1`)
      await client()(idp.discoveryUri)
      await client()(idp.discoveryUri)
      expect(idp.counts).toEqual({ jwks: 1, discovery: 2 })
      idp.resetCounts()
      expect(idp.counts).toEqual({ jwks: 0, discovery: 0 })
    })

    it('misbehaves with respondWith: status, body, headers, then restores', async () => {
      idp.respondWith('jwks', {
        status: 503,
        body: 'down',
        headers: { 'Content-Type': 'text/plain' },
      })
      const down = await client()(idp.jwksUri)
      expect(down.status).toBe(503)
      expect(down.headers.get('content-type')).toBe('text/plain')
      expect(await down.text()).toBe('down')
      idp.respondWith('discovery', { body: { issuer: 42 } })
      expect(await (await client()(idp.discoveryUri)).json()).toEqual({ issuer: 42 })
      idp.respondWith('jwks', undefined)
      expect((await client()(idp.jwksUri)).status).toBe(200)
      expect(idp.counts).toEqual({ jwks: 2, discovery: 1 })
    })

    it('delays an answer by delayMs', async () => {
      idp.respondWith('jwks', { delayMs: 80 })
      const started = performance.now()
      expect((await client()(idp.jwksUri)).status).toBe(200)
      expect(performance.now() - started).toBeGreaterThanOrEqual(70)
    })

    it('hangs until the client aborts', async () => {
      idp.respondWith('discovery', { hang: true })
      const request = client()(idp.discoveryUri, { signal: AbortSignal.timeout(50) })
      await expect(request).rejects.toMatchObject({ name: 'TimeoutError' })
      expect(idp.counts.discovery).toBe(1)
    })

    it('serves setJwks values verbatim until reset', async () => {
      idp.setJwks({ keys: [{ kty: 'oct', k: 'AA', use: 'enc' }, 'junk'] })
      expect(await (await client()(idp.jwksUri)).json()).toEqual({
        keys: [{ kty: 'oct', k: 'AA', use: 'enc' }, 'junk'],
      })
      expect(idp.jwks().keys).toHaveLength(2)
      idp.setJwks(undefined)
      expect(await (await client()(idp.jwksUri)).json()).toEqual(idp.jwks())
    })

    it('applies setDiscovery overrides, where undefined removes a member', async () => {
      idp.setDiscovery({ issuer: 'https://other', jwks_uri: undefined, extra: [1] })
      const document = (await (await client()(idp.discoveryUri)).json()) as Record<string, unknown>
      expect(document).toMatchObject({ issuer: 'https://other', extra: [1] })
      expect(document).not.toHaveProperty('jwks_uri')
    })
  })

  it('rejects foreign URLs in memory like a refused connection', async () => {
    await expect(idp.fetch('http://127.0.0.1:1/.well-known/jwks.json')).rejects.toMatchObject({
      name: 'TypeError',
      message: 'fetch failed',
      cause: { code: 'ECONNREFUSED' },
    })
  })

  it('rejects an already aborted in-memory request with the signal reason', async () => {
    const reason = new Error('stop')
    await expect(idp.fetch(idp.jwksUri, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(idp.counts.jwks).toBe(0)
  })

  it('accepts a Request and reports the URL on the response', async () => {
    const response = await idp.fetch(new Request(idp.jwksUri))
    expect(response.url).toBe(idp.jwksUri)
  })

  it('refuses a status the Response constructor cannot build', () => {
    expect(() => idp.respondWith('jwks', { status: 101 })).toThrow(RangeError)
  })
})

describe('rotateKeys', () => {
  it('replaces every kid, and keeps the old public keys only with keepOld', async () => {
    const idp = await createTestIssuer({ algorithms: ['ES256', 'EdDSA'], listen: false })
    const oldToken = idp.mint()
    const oldKids = idp.jwks().keys.map((key) => key.kid)
    idp.rotateKeys({ keepOld: true })
    const newKids = idp
      .jwks()
      .keys.slice(0, 2)
      .map((key) => key.kid)
    expect(newKids).not.toEqual(oldKids)
    expect(idp.jwks().keys.map((key) => key.kid)).toEqual([...newKids, ...oldKids])
    await expect(verify(idp, oldToken)).resolves.toBeDefined()
    await expect(verify(idp, idp.mint())).resolves.toBeDefined()
    idp.rotateKeys()
    expect(idp.jwks().keys).toHaveLength(2)
    await expect(verify(idp, oldToken)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' })
    await idp.close()
  })

  it('drops a setJwks override', async () => {
    const idp = await createTestIssuer({ algorithms: ['EdDSA'], listen: false })
    idp.setJwks({ keys: [] })
    idp.rotateKeys()
    const served = await (await idp.fetch(idp.jwksUri)).json()
    expect(served).toEqual(idp.jwks())
    await idp.close()
  })
})

describe('listen: false', () => {
  it('serves https://issuer.test in memory without touching the network', async () => {
    const spy = vi.spyOn(globalThis, 'fetch')
    try {
      const idp = await createTestIssuer({ algorithms: ['EdDSA'], listen: false })
      expect(idp.url).toBe('https://issuer.test')
      expect(idp.issuer).toBe('https://issuer.test')
      const document = (await (await idp.fetch(idp.discoveryUri)).json()) as Record<string, unknown>
      expect(document.jwks_uri).toBe('https://issuer.test/.well-known/jwks.json')
      await expect(idp.fetch('http://127.0.0.1:9/.well-known/jwks.json')).rejects.toThrow(
        'fetch failed',
      )
      expect(spy).not.toHaveBeenCalled()
      await idp.close()
    } finally {
      spy.mockRestore()
    }
  })

  it('also serves the routes under a custom issuer URL', async () => {
    const issuer = 'https://login.example.com/tenant/v2.0'
    const idp = await createTestIssuer({ algorithms: ['EdDSA'], listen: false, issuer })
    const response = await idp.fetch(`${issuer}/.well-known/openid-configuration`)
    expect(await response.json()).toMatchObject({ issuer, jwks_uri: idp.jwksUri })
    expect((await idp.fetch('https://login.example.com/other/.well-known/jwks.json')).status).toBe(
      404,
    )
    await expect(verify(idp, idp.mint())).resolves.toMatchObject({ payload: { iss: issuer } })
    await idp.close()
  })
})

describe('close', () => {
  it('destroys hanging connections, fails pending requests, and is safe twice', async () => {
    const idp = await createTestIssuer({ algorithms: ['EdDSA'] })
    idp.respondWith('jwks', { hang: true })
    idp.respondWith('discovery', { delayMs: 60_000 })
    // Settled before close() so the rejections it causes are never unhandled.
    const pending = Promise.allSettled([
      fetch(idp.jwksUri),
      idp.fetch(idp.jwksUri),
      idp.fetch(idp.discoveryUri),
    ])
    await vi.waitFor(() => expect(idp.counts).toEqual({ jwks: 2, discovery: 1 }))
    await Promise.all([idp.close(), idp.close()])
    for (const outcome of await pending) {
      expect(outcome).toMatchObject({ status: 'rejected', reason: { message: 'fetch failed' } })
    }
    await expect(fetch(idp.jwksUri)).rejects.toThrow('fetch failed')
    await expect(idp.fetch(idp.jwksUri)).rejects.toThrow('fetch failed')
  })
})

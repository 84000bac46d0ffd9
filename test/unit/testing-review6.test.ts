// Review 6 of oidc-guard/testing: the Entra stand-in's fetch honours a Request's own signal,
// createTestIssuer checks its options (a TypeError naming the bad one), refuses to start under
// NODE_ENV=production unless allowed, refuses a delay no timer can hold, and `tamper: 'payload'`
// always changes the payload. (The presets and the options each needs: docs/testing.md's
// token-shapes.test.ts, run by docs-code.test.ts.)

import { afterEach, describe, expect, it, vi } from 'vitest'
import { ConfigError, createVerifier } from '../../src/index.js'
import { createTestIssuer, entra } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'

/** `promise`, or a rejection saying it still hangs after `ms` (instead of the test's time-out). */
function within<T>(promise: Promise<T>, ms = 2_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms)
  })
  return Promise.race([promise, hung]).finally(() => clearTimeout(timer))
}

describe("the Entra stand-in's fetch with a Request", () => {
  it("aborts on the Request's own signal at Entra's keys URL", async () => {
    const tenant = await createTestIssuer({ kind: 'entra-id' })
    try {
      tenant.idp.respondWith('jwks', { hang: true })
      const keysUrl = `https://login.microsoftonline.com/${tenant.tid}/discovery/v2.0/keys`
      const request = new Request(keysUrl, { signal: AbortSignal.timeout(50) })
      await expect(within(tenant.fetch(request))).rejects.toMatchObject({ name: 'TimeoutError' })
    } finally {
      await tenant.close()
    }
  })

  it("aborts on the Request's own signal at the issuer's own URLs, passed on as given", async () => {
    const tenant = await createTestIssuer({ kind: 'entra-id' })
    try {
      tenant.idp.respondWith('discovery', { hang: true })
      const request = new Request(tenant.idp.discoveryUri, { signal: AbortSignal.timeout(50) })
      await expect(within(tenant.fetch(request))).rejects.toMatchObject({ name: 'TimeoutError' })
    } finally {
      await tenant.close()
    }
  })

  it("lets an init's signal win over the Request's, as fetch does", async () => {
    const tenant = await createTestIssuer({ kind: 'entra-id' })
    try {
      const reason = new Error('init says stop')
      const request = new Request(tenant.idp.jwksUri)
      await expect(tenant.fetch(request, { signal: AbortSignal.abort(reason) })).rejects.toBe(
        reason,
      )
      expect((await tenant.fetch(new Request(tenant.idp.jwksUri))).status).toBe(200)
    } finally {
      await tenant.close()
    }
  })
})

describe('createTestIssuer checks its options', () => {
  const bad: Array<[string, unknown, RegExp]> = [
    [
      'an unknown kind',
      { kind: 'entra' },
      /kind must be 'oidc' \(the default\), 'cognito' or 'entra-id', got "entra"/,
    ],
    ['a null kind', { kind: null }, /kind must be/],
    ['options that are no object', null, /options must be an object, got null/],
    [
      'a pool id without its region',
      { kind: 'cognito', userPoolId: 'TestPool1' },
      /userPoolId must be <region>_<id>.*got "TestPool1"/,
    ],
    ['an empty pool id', { kind: 'cognito', userPoolId: '' }, /userPoolId must be/],
    ['a malformed app client id', { kind: 'cognito', clientId: 'my client' }, /clientId must be/],
    [
      'a tenant id that is no GUID',
      { kind: 'entra-id', tenantId: 'not a guid' },
      /tenantId must be .*GUID.*got "not a guid"/,
    ],
    [
      'an upper-case tenant id',
      { kind: 'entra-id', tenantId: entra.TENANT.toUpperCase() },
      /tenantId must be/,
    ],
    [
      'a B2C tenant name with a dot',
      { kind: 'entra-id', b2cTenantName: 'a.b' },
      /b2cTenantName must be/,
    ],
    [
      'algorithms as a string',
      { algorithms: 'RS256' },
      /algorithms must be an array .*got "RS256"/,
    ],
    ['a port without a server', { listen: false, port: 4000 }, /port is given with listen: false/],
    ['a port out of range', { port: 70_000 }, /port must be an integer from 0 to 65535/],
    ['a port that is no integer', { port: 1.5 }, /port must be an integer/],
    ['listen as a string', { listen: 'yes' }, /listen must be true or false/],
    ['an empty issuer', { issuer: '' }, /issuer must be a non-empty string/],
    [
      'an option of another kind',
      { kind: 'cognito', port: 4000 },
      /port is not an option of kind "cognito"/,
    ],
    ['an unknown option', { audiences: ['a'] }, /audiences is not an option of kind "oidc"/],
    [
      'a non-boolean allowance',
      { listen: false, allowInProduction: 'yes' },
      /allowInProduction must be true or false/,
    ],
  ]

  it.each(bad)('rejects %s with a TypeError naming it', async (_, options, message) => {
    const started = createTestIssuer(options as never)
    await expect(started).rejects.toThrow(TypeError)
    await expect(started).rejects.toThrow(message)
  })

  it('still takes every documented option', async () => {
    const issuers = await Promise.all([
      createTestIssuer({ listen: true, port: 0, issuer: 'https://a.example', audience: 'x' }),
      createTestIssuer({ listen: false, algorithms: ['ES256'], kind: 'oidc' }),
      createTestIssuer({ kind: 'cognito', userPoolId: 'us-gov-west-1_Ab1', clientId: 'c+1_x' }),
      createTestIssuer({
        kind: 'entra-id',
        tenantId: entra.OTHER_TENANT,
        b2cTenantName: 'contoso',
      }),
    ])
    await Promise.all(issuers.map((issuer) => issuer.close()))
  })
})

describe('createTestIssuer under NODE_ENV=production', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it.each([
    ['oidc', { listen: false }],
    ['cognito', { kind: 'cognito' }],
    ['entra-id', { kind: 'entra-id' }],
  ] as const)('refuses to start a %s issuer, naming allowInProduction', async (_, options) => {
    vi.stubEnv('NODE_ENV', 'production')
    const started = createTestIssuer(options as Parameters<typeof createTestIssuer>[0])
    await expect(started).rejects.toThrow(ConfigError)
    await expect(started).rejects.toThrow(/NODE_ENV=production.*allowInProduction: true/)
  })

  it('reads NODE_ENV as loosely as the rest of oidc-guard (prod, Production)', async () => {
    for (const value of ['prod', ' Production ']) {
      vi.stubEnv('NODE_ENV', value)
      await expect(createTestIssuer({ listen: false })).rejects.toThrow(/allowInProduction/)
    }
  })

  it('starts with allowInProduction: true, and outside production without it', async () => {
    vi.stubEnv('NODE_ENV', 'production')
    const allowed = await Promise.all([
      createTestIssuer({ listen: false, allowInProduction: true }),
      createTestIssuer({ kind: 'cognito', allowInProduction: true }),
      createTestIssuer({ kind: 'entra-id', allowInProduction: true }),
      entra.createEntraIssuer({ allowInProduction: true }),
    ])
    await Promise.all(allowed.map((issuer) => issuer.close()))
    vi.stubEnv('NODE_ENV', 'test')
    await (await createTestIssuer({ listen: false })).close()
  })
})

describe('respondWith delayMs', () => {
  it('refuses a delay no timer can hold (it would fire after 1 ms), or none at all', async () => {
    const idp = await createTestIssuer({ listen: false })
    try {
      for (const delayMs of [2 ** 31, 1e12, -1, Number.NaN, '5']) {
        expect(() => idp.respondWith('jwks', { delayMs: delayMs as number })).toThrow(
          /delayMs must be a number of milliseconds from 0 to 2147483647/,
        )
      }
      idp.respondWith('jwks', { delayMs: 2 ** 31 - 1 })
      idp.respondWith('jwks', { delayMs: 0 })
      expect((await idp.fetch(idp.jwksUri)).status).toBe(200)
    } finally {
      await idp.close()
    }
  })
})

describe("mint's tamper: 'payload'", () => {
  it("changes the payload even when sub is already 'attacker', so the token is refused", async () => {
    const idp = await createTestIssuer({ listen: false })
    try {
      const verify = createVerifier({
        provider: new JwksProvider(idp.providerOptions),
        logger: false,
      })
      expect((await verify(idp.mint({ sub: 'attacker' }))).id).toBe('attacker')
      const token = idp.mint({ sub: 'attacker' }, { tamper: 'payload' })
      const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))
      expect(payload.sub).toBe('attacker-2')
      await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_AUTH_SIGNATURE_INVALID' })
      const usual = idp.mint({ sub: 'alice' }, { tamper: 'payload' })
      expect(JSON.parse(Buffer.from(usual.split('.')[1]!, 'base64url').toString()).sub).toBe(
        'attacker',
      )
    } finally {
      await idp.close()
    }
  })
})

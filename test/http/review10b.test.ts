// Fixes from the review of review 10's own changes: a revocation store that bounds its own answers
// (Redis: timeoutMs, then onRevocationStoreDown) is waited for on its terms, not cut short by
// sourceTimeoutMs; apiKeyAuth({ scheme: 'Bearer' }) leaves any bearer token longer than a key to
// jwtAuth; `{ ...fromEnv(), logLevel }` overrides the level; a bad `env` with logLevel is a
// ConfigError; the CLI escapes U+061C.

import { createServer, type Server, type Socket } from 'node:net'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { terminalSafe } from '../../bin/token-input.js'
import { apiKeyAuth, generateApiKey } from '../../src/api-key-auth.js'
import { ConfigError } from '../../src/errors.js'
import { requireUser } from '../../src/guards.js'
import { createVerifier, jwtAuth } from '../../src/index.js'
import { RedisRevocationStore } from '../../providers/redis/index.js'
import { fromEnv } from '../../providers/from-env.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import type { TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://review10b.example'))
})

afterAll(() => idp.close())

/** A "Redis" that accepts connections and never answers: the store's copy never loads. */
async function silentRedis(): Promise<{ url: string; close(): void }> {
  const sockets: Socket[] = []
  const server: Server = createServer((socket) => void sockets.push(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `redis://127.0.0.1:${port}`,
    close() {
      for (const socket of sockets) socket.destroy()
      server.close()
    },
  }
}

describe('a revocation store that bounds its own answers', () => {
  it.each([
    ['fail-open', 200],
    ['fail-closed', 503],
  ] as const)(
    'Redis %s decides after its timeoutMs, whatever sourceTimeoutMs says',
    async (onRevocationStoreDown, status) => {
      const redis = await silentRedis()
      const revocation = new RedisRevocationStore({
        url: redis.url,
        timeoutMs: 600,
        onRevocationStoreDown,
      })
      try {
        expect(revocation.answersWithinMs).toBe(600)
        const app = EXPRESS_MAJORS[0]![1]()
        app.use(jwtAuth({ provider, revocation, sourceTimeoutMs: 100, logger: false }))
        app.get('/me', requireUser(), whoAmI())
        const res = await request(app).get('/me').set('Authorization', `Bearer ${idp.mint()}`)
        // Before the fix the verifier's 100 ms cut the store's wait short: 503 in both modes.
        expect(res.status).toBe(status)
      } finally {
        await revocation.close()
        redis.close()
      }
    },
  )

  it('a custom store without a bound of its own is still cut at sourceTimeoutMs', async () => {
    const app = EXPRESS_MAJORS[0]![1]()
    const revocation = { isRevoked: () => new Promise<boolean>(() => undefined) }
    app.use(jwtAuth({ provider, revocation, sourceTimeoutMs: 100, logger: false }))
    app.get('/me', requireUser(), whoAmI())
    const res = await request(app).get('/me').set('Authorization', `Bearer ${idp.mint()}`)
    expect(res.status).toBe(503)
  })

  it('the verifier passes its own sourceTimeoutMs to the wait, on a new and a remembered token', async () => {
    let calls = 0
    const revocation = {
      // The first answer lets the token be remembered; every later one never comes.
      isRevoked: () => (calls++ === 0 ? false : new Promise<boolean>(() => undefined)),
    }
    const verify = createVerifier({ provider, revocation, sourceTimeoutMs: 120, logger: false })
    const token = idp.mint()
    await verify(token)
    const causes: unknown[] = []
    for (const attempt of [() => verify(token), () => verify(idp.mint({ sub: 'other' }))]) {
      const error = await attempt().then(
        () => expect.unreachable('a store that never answers let the token through'),
        (failure: unknown) => failure as { code?: string; cause?: { message?: string } },
      )
      expect(error.code).toBe('ERR_AUTH_REVOCATION_UNAVAILABLE')
      causes.push(error.cause?.message)
    }
    // The cause names the limit: 120 ms, the verifier's, not the 5 s default.
    expect(causes).toEqual([
      expect.stringMatching(/within 120 ms/),
      expect.stringMatching(/within 120 ms/),
    ])
  })

  it('a custom store with answersWithinMs is waited for that long', async () => {
    const app = EXPRESS_MAJORS[0]![1]()
    const revocation = {
      answersWithinMs: 400,
      isRevoked: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 200)),
    }
    app.use(jwtAuth({ provider, revocation, sourceTimeoutMs: 50, logger: false }))
    app.get('/me', requireUser(), whoAmI())
    const res = await request(app).get('/me').set('Authorization', `Bearer ${idp.mint()}`)
    expect(res.status).toBe(200)
  })
})

describe.each(EXPRESS_MAJORS)(
  "apiKeyAuth({ scheme: 'Bearer' }) after jwtAuth on %s",
  (_name, createApp) => {
    const { key, hash } = generateApiKey()
    function app() {
      const created = createApp()
      created.use(jwtAuth({ provider, invalidToken: 'anonymous', logger: false }))
      created.use(apiKeyAuth({ scheme: 'Bearer', keys: [{ id: 'svc', hash }], logger: false }))
      created.get('/public', whoAmI())
      created.get('/private', requireUser(), whoAmI())
      return created
    }

    it.each([
      [
        'a JWE (a refresh token sent by mistake)',
        `${'a'.repeat(400)}.${'b'.repeat(300)}.${'c'.repeat(22)}.${'d'.repeat(900)}.${'e'.repeat(22)}`,
      ],
      ['an opaque token longer than any key', 'x'.repeat(1_600)],
    ])(
      'leaves %s to jwtAuth: anonymous, and its invalid_token on a guarded route',
      async (_kind, token) => {
        const open = await request(app()).get('/public').set('Authorization', `Bearer ${token}`)
        expect(open.status).toBe(200)
        expect(open.body).toMatchObject({ isAuthenticated: false })
        const guarded = await request(app()).get('/private').set('Authorization', `Bearer ${token}`)
        expect(guarded.status).toBe(401)
        expect(guarded.headers['www-authenticate']).toMatch(/error="invalid_token"/)
      },
    )

    it('still signs in with the key', async () => {
      const res = await request(app()).get('/private').set('Authorization', `Bearer ${key}`)
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ id: 'svc' })
    })
  },
)

describe('log levels and the env option', () => {
  const env = {
    AUTH_PROVIDER: 'jwks',
    AUTH_PROVIDER_ISSUER: 'https://review10b.example',
    AUTH_PROVIDER_JWKS_URI: 'https://review10b.example/.well-known/jwks.json',
    AUTH_PROVIDER_AUDIENCE: 'api',
  }

  it('{ ...fromEnv(), logLevel } overrides the level, as explicit options do', () => {
    const auth = jwtAuth({ ...fromEnv(env), logLevel: 'debug' })
    expect(auth.verifier?.logger.level).toBe('debug')
    const fromVariable = jwtAuth(fromEnv({ ...env, AUTH_MIDDLEWARE_LOG_LEVEL: 'warn' }))
    expect(fromVariable.verifier?.logger.level).toBe('warn')
  })

  it.each([null, { AUTH_MIDDLEWARE_LOG_LEVEL: 5 }])(
    'an env of %j with logLevel is a ConfigError, not a TypeError',
    (bad) => {
      expect(() => createVerifier({ provider, env: bad as never, logLevel: 'info' })).toThrow(
        ConfigError,
      )
    },
  )
})

describe('the CLI’s text output', () => {
  it('escapes the Arabic letter mark (U+061C), a bidi control', () => {
    expect(terminalSafe('admin\u061cnimda')).toBe('admin\\u061cnimda')
  })
})

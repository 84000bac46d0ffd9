// Review fixes (round 10), over HTTP: a repository record that cannot be used is a 503 whose log
// names the field (never a value), and one whose fields throw when read is a 503 too, not a 500;
// a revoked, expired or disabled key is refused as an unknown key is; apiKeyAuth({ scheme:
// 'Bearer' }) works after jwtAuth({ invalidToken: 'anonymous' }), as docs/basic-auth.md shows,
// and never lets through a token neither middleware accepted.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ErrorRequestHandler, Express, RequestHandler } from 'express'
import { pino } from 'pino'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  apiKeyAuth,
  generateApiKey,
  type ApiKeyAuthOptions,
  type ApiKeyRecord,
} from '../../src/api-key-auth.js'
import { basicAuth } from '../../src/basic-auth.js'
import { getCurrentUser, requireUser } from '../../src/guards.js'
import type { Logger } from '../../src/logger.js'
import { jwtAuth } from '../../src/middleware.js'
import { hashPassword } from '../../src/passwords.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

const { key, hash } = generateApiKey({ prefix: 'og_' })
const INVALID_KEY = { error: 'invalid_credentials', error_description: 'invalid API key' }
const UNAVAILABLE = {
  error: 'temporarily_unavailable',
  error_description: 'credentials cannot be checked right now',
}

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://api-key-review10.example'))
})

afterAll(() => idp.close())

afterEach(() => {
  vi.useRealTimers()
})

interface LogLine {
  level: number
  msg: string
  problem?: string
  err?: { message: string }
}

function memoryLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const logger: Logger = pino(
    { level: 'trace' },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  )
  return { logger, lines }
}

/** Answers who the user is, and whether a jwtAuth refusal is still on the request. */
const whoAmI: RequestHandler = (req, res) => {
  const user = getCurrentUser(req)
  res.json({
    id: user.id,
    provider: user.provider,
    isAuthenticated: user.isAuthenticated,
    authError: req.authError?.code ?? null,
  })
}

function appOf(createApp: () => Express, ...middleware: RequestHandler[]): Express {
  const app = createApp()
  app.use(...middleware)
  app.get('/public', whoAmI)
  app.get('/private', requireUser(), whoAmI)
  return app
}

/** An ORM row whose relation loads lazily, and fails. */
function withThrowingGetter<T extends object>(row: T): T {
  return Object.defineProperty(row, 'groups', {
    enumerable: true,
    get: () => {
      throw new Error('lazy relation: connection lost')
    },
  })
}

describe.each(EXPRESS_MAJORS)(
  'a repository record that cannot be used (%s)',
  (_name, createApp) => {
    function withRecord(record: unknown, logger: Logger | false = false): Express {
      return appOf(
        createApp,
        apiKeyAuth({ logger, repository: { getApiKey: () => record as never } }),
      )
    }

    it.each([
      ['an integer primary key for id', { id: 42, hash }, /needs an id .*got a number.*id::text/],
      [
        'a bytea hash',
        { id: 'a', hash: Buffer.from(hash, 'hex') },
        /needs a hash: .*got bytes .*encode\(hash, 'hex'\)/,
      ],
      [
        'a hash of another length',
        { id: 'a', hash: `${hash} ` },
        /needs a hash: .*got 65 characters/,
      ],
      ['an expiry that is no date', { id: 'a', hash, expires_at: 'soon' }, /expires_at must be/],
      ['a revoked flag of text', { id: 'a', hash, revoked: 'no' }, /revoked must be true or false/],
    ])('%s: 503, logged at error with the field, never a value', async (_case, record, problem) => {
      const { logger, lines } = memoryLogger()
      const res = await request(withRecord(record, logger)).get('/public').set('x-api-key', key)
      expect(res.status).toBe(503)
      expect(res.body).toEqual(UNAVAILABLE)
      const logged = lines.filter((line) => line.level === 50)
      expect(logged).toHaveLength(1)
      expect(logged[0]!.msg).toMatch(/^API key repository returned a malformed record: /)
      expect(logged[0]!.msg).toMatch(problem)
      expect(logged[0]!.problem).toMatch(problem)
      expect(JSON.stringify(lines)).not.toContain(hash)
      expect(JSON.stringify(lines)).not.toContain(key)
    })

    it('a record whose fields throw when read: 503 logged with the error, never a 500', async () => {
      const { logger, lines } = memoryLogger()
      const app = withRecord(withThrowingGetter({ id: 'a', hash }), logger)
      const errorHandler: ErrorRequestHandler = (_error, _req, res, _next) => {
        res.status(500).json({ reached: 'error handler' })
      }
      app.use(errorHandler)
      const res = await request(app).get('/public').set('x-api-key', key)
      expect(res.status).toBe(503)
      expect(res.body).toEqual(UNAVAILABLE)
      const logged = lines.find((line) => line.msg.includes('cannot be read'))
      expect(logged?.err?.message).toBe('lazy relation: connection lost')
    })

    it('a hash in upper case is read: the bytes are what is compared', async () => {
      const res = await request(withRecord({ id: 'svc', hash: hash.toUpperCase() }))
        .get('/private')
        .set('x-api-key', key)
      expect(res.status).toBe(200)
      expect(res.body.id).toBe('svc')
    })

    it('basicAuth: an integer id and a throwing getter are 503s whose logs say why', async () => {
      const passwordHash = await hashPassword('pw', { iterations: 1_000 })
      for (const [row, expected] of [
        [
          { username: 'alice', id: 7, passwordHash },
          /malformed record: id must be a string, got a number/,
        ],
        [withThrowingGetter({ username: 'alice', passwordHash }), /record that cannot be read/],
      ] as const) {
        const { logger, lines } = memoryLogger()
        const app = appOf(
          createApp,
          basicAuth({ logger, credentialsRepository: { getCredentials: () => row as never } }),
        )
        const res = await request(app).get('/public').auth('alice', 'pw')
        expect(res.status).toBe(503)
        expect(lines.map((line) => line.msg).join('\n')).toMatch(expected)
        expect(JSON.stringify(lines)).not.toContain(passwordHash)
      }
    })
  },
)

describe.each(EXPRESS_MAJORS)('revoked, expired and disabled keys (%s)', (_name, createApp) => {
  const past = new Date(Date.now() - 86_400_000)

  it.each([
    ['revoked: true', { revoked: true }],
    ['a revokedAt', { revokedAt: past }],
    ['a revoked_at', { revoked_at: past.toISOString() }],
    ['an expiresAt in the past (a Date)', { expiresAt: past }],
    ['an expires_at in the past (seconds)', { expires_at: Math.floor(past.getTime() / 1_000) }],
    ['an expires_at in the past (a PostgreSQL text)', { expires_at: '2024-01-01 00:00:00+00' }],
    ['disabled: 1 (MariaDB)', { disabled: 1 }],
    ['active: false', { active: false }],
    ['active: 0 (SQLite)', { active: 0 }],
  ])('a repository row with %s: 401, as an unknown key', async (_case, columns) => {
    const rows = new Map([[hash, { id: 'billing', hash, ...columns }]])
    const app = appOf(
      createApp,
      apiKeyAuth({ logger: false, repository: { getApiKey: (asked) => rows.get(asked) } }),
    )
    const refused = await request(app).get('/public').set('x-api-key', key)
    const unknown = await request(app).get('/public').set('x-api-key', generateApiKey().key)
    expect(refused.status).toBe(401)
    expect(refused.body).toEqual(INVALID_KEY)
    expect(refused.body).toEqual(unknown.body)
    expect(refused.headers['www-authenticate']).toBe(unknown.headers['www-authenticate'])
  })

  it('a live row with the same columns empty or false authenticates', async () => {
    const future = new Date(Date.now() + 86_400_000)
    const row = {
      id: 'billing',
      hash,
      revoked: false,
      revokedAt: null,
      revoked_at: null,
      disabled: 0,
      active: true,
      expiresAt: future,
      expires_at: null,
    }
    const app = appOf(
      createApp,
      apiKeyAuth({ logger: false, repository: { getApiKey: () => row } }),
    )
    const res = await request(app).get('/private').set('x-api-key', key)
    expect(res.status).toBe(200)
    expect(res.body.id).toBe('billing')
  })

  it('a configured key with expiresAt works until then, and is refused from then on', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'))
    const keys: ApiKeyRecord[] = [{ id: 'billing', hash, expiresAt: '2030-01-02T00:00:00Z' }]
    const app = appOf(createApp, apiKeyAuth({ logger: false, keys }))
    expect((await request(app).get('/private').set('x-api-key', key)).status).toBe(200)
    vi.setSystemTime(new Date('2030-01-02T00:00:00Z'))
    const res = await request(app).get('/private').set('x-api-key', key)
    expect(res.status).toBe(401)
    expect(res.body).toEqual(INVALID_KEY)
  })
})

describe.each(EXPRESS_MAJORS)('API keys in Authorization: Bearer (%s)', (_name, createApp) => {
  const keys: ApiKeyRecord[] = [{ id: 'svc', hash }]
  const bearer = (options: Partial<ApiKeyAuthOptions> = {}) =>
    apiKeyAuth({ scheme: 'Bearer', keys, logger: false, ...options })
  const jwtFirst = (options: Partial<ApiKeyAuthOptions> = {}) =>
    appOf(
      createApp,
      jwtAuth({ provider, invalidToken: 'anonymous', logger: false }),
      bearer(options),
    )
  const expired = () => idp.mint({ sub: 'user-1' }, { expiresInSec: -3_600 })

  describe('after jwtAuth({ invalidToken: "anonymous" }), the documented order', () => {
    it('a valid JWT is jwtAuth’s user', async () => {
      const res = await request(jwtFirst())
        .get('/private')
        .set('Authorization', `Bearer ${idp.mint({ sub: 'user-1' })}`)
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ id: 'user-1', isAuthenticated: true })
    })

    it('a valid API key is the key’s user, and jwtAuth’s refusal is no longer on the request', async () => {
      const res = await request(jwtFirst()).get('/private').set('Authorization', `Bearer ${key}`)
      expect(res.status).toBe(200)
      expect(res.body).toEqual({
        id: 'svc',
        provider: 'api-key',
        isAuthenticated: true,
        authError: null,
      })
    })

    it.each([
      ['an expired JWT', () => expired()],
      [
        'an expired JWT of 2 KB',
        () => idp.mint({ sub: 'u', pad: 'x'.repeat(1_500) }, { expiresInSec: -3_600 }),
      ],
      ['an unknown API key', () => generateApiKey().key],
    ])('%s: guards answer jwtAuth’s invalid_token (RFC 6750)', async (_case, token) => {
      const res = await request(jwtFirst())
        .get('/private')
        .set('Authorization', `Bearer ${token()}`)
      expect(res.status).toBe(401)
      expect(res.body.error).toBe('invalid_token')
      expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/)
    })

    it('a token neither accepts goes on as anonymous to a public route; credentialsRequired answers at once', async () => {
      const token = `Bearer ${generateApiKey().key}`
      const open = await request(jwtFirst()).get('/public').set('Authorization', token)
      expect(open.status).toBe(200)
      expect(open.body.isAuthenticated).toBe(false)
      expect(open.body.authError).toMatch(/^ERR_AUTH_TOKEN_/)
      for (const value of [token, `Bearer ${expired()}`]) {
        const res = await request(jwtFirst({ credentialsRequired: true }))
          .get('/public')
          .set('Authorization', value)
        expect(res.status).toBe(401)
        expect(res.body.error).toBe('invalid_token')
      }
    })
  })

  describe('never lets a token through that neither accepted, in any order', () => {
    it('apiKeyAuth first: a JWT, even of 2 KB, is left to jwtAuth (200, never 400)', async () => {
      const app = appOf(createApp, bearer(), jwtAuth({ provider, logger: false }))
      for (const token of [
        idp.mint({ sub: 'u' }),
        idp.mint({ sub: 'u', pad: 'x'.repeat(1_500) }),
      ]) {
        const res = await request(app).get('/private').set('Authorization', `Bearer ${token}`)
        expect(res.status).toBe(200)
        expect(res.body.id).toBe('u')
      }
    })

    it('apiKeyAuth first: an API key, an unknown key and an expired JWT are refused', async () => {
      const app = appOf(createApp, bearer(), jwtAuth({ provider, logger: false }))
      for (const token of [key, generateApiKey().key, expired()]) {
        const res = await request(app).get('/public').set('Authorization', `Bearer ${token}`)
        expect(res.status).toBe(401)
      }
    })

    it('after jwtAuth without invalidToken: "anonymous", an API key is refused by jwtAuth', async () => {
      const app = appOf(createApp, jwtAuth({ provider, logger: false }), bearer())
      const res = await request(app).get('/public').set('Authorization', `Bearer ${key}`)
      expect(res.status).toBe(401)
      expect(res.body.error).toBe('invalid_token')
    })

    it('alone: a key authenticates, an unknown key is a 401, a JWT-shaped value is anonymous', async () => {
      const app = appOf(createApp, bearer())
      expect(
        (await request(app).get('/private').set('Authorization', `Bearer ${key}`)).status,
      ).toBe(200)
      const unknown = await request(app).get('/public').set('Authorization', 'Bearer og_unknown')
      expect(unknown.status).toBe(401)
      expect(unknown.body).toEqual(INVALID_KEY)
      const jwt = await request(app).get('/private').set('Authorization', `Bearer ${expired()}`)
      // No credentials of its own: the guard's 401 with this middleware's challenge.
      expect(jwt.status).toBe(401)
      expect(jwt.body.error).toBe('unauthorized')
      expect(jwt.headers['www-authenticate']).toBe('Bearer')
    })
  })
})

describe('docs/basic-auth.md shows the working Bearer order', () => {
  it('jwtAuth with invalidToken: "anonymous" first, then apiKeyAuth with scheme: "Bearer"', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'basic-auth.md'), 'utf8')
    const section = doc.slice(doc.indexOf('### API keys in `Authorization: Bearer`'))
    const block = /```ts\n([\s\S]*?)```/.exec(section)![1]!
    const jwt = block.indexOf("jwtAuth({ provider, invalidToken: 'anonymous' })")
    const keys = block.indexOf("apiKeyAuth({ scheme: 'Bearer', keys })")
    expect(jwt).toBeGreaterThan(-1)
    expect(keys).toBeGreaterThan(jwt)
  })
})

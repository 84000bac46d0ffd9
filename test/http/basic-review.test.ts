// Review fixes of basicAuth and apiKeyAuth over HTTP, on Express 4 and 5: a SQL row with null
// columns logs in (not 503), a hash the crypto library refuses is a 401 that never becomes the
// decoy, a bearer token jwtAuth refused keeps jwtAuth's answer under credentialsRequired, and the
// Basic challenge has a realm when none is configured.

import * as crypto from 'node:crypto'
import { pino } from 'pino'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { apiKeyAuth, hashApiKey } from '../../src/api-key-auth.js'
import { basicAuth } from '../../src/basic-auth.js'
import type { CredentialsRepository } from '../../src/credentials.js'
import { requireUser } from '../../src/guards.js'
import { jwtAuth } from '../../src/middleware.js'
import { hashPassword } from '../../src/passwords.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

// Wrap the real KDFs: a test makes scrypt refuse one hash, and sees which KDF each request ran.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof crypto>()
  return { ...real, scrypt: vi.fn(real.scrypt), pbkdf2: vi.fn(real.pbkdf2) }
})
const scrypt = vi.mocked(crypto.scrypt)
const pbkdf2 = vi.mocked(crypto.pbkdf2)
const iterationsOfCalls = () => pbkdf2.mock.calls.map((call) => call[2])
const realScrypt = (await vi.importActual<typeof crypto>('node:crypto')).scrypt

const BASIC_API = 'Basic realm="api", charset="UTF-8"'
const INVALID = { error: 'invalid_credentials', error_description: 'invalid username or password' }
const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`

let idp: TestIssuer
let provider: () => JwksProvider
let aliceHash: string

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://basic-review.example' })
  provider = () =>
    new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      fetch: idp.fetch,
    })
  aliceHash = await hashPassword('alice-password', { iterations: 1_000 })
})
afterAll(() => idp.close())
afterEach(() => {
  scrypt.mockReset()
  scrypt.mockImplementation(realScrypt)
  pbkdf2.mockClear()
})

describe.each(EXPRESS_MAJORS)('%s', (_major, makeApp) => {
  describe('a row as a SQL driver returns it, nullable columns null', () => {
    const row = (username: string) =>
      username === 'alice'
        ? { username, passwordHash: aliceHash, id: null, name: null, email: null, groups: ['ops'] }
        : undefined
    const app = () => {
      const app = makeApp()
      // The type says string | undefined; a driver's row says null all the same.
      const getCredentials = row as CredentialsRepository['getCredentials']
      app.use(basicAuth({ credentialsRepository: { getCredentials }, logger: false }))
      app.get('/me', requireUser(), async (req, res) => {
        const user = req.currentUser
        res.json({ id: user.id, name: user.name ?? 'none', groups: await user.groups })
      })
      return app
    }

    it('the right password logs in: 200, null fields absent', async () => {
      const res = await request(app())
        .get('/me')
        .set('Authorization', basic('alice', 'alice-password'))
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ id: 'alice', name: 'none', groups: ['ops'] })
    })

    it('a wrong password is a 401, the same answer as an unknown user (no 503, no Retry-After)', async () => {
      const wrong = await request(app()).get('/me').set('Authorization', basic('alice', 'nope'))
      const unknown = await request(app()).get('/me').set('Authorization', basic('mallory', 'nope'))
      for (const res of [wrong, unknown]) {
        expect(res.status).toBe(401)
        expect(res.headers['retry-after']).toBeUndefined()
        expect(res.headers['www-authenticate']).toBe(BASIC_API)
        expect(res.body).toEqual(INVALID)
      }
    })

    it('an API key row with null name and groups authenticates', async () => {
      const hash = hashApiKey('k1')
      const keyRow = { id: 'svc', hash, name: null, groups: null, roles: null }
      const keyApp = makeApp()
      keyApp.use(apiKeyAuth({ repository: { getApiKey: () => keyRow as never }, logger: false }))
      keyApp.get('/me', requireUser(), whoAmI())
      const res = await request(keyApp).get('/me').set('x-api-key', 'k1')
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ id: 'svc', provider: 'api-key' })
    })
  })

  describe('a stored hash the crypto library refuses', () => {
    // Parses (N=2^10, r=1), but this scrypt refuses it, as OpenSSL refuses limits we do not know.
    const refused = `scrypt$1024$1$1$${'ab'.repeat(16)}$${'cd'.repeat(32)}`
    const users: Record<string, string> = { carol: refused }
    beforeAll(() => {
      users['alice'] = aliceHash // logs in first: the decoy's cost is then hers, 1,000 iterations
    })
    const repository: CredentialsRepository = {
      getCredentials: (username) => {
        const passwordHash = users[username]
        return passwordHash === undefined ? undefined : { username, passwordHash }
      },
    }
    const refuseScrypt = () =>
      scrypt.mockImplementation(((...args: unknown[]) => {
        const callback = args.at(-1) as (error: Error | null, key: Buffer) => void
        const error = Object.assign(new RangeError('Invalid scrypt params'), {
          code: 'ERR_CRYPTO_INVALID_SCRYPT_PARAMS',
        })
        callback(error, Buffer.alloc(0))
      }) as unknown as typeof crypto.scrypt)

    it('is a 401 for that user (logged once with its id), and never the decoy of unknown users', async () => {
      refuseScrypt()
      const lines: string[] = []
      const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
      const app = makeApp()
      app.use(basicAuth({ credentialsRepository: repository, logger }))
      app.get('/me', requireUser(), whoAmI())
      const alice = await request(app)
        .get('/me')
        .set('Authorization', basic('alice', 'alice-password'))
      expect(alice.status).toBe(200)
      for (const username of ['carol', 'carol', 'nobody', 'eve']) {
        const res = await request(app).get('/me').set('Authorization', basic(username, 'x'))
        expect(res.status).toBe(401)
        expect(res.body).toEqual(INVALID)
        expect(res.headers['www-authenticate']).toBe(BASIC_API)
      }
      // carol's two requests tried scrypt; the unknown users' decoys are PBKDF2, not her hash.
      expect(scrypt).toHaveBeenCalledTimes(2)
      // Each request did alice's PBKDF2 work: carol's as a wrong password's (the decoy), the others'
      // as unknown users'.
      expect(iterationsOfCalls()).toEqual([1_000, 1_000, 1_000, 1_000, 1_000])
      const errors = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
      const refusals = errors.filter((entry) => String(entry['msg']).includes('refused by crypto'))
      expect(refusals).toHaveLength(1)
      expect(refusals[0]).toMatchObject({ level: 50, user: 'carol' })
      expect(String(refusals[0]!['msg'])).toContain('ERR_CRYPTO_INVALID_SCRYPT_PARAMS')
      expect(lines.join('\n')).not.toContain(refused)
    })
  })

  describe('a bearer token jwtAuth({ invalidToken: "anonymous" }) refused, then credentialsRequired', () => {
    const bad = () => idp.mint({}, { tamper: 'signature' })
    const stacks = {
      basicAuth: () =>
        basicAuth({
          credentialsRepository: { getCredentials: () => undefined },
          credentialsRequired: true,
          realm: 'b',
          logger: false,
        }),
      apiKeyAuth: () =>
        apiKeyAuth({
          keys: [{ id: 'k', hash: hashApiKey('key1') }],
          credentialsRequired: true,
          realm: 'k',
          logger: false,
        }),
    }

    describe.each(Object.entries(stacks))('%s', (_name, second) => {
      const app = () => {
        const app = makeApp()
        app.use(
          jwtAuth({ provider: provider(), invalidToken: 'anonymous', realm: 'jwt', logger: false }),
        )
        app.use(second())
        app.get('/me', requireUser(), whoAmI())
        return app
      }

      it('is answered by jwtAuth: 401 error="invalid_token" with jwtAuth\'s realm', async () => {
        const res = await request(app()).get('/me').set('Authorization', `Bearer ${bad()}`)
        expect(res.status).toBe(401)
        expect(res.headers['www-authenticate']).toMatch(
          /^Bearer realm="jwt", error="invalid_token"/,
        )
        expect(res.body.error).toBe('invalid_token')
      })

      it('a request without any credentials still gets the second middleware’s challenge', async () => {
        const res = await request(app()).get('/me')
        expect(res.status).toBe(401)
        expect(res.headers['www-authenticate']).toMatch(/^(Basic realm="b"|ApiKey realm="k")/)
        expect(res.body.error).toBe('unauthorized')
      })
    })
  })

  describe('the Basic challenge without a configured realm', () => {
    it('is Basic realm="api", charset="UTF-8" on a 401, from basicAuth and from a guard', async () => {
      const required = makeApp()
      required.use(
        basicAuth({
          credentialsRepository: { getCredentials: () => undefined },
          credentialsRequired: true,
          logger: false,
        }),
      )
      required.get('/me', whoAmI())
      const open = makeApp()
      open.use(
        basicAuth({ credentialsRepository: { getCredentials: () => undefined }, logger: false }),
      )
      open.get('/me', requireUser(), whoAmI())
      for (const app of [required, open]) {
        const res = await request(app).get('/me')
        expect(res.status).toBe(401)
        expect(res.headers['www-authenticate']).toBe(BASIC_API)
      }
    })
  })
})

// basicAuth over HTTP on Express 4 and 5: good, wrong, unknown, malformed, outages, guards, timing work.

import { execFile } from 'node:child_process'
import * as crypto from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Express, RequestHandler } from 'express'
import { pino } from 'pino'
import request from 'supertest'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { basicAuth, type BasicAuthOptions } from '../../src/basic-auth.js'
import {
  JsonCredentialsRepository,
  parseBasicAuthorization,
  type CredentialsRepository,
} from '../../src/credentials.js'
import { ConfigError } from '../../src/errors.js'
import {
  getCurrentUser,
  requireGroups,
  requirePermissions,
  requireRoles,
  requireScopes,
  requireUser,
} from '../../src/guards.js'
import { jwtAuth } from '../../src/middleware.js'
import { hashPassword, verifyPassword } from '../../src/passwords.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, rawGet } from '../helpers/http.js'

// Wrap the real PBKDF2 so tests can see the work each request does, without timing anything.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof crypto>()
  return { ...real, pbkdf2: vi.fn(real.pbkdf2) }
})
const pbkdf2 = vi.mocked(crypto.pbkdf2)

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'users.json')
const CHALLENGE = 'Basic realm="api", charset="UTF-8"'
const INVALID = { error: 'invalid_credentials', error_description: 'invalid username or password' }
// The seed's algorithm at its default cost, made by Python (see test/unit/passwords.test.ts).
const SEED_HASH =
  'pbkdf2_sha256$600000$00112233445566778899aabbccddeeff$304fd13542f5d2cfe8f0889a35f91a072f90335a8e2f04545f717a6b8a705fc5'

const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`
const rawBasic = (bytes: number[]) => `Basic ${Buffer.from(bytes).toString('base64')}`
const iterationsOfCalls = () => pbkdf2.mock.calls.map((call) => call[2])

const repository = new JsonCredentialsRepository({ path: FIXTURE })
let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://basic.example' })
})

afterAll(() => idp.close())
beforeEach(() => {
  pbkdf2.mockClear()
})

/** Answers with everything the handler sees of the user. */
function whoAmI(): RequestHandler {
  return async (req, res) => {
    const user = getCurrentUser(req)
    res.json({
      id: user.id,
      provider: user.provider,
      isAuthenticated: user.isAuthenticated,
      name: user.name,
      email: user.email,
      scopes: user.scopes,
      groups: await user.groups,
      roles: await user.roles,
      permissions: await user.permissions,
    })
  }
}

describe.each(EXPRESS_MAJORS)('basicAuth on %s', (_name, createApp) => {
  function appWith(options: Partial<BasicAuthOptions> = {}): Express {
    const app = createApp()
    app.use(
      basicAuth({ credentialsRepository: repository, realm: 'api', logger: false, ...options }),
    )
    app.get('/public', whoAmI())
    app.get('/private', requireUser(), whoAmI())
    return app
  }

  it('good credentials: the handler runs with the user, its stored groups, roles, permissions and scopes', async () => {
    const res = await request(appWith())
      .get('/private')
      .set('Authorization', basic('alice', 'alice-password'))
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      id: 'u-alice',
      provider: 'basic',
      isAuthenticated: true,
      name: 'Alice',
      email: 'alice@example.com',
      scopes: ['orders.read'],
      groups: ['admin', 'ops'],
      roles: ['editor'],
      permissions: ['orders:read', 'orders:write'],
    })
  })

  it.each([
    ['a password with colons (the first colon splits)', 'bob', 'bob:pa:ss', 'bob'],
    ['a UTF-8 username and password', 'josé', 'pässwörd ✓', 'josé'],
    ['a scrypt hash', 'carol', 'carol-password', 'carol'],
  ])('%s', async (_case, username, password, id) => {
    const res = await request(appWith())
      .get('/private')
      .set('Authorization', basic(username, password))
    expect(res.status).toBe(200)
    expect(res.body.id).toBe(id)
  })

  it('the scheme is matched without case (RFC 7235)', async () => {
    const header = basic('alice', 'alice-password').replace('Basic', 'bAsIc')
    expect((await request(appWith()).get('/private').set('Authorization', header)).status).toBe(200)
  })

  it('a hash made by the Python seed at 600,000 iterations logs in', async () => {
    const seedRepository: CredentialsRepository = {
      getCredentials: (username) =>
        username === 'pat' ? { username, passwordHash: SEED_HASH } : undefined,
    }
    const res = await request(appWith({ credentialsRepository: seedRepository }))
      .get('/private')
      .set('Authorization', basic('pat', 'pässwörd:with:colons ✓'))
    expect(res.status).toBe(200)
    expect(iterationsOfCalls()).toEqual([600_000])
  })

  it('a wrong password and an unknown user get the same 401 with the Basic challenge', async () => {
    const app = appWith()
    for (const header of [basic('alice', 'wrong'), basic('mallory', 'alice-password')]) {
      const res = await request(app).get('/public').set('Authorization', header)
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe(CHALLENGE)
      expect(res.body).toEqual(INVALID)
    }
  })

  it('an unknown user costs the same hash as a known one (no timing oracle on user existence)', async () => {
    const app = appWith({ verifiedCache: false })
    await request(app).get('/public').set('Authorization', basic('alice', 'wrong'))
    await request(app).get('/public').set('Authorization', basic('mallory', 'x'))
    await request(app).get('/public').set('Authorization', basic('', 'x'))
    // alice's hash has 1,000 iterations: the decoy for unknown users follows the cost seen.
    expect(iterationsOfCalls()).toEqual([1_000, 1_000, 1_000])
  })

  it('before any known user, unknown users cost the default 600,000 iterations', async () => {
    await request(appWith()).get('/public').set('Authorization', basic('mallory', 'x'))
    expect(iterationsOfCalls()).toEqual([600_000])
  })

  it('a successful check is remembered: the next request with the same password costs no hash', async () => {
    const app = appWith()
    for (let i = 0; i < 3; i += 1) {
      const ok = await request(app).get('/private').set('Authorization', basic('bob', 'bob:pa:ss'))
      expect(ok.status).toBe(200)
    }
    expect(pbkdf2).toHaveBeenCalledTimes(1)
    // A wrong password is never answered from the cache, and never cached.
    for (let i = 0; i < 2; i += 1) {
      const bad = await request(app).get('/private').set('Authorization', basic('bob', 'bob:pa:s'))
      expect(bad.status).toBe(401)
    }
    expect(pbkdf2).toHaveBeenCalledTimes(3)
  })

  it('a changed stored hash is not answered from the cache', async () => {
    let passwordHash = await hashPassword('first', { iterations: 1_000 })
    const app = appWith({
      credentialsRepository: { getCredentials: (username) => ({ username, passwordHash }) },
    })
    expect(
      (await request(app).get('/private').set('Authorization', basic('u', 'first'))).status,
    ).toBe(200)
    passwordHash = await hashPassword('second', { iterations: 1_000 })
    expect(
      (await request(app).get('/private').set('Authorization', basic('u', 'first'))).status,
    ).toBe(401)
    expect(
      (await request(app).get('/private').set('Authorization', basic('u', 'second'))).status,
    ).toBe(200)
  })

  it('verifiedCache: false checks the hash on every request', async () => {
    const app = appWith({ verifiedCache: false })
    for (let i = 0; i < 2; i += 1) {
      await request(app).get('/private').set('Authorization', basic('bob', 'bob:pa:ss'))
    }
    expect(pbkdf2).toHaveBeenCalledTimes(2)
  })

  it.each([
    ['the scheme alone', 'Basic'],
    ['the scheme and spaces', 'Basic    '],
    ['a colon after the scheme', 'Basic:YTpi'],
    ['a tab separator', 'Basic\tYTpi'],
    ['two credentials', 'Basic YTpi YTpi'],
    ['characters outside base64', 'Basic !!!!'],
    ['base64url instead of base64', `Basic ${Buffer.from('a:b>>?').toString('base64url')}`],
    ['missing padding', 'Basic YTpiYw'],
    ['non-zero padding bits (non-canonical)', 'Basic YTpiYx=='],
    ['no colon', `Basic ${Buffer.from('alice').toString('base64')}`],
    ['invalid UTF-8', rawBasic([0xff, 0xfe, 0x3a, 0x61])],
    ['an overlong UTF-8 encoding', rawBasic([0x61, 0x3a, 0xc0, 0xaf])],
    ['a control character in the password', basic('alice', 'pass\u0000word')],
    ['a control character in the username', basic('al\u001bice', 'x')],
    ['credentials over 8 KiB', basic('alice', 'x'.repeat(7_000))],
    [
      'a no-break space before good credentials',
      basic('alice', 'alice-password').replace(' ', ' \u00a0'),
    ],
    ['a no-break space after good credentials', `${basic('alice', 'alice-password')}\u00a0`],
  ])('malformed (%s): 400 invalid_request, never 500, no hash computed', async (_case, header) => {
    const res = await rawGet(appWith(), '/public', { authorization: header })
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringMatching(/Basic credentials/),
    })
    expect(res.headers['www-authenticate']).toBeUndefined()
    expect(pbkdf2).not.toHaveBeenCalled()
  })

  it('two Authorization headers: 400 invalid_request', async () => {
    const good = basic('alice', 'alice-password')
    for (const values of [
      [good, basic('mallory', 'x')],
      [basic('mallory', 'x'), good],
    ]) {
      const res = await rawGet(appWith(), '/public', { authorization: values })
      expect(res.status).toBe(400)
      expect(res.body).toEqual({
        error: 'invalid_request',
        error_description: 'more than one Authorization header',
      })
    }
  })

  it('no credentials: anonymous on a public route; 401 with the Basic challenge from guards', async () => {
    const app = appWith()
    const open = await request(app).get('/public')
    expect(open.status).toBe(200)
    expect(open.body).toMatchObject({ isAuthenticated: false, id: '' })
    const guarded = await request(app).get('/private')
    expect(guarded.status).toBe(401)
    expect(guarded.headers['www-authenticate']).toBe(CHALLENGE)
    expect(guarded.body).toEqual({
      error: 'unauthorized',
      error_description: 'authentication required',
    })
  })

  it('another scheme (Bearer) is no Basic credentials: anonymous, or 401 with the Basic challenge', async () => {
    const app = appWith()
    const header = 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln'
    expect(
      (await request(app).get('/public').set('Authorization', header)).body.isAuthenticated,
    ).toBe(false)
    const res = await request(app).get('/private').set('Authorization', header)
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe(CHALLENGE)
  })

  it('credentialsRequired: 401 with the Basic challenge even on a public route', async () => {
    const res = await request(appWith({ credentialsRequired: true })).get('/public')
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe(CHALLENGE)
    expect(res.body.error).toBe('unauthorized')
  })

  it('a CORS preflight passes untouched, even with credentialsRequired', async () => {
    const app = appWith({ credentialsRequired: true })
    app.options('/public', (_req, res) => void res.status(204).end())
    const res = await request(app)
      .options('/public')
      .set('Origin', 'http://app.test')
      .set('Access-Control-Request-Method', 'GET')
    expect(res.status).toBe(204)
    const noOrigin = await request(app)
      .options('/public')
      .set('Access-Control-Request-Method', 'GET')
    expect(noOrigin.status).toBe(401)
  })

  it('a throwing repository: 503 with Retry-After, never a 401 that would look like a wrong password', async () => {
    const app = appWith({
      credentialsRepository: {
        getCredentials: () => Promise.reject(new Error('connection refused')),
      },
    })
    const res = await request(app).get('/public').set('Authorization', basic('alice', 'x'))
    expect(res.status).toBe(503)
    expect(res.headers['retry-after']).toMatch(/^\d+$/)
    expect(res.headers['www-authenticate']).toBeUndefined()
    expect(res.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'credentials cannot be checked right now',
    })
  })

  it.each([
    ['a record without passwordHash', { username: 'alice' }],
    ['groups that are not a list', { username: 'a', passwordHash: SEED_HASH, groups: 'admin' }],
    ['a string', 'alice'],
  ])('a repository answering %s: 503', async (_case, record) => {
    const app = appWith({ credentialsRepository: { getCredentials: () => record as never } })
    const res = await request(app).get('/public').set('Authorization', basic('alice', 'x'))
    expect(res.status).toBe(503)
  })

  it('an unparseable stored hash fails closed at the same cost, and is logged once without the hash', async () => {
    const lines: string[] = []
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) })
    const bad = 'pbkdf2_sha256$600000$not-hex$secret-looking'
    const app = appWith({
      logger,
      credentialsRepository: { getCredentials: (username) => ({ username, passwordHash: bad }) },
    })
    for (let i = 0; i < 2; i += 1) {
      const res = await request(app).get('/public').set('Authorization', basic('eve', 'x'))
      expect(res.status).toBe(401)
      expect(res.body).toEqual(INVALID)
    }
    expect(iterationsOfCalls()).toEqual([600_000, 600_000])
    const errors = lines.filter((line) => line.includes('"level":50'))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('is not a recognised hash')
    expect(lines.join('\n')).not.toContain('secret-looking')
  })

  it('legacy unsalted SHA-256 hashes are refused unless allowLegacySha256 is set', async () => {
    const header = basic('dave', 'dave-password')
    expect((await request(appWith()).get('/private').set('Authorization', header)).status).toBe(401)
    const allowed = appWith({ allowLegacySha256: true })
    expect((await request(allowed).get('/private').set('Authorization', header)).status).toBe(200)
    expect(
      (await request(allowed).get('/private').set('Authorization', basic('dave', 'x'))).status,
    ).toBe(401)
  })

  it('sources given explicitly win over the stored lists, facet by facet', async () => {
    const res = await request(
      appWith({
        groups: { fetchGroups: (user) => [`from-source:${user.id}`] },
      }),
    )
      .get('/private')
      .set('Authorization', basic('alice', 'alice-password'))
    expect(res.body.groups).toEqual(['from-source:u-alice'])
    expect(res.body.roles).toEqual(['editor'])
  })

  it('onError replaces the response', async () => {
    const res = await request(
      appWith({ onError: (error, _req, res) => res.status(418).json({ code: error.code }) }),
    )
      .get('/public')
      .set('Authorization', basic('alice', 'wrong'))
    expect(res.status).toBe(418)
    expect(res.body).toEqual({ code: 'ERR_AUTH_CREDENTIALS_INVALID' })
  })

  it('onError with next(error): the error carries its Basic challenge to the default handler', async () => {
    const app = appWith({ onError: (error, _req, _res, next) => next(error) })
    const res = await request(app).get('/public').set('Authorization', basic('alice', 'wrong'))
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe(CHALLENGE)
  })

  const bearerProvider = () =>
    new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      fetch: idp.fetch,
    })

  it('mounted after jwtAuth: a bearer user passes untouched, a Basic user is authenticated', async () => {
    const app = createApp()
    const provider = bearerProvider()
    app.use(jwtAuth({ provider, logger: false }))
    app.use(basicAuth({ credentialsRepository: repository, realm: 'api', logger: false }))
    app.get('/private', requireUser(), whoAmI())
    const bearer = await request(app)
      .get('/private')
      .set('Authorization', `Bearer ${idp.mint({ sub: 'jwt-user' })}`)
    expect(bearer.body).toMatchObject({ id: 'jwt-user', provider: 'jwks' })
    const basicUser = await request(app)
      .get('/private')
      .set('Authorization', basic('alice', 'alice-password'))
    expect(basicUser.body).toMatchObject({ id: 'u-alice', provider: 'basic' })
  })

  it('mounted before jwtAuth: a Basic user passes it, even with credentialsRequired, answered the Basic way; a bearer user is verified', async () => {
    const app = createApp()
    const provider = bearerProvider()
    app.use(
      basicAuth({
        credentialsRepository: repository,
        logger: false,
        onError: (error, _req, res) => res.status(error.status).json({ answeredBy: 'basicAuth' }),
      }),
    )
    app.use(jwtAuth({ provider, logger: false, credentialsRequired: true, realm: 'jwt-realm' }))
    app.get('/private', requireUser(), whoAmI())
    app.get('/admins', requireGroups(['no-one-has-this']), whoAmI())
    const basicUser = await request(app)
      .get('/private')
      .set('Authorization', basic('alice', 'alice-password'))
    expect(basicUser.status).toBe(200)
    expect(basicUser.body).toMatchObject({ id: 'u-alice', provider: 'basic' })
    const refused = await request(app)
      .get('/admins')
      .set('Authorization', basic('alice', 'alice-password'))
    expect(refused.status).toBe(403)
    expect(refused.body).toEqual({ answeredBy: 'basicAuth' })
    const bearer = await request(app)
      .get('/private')
      .set('Authorization', `Bearer ${idp.mint({ sub: 'jwt-user' })}`)
    expect(bearer.body).toMatchObject({ id: 'jwt-user', provider: 'jwks' })
    const nobody = await request(app).get('/private')
    expect(nobody.status).toBe(401)
    expect(nobody.headers['www-authenticate']).toBe('Bearer realm="jwt-realm"')
  })

  it('the disabled switch lets every request through as the synthetic user', async () => {
    const app = appWith({ disabled: true, env: {} })
    const res = await request(app).get('/private')
    expect(res.status).toBe(200)
    expect(res.body.id).toBe('synthetic')
  })
})

describe.each(EXPRESS_MAJORS)('guards on Basic users on %s', (_name, createApp) => {
  const app = createApp()
  app.use(basicAuth({ credentialsRepository: repository, realm: 'api', logger: false }))
  app.get('/admin', requireGroups(['admin']), whoAmI())
  app.get('/editors', requireRoles(['editor']), whoAmI())
  app.get('/orders', requirePermissions(['orders:write']), whoAmI())
  app.get('/scoped', requireScopes(['orders.read']), whoAmI())

  it.each([
    ['/admin', 'alice', 'alice-password', 200],
    ['/admin', 'bob', 'bob:pa:ss', 403],
    ['/editors', 'alice', 'alice-password', 200],
    ['/editors', 'bob', 'bob:pa:ss', 403],
    ['/orders', 'alice', 'alice-password', 200],
    ['/orders', 'carol', 'carol-password', 403],
    ['/scoped', 'alice', 'alice-password', 200],
    ['/scoped', 'bob', 'bob:pa:ss', 403],
  ])('%s as %s: %i', async (path, username, password, status) => {
    const res = await request(app).get(path).set('Authorization', basic(username, password))
    expect(res.status).toBe(status)
    if (status === 403) expect(res.headers['www-authenticate']).toBeUndefined()
  })

  it('an anonymous request to a guarded route gets the Basic challenge', async () => {
    const res = await request(app).get('/admin')
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe(CHALLENGE)
  })
})

describe('parseBasicAuthorization', () => {
  it.each([
    ['', undefined],
    ['Bearer abc', undefined],
    ['Digest username="a"', undefined],
    [basic('a', ''), { username: 'a', password: '' }],
    [basic('', 'b'), { username: '', password: 'b' }],
    [`  ${basic('a', 'b')}  `, { username: 'a', password: 'b' }],
  ])('%j → %j', (header, expected) => {
    expect(parseBasicAuthorization(header)).toEqual(expected)
  })
})

describe('basicAuth options are checked at construction', () => {
  it.each([
    [{}, /credentialsRepository is required/],
    [{ credentialsRepository: {} }, /credentialsRepository is required/],
    [{ credentialsRepository: repository, realm: 'a"b' }, /realm/],
    [{ credentialsRepository: repository, onError: 'x' }, /onError/],
    [{ credentialsRepository: repository, credentialsRequired: 'yes' }, /credentialsRequired/],
    [{ credentialsRepository: repository, verifiedCache: { ttlMs: 0 } }, /verifiedCache.ttlMs/],
    [{ credentialsRepository: repository, verifiedCache: 'on' }, /verifiedCache must be/],
    [{ credentialsRepository: repository, groups: () => [] }, /groups must be an object/],
    [{ credentialsRepository: repository, logLevel: 'loud' }, /logLevel/],
    [
      { credentialsRepository: repository, disabled: true, env: { NODE_ENV: 'production' } },
      /NODE_ENV=production/,
    ],
  ])('refuses %j', (options, message) => {
    expect(() => basicAuth(options as never)).toThrow(ConfigError)
    expect(() => basicAuth(options as never)).toThrow(message)
  })
})

describe('docs/basic-auth.md stays runnable', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'basic-auth.md'), 'utf8')

  it('its users file loads, and alice logs in with the password it gives', async () => {
    const json = /```json\n([\s\S]*?)```/.exec(doc)![1]!
    const dir = mkdtempSync(join(tmpdir(), 'oidc-guard-doc-'))
    try {
      writeFileSync(join(dir, 'users.json'), json)
      const credentialsRepository = new JsonCredentialsRepository({ path: join(dir, 'users.json') })
      const middleware = basicAuth({ credentialsRepository, logger: false })
      const alice = await middleware.authenticate('alice', 'correct horse battery staple')
      expect(alice).toMatchObject({ id: 'u-1001', name: 'Alice', provider: 'basic' })
      expect(await alice.groups).toEqual(['ops'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it.each(EXPRESS_MAJORS)(
    'the calls of its step 4 answer as their comments say, reporting-bot a 403 on /ops (%s)',
    async (_major, makeApp) => {
      const json = /```json\n([\s\S]*?)```/.exec(doc)![1]!
      const step4 = doc.slice(doc.indexOf('### 4. Call it'))
      const CALL = /^curl (?:-u '([^':]+):([^']*)' )?http:\/\/localhost:3000(\/\S*)\s+# (\d{3})/gm
      const calls = [...step4.matchAll(CALL)].map(([, username, password, path, status]) => ({
        username,
        password,
        path: path!,
        status: Number(status),
      }))
      expect(calls.map(({ username, status }) => [username, status])).toEqual([
        ['alice', 200],
        ['reporting-bot', 403],
        [undefined, 401],
      ])
      const dir = mkdtempSync(join(tmpdir(), 'oidc-guard-doc-'))
      try {
        writeFileSync(join(dir, 'users.json'), json)
        // Step 3's app, as far as /ops goes.
        const credentialsRepository = new JsonCredentialsRepository({
          path: join(dir, 'users.json'),
        })
        const app = makeApp()
        app.use(basicAuth({ credentialsRepository, realm: 'orders-api', logger: false }))
        app.get('/ops', requireGroups(['ops']), (_req, res) => res.json({ ok: true }))
        for (const { username, password, path, status } of calls) {
          const call = request(app).get(path)
          const res = await (username === undefined ? call : call.auth(username, password ?? ''))
          expect({ username, status: res.status }).toEqual({ username, status })
        }
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  )

  it('its Python one-liner makes hashes that verifyPassword accepts', async () => {
    const program = /\| python3 -c '([^']+)'/.exec(doc)![1]!
    const password = 'pässwörd:with:colons ✓'
    const hash = await new Promise<string>((resolve, reject) => {
      const child = execFile('python3', ['-c', program], (error, stdout) =>
        error ? reject(error) : resolve(stdout.trim()),
      )
      child.stdin!.end(password)
    })
    expect(hash).toMatch(/^pbkdf2_sha256\$600000\$[0-9a-f]{32}\$[0-9a-f]{64}$/)
    expect(await verifyPassword(password, hash)).toBe(true)
  })
})

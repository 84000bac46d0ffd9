// apiKeyAuth over HTTP on Express 4 and 5: header and scheme, keys and repository, good/bad/malformed/outage.

import { createHash } from 'node:crypto'
import type { Express, RequestHandler } from 'express'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import {
  apiKeyAuth,
  generateApiKey,
  hashApiKey,
  type ApiKeyAuthOptions,
  type ApiKeyRecord,
} from '../../src/api-key-auth.js'
import { ConfigError } from '../../src/errors.js'
import { getCurrentUser, requireGroups, requireScopes, requireUser } from '../../src/guards.js'
import { EXPRESS_MAJORS, rawGet } from '../helpers/http.js'

const billing = generateApiKey({ prefix: 'og_' })
const reports = generateApiKey()
const KEYS: ApiKeyRecord[] = [
  {
    id: 'billing-service',
    hash: billing.hash,
    name: 'Billing',
    groups: ['services'],
    roles: ['writer'],
    permissions: ['invoices:write'],
    scopes: ['invoices.write'],
  },
  { id: 'reports', hash: reports.hash },
]
const HEADER_CHALLENGE = 'ApiKey realm="api", header="x-api-key"'
const INVALID = { error: 'invalid_credentials', error_description: 'invalid API key' }

/** Answers with everything the handler sees of the user. */
function whoAmI(): RequestHandler {
  return async (req, res) => {
    const user = getCurrentUser(req)
    res.json({
      id: user.id,
      name: user.name,
      provider: user.provider,
      isAuthenticated: user.isAuthenticated,
      isM2M: user.isM2M,
      scopes: user.scopes,
      groups: await user.groups,
      roles: await user.roles,
      permissions: await user.permissions,
    })
  }
}

describe('hashApiKey and generateApiKey', () => {
  it('hashApiKey is SHA-256 in lower-case hex (what sha256sum prints)', () => {
    expect(hashApiKey('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
    expect(() => hashApiKey('')).toThrow(TypeError)
  })

  it('generateApiKey makes 256 random bits in base64url after the prefix, and its hash', () => {
    expect(billing.key).toMatch(/^og_[A-Za-z0-9_-]{43}$/)
    expect(reports.key).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(billing.hash).toBe(createHash('sha256').update(billing.key).digest('hex'))
    expect(generateApiKey().key).not.toBe(generateApiKey().key)
    expect(() => generateApiKey({ prefix: 'bad prefix' })).toThrow(TypeError)
  })
})

describe.each(EXPRESS_MAJORS)('apiKeyAuth on %s', (_name, createApp) => {
  function appWith(options: Partial<ApiKeyAuthOptions> = {}): Express {
    const app = createApp()
    app.use(
      apiKeyAuth({
        ...(options.repository === undefined ? { keys: KEYS } : {}),
        realm: 'api',
        logger: false,
        ...options,
      }),
    )
    app.get('/public', whoAmI())
    app.get('/private', requireUser(), whoAmI())
    app.get('/services', requireGroups(['services']), whoAmI())
    app.get('/invoices', requireScopes(['invoices.write']), whoAmI())
    return app
  }

  it('a good key in x-api-key: the user is the key id (never the key), with its record', async () => {
    const res = await request(appWith()).get('/private').set('x-api-key', billing.key)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      id: 'billing-service',
      name: 'Billing',
      provider: 'api-key',
      isAuthenticated: true,
      isM2M: true,
      scopes: ['invoices.write'],
      groups: ['services'],
      roles: ['writer'],
      permissions: ['invoices:write'],
    })
    expect(res.text).not.toContain(billing.key)
  })

  it('guards decide on the key’s groups and scopes', async () => {
    const app = appWith()
    expect((await request(app).get('/services').set('x-api-key', billing.key)).status).toBe(200)
    expect((await request(app).get('/services').set('x-api-key', reports.key)).status).toBe(403)
    expect((await request(app).get('/invoices').set('x-api-key', billing.key)).status).toBe(200)
    expect((await request(app).get('/invoices').set('x-api-key', reports.key)).status).toBe(403)
  })

  it('an unknown key: 401 invalid_credentials with the ApiKey challenge', async () => {
    for (const key of [generateApiKey().key, `${billing.key}x`, billing.key.slice(0, -1)]) {
      const res = await request(appWith()).get('/public').set('x-api-key', key)
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe(HEADER_CHALLENGE)
      expect(res.body).toEqual(INVALID)
    }
  })

  it('the hash is never accepted as a key', async () => {
    const res = await request(appWith()).get('/public').set('x-api-key', billing.hash)
    expect(res.status).toBe(401)
  })

  it.each([
    ['a space inside', 'abc def'],
    ['a non-ASCII character', 'clé-secrète'],
    ['a quote', '"abc"'],
    ['a key over 1 KiB', 'k'.repeat(1_025)],
  ])('a malformed key (%s): 400 invalid_request, never 500', async (_case, key) => {
    const res = await rawGet(appWith(), '/public', { 'x-api-key': key })
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ error: 'invalid_request' })
  })

  it.each([
    ['before', (key: string) => `\u00a0${key}`],
    ['after', (key: string) => `${key}\u00a0`],
  ])(
    'a no-break space %s a good key is not header whitespace: 400 invalid_request',
    async (_where, framed) => {
      const res = await rawGet(appWith(), '/private', { 'x-api-key': framed(billing.key) })
      expect(res.status).toBe(400)
      expect(res.body).toMatchObject({ error: 'invalid_request' })
    },
  )

  it('two x-api-key headers: 400 invalid_request', async () => {
    const res = await rawGet(appWith(), '/public', { 'x-api-key': [billing.key, reports.key] })
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      error: 'invalid_request',
      error_description: 'more than one x-api-key header',
    })
  })

  it('no key: anonymous, or 401 with the ApiKey challenge from guards', async () => {
    const app = appWith()
    expect((await request(app).get('/public')).body.isAuthenticated).toBe(false)
    const res = await request(app).get('/private')
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe(HEADER_CHALLENGE)
    expect(res.body.error).toBe('unauthorized')
  })

  it('credentialsRequired: 401 even on a public route', async () => {
    const res = await request(appWith({ credentialsRequired: true })).get('/public')
    expect(res.status).toBe(401)
    expect(res.headers['www-authenticate']).toBe(HEADER_CHALLENGE)
  })

  describe('with scheme: ApiKey', () => {
    const app = () => appWith({ scheme: 'ApiKey' })

    it('reads Authorization: ApiKey <key>, the scheme without case', async () => {
      for (const scheme of ['ApiKey', 'apikey', 'APIKEY']) {
        const res = await request(app())
          .get('/private')
          .set('Authorization', `${scheme} ${billing.key}`)
        expect(res.status).toBe(200)
        expect(res.body.id).toBe('billing-service')
      }
    })

    it('a bad key: 401 with the scheme’s challenge', async () => {
      const res = await request(app()).get('/public').set('Authorization', 'ApiKey nope-nope')
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe('ApiKey realm="api"')
    })

    it('another scheme is no API key: anonymous; the x-api-key header is not read', async () => {
      for (const header of ['Bearer abc', 'Basic YTpi']) {
        const res = await request(app()).get('/public').set('Authorization', header)
        expect(res.body.isAuthenticated).toBe(false)
      }
      const res = await request(app()).get('/private').set('x-api-key', billing.key)
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe('ApiKey realm="api"')
    })

    it.each([
      ['the scheme alone', 'ApiKey'],
      ['a tab separator', 'ApiKey\tabc'],
      ['no separator before a key character that ends the scheme', 'ApiKey/abc'],
      ['no separator before the good key', `ApiKey/${billing.key}`],
      ['two keys', 'ApiKey abc def'],
      ['a comma', 'ApiKey abc,def'],
      ['a no-break space before the key', `ApiKey \u00a0${billing.key}`],
      ['a no-break space after the key', `ApiKey ${billing.key}\u00a0`],
    ])('malformed (%s): 400', async (_case, header) => {
      const res = await rawGet(app(), '/public', { authorization: header })
      expect(res.status).toBe(400)
      expect(res.body).toMatchObject({ error: 'invalid_request' })
    })

    it('two Authorization headers: 400', async () => {
      const good = `ApiKey ${billing.key}`
      const res = await rawGet(app(), '/public', { authorization: [good, good] })
      expect(res.status).toBe(400)
    })
  })

  describe('with a repository', () => {
    it('is asked for the hash of the key, never the key', async () => {
      const asked: string[] = []
      const app = appWith({
        repository: {
          getApiKey: async (hash) => {
            asked.push(hash)
            return KEYS.find((record) => record.hash === hash)
          },
        },
      })
      expect((await request(app).get('/private').set('x-api-key', billing.key)).status).toBe(200)
      expect((await request(app).get('/private').set('x-api-key', 'unknown-key')).status).toBe(401)
      expect(asked).toEqual([billing.hash, hashApiKey('unknown-key')])
    })

    it('a record for another hash is refused (the stored hash is compared in constant time)', async () => {
      const app = appWith({ repository: { getApiKey: () => KEYS[0] } })
      expect((await request(app).get('/private').set('x-api-key', reports.key)).status).toBe(401)
    })

    it('a throwing repository: 503 with Retry-After, never 401', async () => {
      const app = appWith({
        repository: { getApiKey: () => Promise.reject(new Error('connection refused')) },
      })
      const res = await request(app).get('/public').set('x-api-key', billing.key)
      expect(res.status).toBe(503)
      expect(res.headers['retry-after']).toMatch(/^\d+$/)
      expect(res.body.error).toBe('temporarily_unavailable')
    })

    it.each([
      ['a record without id', { hash: billing.hash }],
      ['a record holding the key', { id: 'x', hash: billing.hash, key: billing.key }],
      ['scopes that are not a list', { id: 'x', hash: billing.hash, scopes: 'a' }],
    ])('a repository answering %s: 503', async (_case, record) => {
      const app = appWith({ repository: { getApiKey: () => record as never } })
      expect((await request(app).get('/public').set('x-api-key', billing.key)).status).toBe(503)
    })
  })

  it('explicit sources win over the key’s stored lists', async () => {
    const res = await request(appWith({ groups: { fetchGroups: (user) => [`src:${user.id}`] } }))
      .get('/private')
      .set('x-api-key', billing.key)
    expect(res.body.groups).toEqual(['src:billing-service'])
    expect(res.body.roles).toEqual(['writer'])
  })

  it('another header name, matched without case', async () => {
    const res = await request(appWith({ header: 'X-Service-Token' }))
      .get('/private')
      .set('x-service-token', reports.key)
    expect(res.status).toBe(200)
    expect(res.body.id).toBe('reports')
  })
})

describe('apiKeyAuth options are checked at construction', () => {
  it.each([
    [{}, /give keys .* or repository/],
    [{ keys: KEYS, repository: { getApiKey: () => undefined } }, /give keys .* or repository/],
    [{ keys: [] }, /non-empty list/],
    [{ keys: [{ id: 'a', hash: 'abc' }] }, /keys\[0\] needs a hash/],
    [{ keys: [{ id: 'a', hash: billing.hash.toUpperCase() }] }, /keys\[0\] needs a hash/],
    [{ keys: [{ id: '', hash: billing.hash }] }, /keys\[0\] needs an id/],
    [{ keys: [{ id: 'a', hash: billing.hash, key: billing.key }] }, /never the key/],
    [{ keys: [KEYS[0], { ...KEYS[0], id: 'b' }] }, /keys\[1\] has the same hash/],
    [{ keys: [{ id: 'a', hash: billing.hash, groups: 'x' }] }, /groups must be a list/],
    [{ keys: KEYS, header: 'x-api-key', scheme: 'ApiKey' }, /header or scheme, not both/],
    [{ keys: KEYS, header: 'Authorization' }, /use scheme/],
    [{ keys: KEYS, header: 'bad header' }, /header must be a header name/],
    [{ keys: KEYS, scheme: 'Api Key' }, /scheme must be/],
    [{ repository: {} }, /getApiKey/],
    [{ keys: KEYS, realm: 'a"b' }, /realm/],
  ])('refuses %j', (options, message) => {
    expect(() => apiKeyAuth(options as never)).toThrow(ConfigError)
    expect(() => apiKeyAuth(options as never)).toThrow(message)
  })

  it('reports every problem at once', () => {
    try {
      apiKeyAuth({ keys: [{ id: '', hash: 'x' }], realm: 'a"b', scheme: 'a b' } as never)
      expect.unreachable()
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(3)
    }
  })
})

// SQL groups, roles and permissions end to end over HTTP, on PostgreSQL, MariaDB and SQLite.

import type { Express } from 'express'
import { pino } from 'pino'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  SqlAuthzStore,
  SqlGroupsProvider,
  SqlPermissionsProvider,
  SqlRolesProvider,
  type SqlSourceOptions,
} from '../../providers/sql/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { JwksCache, jwtAuth, type JwtAuthOptions } from '../../src/index.js'
import { requireGroups, requirePermissions, requireRoles } from '../../src/guards.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'
import { dropTables, testDatabases, uniqueTables, type TestDatabase } from '../helpers/sql.js'

const databases = await testDatabases()
let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://sql.example' })
})

afterAll(() => idp.close())

// Lookup values an attacker might put in a claim: none may reach anyone's rights or the schema.
const HOSTILE_KEYS = [
  "' OR '1'='1",
  "alice' --",
  "alice' OR 'a'='a",
  'alice" OR "1"="1',
  "\\' OR 1=1 #",
  "alice'; UPDATE authz SET x=1; --",
  'ALICE',
  'alice ',
  ' alice',
  'alicé',
  'alice\u0301',
  '🙂',
  '%',
  '_lice',
  '*',
]

describe.each(databases)('SQL sources on $name', (db: TestDatabase) => {
  const tables = uniqueTables()
  const opened: { close(): Promise<void> }[] = []
  let store: SqlAuthzStore

  beforeAll(async () => {
    store = new SqlAuthzStore({ url: db.url, tables })
    await store.init()
    const grants: ['groups' | 'roles' | 'permissions', string, string][] = [
      ['groups', 'alice', 'admin'],
      ['groups', 'bob', 'staff'],
      ['roles', 'alice', 'editor'],
      ['permissions', 'alice', 'orders:read'],
      ['permissions', 'alice', 'orders:write'],
      ['permissions', 'alice@example.com', 'reports:read'],
      ['permissions', 'cache-user', 'orders:read'],
    ]
    for (const [facet, user, value] of grants) await store.grant(facet, user, value)
  })

  afterAll(async () => {
    await Promise.all(opened.map((source) => source.close()))
    await dropTables(db.url, Object.values(tables))
    await store.close()
    db.cleanup()
  })

  function sources(options: Partial<SqlSourceOptions> = {}) {
    const base = { url: db.url, tables, ...options } as SqlSourceOptions
    const made = {
      groups: new SqlGroupsProvider(base),
      roles: new SqlRolesProvider(base),
      permissions: new SqlPermissionsProvider(base),
    }
    opened.push(...Object.values(made))
    return made
  }

  function appWith(
    options: Partial<JwtAuthOptions> = {},
  ): Express & { jwt: ReturnType<typeof jwtAuth> } {
    const app = EXPRESS_MAJORS[0]![1]()
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: new JwksCache({ fetch: idp.fetch }),
    })
    const jwt = jwtAuth({ provider, logger: false, ...sources(), ...options })
    app.use(jwt)
    app.get('/public', whoAmI())
    app.get('/orders', requirePermissions(['orders:read']), whoAmI())
    app.get(
      '/orders/all',
      requirePermissions(['orders:read', 'orders:write'], { match: 'all' }),
      whoAmI(),
    )
    app.get('/reports', requirePermissions(['reports:read']), whoAmI())
    app.get('/admin', requireGroups(['admin']), whoAmI())
    app.get('/edit', requireRoles(['editor']), whoAmI())
    return Object.assign(app, { jwt })
  }

  const bearer = (claims: Record<string, unknown>) => `Bearer ${idp.mint(claims)}`

  it('lets users through by their rows, and refuses the others with 403 or 401', async () => {
    const app = appWith()
    const alice = bearer({ sub: 'alice' })
    const bob = bearer({ sub: 'bob' })
    for (const path of ['/orders', '/orders/all', '/admin', '/edit']) {
      const res = await request(app).get(path).set('Authorization', alice)
      expect(res.status, path).toBe(200)
      expect(res.body.id).toBe('alice')
    }
    for (const path of ['/orders', '/admin', '/edit']) {
      const res = await request(app).get(path).set('Authorization', bob)
      expect(res.status, path).toBe(403)
      expect(res.body.error).toBe('forbidden')
      expect(res.headers['www-authenticate']).toBeUndefined()
    }
    const anonymous = await request(app).get('/orders')
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers['www-authenticate']).toBe('Bearer')
  })

  it('looks users up by the configured claim; a token without it is a 503 with the reason logged', async () => {
    const lines: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) })
    const app = appWith({ ...sources({ idClaim: 'email' }), logger })
    const withEmail = bearer({ sub: 's-9', email: 'alice@example.com' })
    expect((await request(app).get('/reports').set('Authorization', withEmail)).status).toBe(200)
    expect((await request(app).get('/orders').set('Authorization', withEmail)).status).toBe(403)

    const token = idp.mint({ sub: 's-10' })
    const res = await request(app).get('/reports').set('Authorization', `Bearer ${token}`)
    expect(res.status).toBe(503)
    expect(res.headers['retry-after']).toBeDefined()
    expect(res.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'permissions are temporarily unavailable',
    })
    const log = lines.join('\n')
    expect(log).toContain('the token has no \\"email\\" claim')
    expect(log).not.toContain(token)
    // The public route never asks for a facet.
    expect((await request(app).get('/public').set('Authorization', `Bearer ${token}`)).status).toBe(
      200,
    )
  })

  it('caches answers across requests (issuer + subject) until the user is forgotten', async () => {
    const app = appWith()
    const user = bearer({ sub: 'cache-user' })
    expect((await request(app).get('/orders').set('Authorization', user)).status).toBe(200)
    await store.revoke('permissions', 'cache-user', 'orders:read')
    // The cached answer still holds: no query was made.
    expect((await request(app).get('/orders').set('Authorization', user)).status).toBe(200)
    app.jwt.verifier!.forgetUser({ issuer: idp.issuer, subject: 'cache-user' })
    expect((await request(app).get('/orders').set('Authorization', user)).status).toBe(403)
  })

  it('lets no SQL injection attempt in the lookup value reach anyone’s rights or the schema', async () => {
    const app = appWith({ sourceCache: false })
    const before = await store.lookup('permissions', 'alice')
    for (const sub of HOSTILE_KEYS) {
      for (const path of ['/orders', '/admin', '/edit']) {
        const res = await request(app).get(path).set('Authorization', bearer({ sub }))
        expect(res.status, `${path} as ${JSON.stringify(sub)}`).toBe(403)
      }
    }
    // Keys that cannot be matched exactly are refused outright (503), never matched loosely.
    for (const sub of ['alice\u0000', 'alice\u0000 OR 1=1', '\ud800alice']) {
      const res = await request(app).get('/orders').set('Authorization', bearer({ sub }))
      expect(res.status, JSON.stringify(sub)).toBe(503)
    }
    // The same values as the granted value or through the CLI path change nothing either.
    await store.grant('permissions', "x'; DROP TABLE " + tables.permissions + '; --', "' OR '1'='1")
    expect(await store.lookup('permissions', 'alice')).toEqual(before)
    expect(
      await store.lookup('permissions', "x'; DROP TABLE " + tables.permissions + '; --'),
    ).toEqual(["' OR '1'='1"])
    expect(
      (
        await request(app)
          .get('/orders')
          .set('Authorization', bearer({ sub: 'alice' }))
      ).status,
    ).toBe(200)
  })

  it('answers 503 when the table is missing, while other routes keep serving', async () => {
    const app = appWith({
      ...sources({ tables: { ...tables, permissions: `${tables.permissions}_missing` } }),
    })
    const alice = bearer({ sub: 'alice' })
    const res = await request(app).get('/orders').set('Authorization', alice)
    expect(res.status).toBe(503)
    expect(res.body.error).toBe('temporarily_unavailable')
    expect(JSON.stringify(res.body)).not.toMatch(/missing|relation|table/i)
    expect((await request(app).get('/admin').set('Authorization', alice)).status).toBe(200)
    expect((await request(app).get('/public').set('Authorization', alice)).status).toBe(200)
  })
})

// Cognito's two issuer forms are one pool's users (review 12): with `issuerForm: 'any'`, "log out
// everywhere" (revokeSubject) and forgetUser under one form cover the user's tokens of the other,
// through the memory and Redis stores, since CognitoProvider declares the forms as issuerAliases.

import { randomBytes } from 'node:crypto'
import type { Express } from 'express'
import type { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CognitoProvider } from '../../providers/cognito/index.js'
import { RedisRevocationStore, RedisSharedCache } from '../../providers/redis/index.js'
import {
  authErrorHandler,
  ConfigError,
  createVerifier,
  jwtAuth,
  MemoryRevocationStore,
  requirePermissions,
  requireUser,
  type JwtProvider,
  type User,
} from '../../src/index.js'
import { createTestIssuer, type CognitoTestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { connectTestRedis, deleteKeys, REDIS_URL } from '../helpers/redis.js'

const PREFIX = `r12fix:aliases:${process.pid}:${randomBytes(4).toString('hex')}:`

let pool: CognitoTestIssuer
let admin: Redis
const closers: Array<() => Promise<void> | void> = []

beforeAll(async () => {
  admin = await connectTestRedis()
  pool = await createTestIssuer({ kind: 'cognito' })
})

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await deleteKeys(admin, PREFIX)
})

afterAll(async () => {
  admin.disconnect()
  await pool.close()
})

type Store = MemoryRevocationStore | RedisRevocationStore

const stores: Array<[string, () => Promise<Store>]> = [
  ['MemoryRevocationStore', () => Promise.resolve(new MemoryRevocationStore())],
  [
    'RedisRevocationStore',
    async () => {
      const store = new RedisRevocationStore({ url: REDIS_URL, prefix: PREFIX })
      closers.push(() => store.close())
      await store.ready()
      return store
    },
  ],
]

const bearer = (token: string) => `Bearer ${token}`

describe.each(EXPRESS_MAJORS)('%s', (_major, createApp) => {
  /** The documented "log out everywhere" route, on a pool that accepts both forms (the default). */
  function logoutApp(revocations: Store): Express {
    const provider = new CognitoProvider({ ...pool.providerOptions })
    const app = createApp()
    app.use(jwtAuth({ provider, revocation: revocations, logger: false }))
    app.get('/me', requireUser(), (req, res) => {
      res.json({ iss: req.currentUser.claims.iss })
    })
    app.post('/logout', requireUser(), async (req, res, next) => {
      try {
        const { iss, sub } = req.currentUser.claims
        await revocations.revokeSubject(iss!, sub!)
        res.status(204).end()
      } catch (error) {
        next(error)
      }
    })
    app.use(authErrorHandler())
    return app
  }

  describe.each(stores)('%s', (_name, makeStore) => {
    it.each(['regional', 'global'] as const)(
      'log out everywhere with a %s token refuses the tokens of both forms',
      async (form) => {
        const app = logoutApp(await makeStore())
        const iat = Math.floor(Date.now() / 1000) - 10
        const regional = pool.access(undefined, { iat })
        const global = pool.access(undefined, { iat }, { issuerForm: 'global' })
        // Both verified (and remembered) before the logout.
        expect((await request(app).get('/me').set('Authorization', bearer(regional))).status).toBe(
          200,
        )
        expect((await request(app).get('/me').set('Authorization', bearer(global))).status).toBe(
          200,
        )
        const caller = form === 'regional' ? regional : global
        const logout = await request(app).post('/logout').set('Authorization', bearer(caller))
        expect(logout.status).toBe(204)
        for (const token of [regional, global]) {
          const res = await request(app).get('/me').set('Authorization', bearer(token))
          expect(res.status).toBe(401)
          expect(res.body).toEqual({ error: 'invalid_token', error_description: 'token revoked' })
        }
        // A token of either form issued after the logout passes.
        const later = Math.floor(Date.now() / 1000) + 1
        const fresh = pool.access(undefined, { iat: later }, { issuerForm: 'global' })
        expect((await request(app).get('/me').set('Authorization', bearer(fresh))).status).toBe(200)
      },
    )
  })

  it('another user of the pool is not refused', async () => {
    const app = logoutApp(new MemoryRevocationStore())
    const iat = Math.floor(Date.now() / 1000) - 10
    const jane = pool.access(undefined, { iat })
    const other = pool.access(
      undefined,
      { iat, sub: '0f0e0d0c-0b0a-4909-8807-060504030201' },
      {
        issuerForm: 'global',
      },
    )
    expect((await request(app).post('/logout').set('Authorization', bearer(jane))).status).toBe(204)
    expect((await request(app).get('/me').set('Authorization', bearer(other))).status).toBe(200)
  })

  it.each([
    ['forgetUser(req.currentUser) with a regional token', 'regional', 'user'],
    ['forgetUser(req.currentUser) with a global token', 'global', 'user'],
    ['forgetUser({ issuer: provider.issuer, subject })', 'regional', 'key'],
    ['forgetUser({ issuer: the global form, subject })', 'global', 'key'],
  ] as const)('%s drops the cached answer of both forms', async (_name, form, by) => {
    const provider = new CognitoProvider({ ...pool.providerOptions })
    let granted = ['orders:delete']
    let asked = 0
    const permissions = {
      fetchPermissions: () => {
        asked += 1
        return granted
      },
    }
    const auth = jwtAuth({ provider, permissions, sourceCache: { ttlMs: 600_000 }, logger: false })
    const app = createApp()
    app.use(auth)
    app.delete('/orders/1', requirePermissions(['orders:delete']), (_req, res) => {
      res.json({ deleted: true })
    })
    app.post('/revoke', async (req, res) => {
      granted = []
      const user: User = req.currentUser
      await auth.verifier!.forgetUser(
        by === 'user'
          ? user
          : {
              issuer: form === 'regional' ? provider.issuer : pool.pool.globalIssuer,
              subject: user.id,
            },
      )
      res.status(204).end()
    })
    app.use(authErrorHandler())
    const regional = pool.access()
    const global = pool.access(undefined, {}, { issuerForm: 'global' })
    const del = (token: string) =>
      request(app).delete('/orders/1').set('Authorization', bearer(token))
    expect((await del(regional)).status).toBe(200)
    expect((await del(global)).status).toBe(200)
    const caller = form === 'regional' ? regional : global
    expect((await request(app).post('/revoke').set('Authorization', bearer(caller))).status).toBe(
      204,
    )
    expect((await del(regional)).status).toBe(403)
    expect((await del(global)).status).toBe(403)
    // Each form's answer is cached under its own issuer (as an older instance keeps it), once
    // before and once after: forgetting under one form dropped both.
    expect(asked).toBe(4)
  })
})

describe('issuerAliases', () => {
  it('CognitoProvider declares the two forms only when it accepts both', () => {
    const any = new CognitoProvider({ ...pool.providerOptions })
    expect(any.issuerAliases).toEqual([[pool.pool.issuer, pool.pool.globalIssuer]])
    expect(Object.isFrozen(any.issuerAliases)).toBe(true)
    for (const issuerForm of ['regional', 'global'] as const) {
      expect(new CognitoProvider({ ...pool.providerOptions, issuerForm }).issuerAliases).toBe(
        undefined,
      )
    }
  })

  it('a pool restricted to one form keeps the other form out, aliases or not', async () => {
    const provider = new CognitoProvider({ ...pool.providerOptions, issuerForm: 'regional' })
    const verify = createVerifier({ provider, logger: false })
    const global = pool.access(undefined, {}, { issuerForm: 'global' })
    await expect(verify(global)).rejects.toMatchObject({ code: 'ERR_AUTH_ISSUER_UNKNOWN' })
  })

  /** A provider of the given issuers, declaring `issuerAliases`; never asked to verify. */
  function fake(issuers: string[], issuerAliases: unknown): JwtProvider {
    return {
      name: 'fake',
      issuers,
      issuerAliases: issuerAliases as string[][],
      verifyToken: () => Promise.reject(new Error('unused')),
      createUser: () => {
        throw new Error('unused')
      },
    }
  }

  it.each([
    ['not a list', 'https://a.example', /must be a list of lists of issuers/],
    ['a group of one', [['https://a.example']], /two or more of the provider's own issuers/],
    [
      'an issuer it does not accept',
      [['https://a.example', 'https://other.example']],
      /own issuers/,
    ],
    ['a group that is no list', ['https://a.example'], /own issuers/],
    [
      'an issuer in two groups',
      [
        ['https://a.example', 'https://b.example'],
        ['https://b.example', 'https://c.example'],
      ],
      /"https:\/\/b\.example" is in two groups/,
    ],
  ])('%s: a ConfigError when the verifier is built', (_name, aliases, message) => {
    const provider = fake(['https://a.example', 'https://b.example', 'https://c.example'], aliases)
    expect(() => createVerifier({ provider, logger: false })).toThrow(ConfigError)
    expect(() => createVerifier({ provider, logger: false })).toThrow(message)
  })

  it("a provider cannot group another provider's issuer with its own", () => {
    const mine = fake(['https://a.example'], [['https://a.example', 'https://b.example']])
    const theirs = fake(['https://b.example'], undefined)
    expect(() => createVerifier({ providers: [mine, theirs], logger: false })).toThrow(
      /two or more of the provider's own issuers/,
    )
  })
})

describe('the group reaches the stores and the sources, and only when there is one', () => {
  it("a source's own cache is told to forget the user under both forms", async () => {
    const provider = new CognitoProvider({ ...pool.providerOptions })
    const forgotten: Array<{ issuer: string; subject: string }> = []
    const permissions = {
      fetchPermissions: () => ['orders:read'],
      forget: (user: { issuer: string; subject: string }) => void forgotten.push(user),
    }
    const verify = createVerifier({ provider, permissions, logger: false })
    const user = await verify(pool.access(undefined, {}, { issuerForm: 'global' }))
    await verify.forgetUser(user)
    expect(forgotten).toEqual([
      { issuer: pool.pool.issuer, subject: user.id },
      { issuer: pool.pool.globalIssuer, subject: user.id },
    ])
  })

  it('a store is asked with the group for an aliased issuer, with the token alone otherwise', async () => {
    const calls: unknown[][] = []
    const revocation = {
      isRevoked: (...args: unknown[]) => {
        calls.push(args)
        return false
      },
      health: () => ({ ok: true }),
    }
    const any = createVerifier({
      provider: new CognitoProvider({ ...pool.providerOptions }),
      revocation,
      logger: false,
    })
    await any(pool.access())
    expect(calls[0]).toHaveLength(2)
    expect(calls[0]![1]).toEqual([pool.pool.issuer, pool.pool.globalIssuer])
    expect(Object.isFrozen(calls[0]![1])).toBe(true)
    const regionalOnly = createVerifier({
      provider: new CognitoProvider({ ...pool.providerOptions, issuerForm: 'regional' }),
      revocation,
      logger: false,
    })
    await regionalOnly(pool.access())
    expect(calls[1]).toHaveLength(1)
  })
})

describe('a shared cache across instances with and without the issuer groups (a rolling upgrade)', () => {
  /** The provider as the version before issuerAliases saw it. */
  function withoutAliases(provider: CognitoProvider): JwtProvider {
    return new Proxy(provider, {
      get(target, property) {
        if (property === 'issuerAliases') return undefined
        const value: unknown = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  }

  it("either side's forgetUser, and invalidateUser under the token's issuer, reach the other", async () => {
    let granted = ['orders:delete']
    const permissions = { fetchPermissions: () => granted }
    const verifierWith = async (provider: JwtProvider) => {
      const shared = new RedisSharedCache({ url: REDIS_URL, prefix: PREFIX })
      closers.push(() => shared.close())
      await shared.ready()
      const verify = createVerifier({
        provider,
        permissions,
        sourceCache: { ttlMs: 600_000, shared },
        logger: false,
      })
      return { verify, shared }
    }
    const updated = await verifierWith(new CognitoProvider({ ...pool.providerOptions }))
    const older = await verifierWith(
      withoutAliases(new CognitoProvider({ ...pool.providerOptions })),
    )
    const token = pool.access(undefined, {}, { issuerForm: 'global' })
    const rights = async (side: typeof updated) => [
      ...(await (await side.verify(token)).permissions),
    ]
    const settle = () => new Promise((resolve) => setTimeout(resolve, 150))
    const cached = async () => {
      granted = ['orders:delete']
      await updated.verify.clearSourceCache()
      await settle()
      expect(await rights(updated)).toEqual(['orders:delete'])
      expect(await rights(older)).toEqual(['orders:delete'])
      granted = []
    }

    await cached()
    await updated.verify.forgetUser(await updated.verify(token))
    await settle()
    expect([await rights(updated), await rights(older)]).toEqual([[], []])

    await cached()
    await older.verify.forgetUser(await older.verify(token))
    await settle()
    expect([await rights(updated), await rights(older)]).toEqual([[], []])

    await cached()
    const user = await updated.verify(token)
    await older.shared.invalidateUser(user.claims.iss!, user.id)
    await settle()
    expect([await rights(updated), await rights(older)]).toEqual([[], []])
  })
})

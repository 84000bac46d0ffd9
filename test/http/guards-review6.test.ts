// Review 6: guards over claim sources keep "Domain Admins" whole, `kind: 'human'` refuses Okta and
// Keycloak machine tokens, options that are not an object are a ConfigError, and a throw while
// refusing reaches Express's error handlers instead of ending the process.

import type { ErrorRequestHandler } from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClaimGroupsProvider, ClaimRolesProvider } from '../../providers/claims/index.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import {
  ConfigError,
  hasGroups,
  hasScopes,
  jwtAuth,
  requireGroups,
  requireRoles,
  requireScopes,
  requireUser,
  type GroupsProvider,
} from '../../src/index.js'
import type { TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let trusting: JwksProvider

beforeAll(async () => {
  ;({ idp, provider: trusting } = await localIssuerAndProvider('https://guards-review6.example'))
})

afterAll(() => idp.close())

const provider = (): JwksProvider => trusting

const bearer = (claims: Record<string, unknown>) => `Bearer ${idp.mint(claims)}`

describe.each(EXPRESS_MAJORS)('guards over claim sources on %s', (_name, createApp) => {
  it('requireGroups([\'Admins\']) refuses a member of the group "Domain Admins" sent as a string', async () => {
    const app = createApp()
    app.use(
      jwtAuth({
        provider: provider(),
        logger: false,
        groups: new ClaimGroupsProvider(),
        roles: new ClaimRolesProvider(),
      }),
    )
    app.get('/admins', requireGroups(['Admins']), whoAmI())
    app.get('/domain-admins', requireGroups(['Domain Admins']), whoAmI())
    app.get('/reader', requireRoles(['Reader']), whoAmI())
    const token = bearer({ sub: 'bob', groups: 'Domain Admins', roles: 'Global Reader' })
    const admins = await request(app).get('/admins').set('Authorization', token)
    expect([admins.status, admins.body.error]).toEqual([403, 'forbidden'])
    expect((await request(app).get('/domain-admins').set('Authorization', token)).status).toBe(200)
    expect((await request(app).get('/reader').set('Authorization', token)).status).toBe(403)
  })
})

describe.each(EXPRESS_MAJORS)('requireUser({ kind }) on %s', (_name, createApp) => {
  const app = () => {
    const server = createApp()
    server.use(jwtAuth({ provider: provider(), logger: false }))
    server.get('/people', requireUser({ kind: 'human' }), whoAmI())
    server.get('/machines', requireUser({ kind: 'm2m' }), whoAmI())
    return server
  }
  const okta = () => bearer({ sub: '0oa1b2c3d4EXAMPLE', cid: '0oa1b2c3d4EXAMPLE', scp: ['sync'] })
  const keycloak = () =>
    bearer({
      sub: '7f1c2a9e-0000-4000-8000-000000000001',
      azp: 'orders-sync',
      client_id: 'orders-sync',
      preferred_username: 'service-account-orders-sync',
    })
  const person = () =>
    bearer({ sub: '5d0e-person', azp: 'web', cid: 'web', preferred_username: 'alice' })

  it.each([
    ['an Okta client-credentials token (sub = cid)', okta],
    ['a Keycloak service-account token', keycloak],
  ])("kind: 'human' refuses %s, kind: 'm2m' admits it", async (_case, token) => {
    const people = await request(app()).get('/people').set('Authorization', token())
    expect([people.status, people.body.error]).toEqual([403, 'forbidden'])
    expect((await request(app()).get('/machines').set('Authorization', token())).status).toBe(200)
  })

  it('a person of Okta or Keycloak is still a person', async () => {
    expect((await request(app()).get('/people').set('Authorization', person())).status).toBe(200)
    expect((await request(app()).get('/machines').set('Authorization', person())).status).toBe(403)
  })
})

describe('guard options that are not an object', () => {
  it.each<[string, () => unknown]>([
    ["requireUser('m2m')", () => requireUser('m2m' as never)],
    ['requireUser(42)', () => requireUser(42 as never)],
    ["requireGroups(['a'], 'all')", () => requireGroups(['a'], 'all' as never)],
    ["requireScopes(['a'], 'x')", () => requireScopes(['a'], 'x' as never)],
    ["requireRoles(['a'], [])", () => requireRoles(['a'], [] as never)],
  ])('%s is a ConfigError at route definition', (_case, define) => {
    expect(define).toThrow(ConfigError)
    expect(define).toThrow(/options must be an object/)
  })

  it('null means no options', () => {
    expect(() => requireUser(null as never)).not.toThrow()
    expect(() => requireGroups(['a'], null as never)).not.toThrow()
  })
})

describe.each(EXPRESS_MAJORS)('null options and refusals that throw on %s', (_name, createApp) => {
  const groups: GroupsProvider = { fetchGroups: async () => ['ops'] }
  const handler: ErrorRequestHandler = (error: Error, _req, res, _next) => {
    res.statusCode = 500
    res.end(`handled: ${error.message}`)
  }

  it('requireGroups(list, null) answers 401 and 403 like no options', async () => {
    const app = createApp()
    app.use(jwtAuth({ provider: provider(), logger: false, groups }))
    app.get('/admin', requireGroups(['admin'], null as never), whoAmI())
    app.get('/ops', requireGroups(['ops'], null as never), whoAmI())
    app.use(handler)
    expect((await request(app).get('/admin').timeout(3000)).status).toBe(401)
    const refused = await request(app)
      .get('/admin')
      .set('Authorization', bearer({ sub: 'bob' }))
    expect([refused.status, refused.body.error]).toEqual([403, 'forbidden'])
    expect(
      (
        await request(app)
          .get('/ops')
          .set('Authorization', bearer({ sub: 'bob' }))
      ).status,
    ).toBe(200)
  })

  it('a throw while refusing after a source answered goes to the error handlers', async () => {
    const app = createApp()
    app.use(jwtAuth({ provider: provider(), logger: false, groups }))
    // A response that breaks when written to (a broken wrapper of res.status, say).
    app.use((_req, res, next) => {
      res.status = () => {
        throw new Error('broken response')
      }
      next()
    })
    app.get('/admin', requireGroups(['admin']), whoAmI())
    app.use(handler)
    const res = await request(app)
      .get('/admin')
      .set('Authorization', bearer({ sub: 'bob' }))
      .timeout(3000)
    expect([res.status, res.text]).toEqual([500, 'handled: broken response'])
  })

  it('has* take null as no options, and refuse a string', async () => {
    const app = createApp()
    app.use(jwtAuth({ provider: provider(), logger: false, groups }))
    app.get('/check', async (req, res, next) => {
      try {
        const inOps = await hasGroups(req, ['ops'], null as never)
        const scoped = hasScopes(req, ['a'], null as never)
        let refused = ''
        try {
          hasScopes(req, ['a'], 'all' as never)
        } catch (error) {
          refused = (error as Error).constructor.name
        }
        const rejected = await hasGroups(req, ['ops'], 'all' as never).catch(
          (error: unknown) => (error as Error).constructor.name,
        )
        res.json({ inOps, scoped, refused, rejected })
      } catch (error) {
        next(error)
      }
    })
    const res = await request(app)
      .get('/check')
      .set('Authorization', bearer({ sub: 'bob' }))
    expect(res.body).toEqual({
      inOps: true,
      scoped: false,
      refused: 'ConfigError',
      rejected: 'ConfigError',
    })
  })
})

// Review fixes (round 10) over HTTP: a JWK Set of more than 100 members answers as a broken set
// (503 with no keys, the last good keys otherwise), and a discovery document served where the JWK
// Set belongs is named in the provider's health.

import request from 'supertest'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { JwksProvider } from '../../providers/jwks/index.js'
import { jwtAuth, requireUser } from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer()
})

afterAll(() => idp.close())

afterEach(() => {
  idp.setJwks(undefined)
  idp.resetCounts()
})

function appFor(provider: JwksProvider) {
  const app = EXPRESS_MAJORS[0]![1]()
  app.use(jwtAuth({ provider, logger: false }))
  app.get('/private', requireUser(), whoAmI())
  return app
}

/** The issuer's own keys, padded with copies under other kids to `count` members. */
function bloatedSet(count: number): { keys: Record<string, unknown>[] } {
  const own = idp.jwks().keys
  const filler = Array.from({ length: count - own.length }, (_, index) => ({
    ...own[0],
    kid: `filler-${index}`,
  }))
  return { keys: [...own, ...filler] }
}

function providerAt(jwksUri: string): JwksProvider {
  return new JwksProvider({
    issuer: idp.issuer,
    jwksUri,
    audience: idp.audience,
    jwksCache: { logger: false },
  })
}

it('a first answer of 101 members is an outage: 503 with Retry-After, the count in health', async () => {
  idp.setJwks(bloatedSet(101))
  const provider = providerAt(idp.jwksUri)
  const answer = await request(appFor(provider))
    .get('/private')
    .set('Authorization', `Bearer ${idp.mint({ sub: 'alice' })}`)
  expect(answer.status).toBe(503)
  expect(answer.headers['retry-after']).toBeDefined()
  expect(provider.health()).toMatchObject({
    ok: false,
    lastError: expect.stringContaining('lists 101 members, more than the 100 accepted'),
  })
})

it('a refresh answering 101 members keeps the last good keys serving', async () => {
  const provider = providerAt(idp.jwksUri)
  const app = appFor(provider)
  const token = `Bearer ${idp.mint({ sub: 'alice' })}`
  expect((await request(app).get('/private').set('Authorization', token)).status).toBe(200)
  idp.setJwks(bloatedSet(101))
  await expect(provider.hydrate()).rejects.toThrow()
  const answer = await request(app).get('/private').set('Authorization', token)
  expect(answer.status).toBe(200)
  expect(answer.body.id).toBe('alice')
  expect(provider.health()).toMatchObject({ ok: true, keyCount: idp.jwks().keys.length })
})

it('a discovery URL given as the jwksUri answers 503, and health says what it is', async () => {
  const provider = providerAt(idp.discoveryUri)
  const answer = await request(appFor(provider))
    .get('/private')
    .set('Authorization', `Bearer ${idp.mint({ sub: 'alice' })}`)
  expect(answer.status).toBe(503)
  expect(provider.health().lastError).toContain(
    'this is a discovery document: use OidcProvider with its issuer, or its jwks_uri',
  )
})

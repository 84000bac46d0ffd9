// One `oidc-guard:verify` event per request: a remembered token whose user cannot be built is
// verified afresh, and only that verification's outcome is published.

import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import request from 'supertest'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { CHANNELS, jwtAuth, type User, type UserSources } from '../../src/index.js'
import type { VerifiedToken } from '../../src/contracts.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://verify-events-review6.example' })
})

afterAll(() => idp.close())

/** Builds the first user of each token, then throws: a mapping that fails on a later request. */
class FirstUseOnly extends JwksProvider {
  readonly built = new Set<string>()
  override createUser(verified: VerifiedToken, sources: UserSources): User {
    if (this.built.has(verified.token)) throw new Error('mapping failed')
    this.built.add(verified.token)
    return super.createUser(verified, sources)
  }
}

it.each(EXPRESS_MAJORS)(
  'a remembered token whose user throws publishes one event, not a pass and a rejection (%s)',
  async (_name, createApp) => {
    const provider = new FirstUseOnly({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      fetch: idp.fetch,
    })
    const app = createApp()
    app.use(jwtAuth({ provider, logger: false }))
    app.get('/me', whoAmI())
    const events: { outcome: string; cached: boolean }[] = []
    const listener = (message: unknown): void => {
      events.push(message as { outcome: string; cached: boolean })
    }
    subscribe(CHANNELS.verify, listener)
    try {
      const token = idp.mint({ sub: 'alice' })
      expect((await request(app).get('/me').auth(token, { type: 'bearer' })).status).toBe(200)
      expect(events).toEqual([expect.objectContaining({ outcome: 'pass', cached: false })])
      events.length = 0
      const second = await request(app).get('/me').auth(token, { type: 'bearer' })
      expect(second.status).toBe(401)
      expect(events).toEqual([expect.objectContaining({ outcome: 'reject', cached: false })])
    } finally {
      unsubscribe(CHANNELS.verify, listener)
    }
  },
)

// Standing test: no credential ever reaches a log line, at any level, on any rejection path.

import { pino } from 'pino'
import request from 'supertest'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { JwksCache, jwtAuth, requireUser } from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://logs.example' })
})

afterAll(() => idp.close())

it('logs rejections with their code but never a token, a signature or the header', async () => {
  const lines: string[] = []
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) })
  const cache = new JwksCache({ fetch: idp.fetch, logger })
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    jwksCache: cache,
  })
  const app = EXPRESS_MAJORS[0]![1]()
  app.use(jwtAuth({ provider, logger }))
  app.get('/private', requireUser(), whoAmI())

  const tokens = [
    idp.mint(),
    idp.mint({}, { expiresInSec: -10 }),
    idp.mint({}, { tamper: 'signature' }),
    idp.mint({ aud: 'other' }),
    idp.mint({ iss: 'https://unknown.example' }),
    idp.mint({}, { kid: 'unknown-kid' }),
    'not-a-jwt',
    `${idp.mint()}x`,
  ]
  for (const token of tokens) {
    await request(app).get('/private').set('Authorization', `Bearer ${token}`)
  }
  const output = lines.join('\n')
  expect(output).toContain('ERR_AUTH_TOKEN_EXPIRED')
  expect(output).toContain('ERR_AUTH_SIGNATURE_INVALID')
  for (const token of tokens) {
    const [header = '', payload = '', signature = ''] = token.split('.')
    for (const secret of [token, header, payload, signature].filter((part) => part.length > 8)) {
      expect(output).not.toContain(secret)
    }
  }
  expect(output).not.toMatch(/Bearer /)
})

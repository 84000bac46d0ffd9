// Standing test: no password, API key or bearer token (nor their base64 forms) reaches a log line,
// whatever jwtAuth, basicAuth and apiKeyAuth see: good and bad credentials, malformed headers, outages.

import { pino } from 'pino'
import request from 'supertest'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  apiKeyAuth,
  generateApiKey,
  hashApiKey,
  type ApiKeyRepository,
} from '../../src/api-key-auth.js'
import { basicAuth } from '../../src/basic-auth.js'
import type { CredentialsRepository } from '../../src/credentials.js'
import { requireUser } from '../../src/guards.js'
import { jwtAuth } from '../../src/middleware.js'
import { hashPassword } from '../../src/passwords.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, rawGet, whoAmI } from '../helpers/http.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://no-secrets.example' })
})

afterAll(() => idp.close())

const PASSWORD = 'Pa55word-that-must-never-be-logged'
const OTHER_PASSWORD = 'Wrong-password-never-logged-either'
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')

/** Runs every path of every scheme with a pino sink at `level`; answers the statuses, the log and the secrets. */
async function everyScheme(level: string) {
  const lines: string[] = []
  const logger = pino({ level }, { write: (line: string) => void lines.push(line) })
  const goodHash = await hashPassword(PASSWORD, { iterations: 1_000 })
  const users: Record<string, string> = {
    alice: goodHash,
    broken: `pbkdf2_sha256$600000$${'zz'.repeat(16)}$${'00'.repeat(32)}`,
  }
  const repository: CredentialsRepository = {
    getCredentials: (username) => {
      if (username === 'crash') throw new Error('database is down')
      if (username === 'garbage') return { username } as never
      const passwordHash = users[username]
      return passwordHash === undefined ? undefined : { username, passwordHash }
    },
  }
  const key = generateApiKey({ prefix: 'og_' })
  const otherKey = generateApiKey().key
  const crashKey = generateApiKey().key
  const keyRepository: ApiKeyRepository = {
    getApiKey: (hash) => {
      if (hash === key.hash) return { id: 'svc', hash }
      if (hash === hashApiKey(crashKey)) throw new Error('key store is down')
      return undefined
    },
  }
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    fetch: idp.fetch,
  })

  const app = EXPRESS_MAJORS[0]![1]()
  app.use(jwtAuth({ provider, logger }))
  app.use(basicAuth({ credentialsRepository: repository, realm: 'api', logger }))
  app.use(apiKeyAuth({ repository: keyRepository, logger }))
  app.get('/private', requireUser(), whoAmI())

  const tokens = [
    idp.mint({ sub: 'alice' }),
    idp.mint({}, { expiresInSec: -10 }),
    idp.mint({}, { tamper: 'signature' }),
    idp.mint({ aud: 'other' }),
    `${idp.mint()}x`,
  ]
  const basicPairs: [string, string][] = [
    ['alice', PASSWORD],
    ['alice', OTHER_PASSWORD],
    ['mallory', PASSWORD],
    ['crash', PASSWORD],
    ['garbage', PASSWORD],
    ['broken', PASSWORD],
    ['broken', OTHER_PASSWORD],
  ]
  const authorizations = [
    ...tokens.map((token) => `Bearer ${token}`),
    ...basicPairs.map(([user, password]) => `Basic ${b64(`${user}:${password}`)}`),
    `Basic ${b64(PASSWORD)}`, // no colon: malformed
    `Basic ${b64(`alice:${PASSWORD}`).slice(0, -1)}`, // bad base64
    `Basic ${Buffer.concat([Buffer.from(`alice:${PASSWORD}`), Buffer.from([0xff])]).toString('base64')}`,
    `Basic ${b64(`alice:${PASSWORD}`)} extra`,
  ]
  const responses: number[] = []
  for (const authorization of authorizations) {
    responses.push((await request(app).get('/private').set('Authorization', authorization)).status)
  }
  for (const apiKey of [key.key, otherKey, crashKey, `${key.key} ${PASSWORD}`]) {
    responses.push((await request(app).get('/private').set('x-api-key', apiKey)).status)
  }
  const twoHeaders = [`Basic ${b64(`alice:${PASSWORD}`)}`, `Bearer ${tokens[0]}`]
  responses.push((await rawGet(app, '/private', { authorization: twoHeaders })).status)
  responses.push((await rawGet(app, '/private', { 'x-api-key': [key.key, otherKey] })).status)

  const secrets = [PASSWORD, OTHER_PASSWORD, key.key, otherKey, crashKey]
  for (const [user, password] of basicPairs) secrets.push(b64(`${user}:${password}`))
  secrets.push(b64(PASSWORD), b64(`alice:${PASSWORD}`).slice(0, -1))
  for (const token of tokens) secrets.push(token, ...token.split('.').filter((p) => p.length > 8))
  secrets.push(...users['broken']!.split('$').slice(2), goodHash, goodHash.split('$')[3]!)
  return { output: lines.join('\n'), responses, secrets }
}

function expectNoSecret(output: string, secrets: readonly string[]): void {
  for (const secret of secrets) expect(output).not.toContain(secret)
  // No header value either: a scheme followed by anything but our fixed descriptions' words.
  expect(output).not.toMatch(/\b(?:Bearer|Basic|ApiKey) (?!credentials\b)\S/i)
  expect(output).not.toMatch(/"authorization"|"x-api-key"/i)
}

it('no credential of any scheme reaches a log line, at trace level, on any path', async () => {
  const { output, responses, secrets } = await everyScheme('trace')
  // Every kind of outcome happened, and was logged.
  expect(new Set(responses)).toEqual(new Set([200, 400, 401, 503]))
  for (const expected of [
    'ERR_AUTH_TOKEN_EXPIRED',
    'ERR_AUTH_CREDENTIALS_INVALID',
    'ERR_AUTH_INVALID_REQUEST',
    'ERR_AUTH_CREDENTIALS_UNAVAILABLE',
    'database is down',
    'key store is down',
    'is not a recognised hash',
  ]) {
    expect(output).toContain(expected)
  }
  expectNoSecret(output, secrets)
})

it.each(['debug', 'info', 'warn', 'error', 'fatal'])(
  'no credential of any scheme reaches a log line at level %s either',
  async (level) => {
    const { output, responses, secrets } = await everyScheme(level)
    expect(new Set(responses)).toEqual(new Set([200, 400, 401, 503]))
    if (level === 'debug') expect(output).toContain('ERR_AUTH_CREDENTIALS_INVALID')
    if (level !== 'error' && level !== 'fatal') expect(output).toContain('database is down')
    expectNoSecret(output, secrets)
  },
)

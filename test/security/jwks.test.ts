// Key-set contents over HTTP (JWKS-01, 02, 13..19, 23 and SIG-15): which published key may check
// which token. Each row publishes its own set through a test issuer and signs with keys it holds.

import { generateKeyPair, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import { pino } from 'pino'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JwksCache, jwtAuth, requireUser, type Logger } from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

type Pair = { publicKey: KeyObject; privateKey: KeyObject }

let idp: TestIssuer
let other: TestIssuer
const rsa: Pair[] = []
let ec256: Pair
let weak1024: Pair
let weakExponent: Pair

beforeAll(async () => {
  const generate = promisify(generateKeyPair)
  const issuer = (name: string) =>
    createTestIssuer({ listen: false, issuer: `https://${name}.example`, algorithms: ['ES256'] })
  let first: Pair, second: Pair
  ;[idp, other, first, second, ec256, weak1024, weakExponent] = await Promise.all([
    issuer('keys'),
    issuer('other-keys'),
    generate('rsa', { modulusLength: 2048 }),
    generate('rsa', { modulusLength: 2048 }),
    generate('ec', { namedCurve: 'P-256' }),
    generate('rsa', { modulusLength: 1024 }),
    generate('rsa', { modulusLength: 2048, publicExponent: 3 }),
  ])
  rsa.push(first, second)
})

afterAll(async () => {
  await Promise.all([idp.close(), other.close()])
})

function jwk(pair: Pair, members: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...pair.publicKey.export({ format: 'jwk' }), ...members }
}

/** Publishes `keys` and answers a request with `token` through a fresh provider and app. */
async function answer(keys: unknown[], token: string, logger?: Logger) {
  idp.setJwks({ keys })
  const provider = new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    jwksCache: new JwksCache({ fetch: idp.fetch, ...(logger === undefined ? {} : { logger }) }),
  })
  const app = EXPRESS_MAJORS[0]![1]()
  app.use(jwtAuth({ provider, logger: false }))
  app.get('/guarded', requireUser(), whoAmI())
  return request(app).get('/guarded').set('Authorization', `Bearer ${token}`)
}

interface KeyRow {
  readonly keys: () => unknown[]
  readonly token: () => string
  /** 200, or the 401 description. */
  readonly outcome: 200 | string
}

const sign = (pair: Pair, kid: string | null, alg = 'RS256') =>
  idp.mint({ sub: 'key-user' }, { key: pair.privateKey, kid, alg })

const ROWS: [string, KeyRow][] = [
  [
    'JWKS-01: no kid and one usable key: accepted',
    {
      keys: () => [jwk(rsa[0]!, { use: 'sig', alg: 'RS256' })],
      token: () => sign(rsa[0]!, null),
      outcome: 200,
    },
  ],
  [
    'JWKS-02: no kid and several usable keys: refused, never "first key wins"',
    {
      keys: () => [
        jwk(rsa[0]!, { kid: 'a', alg: 'RS256' }),
        jwk(rsa[1]!, { kid: 'b', alg: 'RS256' }),
      ],
      token: () => sign(rsa[1]!, null),
      outcome: 'no unique signing key for the token',
    },
  ],
  [
    'JWKS-13: the only key with the kid is an encryption key (use: enc)',
    {
      keys: () => [jwk(rsa[0]!, { kid: 'k', use: 'enc' })],
      token: () => sign(rsa[0]!, 'k'),
      outcome: 'no signing key matches the token',
    },
  ],
  [
    'JWKS-14: key_ops without verify',
    {
      keys: () => [jwk(rsa[0]!, { kid: 'k', key_ops: ['encrypt'] })],
      token: () => sign(rsa[0]!, 'k'),
      outcome: 'no signing key matches the token',
    },
  ],
  [
    'JWKS-15: the JWK alg differs from the token alg',
    {
      keys: () => [jwk(rsa[0]!, { kid: 'k', alg: 'RS384' })],
      token: () => sign(rsa[0]!, 'k'),
      outcome: 'no suitable signing key for the token',
    },
  ],
  [
    'JWKS-16: an ES256 token whose kid names an RSA key',
    {
      keys: () => [jwk(rsa[0]!, { kid: 'k' })],
      token: () => sign(ec256, 'k', 'ES256'),
      outcome: 'no suitable signing key for the token',
    },
  ],
  [
    'JWKS-17: two different keys share the kid, the token signed by the second',
    {
      keys: () => [jwk(rsa[0]!, { kid: 'dup' }), jwk(rsa[1]!, { kid: 'dup' })],
      token: () => sign(rsa[1]!, 'dup'),
      outcome: 'no unique signing key for the token',
    },
  ],
  [
    'JWKS-17: two different keys share the kid, the token signed by the first',
    {
      keys: () => [jwk(rsa[0]!, { kid: 'dup' }), jwk(rsa[1]!, { kid: 'dup' })],
      token: () => sign(rsa[0]!, 'dup'),
      outcome: 'no unique signing key for the token',
    },
  ],
  [
    'JWKS-18: unusable keys beside the good one are ignored',
    {
      keys: () => [
        { kty: 'AKP', alg: 'ML-DSA-44', kid: 'pq', pub: 'AAAA' },
        { kty: 'XYZ', kid: 'xyz' },
        { kty: 'RSA', kid: 'no-n', e: 'AQAB' },
        { kty: 'EC', crv: 'P-256', kid: 'no-y', x: 'AAAA' },
        { ...rsa[1]!.privateKey.export({ format: 'jwk' }), kid: 'private' },
        { kty: 'oct', kid: 'oct', k: 'c2VjcmV0' },
        'not an object',
        jwk(rsa[0]!, { kid: 'good', use: 'sig', alg: 'RS256' }),
      ],
      token: () => sign(rsa[0]!, 'good'),
      outcome: 200,
    },
  ],
  [
    'JWKS-18: a key published with its private part is never used',
    {
      keys: () => [
        { ...rsa[1]!.privateKey.export({ format: 'jwk' }), kid: 'private' },
        jwk(rsa[0]!, { kid: 'good' }),
      ],
      token: () => sign(rsa[1]!, 'private'),
      outcome: 'no signing key matches the token',
    },
  ],
  [
    'JWKS-18: an oct key never checks an HS256 token',
    {
      keys: () => [
        { kty: 'oct', kid: 'oct', k: Buffer.from('secret').toString('base64url') },
        jwk(rsa[0]!, { kid: 'good' }),
      ],
      token: () => idp.mint({}, { hmacSecret: 'secret', kid: 'oct' }),
      outcome: 'signing algorithm not allowed',
    },
  ],
  [
    'JWKS-19: a key without use and without alg is accepted',
    {
      keys: () => [jwk(rsa[0]!, { kid: 'bare' })],
      token: () => sign(rsa[0]!, 'bare'),
      outcome: 200,
    },
  ],
  [
    'JWKS-23: iss says A but kid and signature are B’s: each issuer has its own set',
    {
      keys: () => [jwk(rsa[0]!, { kid: 'a-key' })],
      token: () => other.mint({ iss: idp.issuer, aud: idp.audience }),
      outcome: 'no signing key matches the token',
    },
  ],
]

describe('key-set contents', () => {
  it.each(ROWS)('%s', async (_title, row) => {
    const res = await answer(row.keys(), row.token())
    if (row.outcome === 200) {
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ handler: 'ran', isAuthenticated: true })
    } else {
      expect(res.status).toBe(401)
      expect(res.body).toEqual({ error: 'invalid_token', error_description: row.outcome })
    }
  })

  it('SIG-15: a 1024-bit RSA key and a key with e = 3 are never used, and logged once per fetch as unusable', async () => {
    const lines: string[] = []
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) })
    const keys = [
      jwk(weak1024, { kid: 'weak-1024' }),
      jwk(weakExponent, { kid: 'weak-e3' }),
      jwk(rsa[0]!, { kid: 'good' }),
    ]
    for (const [pair, kid] of [
      [weak1024, 'weak-1024'],
      [weakExponent, 'weak-e3'],
    ] as const) {
      lines.length = 0
      const res = await answer(keys, sign(pair, kid), logger)
      expect(res.status).toBe(401)
      expect(res.body.error_description).toBe('no signing key matches the token')
      const warnings = lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((record) => record['msg'] === 'unusable keys skipped in JWK Set')
      expect(warnings).toHaveLength(1)
      expect(JSON.stringify(warnings[0]!['skipped'])).toContain(
        kid === 'weak-1024' ? 'RSA key shorter than 2048 bits' : 'RSA public exponent too small',
      )
    }
  })
})

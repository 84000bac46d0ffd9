// Standing test (OPS-02): every rejection path of the catalog, and the outage paths, run with a
// pino sink at every level; no record may hold a token, a segment of one (signatures included),
// or the Authorization header. Basic and API-key paths: test/http/no-secrets-in-logs.test.ts.

import express from 'express'
import { pino, type Logger } from 'pino'
import request from 'supertest'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  createVerifier,
  JwksCache,
  jwtAuth,
  requireGroups,
  requireUser,
  type GroupsProvider,
  type JwtProvider,
} from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider, OidcProvider } from '../../providers/jwks/index.js'
import { whoAmI } from '../helpers/http.js'
import { createCatalog, freezeClock, runRow, type Catalog, type Probe } from './harness.js'
import { AUTHZ_ROWS, OPS_ROWS } from './rows/authz.js'
import { CLM_ROWS, TYP_ROWS } from './rows/claims.js'
import { HTTP_ROWS } from './rows/http.js'
import { HDR_ROWS, PARSE_ROWS, SIG_ROWS } from './rows/tokens.js'

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const
const ROWS = [
  ...HTTP_ROWS,
  ...PARSE_ROWS,
  ...SIG_ROWS,
  ...HDR_ROWS,
  ...CLM_ROWS,
  ...TYP_ROWS,
  ...AUTHZ_ROWS,
  ...OPS_ROWS,
]

/** A pino logger at `level` writing every record into `lines`. */
function sink(level: string): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  return { lines, logger: pino({ level }, { write: (line: string) => void lines.push(line) }) }
}

/** The secret parts of a credential: the whole value, the token, each segment over 8 characters. */
function secretsOf(value: string): string[] {
  const token = value.replace(/^\s*\S+\s+/, '').trim()
  return [value.trim(), token, ...token.split(/[.\s,]+/)].filter((part) => part.length > 8)
}

/** Everything secret a probe carried: Authorization values, other headers, query and body tokens. */
function probeSecrets(probe: Probe): string[] {
  const values =
    typeof probe.authorization === 'string'
      ? [probe.authorization]
      : [...(probe.authorization ?? [])]
  values.push(
    ...Object.values(probe.headers ?? {}).filter((value) => !value.startsWith('application/')),
  )
  for (const text of [probe.path ?? '', probe.body ?? '']) {
    const token = /access_token"?[=:]"?([^&"]+)/.exec(text)?.[1]
    if (token !== undefined) values.push(token)
  }
  return values.flatMap(secretsOf)
}

function expectNoSecrets(lines: readonly string[], secrets: Iterable<string>): void {
  const output = lines.join('\n')
  for (const secret of new Set(secrets)) {
    expect(output.includes(secret), `a log record holds ${secret.slice(0, 24)}…`).toBe(false)
  }
  expect(output).not.toMatch(/\bBearer [A-Za-z0-9]/)
  expect(output).not.toMatch(/"authorization"\s*:\s*"(?!\[redacted\])/i)
}

describe.each(LEVELS)('no secret in any record at level %s', (level) => {
  let catalog: Catalog
  const { logger, lines } = sink(level)

  beforeAll(async () => {
    catalog = await createCatalog({ logger })
  })

  afterAll(() => catalog.close())

  beforeEach(() => freezeClock())

  it('every rejection path of the catalog (HTTP, PARSE, SIG, HDR, CLM, TYP, AUTHZ, OPS rows)', async () => {
    const sent: Probe[] = []
    const recording: Catalog = {
      ...catalog,
      send: (probe) => {
        sent.push(probe)
        return catalog.send(probe)
      },
    }
    for (const row of ROWS) await runRow(recording, row)
    expect(sent.length).toBeGreaterThan(300)
    const output = lines.join('\n')
    // Not vacuous: what the level lets through was written.
    if (level === 'trace' || level === 'debug') {
      for (const code of [
        'ERR_AUTH_SIGNATURE_INVALID',
        'ERR_AUTH_ALG_NOT_ALLOWED',
        'ERR_AUTH_TOKEN_EXPIRED',
      ]) {
        expect(output).toContain(code)
      }
    }
    if (['trace', 'debug', 'info', 'warn'].includes(level))
      expect(output).toContain('roles source failed')
    expectNoSecrets(lines, sent.flatMap(probeSecrets))
  })
})

describe.each(LEVELS)('outage paths at level %s', (level) => {
  let idp: TestIssuer

  beforeAll(async () => {
    idp = await createTestIssuer({
      listen: false,
      issuer: 'https://logs-outage.example',
      algorithms: ['ES256'],
    })
  })

  afterAll(() => idp.close())

  function appWith(provider: JwtProvider, logger: Logger, groups?: GroupsProvider) {
    const app = express()
    app.use(
      jwtAuth({
        provider,
        logger,
        ...(groups === undefined ? {} : { groups }),
        sourceTimeoutMs: 50,
      }),
    )
    app.get('/guarded', requireUser(), whoAmI())
    app.get('/grouped', requireGroups(['admin']), whoAmI())
    return app
  }

  it('keys down, discovery down, a throwing provider, failing and hanging sources', async () => {
    const { logger, lines } = sink(level)
    const tokens: string[] = []
    const mint = (claims: Record<string, unknown> = {}) => {
      const token = idp.mint(claims)
      tokens.push(token)
      return `Bearer ${token}`
    }
    const cache = () => new JwksCache({ fetch: idp.fetch, logger })

    idp.respondWith('jwks', { status: 503 })
    const keysDown = appWith(
      new JwksProvider({
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: idp.audience,
        jwksCache: cache(),
      }),
      logger,
    )
    expect((await request(keysDown).get('/guarded').set('Authorization', mint())).status).toBe(503)
    idp.respondWith('jwks', undefined)

    idp.respondWith('discovery', { status: 500 })
    const discoveryDown = appWith(
      new OidcProvider({ issuer: idp.issuer, audience: idp.audience, fetch: idp.fetch, logger }),
      logger,
    )
    expect((await request(discoveryDown).get('/guarded').set('Authorization', mint())).status).toBe(
      503,
    )
    idp.respondWith('discovery', undefined)

    const throwing: JwtProvider = {
      name: 'broken',
      issuers: [idp.issuer],
      verifyToken: () => Promise.reject(new TypeError('cannot read properties of undefined')),
      createUser: () => {
        throw new Error('unreachable')
      },
    }
    expect(
      (await request(appWith(throwing, logger)).get('/guarded').set('Authorization', mint()))
        .status,
    ).toBe(401)

    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      jwksCache: cache(),
    })
    const failing: GroupsProvider = { fetchGroups: () => Promise.reject(new Error('LDAP down')) }
    const hanging: GroupsProvider = { fetchGroups: () => new Promise(() => undefined) }
    for (const groups of [failing, hanging]) {
      expect(
        (
          await request(appWith(provider, logger, groups))
            .get('/grouped')
            .set('Authorization', mint())
        ).status,
      ).toBe(503)
    }
    if (level !== 'error' && level !== 'fatal') {
      expect(lines.join('\n')).toContain('groups source failed')
    }
    expectNoSecrets(lines, tokens.flatMap(secretsOf))
  })

  // Foreign errors are logged through safeError (src/logger.ts): type, code, and message and
  // stack with anything token-shaped removed; never their members (an HTTP client error carries
  // the request it made on the user's behalf, Authorization header included).
  it("a source whose error carries the user's token (an HTTP client error) keeps it out of the logs", async () => {
    const { logger, lines } = sink(level)
    const provider = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      fetch: idp.fetch,
    })
    const onBehalf: GroupsProvider = {
      fetchGroups: (user) =>
        Promise.reject(
          Object.assign(new Error('Request failed with status code 401'), {
            config: {
              url: 'https://graph.example/me/memberOf',
              headers: { Authorization: `Bearer ${user.token}` },
            },
          }),
        ),
    }
    const token = idp.mint()
    const res = await request(appWith(provider, logger, onBehalf))
      .get('/grouped')
      .set('Authorization', `Bearer ${token}`)
    expect(res.status).toBe(503)
    expectNoSecrets(lines, secretsOf(token))
  })

  it('createVerifier rejections are logged the same way: codes, never tokens', async () => {
    const { logger, lines } = sink(level)
    const verify = createVerifier({
      provider: new JwksProvider({
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: idp.audience,
        fetch: idp.fetch,
      }),
      logger,
    })
    const bad = [
      idp.mint({}, { tamper: 'signature' }),
      idp.mint({}, { expiresInSec: -60 }),
      idp.mint({ aud: 'x' }),
    ]
    for (const token of bad) await expect(verify(token)).rejects.toMatchObject({ status: 401 })
    expectNoSecrets(lines, bad.flatMap(secretsOf))
  })
})

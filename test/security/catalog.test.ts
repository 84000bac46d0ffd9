// The security catalog as HTTP tests: one app, many forged requests, each row asserting status,
// challenge, body, that the handler did not run, and that nothing but the configured JWKS was called.

import { randomBytes } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ConfigError,
  jwtAuth,
  requireGroups,
  requirePermissions,
  requireRoles,
  requireUser,
} from '../../src/index.js'
import { CognitoProvider } from '../../providers/cognito/index.js'
import { createCognitoIssuer, JANE, type CognitoTestIssuer } from '../fake-idp/cognito.js'
import { whoAmI } from '../helpers/http.js'
import {
  ACCEPT,
  bearer,
  createCatalog,
  freezeClock,
  IT,
  LEEWAY_SEC,
  NOW,
  NOW_MS,
  runProbe,
  runRow,
  segments,
  type Catalog,
  type Row,
} from './harness.js'
import { AUTHZ_ROWS, OPS_ROWS } from './rows/authz.js'
import { CLM_ROWS, logoutToken, TYP_ROWS } from './rows/claims.js'
import { HTTP_ROWS } from './rows/http.js'
import { HDR_ROWS, PARSE_ROWS, SIG_ROWS } from './rows/tokens.js'

let catalog: Catalog
/** Every error_description the suite received, checked at the end (OPS-03). */
const seen = new Set<string>()

beforeAll(async () => {
  catalog = await createCatalog()
})

afterAll(() => catalog.close())

beforeEach(() => freezeClock())

const SECTIONS: readonly [string, readonly Row[]][] = [
  ['HTTP: bearer extraction and responses', HTTP_ROWS],
  ['PARSE: token structure', PARSE_ROWS],
  ['SIG: algorithms and signatures', SIG_ROWS],
  ['HDR: JOSE header parameters', HDR_ROWS],
  ['CLM: registered claims', CLM_ROWS],
  ['TYP: token-type confusion', TYP_ROWS],
  ['AUTHZ: guards and sources', AUTHZ_ROWS],
  ['OPS: errors and cheap refusals', OPS_ROWS],
]

describe.each(SECTIONS)('catalog %s', (_section, rows) => {
  it.each(rows.map((row) => [`${row.id}: ${row.what}`, row] as const))(
    '%s',
    async (_title, row) => {
      await runRow(catalog, row, seen)
    },
  )
})

describe('catalog rows that need more than one request', () => {
  it('HTTP-11: control characters (NUL, CR, LF) are refused by Node before the middleware, never a 500', async () => {
    const [first, second] = [catalog.idp.mint(), catalog.idp.mint()]
    for (const control of ['\x00', '\r', '\n']) {
      const runs = catalog.runs()
      const status = await catalog.sendRaw(
        `GET /api/guarded HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${first}${control}${second}\r\nConnection: close\r\n\r\n`,
      )
      expect(status, JSON.stringify(control)).toBe(400)
      expect(catalog.runs()).toBe(runs)
    }
  })

  it('SIG-17: a remembered token’s header and payload under a garbage signature, then the token past exp', async () => {
    const token = catalog.idp.mint({ sub: 'remembered' }, { expiresInSec: 60 })
    await runProbe(catalog, { authorization: bearer(token) }, ACCEPT('remembered'), 'warm', seen)
    const [header, payload] = segments(token)
    const garbage = `${header}.${payload}.${randomBytes(256).toString('base64url')}`
    await runProbe(
      catalog,
      { authorization: bearer(garbage) },
      IT('signature verification failed'),
      'garbage',
      seen,
    )
    vi.setSystemTime(NOW_MS + (60 + LEEWAY_SEC) * 1000)
    await runProbe(
      catalog,
      { authorization: bearer(token) },
      IT('token expired'),
      'after exp',
      seen,
    )
  })

  it('AUTHZ-04 / AUTHZ-05: a string instead of a list, and vacuous guards, are refused when the route is defined', () => {
    const define = [
      () => requireGroups('admin' as never),
      () => requireGroups([]),
      () => requireRoles([], { match: 'all' }),
      () => requirePermissions(undefined as never),
      () => requireGroups([''] as never),
    ]
    for (const build of define) expect(build).toThrow(ConfigError)
  })
})

describe('catalog rows that once were gaps: Cognito ID tokens, lifetimes, logout tokens', () => {
  let cognito: CognitoTestIssuer

  beforeAll(async () => {
    cognito = await createCognitoIssuer()
  })

  afterAll(() => cognito.close())

  function cognitoApp() {
    const provider = new CognitoProvider({
      userPoolId: cognito.pool.userPoolId,
      clientId: cognito.clientId,
      tokenUse: 'id',
      fetch: cognito.idp.fetch,
    })
    const app = express()
    app.use(jwtAuth({ provider, logger: false }))
    app.get('/me', requireUser(), whoAmI())
    return app
  }

  it('the Cognito ID-token control: a well-formed ID token is accepted', async () => {
    const res = await request(cognitoApp())
      .get('/me')
      .set('Authorization', bearer(cognito.id(JANE)))
    expect(res.status).toBe(200)
  })

  it('CLM-11: a Cognito ID token without iat is refused under tokenUse id', async () => {
    const res = await request(cognitoApp())
      .get('/me')
      .set('Authorization', bearer(cognito.id(JANE, { iat: undefined })))
    expect(res.status).toBe(401)
  })

  // OpenID Connect Core §3.1.3.7 items 3-4.
  it('CLM-21: a Cognito ID token with an extra untrusted audience and no azp is refused', async () => {
    const token = cognito.id(JANE, { aud: [cognito.clientId, 'evil-client'] })
    const res = await request(cognitoApp()).get('/me').set('Authorization', bearer(token))
    expect(res.status).toBe(401)
  })

  // The /strict route sets maxTokenLifetimeSec: exp − iat is bounded, not only now − iat.
  it('CLM-07: a far-future exp is refused when maxTokenLifetimeSec is configured', async () => {
    const token = catalog.idp.mint(
      { iat: NOW, exp: 253_402_300_799 },
      { header: { typ: 'at+jwt' } },
    )
    await runProbe(
      catalog,
      { path: '/strict/guarded', authorization: bearer(token) },
      IT(),
      'year 9999',
    )
  })

  it('TYP-02: a logout token is refused on the default route', async () => {
    await runProbe(catalog, { authorization: bearer(logoutToken(catalog)) }, IT(), 'logout token')
  })
})

describe('OPS-03: the answers of the whole suite', () => {
  // Descriptions that name a claim or a facet are built from a fixed list, never from the token.
  const TEMPLATES = [
    /^(missing|invalid) (exp|nbf|iat|iss|aud|sub|jti|client_id|azp|sid|typ|scope|scp|token_use) claim$/,
    /^((groups|roles|permissions) are|profile is) temporarily unavailable$/,
    /^missing a required (group|role|permission)$/,
  ]

  it('OPS-03: every error_description answered is a fixed text of the library, never input', async () => {
    const { readFile, readdir } = await import('node:fs/promises')
    const files: string[] = []
    for (const dir of ['src', 'providers/jwks', 'providers/claims']) {
      for (const name of await readdir(dir)) if (name.endsWith('.ts')) files.push(`${dir}/${name}`)
    }
    const source = (await Promise.all(files.map((file) => readFile(file, 'utf8')))).join('\n')
    expect(seen.size).toBeGreaterThan(20)
    for (const description of seen) {
      const literal = source.includes(`'${description}'`) || source.includes(`"${description}"`)
      expect(literal || TEMPLATES.some((template) => template.test(description)), description).toBe(
        true,
      )
    }
  })
})

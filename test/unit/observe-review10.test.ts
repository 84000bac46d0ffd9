// Observability review 10: a shared cache that is down never fails the health check, logLevel
// given with a logger is refused (fromEnv()'s restating of the variable excepted, with a warning),
// a SQL URL's bad port is blamed on the port, and the SQL commands name the setting a URL came by.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import express from 'express'
import { pino } from 'pino'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { runCli, type Io } from '../../bin/dispatch.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { sqlCommands } from '../../providers/sql/cli.js'
import { parseDatabaseUrl } from '../../providers/sql/url.js'
import {
  ConfigError,
  createVerifier,
  fromEnv,
  healthHandler,
  JwksCache,
  jwtAuth,
  type SharedCacheTier,
} from '../../src/index.js'
import { HEALTH_TIMEOUT_MS } from '../../src/health.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

const MISSING = 'oidc-guard-missing-driver-review10'

// Nothing is uninstalled: every dialect is made to need a package that does not exist.
vi.mock(import('../../providers/sql/drivers.js'), async (importOriginal) => {
  const actual = await importOriginal()
  return {
    ...actual,
    driverPackages: (dialect) => [...actual.driverPackages(dialect), MISSING],
  }
})

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false })
})

afterAll(() => idp.close())

afterEach(() => {
  vi.useRealTimers()
})

const provider = () =>
  new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    jwksCache: new JwksCache({ fetch: idp.fetch }),
  })

/**
 * A shared tier whose `health()` is `health` (which may answer outside the contract, as a tier
 * written in JavaScript may), answering no lookup (every one a miss).
 */
function sharedTier(health: () => unknown): SharedCacheTier {
  return {
    get: async () => undefined,
    set: async () => {},
    invalidate: async () => {},
    onInvalidate() {},
    health: health as NonNullable<SharedCacheTier['health']>,
  }
}

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  return []
}

/** A pino logger at `level` writing its records, parsed, to `lines`. */
function capturing(level: string) {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line)) })
  return { logger, lines }
}

describe('a shared source cache that is down is reported, never failing the check (#1)', () => {
  const groups = { fetchGroups: async () => ['staff'] }

  it.each([
    [
      'says it is down',
      () => ({ ok: false, detail: 'memcached unreachable' }),
      'memcached unreachable',
    ],
    [
      'throws',
      () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:11211')
      },
      'connect ECONNREFUSED 127.0.0.1:11211',
    ],
    ['answers outside its contract', () => 'fine', 'health() answered neither'],
  ])(
    'a tier whose health() %s: ok, 200, the tier reported not ok',
    async (_name, health, detail) => {
      const verifier = createVerifier({
        provider: provider(),
        groups,
        sourceCache: { shared: sharedTier(health) },
        logger: false,
      })
      await verifier.hydrate()
      const report = await verifier.health()
      expect(report.ok).toBe(true)
      expect(report.sourceCache.shared).toEqual({
        ok: false,
        detail: expect.stringContaining(detail),
      })
      const app = express()
      app.get('/health', healthHandler(verifier))
      const res = await request(app).get('/health')
      expect(res.status).toBe(200)
      expect(res.body.sourceCache.shared.ok).toBe(false)
    },
  )

  it('a tier whose health() never answers: reported after the limit, and the report stays ok', async () => {
    const verifier = createVerifier({
      provider: provider(),
      groups,
      sourceCache: { shared: sharedTier(() => new Promise(() => {})) },
      logger: false,
    })
    await verifier.hydrate()
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const pending = verifier.health()
    await vi.advanceTimersByTimeAsync(HEALTH_TIMEOUT_MS)
    const report = await pending
    expect(report.sourceCache.shared).toEqual({
      ok: false,
      detail: `health() did not answer within ${HEALTH_TIMEOUT_MS} ms`,
    })
    expect(report.ok).toBe(true)
  })

  it('a revocation store that is down still fails it', async () => {
    const verifier = createVerifier({
      provider: provider(),
      revocation: { isRevoked: () => false, health: () => ({ ok: false }) },
      sourceCache: { shared: sharedTier(() => ({ ok: true })) },
      logger: false,
    })
    await verifier.hydrate()
    expect((await verifier.health()).ok).toBe(false)
  })
})

describe('docs/errors.md tells an unsigned alg none token from a signed one, as the code does (#5)', () => {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const claims = () => ({ iss: idp.issuer, sub: 'alice' })
  const row = (code: string) =>
    readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8')
      .split('\n')
      .find((line) => line.startsWith(`| \`${code}\``))

  it('unsigned: ERR_AUTH_TOKEN_MALFORMED, and its row says so', async () => {
    const verify = createVerifier({ provider: provider(), logger: false })
    await expect(verify(`${part({ alg: 'none' })}.${part(claims())}.`)).rejects.toMatchObject({
      code: 'ERR_AUTH_TOKEN_MALFORMED',
      description: 'token is not signed',
    })
    expect(row('ERR_AUTH_TOKEN_MALFORMED')).toContain('an unsigned `alg: none` token included')
  })

  it('with a signature: ERR_AUTH_ALG_NOT_ALLOWED, and its row says "with a signature"', async () => {
    const verify = createVerifier({ provider: provider(), logger: false })
    await expect(verify(`${part({ alg: 'none' })}.${part(claims())}.c2ln`)).rejects.toMatchObject({
      code: 'ERR_AUTH_ALG_NOT_ALLOWED',
    })
    expect(row('ERR_AUTH_ALG_NOT_ALLOWED')).toContain('`alg` is `none` with a signature')
  })
})

describe('logLevel is refused with a logger, where it would do nothing (#6)', () => {
  const refusal =
    /^logLevel cannot be used with logger: .*set the level on your own logger, or drop logger to use the built-in one$/
  const refusalWithFalse =
    /^logLevel cannot be used with logger: .*drop logLevel \(logger: false writes nothing\)/

  it('createVerifier: a pino logger with logLevel debug is refused, naming what to do instead', () => {
    const { logger } = capturing('info')
    expect(
      problemsOf(() => createVerifier({ provider: provider(), logger, logLevel: 'debug' })),
    ).toEqual([expect.stringMatching(refusal)])
    expect(
      problemsOf(() => createVerifier({ provider: provider(), logger: false, logLevel: 'trace' })),
    ).toEqual([expect.stringMatching(refusalWithFalse)])
    // The level a logger of the caller's would have had anyway is no excuse: it would still be unread.
    expect(
      problemsOf(() => createVerifier({ provider: provider(), logger, logLevel: 'info' })),
    ).toEqual([expect.stringMatching(refusal)])
  })

  it('jwtAuth, enabled and disabled, refuses it too', () => {
    const { logger } = capturing('info')
    expect(
      problemsOf(() => jwtAuth({ provider: provider(), logger, logLevel: 'debug', env: {} })),
    ).toEqual([expect.stringMatching(refusal)])
    expect(
      problemsOf(() => jwtAuth({ disabled: true, logger: false, logLevel: 'debug', env: {} })),
    ).toEqual([expect.stringMatching(refusalWithFalse)])
  })

  it('logLevel alone, or logger alone, is still accepted', () => {
    const { logger } = capturing('info')
    expect(createVerifier({ provider: provider(), logLevel: 'silent' }).logger.level).toBe('silent')
    expect(() => createVerifier({ provider: provider(), logger })).not.toThrow()
  })

  it('fromEnv() output (its logLevel restates AUTH_MIDDLEWARE_LOG_LEVEL) is accepted with every logger', () => {
    const env = {
      AUTH_PROVIDER: 'jwks',
      AUTH_PROVIDER_ISSUER: idp.issuer,
      AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
      AUTH_PROVIDER_AUDIENCE: idp.audience,
    }
    expect(() => createVerifier(fromEnv(env, { logger: false }))).not.toThrow()
    expect(() =>
      createVerifier(fromEnv({ ...env, AUTH_MIDDLEWARE_LOG_LEVEL: 'silent' })),
    ).not.toThrow()
    const { logger } = capturing('info')
    expect(() => jwtAuth(fromEnv(env, { logger }))).not.toThrow()
  })

  it('fromEnv({ logger }) with AUTH_MIDDLEWARE_LOG_LEVEL at another level: accepted, with one warning on that logger', () => {
    const { logger, lines } = capturing('info')
    const options = fromEnv(
      {
        AUTH_PROVIDER: 'jwks',
        AUTH_PROVIDER_ISSUER: idp.issuer,
        AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
        AUTH_PROVIDER_AUDIENCE: idp.audience,
        AUTH_MIDDLEWARE_LOG_LEVEL: 'debug',
      },
      { logger },
    )
    jwtAuth(options)
    createVerifier(options)
    const warnings = lines.filter((line) => line['variable'] === 'AUTH_MIDDLEWARE_LOG_LEVEL')
    expect(warnings).toEqual([
      expect.objectContaining({
        level: 40,
        value: 'debug',
        loggerLevel: 'info',
        msg: expect.stringMatching(
          /^AUTH_MIDDLEWARE_LOG_LEVEL is not applied: .*set the level on that logger$/,
        ),
      }),
    ])
  })
})

describe('a SQL URL with a bad port blames the port, not a password (#7)', () => {
  it.each([
    ['postgres://app@127.0.0.1:99999/authz', 5432],
    ['postgres://127.0.0.1:99999/authz', 5432],
    ['mysql://app:secret@db.internal:54x2/authz', 3306],
    ['mariadb://app@[::1]:70000/authz', 3306],
    ['postgres://app@db:0/authz', 5432],
  ])('%s', (url, defaultPort) => {
    expect(parseDatabaseUrl(url)).toBe(
      `must have a port from 1 to 65535, or none for ${defaultPort} (value hidden: it may carry a password)`,
    )
  })

  it.each([
    // The digits are a password's start, cut at its unescaped /.
    'postgres://app:987654/xyz@db/authz',
    // And here at its #.
    'mysql://app:pa#ss@db/authz',
    // A host the parser refuses: no port to blame.
    'postgres://u:pa ss@[bad/db',
  ])('%s: still the percent-encode hint', (url) => {
    expect(parseDatabaseUrl(url)).toMatch(
      /^is not a valid URL: percent-encode # \/ \? @ % in its password/,
    )
  })
})

describe('the SQL commands name the setting the URL came by (#8)', () => {
  async function cli(args: string[], env: Record<string, string>) {
    const err: string[] = []
    const io: Io = { out: () => {}, err: (line) => void err.push(line), env }
    const code = await runCli(args, io, sqlCommands)
    return { code, err: err.join('\n') }
  }

  it.each([
    [
      ['groups', 'alice'],
      { AUTHZ_DATABASE_URL: 'postgres://app:secret@127.0.0.1:5432/authz' },
      'AUTHZ_DATABASE_URL',
    ],
    [['groups', 'alice', '--url', 'mysql://app@127.0.0.1:3306/authz'], {}, '--url'],
    [
      ['roles', 'alice'],
      { AUTHZ_SQLALCHEMY_DATABASE_URI: 'sqlite::memory:' },
      'AUTHZ_SQLALCHEMY_DATABASE_URI',
    ],
  ])('%j with %j: a driver not installed is told under %s', async (args, env, name) => {
    const result = await cli(args, env)
    expect(result.code).toBe(2)
    expect(result.err).toMatch(
      new RegExp(
        `^oidc-guard ${args[0]}: ${name} is a \\w+ URL, which needs the package "${MISSING}"`,
      ),
    )
    expect(result.err).not.toContain('secret')
  })
})

// Review 8, second pass: what the reviewers of the round's own fixes found.

import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { GraphGroupResolver } from '../../providers/entra-id/index.js'
import { resolveSchema } from '../../providers/sql/schema.js'
import { ConfigError } from '../../src/errors.js'
import { jwtAuth } from '../../src/index.js'
import { JwksCache } from '../../src/jwks-cache.js'
import { Problems } from '../../src/options.js'
import { sqlCli as cli, sqliteDatabase, uniqueTables } from '../helpers/sql.js'

describe('a fetch failure’s cause is scrubbed before it is cut', () => {
  it('a proxy URL quoted late in a long cause loses its password, not the scrubbing', async () => {
    const url = 'http://svc-user:S3cretProxyPassw0rdAndThenSomeMore@proxy.internal:3128'
    // The password starts near the 200th character, where the cause is cut.
    const cause = new Error(`proxy CONNECT failed (${'attempt timed out; '.repeat(7)}) via ${url}`)
    expect(cause.message.indexOf('S3cret')).toBeLessThan(200)
    expect(cause.message.indexOf('@')).toBeGreaterThan(200)
    const cache = new JwksCache({
      fetch: () => Promise.reject(new TypeError('fetch failed', { cause })),
      logger: false,
    })
    await Promise.resolve()
      .then(() => cache.getKey('https://idp.example.com/jwks', 'RS256', 'k'))
      .catch(() => undefined)
    const { lastError } = cache.status('https://idp.example.com/jwks')
    expect(lastError).toContain('fetch failed (proxy CONNECT failed')
    expect(lastError).not.toContain('S3cret')
  })
})

describe('jwtAuth() without options', () => {
  const saved = process.env['AUTH_MIDDLEWARE_DISABLED']
  afterEach(() => {
    if (saved === undefined) delete process.env['AUTH_MIDDLEWARE_DISABLED']
    else process.env['AUTH_MIDDLEWARE_DISABLED'] = saved
  })

  it('is the disabled middleware when the environment says so, not a TypeError', () => {
    process.env['AUTH_MIDDLEWARE_DISABLED'] = 'true'
    const middleware = (jwtAuth as unknown as () => ReturnType<typeof jwtAuth>)()
    expect(typeof middleware).toBe('function')
    expect(middleware.verifier).toBeUndefined()
  })
})

describe('GraphGroupResolver shows any bad value in its ConfigError', () => {
  it.each([{ securityEnabledOnly: 1n }, { cache: 1n }])('%s', (options) => {
    expect(
      () => new GraphGroupResolver({ getGraphToken: () => 't', ...(options as object) }),
    ).toThrow(ConfigError)
  })
})

describe('SQL table names are compared without case', () => {
  it('two facets in one SQLite table (t and T) are refused', () => {
    const problems = new Problems()
    resolveSchema(problems, { groups: 'r8_t', roles: 'R8_T', permissions: 'r8_p' }, undefined)
    expect(() => problems.throwIfAny()).toThrow(/a different table for each facet/)
  })

  it('an identifier that looks like a URL is not echoed', () => {
    const problems = new Problems()
    resolveSchema(problems, undefined, { user: 'postgres://app:hunter2@db/authz' })
    let message = ''
    try {
      problems.throwIfAny()
    } catch (error) {
      message = (error as ConfigError).message
    }
    expect(message).toMatch(/columns\.user must be an SQL identifier/)
    expect(message).not.toContain('hunter2')
  })
})

describe('the CLI', () => {
  const db = sqliteDatabase()
  const tables = uniqueTables()
  const flags = ['--url', db.url, '--groups-table', tables.groups]
  afterEach(() => undefined)

  it('grant and revoke never echo a URL given in the facet’s place', async () => {
    for (const command of ['grant', 'revoke']) {
      const { code, err } = await cli([command, 'postgres://u:s3cretpw@127.0.0.1/test', 'a', 'b'])
      expect(code).toBe(2)
      expect(err).toMatch(/the facet must be group\(s\), role\(s\) or permission\(s\)/)
      expect(err).not.toContain('s3cretpw')
    }
    expect((await cli(['grant', 'team', 'a', 'b'])).err).toContain('got "team"')
  })

  it('quotes values with invisible default-ignorable characters (variation selector, Hangul filler)', async () => {
    expect((await cli(['sql', 'init', ...flags])).code).toBe(0)
    for (const value of ['admin\ufe0f', 'admin\u3164', 'admin\u034f']) {
      const { out } = await cli(['grant', 'group', 'dora', value, ...flags])
      expect(out).toMatch(/^granted groups "admin\\u/)
    }
    db.cleanup()
    expect(existsSync(db.url.slice('sqlite:'.length))).toBe(false)
  })
})

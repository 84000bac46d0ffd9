// SQL review fixes, seventh round: a MySQL URL's TLS mode reaches mysql2 (it used to be ignored,
// and the connection made in clear text), and query options mysql2 would ignore are refused.

import { afterEach, describe, expect, it, vi } from 'vitest'
import { resolvePoolOptions } from '../../providers/sql/connection.js'
import { openTarget } from '../../providers/sql/drivers.js'
import { parseDatabaseUrl, SqlAuthzStore } from '../../providers/sql/index.js'
import { ConfigError } from '../../src/errors.js'
import { Problems, silentLogger } from '../../src/spi.js'

// mysql2 as it is, except that the test keeps the options of every pool the SQL store creates.
const { created } = vi.hoisted(() => ({ created: [] as Record<string, unknown>[] }))
vi.mock('mysql2', async (importOriginal) => {
  const real = await importOriginal<Record<string, unknown> & { default: object }>()
  const createPool = (options: Record<string, unknown>) => {
    created.push({ ...options })
    return (real['createPool'] as (options: unknown) => unknown)(options)
  }
  return { ...real, createPool, default: { ...real.default, createPool } }
})

/** The problems the store reports for `url`, or [] when it accepts it. */
function problemsOf(url: string): string[] {
  try {
    void new SqlAuthzStore({ url }).close()
    return []
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return [...error.problems]
  }
}

describe('a MySQL URL’s query', () => {
  it.each([
    ['mysql://root@db/test?ssl-mode=REQUIRED', 'REQUIRED', 'mysql://root@db/test'],
    ['mysql://root@db/test?sslmode=require', 'REQUIRED', 'mysql://root@db/test'],
    ['mysql://root@db/test?ssl_mode=VERIFY_CA', 'VERIFY_CA', 'mysql://root@db/test'],
    ['mysql://root@db/test?sslmode=verify-ca', 'VERIFY_CA', 'mysql://root@db/test'],
    ['mysql://root@db/test?SSL-MODE=verify_identity', 'VERIFY_IDENTITY', 'mysql://root@db/test'],
    ['mysql://root@db/test?sslmode=verify-full', 'VERIFY_IDENTITY', 'mysql://root@db/test'],
    ['mysql://root@db/test?ssl-mode=disabled', 'DISABLED', 'mysql://root@db/test'],
    [
      'mysql+pymysql://root@db/test?charset=utf8mb4&ssl-mode=REQUIRED&password1=a%2Bb',
      'REQUIRED',
      'mysql://root@db/test?charset=utf8mb4&password1=a%2Bb',
    ],
  ])('reads the TLS mode of %s and takes it out of the URL mysql2 gets', (url, sslMode, driver) => {
    const target = parseDatabaseUrl(url)
    expect(target).toMatchObject({ dialect: 'mysql', sslMode, url: driver })
    // The display keeps the mode, so logs say which one the pool uses.
    expect(typeof target === 'object' && target.display).toMatch(/ssl.?mode=/i)
  })

  it.each([
    'mysql://root@db/test',
    'mysql://root@db/test?charset=utf8mb4',
    'mysql://root@db/test?ssl={"rejectUnauthorized":true,"verifyIdentity":true}',
    'mysql://root@db/test?ssl=Amazon%20RDS',
    'mysql://root@/test?socketPath=/run/mysqld/mysqld.sock',
  ])('accepts %s with no TLS mode of its own', (url) => {
    const target = parseDatabaseUrl(url)
    expect(typeof target, String(target)).toBe('object')
    expect(target).not.toHaveProperty('sslMode')
  })

  it.each([
    ['mysql://root@db/test?ssl_ca=/etc/mysql/ca.pem', '"ssl_ca", which mysql2 would ignore'],
    ['mysql://root@db/test?ssl-verify-server-cert=1', '"ssl-verify-server-cert"'],
    ['mysql://root@db/test?multipleStatements=true', '"multipleStatements"'],
    ['mysql://root@db/test?connectTimeout=600000', '"connectTimeout"'],
    ['mysql://root@db/test?password=hunter2', '"password"'],
    ['mysql://root@db/test?ssl-mode=PREFERRED', 'PREFERRED, which mysql2 cannot do'],
    ['mysql://root@db/test?sslmode=prefer', 'PREFERRED, which mysql2 cannot do'],
    [
      'mysql://root@db/test?ssl-mode=strict',
      'not DISABLED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY',
    ],
    ['mysql://root@db/test?ssl-mode=REQUIRED&sslmode=disable', 'gives the TLS mode twice'],
    ['mysql://root@db/test?ssl-mode=REQUIRED&ssl-mode=DISABLED', '"ssl-mode" twice'],
    ['mysql://root@db/test?ssl={"ca":"x"}&ssl=false', '"ssl" twice'],
    ['mysql://root@db/test?ssl-mode=VERIFY_IDENTITY&ssl={}', 'gives both ssl-mode and ssl'],
    ['mysql://root@db/test?ssl=true', 'neither a JSON object nor an SSL profile name'],
    ['postgres://app@db/test?ssl-mode=require', '"ssl-mode", which pg does not read'],
    ['postgres://app@db/test?ssl_mode=verify-full', '"ssl_mode", which pg does not read'],
  ])('refuses %s when the store is built', (url, problem) => {
    const problems = problemsOf(url)
    expect(problems).toEqual([expect.stringContaining(problem)])
    expect(problems.join()).not.toContain('hunter2')
  })

  it('still lets PostgreSQL have its sslmode', () => {
    expect(parseDatabaseUrl('postgres://app@db/test?sslmode=verify-full')).toMatchObject({
      url: 'postgres://app@db/test?sslmode=verify-full',
    })
  })
})

describe('mysql2’s ssl option, for each TLS mode', () => {
  afterEach(() => void created.splice(0))

  it.each([
    ['ssl-mode=REQUIRED', { rejectUnauthorized: true, verifyIdentity: true }], // as pg reads require
    ['ssl-mode=VERIFY_CA', { rejectUnauthorized: true, verifyIdentity: false }],
    ['ssl-mode=VERIFY_IDENTITY', { rejectUnauthorized: true, verifyIdentity: true }],
    ['sslmode=verify-full', { rejectUnauthorized: true, verifyIdentity: true }],
    ['ssl-mode=DISABLED', undefined],
  ])('%s: %j', async (query, ssl) => {
    const target = parseDatabaseUrl(`mysql://root@127.0.0.1:1/test?${query}`)
    if (typeof target === 'string') throw new Error(target)
    const pool = resolvePoolOptions(new Problems(), undefined)
    const { db } = await openTarget(target, pool, silentLogger)
    try {
      expect(created).toHaveLength(1)
      expect(created[0]).toMatchObject({ uri: 'mysql://root@127.0.0.1:1/test' })
      expect(created[0]!['ssl']).toEqual(ssl)
    } finally {
      await db.destroy()
    }
  })
})

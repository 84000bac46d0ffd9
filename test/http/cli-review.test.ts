// The CLI as reviewed: --help and exit codes of the token commands, decode of times no date holds,
// verify with authentication disabled or Redis revocation (the process must exit), the SQL
// commands' URL from the environment.

import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type Io } from '../../bin/dispatch.js'
import { tokenCommands } from '../../bin/token-commands.js'
import { sqlCommands } from '../../providers/sql/cli.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

const root = join(import.meta.dirname, '..', '..')
const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ audience: 'api://cli-review' })
})

afterAll(() => idp.close())

async function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const io: Io = { out: (line) => void out.push(line), err: (line) => void err.push(line), env }
  const code = await runCli(args, io, [...tokenCommands, ...sqlCommands])
  return { code, out: out.join('\n'), err: err.join('\n') }
}

function spawnCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(root, 'bin', 'oidc-guard.ts'), ...args],
      { cwd: root, env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

const jwksEnv = () => ({
  AUTH_PROVIDER: 'jwks',
  AUTH_PROVIDER_ISSUER: idp.issuer,
  AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
  AUTH_PROVIDER_AUDIENCE: 'api://cli-review',
})

/** A compact JWT with these claims and no valid signature: enough for decode. */
function unsigned(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'RS256' })}.${part(claims)}.c2ln`
}

describe('the token commands’ command line', () => {
  it.each([
    ['verify', '--help'],
    ['decode', '--help'],
    ['mint', '--help'],
    ['verify', '-h'],
  ])('%s %s prints its usage and exits 0', async (command, flag) => {
    const result = await cli([command, flag])
    expect(result).toMatchObject({ code: 0, err: '' })
    expect(result.out).toMatch(new RegExp(`^Usage: oidc-guard ${command} `))
  })

  it.each([
    [['verify', '--bogus', 'x'], /^oidc-guard verify: Unknown option '--bogus'/],
    [['verify'], /^oidc-guard verify: give one token/],
    [['decode', 'a', 'b'], /^oidc-guard decode: give one token/],
    [['mint', '--port'], /^oidc-guard mint: Option '--port <value>' argument missing/],
  ])('%j is a wrong command line: exit code 2, with the usage', async (args, message) => {
    const result = await cli(args)
    expect(result.code).toBe(2)
    expect(result.err).toMatch(message)
    expect(result.err).toContain(`\n\nUsage: oidc-guard ${args[0]} `)
  })
})

describe('oidc-guard decode', () => {
  it('shows a time no date can hold as invalid, with the claims still shown', async () => {
    const token = unsigned({ sub: 'a', exp: 99_999_999_999_999, iat: 1_700_000_000 })
    const result = await cli(['decode', token])
    expect(result.code).toBe(0)
    expect(result.out).toContain('"sub": "a"')
    expect(result.out).toContain('exp: 99999999999999 (not a valid time)')
    expect(result.out).toContain('iat: 2023-11-14T22:13:20.000Z')
  })
})

describe('oidc-guard verify', () => {
  it('says there is nothing to verify while authentication is disabled, and exits 1', async () => {
    const result = await cli(['verify', idp.mint({ sub: 'alice' })], {
      ...jwksEnv(),
      AUTH_MIDDLEWARE_DISABLED: 'true',
    })
    expect(result).toMatchObject({
      code: 1,
      out: '',
      err: 'oidc-guard verify: authentication is disabled (AUTH_MIDDLEWARE_DISABLED): nothing to verify',
    })
  })

  it('exits once done with AUTH_REVOCATION=redis: what fromEnv() opened is closed', async () => {
    const started = Date.now()
    const result = await spawnCli(['verify', idp.mint({ sub: 'alice' })], {
      ...jwksEnv(),
      AUTH_REDIS_URL: REDIS_URL,
      AUTH_REDIS_PREFIX: `oidc-guard-test:cli:${process.pid}:${randomBytes(4).toString('hex')}:`,
      AUTH_REVOCATION: 'redis',
    })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0) // -1 when the time-out had to kill it
    expect(result.stdout).toMatch(/^valid: verified by jwks\n/)
    expect(Date.now() - started).toBeLessThan(20_000)
  }, 30_000)
})

describe('the SQL commands’ URL from the environment', () => {
  it('an unusable AUTHZ_DATABASE_URL is reported under its own name, not --url', async () => {
    const result = await cli(['sql', 'init', '--print'], {
      AUTHZ_DATABASE_URL: 'postgress://a:pw@h/db',
    })
    expect(result.code).toBe(2)
    expect(result.err).toMatch(/^oidc-guard sql: AUTHZ_DATABASE_URL must start with postgres:\/\//)
    expect(result.err).not.toContain('pw@')
    const alias = await cli(['groups', 'alice'], {
      AUTHZ_SQLALCHEMY_DATABASE_URI: 'mysql://root:100%@db/app',
    })
    expect(alias.code).toBe(2)
    expect(alias.err).toMatch(
      /^oidc-guard groups: AUTHZ_SQLALCHEMY_DATABASE_URI must percent-encode its user, password/,
    )
    expect(alias.err).not.toContain('100%')
  })

  it('AUTHZ_DATABASE_URL and its alias naming different databases are refused, as fromEnv() refuses them', async () => {
    const result = await cli(['sql', 'init', '--print'], {
      AUTHZ_DATABASE_URL: 'postgres://app@db/authz',
      AUTHZ_SQLALCHEMY_DATABASE_URI: 'mysql://app@other/authz',
    })
    expect(result).toMatchObject({
      code: 2,
      out: '',
      err: 'oidc-guard sql: AUTHZ_DATABASE_URL and AUTHZ_SQLALCHEMY_DATABASE_URI (its alias) are both set, to different URLs; keep one',
    })
    const same = await cli(['sql', 'init', '--print'], {
      AUTHZ_DATABASE_URL: 'postgres://app@db/authz',
      AUTHZ_SQLALCHEMY_DATABASE_URI: 'postgres://app@db/authz',
    })
    expect(same.code).toBe(0)
    expect(same.out).toMatch(/^create table if not exists "authz_groups"/)
  })
})

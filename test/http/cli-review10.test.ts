// The CLI as reviewed in round 10: a token read from standard input (`-`), help for a command that
// does not exist, control characters of a token escaped in text output, and the cause of a
// revocation store's 503.

import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type Io } from '../../bin/dispatch.js'
import { tokenCommands } from '../../bin/token-commands.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

const root = join(import.meta.dirname, '..', '..')

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ audience: 'api://cli-review10' })
})

afterAll(() => idp.close())

/** Runs the CLI in process; `input`, when given, is its standard input. */
async function cli(args: string[], env: Record<string, string> = {}, input?: string) {
  const out: string[] = []
  const err: string[] = []
  const io: Io = {
    out: (line) => void out.push(line),
    err: (line) => void err.push(line),
    env,
    ...(input === undefined ? {} : { input: async () => input }),
  }
  const code = await runCli(args, io, tokenCommands)
  return { code, out: out.join('\n'), err: err.join('\n') }
}

/** Runs bin/oidc-guard.ts with `input` on its standard input. */
function spawnCli(
  args: string[],
  env: Record<string, string>,
  input: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', join(root, 'bin', 'oidc-guard.ts'), ...args],
      { cwd: root, env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
    child.stdin!.end(input)
  })
}

const jwksEnv = () => ({
  AUTH_PROVIDER: 'jwks',
  AUTH_PROVIDER_ISSUER: idp.issuer,
  AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
  AUTH_PROVIDER_AUDIENCE: 'api://cli-review10',
})

/** A compact JWT with these claims and no valid signature: enough for decode. */
function unsigned(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'RS256' })}.${part(claims)}.c2ln`
}

const RAW_CONTROLS =
  // eslint-disable-next-line no-control-regex -- the characters the escaping must have removed
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/

describe('a token read from standard input with - (#3)', () => {
  it('verify - reads the token, trimmed of the newline echo adds', async () => {
    const result = await cli(['verify', '-'], jwksEnv(), `${idp.mint({ sub: 'alice' })}\n`)
    expect(result).toMatchObject({ code: 0, err: '' })
    expect(result.out).toMatch(/^valid: verified by jwks\n[\s\S]*"sub": "alice"/)
  })

  it('decode - reads it too, a pasted "Bearer " and surrounding whitespace dropped', async () => {
    const result = await cli(
      ['decode', '-', '--json'],
      {},
      `  Bearer ${unsigned({ sub: 'bob' })}\r\n`,
    )
    expect(result.code).toBe(0)
    expect(JSON.parse(result.out)).toMatchObject({ verified: false, claims: { sub: 'bob' } })
  })

  it('standard input that is empty, holds two tokens, or is not there is a usage error', async () => {
    const empty = await cli(['verify', '-'], jwksEnv(), '\n')
    expect(empty.code).toBe(2)
    expect(empty.err).toMatch(/^oidc-guard verify: standard input held no token\n/)
    const two = await cli(
      ['decode', '-'],
      {},
      `${unsigned({ sub: 'a' })}\n${unsigned({ sub: 'b' })}\n`,
    )
    expect(two.code).toBe(2)
    expect(two.err).toMatch(
      /^oidc-guard decode: standard input must hold one token and nothing else/,
    )
    const none = await cli(['decode', '-'])
    expect(none.code).toBe(2)
    expect(none.err).toMatch(/^oidc-guard decode: - reads the token from standard input/)
  })

  it('the usage texts say so', async () => {
    for (const command of ['verify', 'decode']) {
      const { out } = await cli([command, '--help'])
      expect(out).toContain(`oidc-guard ${command} - [--json]`)
    }
  })

  it('bin/oidc-guard reads its standard input: echo "$TOKEN" | oidc-guard verify -', async () => {
    const result = await spawnCli(['verify', '-'], jwksEnv(), `${idp.mint({ sub: 'carol' })}\n`)
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^valid: verified by jwks\n[\s\S]*"sub": "carol"/)
  }, 30_000)
})

describe('help for a command that does not exist (#3)', () => {
  it('help verfy says the command is unknown and exits 2', async () => {
    const result = await cli(['help', 'verfy'])
    expect(result.code).toBe(2)
    expect(result.out).toBe('')
    expect(result.err).toMatch(
      /^oidc-guard: unknown command "verfy"\n\nUsage: oidc-guard <command>/,
    )
  })

  it('help alone, and help verify, still answer 0', async () => {
    expect((await cli(['help'])).code).toBe(0)
    const verify = await cli(['--help', 'verify'])
    expect(verify.code).toBe(0)
    expect(verify.out).toMatch(/^Usage: oidc-guard verify <token>/)
  })
})

describe('control characters of a token are escaped in text output (#4)', () => {
  const hostile = {
    sub: 'mallory',
    name: 'admin\u202e\u2066gnp.exe\u2069',
    note: 'csi\u009b31m red\u0085next\u200f\u202a\u200e',
  }

  it('decode: C1 and bidi controls are written \\uXXXX, as JSON reads them back', async () => {
    const result = await cli(['decode', unsigned(hostile)])
    expect(result.code).toBe(0)
    expect(result.out).not.toMatch(RAW_CONTROLS)
    expect(result.out).toContain('"name": "admin\\u202e\\u2066gnp.exe\\u2069"')
    expect(result.out).toContain('"note": "csi\\u009b31m red\\u0085next\\u200f\\u202a\\u200e"')
    // The claims part still parses back to the same values.
    const claims = result.out.slice(result.out.indexOf('claims: ') + 'claims: '.length)
    expect(JSON.parse(claims)).toMatchObject(hostile)
  })

  it('verify: the verified claims too; --json is left as JSON', async () => {
    const token = idp.mint(hostile)
    const text = await cli(['verify', token], jwksEnv())
    expect(text.code).toBe(0)
    expect(text.out).not.toMatch(RAW_CONTROLS)
    expect(text.out).toContain('"name": "admin\\u202e\\u2066gnp.exe\\u2069"')
    const json = await cli(['verify', token, '--json'], jwksEnv())
    expect(JSON.parse(json.out).claims).toMatchObject(hostile)
  })
})

describe('the cause of a revocation store’s 503 (#2)', () => {
  it('verify prints why the revocation store cannot answer, in text and in JSON', async () => {
    const env = {
      ...jwksEnv(),
      AUTH_REVOCATION: 'redis',
      // Nothing listens on port 1: the connection is refused.
      AUTH_REDIS_URL: 'redis://127.0.0.1:1',
    }
    const token = idp.mint({ sub: 'alice' })
    const text = await cli(['verify', token], env)
    expect(text.code).toBe(1)
    expect(text.out).toMatch(
      /^refused \(503 ERR_AUTH_REVOCATION_UNAVAILABLE\): revocation store unavailable\ncause: .*redis.*127\.0\.0\.1:1/,
    )
    const json = await cli(['verify', token, '--json'], env)
    expect(JSON.parse(json.out)).toMatchObject({
      status: 503,
      code: 'ERR_AUTH_REVOCATION_UNAVAILABLE',
      cause: expect.stringContaining('127.0.0.1:1'),
    })
  }, 30_000)

  it('the usage text says what verify checks: keys and the revocation store, no source', async () => {
    const { out } = await cli(['verify', '--help'])
    expect(out).toMatch(/when the keys or the revocation\s+store cannot be had, the cause too/)
    expect(out).not.toMatch(/a source/)
  })
})

// The CLI's token commands: verify as fromEnv() configures, decode marked unverified, mint.

import { execFile } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type Io } from '../../bin/dispatch.js'
import { tokenCommands } from '../../bin/token-commands.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ audience: 'api://cli' })
})

afterAll(() => idp.close())

function ioWith(env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const io: Io = { out: (line) => void out.push(line), err: (line) => void err.push(line), env }
  return { io, out, err }
}

const env = () => ({
  AUTH_PROVIDER: 'jwks',
  AUTH_PROVIDER_ISSUER: idp.issuer,
  AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
  AUTH_PROVIDER_AUDIENCE: 'api://cli',
})

describe('oidc-guard verify', () => {
  it('prints the verified claims and exits 0', async () => {
    const { io, out } = ioWith(env())
    const code = await runCli(['verify', idp.mint({ sub: 'alice' })], io, tokenCommands)
    expect(code).toBe(0)
    expect(out.join('\n')).toMatch(/^valid: verified by jwks\n\{[\s\S]*"sub": "alice"/)
  })

  it('says exactly which check failed, exits 1, and speaks JSON with --json', async () => {
    const { io, out } = ioWith(env())
    const forged = idp.mint({ sub: 'alice' }, { tamper: 'signature' })
    expect(await runCli(['verify', forged], io, tokenCommands)).toBe(1)
    expect(out[0]).toBe('refused (401 ERR_AUTH_SIGNATURE_INVALID): signature verification failed')
    const json = ioWith(env())
    const expired = idp.mint({ sub: 'a', exp: Math.floor(Date.now() / 1000) - 3600 })
    expect(await runCli(['verify', expired, '--json'], json.io, tokenCommands)).toBe(1)
    expect(JSON.parse(json.out.join('\n'))).toEqual({
      valid: false,
      status: 401,
      code: 'ERR_AUTH_TOKEN_EXPIRED',
      description: 'token expired',
    })
  })

  it('accepts a pasted "Bearer <token>" and reports configuration problems without a stack', async () => {
    const { io, err } = ioWith({})
    expect(await runCli(['verify', `Bearer ${idp.mint({ sub: 'a' })}`], io, tokenCommands)).toBe(2)
    expect(err[0]).toMatch(/^oidc-guard verify: AUTH_PROVIDER is required/)
    expect(err.join('\n')).not.toMatch(/\n\s+at /)
  })
})

describe('oidc-guard decode', () => {
  it('prints header and claims, clearly marked unverified', async () => {
    const { io, out } = ioWith()
    expect(await runCli(['decode', idp.mint({ sub: 'bob' })], io, tokenCommands)).toBe(0)
    expect(out[0]).toMatch(/^UNVERIFIED: the signature was not checked\nheader: \{/)
    expect(out[0]).toContain('"sub": "bob"')
    const json = ioWith()
    await runCli(['decode', '--json', idp.mint({ sub: 'bob' })], json.io, tokenCommands)
    expect(JSON.parse(json.out[0]!)).toMatchObject({ verified: false, claims: { sub: 'bob' } })
  })

  it('refuses what is not a token', async () => {
    const { io, err } = ioWith()
    expect(await runCli(['decode', 'not-a-token'], io, tokenCommands)).toBe(1)
    expect(err[0]).toMatch(/^oidc-guard decode: /)
  })
})

describe('oidc-guard mint', () => {
  it('signs a token with the requested claims that verify against the printed variables', async () => {
    const { io, out } = ioWith()
    const args = [
      'mint',
      '--sub',
      'carol',
      '--scope',
      'orders.read',
      '--claim',
      'roles=["admin"]',
      '--claim',
      'team=blue',
      '--port',
      '0',
      '--json',
      '--exit-after-print',
    ]
    expect(await runCli(args, io, tokenCommands)).toBe(0)
    const printed = JSON.parse(out.join('\n'))
    expect(printed).toMatchObject({ AUTH_PROVIDER: 'jwks', AUTH_PROVIDER_AUDIENCE: 'api://local' })
    const decoded = ioWith()
    await runCli(['decode', '--json', printed.token], decoded.io, tokenCommands)
    expect(JSON.parse(decoded.out[0]!).claims).toMatchObject({
      sub: 'carol',
      scope: 'orders.read',
      roles: ['admin'],
      team: 'blue',
      aud: 'api://local',
    })
  })

  it.each([
    ['--port', 'x'],
    ['--expires', '0'],
    ['--claim', 'novalue'],
  ])('refuses %s %s as a wrong command line (exit code 2)', async (flag, value) => {
    const { io } = ioWith()
    expect(await runCli(['mint', flag, value, '--exit-after-print'], io, tokenCommands)).toBe(2)
  })

  it('prints export lines a shell reads back as the values, whatever characters they hold', async () => {
    const audience = `https://api.example.com/orders?v=1&x=2 it's $HOME; \`id\``
    const { io, out } = ioWith()
    const args = ['mint', '--audience', audience, '--port', '0', '--exit-after-print']
    expect(await runCli(args, io, tokenCommands)).toBe(0)
    const printed = out.join('\n')
    const show = 'printf "%s\\n" "$AUTH_PROVIDER" "$AUTH_PROVIDER_AUDIENCE" "$TOKEN"'
    // Pasted into a shell, as a newcomer does.
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile('sh', ['-c', `${printed}\n${show}`], { env: {} }, (error, text) =>
        error ? reject(error) : resolve(text),
      )
    })
    const token = /^export TOKEN=(.+)$/m.exec(printed)![1]!
    expect(stdout.split('\n').slice(0, 3)).toEqual(['jwks', audience, token])
    expect(printed).toContain(`export AUTH_PROVIDER_ISSUER=http://127.0.0.1:`)
  })

  it.each([
    ['aud=api://orders', /^oidc-guard mint: --claim aud= is not allowed: use --audience/],
    ['iss=https://other', /^oidc-guard mint: --claim iss= is not allowed: the iss is the local/],
  ])(
    'refuses --claim %s: the printed variables would not match the token',
    async (pair, message) => {
      const { io, out, err } = ioWith()
      const args = ['mint', '--claim', pair, '--port', '0', '--exit-after-print']
      expect(await runCli(args, io, tokenCommands)).toBe(2)
      expect(out).toEqual([])
      expect(err[0]).toMatch(message)
    },
  )
})

// The CLI as reviewed (7): a configuration problem is a wrong configuration for every command (exit
// 2, one prefix, one problem a line), mint refuses a sub the printed setup would refuse and a port
// that is not digits, and a reader closing the pipe early ends the command quietly (no EPIPE trace).

import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, type Command, type Io } from '../../bin/dispatch.js'
import { tokenCommands } from '../../bin/token-commands.js'
import { ConfigError } from '../../src/errors.js'
import { sqlCommands } from '../../providers/sql/cli.js'

const root = join(import.meta.dirname, '..', '..')

async function cli(args: string[], env: Record<string, string> = {}, extra: Command[] = []) {
  const out: string[] = []
  const err: string[] = []
  const io: Io = { out: (line) => void out.push(line), err: (line) => void err.push(line), env }
  const code = await runCli(args, io, [...tokenCommands, ...sqlCommands, ...extra])
  return { code, out, err: err.join('\n').split('\n') }
}

describe('a configuration problem, whichever command meets it', () => {
  it('verify without AUTH_PROVIDER: exit 2, "oidc-guard verify: <problem>", no doubled prefix', async () => {
    const { code, out, err } = await cli(['verify', '--', 'x'])
    expect(code).toBe(2)
    expect(out).toEqual([])
    expect(err).toHaveLength(1)
    expect(err[0]).toMatch(/^oidc-guard verify: AUTH_PROVIDER is required /)
    expect(err[0]).not.toMatch(/oidc-guard: /)
  })

  it('each problem of a ConfigError on its own line, as the SQL commands print them', async () => {
    const broken: Command = {
      name: 'broken',
      summary: 'throws two configuration problems',
      usage: 'Usage: oidc-guard broken',
      run: () => Promise.reject(new ConfigError(['first problem', 'second problem'])),
    }
    const { code, err } = await cli(['broken'], {}, [broken])
    expect(code).toBe(2)
    expect(err).toEqual(['oidc-guard broken: first problem', 'oidc-guard broken: second problem'])
    const sql = await cli(['sql', 'init', '--url', 'sqlite:./x.db', '--groups-table', 'bad name'])
    expect(sql.code).toBe(2)
    expect(sql.err.every((line) => line.startsWith('oidc-guard sql: '))).toBe(true)
  })
})

describe('mint refuses what the printed setup would then refuse', () => {
  it.each([
    [['--sub', ''], /^oidc-guard mint: the sub claim must be a non-empty string/],
    [['--claim', 'sub=42'], /^oidc-guard mint: the sub claim must be a non-empty string/],
    [['--claim', 'sub=null'], /^oidc-guard mint: the sub claim must be a non-empty string/],
    [['--claim', 'sub=""'], /^oidc-guard mint: the sub claim must be a non-empty string/],
    [['--claim', 'sub=["a"]'], /^oidc-guard mint: the sub claim must be a non-empty string/],
    [['--port', ''], /^oidc-guard mint: --port must be a port number/],
    [['--port', ' 80'], /^oidc-guard mint: --port must be a port number/],
    [['--port', '8e3'], /^oidc-guard mint: --port must be a port number/],
    [['--port', '65536'], /^oidc-guard mint: --port must be a port number/],
    [['--port=-1'], /^oidc-guard mint: --port must be a port number/],
    [['--expires', ''], /^oidc-guard mint: --expires must be seconds > 0/],
    [['--expires', '1e3'], /^oidc-guard mint: --expires must be seconds > 0/],
  ])('%j: exit code 2, nothing printed', async (flags, message) => {
    const { code, out, err } = await cli(['mint', ...flags, '--exit-after-print'])
    expect(code).toBe(2)
    expect(out).toEqual([])
    expect(err[0]).toMatch(message)
  })

  it('a sub given as --claim sub=<string> is taken', async () => {
    const { code, out } = await cli([
      'mint',
      '--claim',
      'sub=carol',
      '--port',
      '0',
      '--json',
      '--exit-after-print',
    ])
    expect(code).toBe(0)
    const { token } = JSON.parse(out.join('\n')) as { token: string }
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))
    expect(payload.sub).toBe('carol')
  })
})

describe('a reader that closes the pipe early', () => {
  it('ends the command quietly: no EPIPE stack trace, exit code 0', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'bin', 'oidc-guard.ts'),
        'sql',
        'init',
        '--print',
        '--dialect',
        'postgres',
      ],
      { cwd: root, env: { PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    // Closed before the command (still loading) writes a line: every write meets a closed pipe.
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(stderr).not.toMatch(/EPIPE|\n\s+at /)
    expect(code).toBe(0)
  })
})

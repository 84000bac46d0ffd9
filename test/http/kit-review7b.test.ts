// The example and the CLI after the seventh review: `PORT=3001 npm start` starts (the page no
// longer takes 3001 first), PORT and PAGE_PORT naming one port is said as such, and
// `oidc-guard mint` under NODE_ENV=production says to unset it (it has no allowInProduction).

import { spawn } from 'node:child_process'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, type Io } from '../../bin/dispatch.js'
import { tokenCommands } from '../../bin/token-commands.js'
import { startExample } from '../../examples/app.js'

const root = join(import.meta.dirname, '..', '..')

interface Run {
  code: number | string | null
  stdout: string
  stderr: string
}

/**
 * Runs `npm start`'s script with `env` until it prints "Press Ctrl+C" (then stops it with
 * SIGTERM, which it handles) or exits; `whileRunning` is called with the output once started.
 */
function runServer(
  env: Record<string, string>,
  whileRunning: (stdout: string) => Promise<void> = async () => {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples/server.ts')], {
      cwd: root,
      env: { PATH: process.env['PATH'] ?? '', ...env },
    })
    let stdout = ''
    let stderr = ''
    let started = false
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (started || !stdout.includes('Press Ctrl+C')) return
      started = true
      whileRunning(stdout).then(
        () => child.kill('SIGTERM'),
        (error: unknown) => {
          child.kill('SIGTERM')
          reject(error)
        },
      )
    })
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()))
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? signal, stdout, stderr })
    })
  })
}

/** A free port, released again (for a script that must pick it itself). */
async function freePort(): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const lineWith = (text: string, start: string) =>
  text.split('\n').find((line) => line.startsWith(start))

describe('npm start picks a page port that does not clash with PORT', () => {
  it('PORT=3001, the old default page port, starts the API there and the page next to it', async () => {
    const result = await runServer({ PORT: '3001' }, async (stdout) => {
      // Every part answers: the API on 3001, the page on its own port.
      const page = /Open (http:\/\/127\.0\.0\.1:\d+) in a browser/.exec(stdout)![1]!
      expect((await fetch('http://127.0.0.1:3001/public')).status).toBe(200)
      expect((await fetch(page)).status).toBe(200)
    })
    expect(result.stderr).toBe('')
    expect(lineWith(result.stdout, 'oidc-guard example API on')).toMatch(
      /^oidc-guard example API on http:\/\/127\.0\.0\.1:3001 /,
    )
    expect(lineWith(result.stdout, 'Open')).toMatch(/^Open http:\/\/127\.0\.0\.1:3002 in a/)
    expect(result.stdout).toContain('curl -i http://127.0.0.1:3001/public')
  }, 30_000)

  it('says PORT and PAGE_PORT are the same port when both name one', async () => {
    const port = await freePort()
    const result = await runServer({ PORT: String(port), PAGE_PORT: String(port) })
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `PORT and PAGE_PORT are the same port (${port}): the API and the page each need their own; set PAGE_PORT=<another port>, or leave it unset for one next to PORT\n`,
    })
  }, 30_000)

  it('PAGE_PORT=3000 with the default PORT says they are the same port', async () => {
    const result = await runServer({ PAGE_PORT: '3000' })
    expect([result.code, result.stderr]).toEqual([
      1,
      expect.stringMatching(/^PORT and PAGE_PORT are the same port \(3000\)/),
    ])
  }, 30_000)

  it('startExample rejects one port for both with SamePortError before starting anything', async () => {
    const port = await freePort()
    await expect(startExample(port, { log: false, pagePort: port })).rejects.toMatchObject({
      name: 'SamePortError',
      message: expect.stringMatching(/^PORT and PAGE_PORT are the same port/),
    })
  })

  it('a taken port after PORT leaves the page on a free one', async () => {
    // PORT is the neighbour below a held port; a few tries find one that is free.
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const holder: Server = createServer()
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
      const held = (holder.address() as AddressInfo).port
      try {
        const example = await startExample(held - 1, { log: false }).catch(() => undefined)
        if (example === undefined) continue
        try {
          expect(example.url).toBe(`http://127.0.0.1:${held - 1}`)
          expect(example.pageUrl).not.toBe(`http://127.0.0.1:${held}`)
          expect((await fetch(example.pageUrl)).status).toBe(200)
          return
        } finally {
          await example.close()
        }
      } finally {
        await new Promise<void>((resolve) => holder.close(() => resolve()))
      }
    }
    expect.fail('no free port below a held one in 10 tries')
  })

  it('the API lets the page’s origin call it (CORS reads the origin once the page listens)', async () => {
    const example = await startExample(0, { log: false })
    try {
      const answer = await fetch(`${example.url}/public`, {
        headers: { origin: example.pageUrl },
      })
      expect(answer.headers.get('access-control-allow-origin')).toBe(example.pageUrl)
      const preflight = await fetch(`${example.url}/me`, {
        method: 'OPTIONS',
        headers: {
          origin: example.pageUrl,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get('access-control-allow-origin')).toBe(example.pageUrl)
    } finally {
      await example.close()
    }
  })
})

function ioWith(env: Record<string, string>) {
  const out: string[] = []
  const err: string[] = []
  const io: Io = { out: (line) => void out.push(line), err: (line) => void err.push(line), env }
  return { io, out, err }
}

const REFUSAL =
  'oidc-guard mint: refuses to start a local issuer while NODE_ENV=production: it is for development only (its keys are made up, so an API trusting it lets in tokens no identity provider issued); unset NODE_ENV (or set NODE_ENV=development) to use it'

describe('oidc-guard mint under NODE_ENV=production', () => {
  it.each(['production', 'Production ', 'prod'])(
    'NODE_ENV=%j: refused (exit 2), told to unset NODE_ENV, no token',
    async (nodeEnv) => {
      const { io, out, err } = ioWith({ NODE_ENV: nodeEnv })
      const args = ['mint', '--port', '0', '--exit-after-print']
      expect(await runCli(args, io, tokenCommands)).toBe(2)
      expect({ out, err }).toEqual({ out: [], err: [REFUSAL] })
    },
  )

  it('the installed command says the same, never a flag it does not have', async () => {
    const result = await new Promise<Run>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(root, 'bin/oidc-guard.ts'), 'mint', '--port', '0'],
        { cwd: root, env: { PATH: process.env['PATH'] ?? '', NODE_ENV: 'production' } },
      )
      let stdout = ''
      let stderr = ''
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString()))
      child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()))
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        resolve({ code: code ?? signal, stdout, stderr })
      })
    })
    expect(result).toEqual({ code: 2, stdout: '', stderr: `${REFUSAL}\n` })
    expect(result.stderr).not.toContain('allowInProduction')
  }, 30_000)

  it('still mints outside production', async () => {
    const { io, out } = ioWith({ NODE_ENV: 'development' })
    const args = ['mint', '--port', '0', '--json', '--exit-after-print']
    expect(await runCli(args, io, tokenCommands)).toBe(0)
    expect(JSON.parse(out.join('\n'))).toHaveProperty('token')
  })
})

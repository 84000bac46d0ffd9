// `npm start` with a blank AUTH_PROVIDER (`AUTH_PROVIDER=` in a .env template) runs the local
// issuer, as a blank value counts as unset everywhere else; it used to crash with a ConfigError.

import { spawn } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Runs examples/server.ts until it says it is ready (then stops it) or exits. */
function runExample(env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples/server.ts')], {
      cwd: root,
      env: { PATH: process.env['PATH'] ?? '', ...env },
    })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (stdout.includes('Press Ctrl+C')) child.kill('SIGTERM')
    })
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()))
    child.on('close', () => {
      clearTimeout(timer)
      resolve({ stdout, stderr })
    })
  })
}

it.each(['', '  '])(
  'AUTH_PROVIDER=%j runs the local issuer',
  async (blank) => {
    const [port, pagePort] = [await freePort(), await freePort()]
    const run = await runExample({
      AUTH_PROVIDER: blank,
      PORT: String(port),
      PAGE_PORT: String(pagePort === port ? pagePort + 1 : pagePort),
    })
    expect(run.stderr).toBe('')
    expect(run.stdout).toContain(`oidc-guard example API on http://127.0.0.1:${port} (local issuer`)
  },
  30_000,
)

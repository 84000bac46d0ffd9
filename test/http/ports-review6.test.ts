// A taken port fails loudly in every example, on Express 4 and 5: Express 5 hands the listen error
// to the callback (a callback ignoring it reported a failed server as listening), Express 4 emits
// 'error' on the server.

import { execFile } from 'node:child_process'
import type { Server as HttpServer } from 'node:http'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listenOn, PortInUseError } from '../../examples/app.js'
import { startCognitoExample } from '../../examples/cognito.js'
import { startEntraExample } from '../../examples/entra-id.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'

const root = join(import.meta.dirname, '..', '..')
let holder: Server
let port: number

beforeAll(async () => {
  holder = createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  port = (holder.address() as AddressInfo).port
})

afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())))

const inUse = (variable: string) =>
  `port ${port} is in use; set ${variable}=<another port> (or ${variable}=0 for a free one)`

describe.each(EXPRESS_MAJORS)('listenOn (%s)', (_major, makeApp) => {
  it('rejects a taken port with PortInUseError, code EADDRINUSE', async () => {
    const failure = listenOn(makeApp(), port)
    await expect(failure).rejects.toBeInstanceOf(PortInUseError)
    await expect(failure).rejects.toMatchObject({ code: 'EADDRINUSE', message: inUse('PORT') })
  })

  it('resolves a free port once listening', async () => {
    const server: HttpServer = await listenOn(makeApp(), 0)
    try {
      expect(server.listening).toBe(true)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

it.each([
  ['cognito', startCognitoExample],
  ['entra-id', startEntraExample],
])('examples/%s.ts refuses a taken port', async (_name, start) => {
  await expect(start(port)).rejects.toMatchObject({ code: 'EADDRINUSE', message: inUse('PORT') })
})

/** Runs an example script as `npm start` or `npx tsx` would; a hang is killed after 15 s. */
function runScript(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(root, 'examples', script), ...args],
      { cwd: root, env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 15_000 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (error.code ?? null), stdout, stderr }),
    )
  })
}

describe('an example started on a taken port says so in one line and exits 1', () => {
  it.each([
    ['npm start (server.ts)', 'server.ts', [], {}],
    [
      'npm start with AUTH_PROVIDER',
      'server.ts',
      [],
      {
        AUTH_PROVIDER: 'jwks',
        AUTH_PROVIDER_ISSUER: 'http://127.0.0.1:9/',
        AUTH_PROVIDER_JWKS_URI: 'http://127.0.0.1:9/jwks.json',
        AUTH_PROVIDER_AUDIENCE: 'api://example',
      },
    ],
    ['cognito.ts --serve', 'cognito.ts', ['--serve'], {}],
  ])(
    '%s',
    async (_name, script, args, env) => {
      const result = await runScript(script, args, { PORT: String(port), ...env })
      expect(result).toEqual({ code: 1, stdout: '', stderr: `${inUse('PORT')}\n` })
    },
    30_000,
  )
})

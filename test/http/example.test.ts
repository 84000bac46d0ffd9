// The example `npm start` runs: every printed curl answers what it says it will.

import { execFile } from 'node:child_process'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { curlFor, startExample, type RunningExample } from '../../examples/app.js'

const run = promisify(execFile)
let example: RunningExample

beforeAll(async () => {
  example = await startExample(0, { log: false })
})

afterAll(() => example.close())

it('every printed curl answers the status printed beside it', async () => {
  for (const call of example.calls) {
    const command = curlFor(example.url, call)
    // Replay the printed command itself through a shell, as a newcomer would paste it.
    const { stdout } = await run('sh', ['-c', `${command} -s -o /dev/null -w '%{http_code}'`])
    expect({ command: call.title, status: Number(stdout) }).toEqual({
      command: call.title,
      status: call.expectedStatus,
    })
  }
})

/** A port another program holds, as port 3000 often is on a developer's machine. */
async function holdPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const holder: Server = createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  const { port } = holder.address() as AddressInfo
  return { port, release: () => new Promise((resolve) => holder.close(() => resolve())) }
}

it('a taken port is refused, naming the port and the variable to change, never "listening"', async () => {
  const held = await holdPort()
  try {
    await expect(startExample(held.port, { log: false })).rejects.toMatchObject({
      code: 'EADDRINUSE',
      message: `port ${held.port} is in use; set PORT=<another port> (or PORT=0 for a free one)`,
    })
    await expect(startExample(0, { log: false, pagePort: held.port })).rejects.toMatchObject({
      code: 'EADDRINUSE',
      message: expect.stringMatching(new RegExp(`^port ${held.port} is in use; set PAGE_PORT=`)),
    })
  } finally {
    await held.release()
  }
})

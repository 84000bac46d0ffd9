// The example `npm start` runs: every printed curl answers what it says it will.

import { execFile } from 'node:child_process'
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

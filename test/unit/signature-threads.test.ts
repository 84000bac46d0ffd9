// Where signatures are checked: inline in a process that may use one core only, on libuv's thread
// pool when it may use more. Both ways run the whole pipeline here, in child processes.

import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const FIXTURE = fileURLToPath(new URL('../fixtures/signature-threads.ts', import.meta.url))

interface Report {
  offThread: boolean
  first: string
  valid: string
  forged: string
  expired: string
}

const ANSWERS = {
  first: 'alice',
  valid: 'bob',
  forged: 'ERR_AUTH_SIGNATURE_INVALID',
  expired: 'ERR_AUTH_TOKEN_EXPIRED',
}

function run(pinned: boolean): Report {
  const node = [process.execPath, '--import', 'tsx', FIXTURE]
  const [command, ...args] = pinned ? ['taskset', '-c', '0', ...node] : node
  const output = execFileSync(command!, args, { encoding: 'utf8', timeout: 60_000 })
  return JSON.parse(output.trim().split('\n').pop()!) as Report
}

describe('signature checks and the cores a process may use', () => {
  it('a process pinned to one core checks inline, and refuses a forged signature and expired claims', () => {
    expect(run(true)).toEqual({ offThread: false, ...ANSWERS })
  })

  it('a process that may use every core of this machine checks on the pool when it has several', () => {
    expect(run(false)).toEqual({ offThread: availableParallelism() > 1, ...ANSWERS })
  })
})

// Where the benchmarks write their results: relative paths under the repository, absolute ones as given.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ROOT } from '../../../bench/processes.js'
import { writeResultsFile } from '../../../bench/repository.js'

const made: string[] = []
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('writeResultsFile', () => {
  it('writes an absolute path where it says, formatted JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oidc-guard-results-'))
    made.push(dir)
    await writeResultsFile(join(dir, 'run.json'), { requestsPerSec: 1 })
    expect(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'))).toEqual({ requestsPerSec: 1 })
  })

  it('puts a relative path under the repository root', async () => {
    const dir = mkdtempSync(join(ROOT, 'node_modules/.cache-results-'))
    made.push(dir)
    const relative = join(dir.slice(ROOT.length), 'run.json')
    await writeResultsFile(relative, { ok: true })
    expect(readFileSync(join(dir, 'run.json'), 'utf8')).toBe('{ "ok": true }\n')
  })
})

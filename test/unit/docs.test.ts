// Docs can't drift: every error code is in docs/errors.md, every env var in docs/configuration.md, and back.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')
const read = (file: string) => readFileSync(join(root, file), 'utf8')

function codeFiles(): string[] {
  return ['src', 'providers'].flatMap((dir) =>
    readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => join(dir, file)),
  )
}

describe('docs stay in step with the code', () => {
  it('docs/errors.md documents exactly the error codes of src/errors.ts', () => {
    const codes = new Set(read('src/errors.ts').match(/ERR_AUTH_[A-Z_]+/g))
    const documented = new Set(read('docs/errors.md').match(/ERR_AUTH_[A-Z_]+/g))
    expect(codes.size).toBeGreaterThan(15)
    expect([...documented].sort()).toEqual([...codes].sort())
  })

  it('docs/configuration.md documents exactly the environment variables the code reads', () => {
    const names = new Set<string>()
    for (const file of codeFiles()) {
      // Variables are read as env['NAME'] or through an EnvReader: reader.string('NAME'), env.list('NAME')…
      const reads = /(?:env\[|(?:env|reader)\.[a-zA-Z]+\()\s*['"]([A-Z][A-Z0-9_]*[A-Z0-9])['"]/g
      for (const match of read(file).matchAll(reads)) names.add(match[1]!)
    }
    const table = read('docs/configuration.md')
      .split('## Environment variables')[1]!
      .split('\n## ')[0]!
    const documented = new Set(
      [...table.matchAll(/^\| `([A-Z][A-Z0-9_]+)`/gm)].map((match) => match[1]!),
    )
    expect(names.size).toBeGreaterThan(2)
    expect([...documented].sort()).toEqual([...names].sort())
  })
})

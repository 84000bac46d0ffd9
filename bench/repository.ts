// What the benchmarks read from and write to the repository: the commit measured, results files
// and the generated sections of docs/performance.md.

import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { format, resolveConfig } from 'prettier'
import { ROOT } from './processes.js'

/** The short hash of HEAD, or `'unknown commit'` outside a git checkout. */
export function shortCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim()
  } catch {
    return 'unknown commit' // Not a git checkout: the package version says enough.
  }
}

/** Writes `results` as JSON to `file`, formatted as the repository formats JSON. */
export async function writeResultsFile(file: string, results: unknown): Promise<void> {
  // Relative to the repository root; an absolute path (--out /tmp/run.json) stays where it says.
  const path = resolve(ROOT, file)
  mkdirSync(dirname(path), { recursive: true })
  // Formatted as the repository's Prettier would, so `npm run lint` passes on committed results.
  const config = (await resolveConfig(path)) ?? {}
  writeFileSync(path, await format(JSON.stringify(results), { ...config, parser: 'json' }))
}

/** Replaces what lies between two markers of docs/performance.md with generated Markdown. */
export function rewriteSection(startMarker: string, endMarker: string, generated: string): void {
  const docPath = join(ROOT, 'docs/performance.md')
  const doc = readFileSync(docPath, 'utf8')
  const start = doc.indexOf(startMarker)
  const end = doc.indexOf(endMarker)
  if (start === -1 || end < start) {
    throw new Error(`docs/performance.md lacks the ${startMarker} markers`)
  }
  const updated = `${doc.slice(0, start + startMarker.length)}\n\n${generated}\n\n${doc.slice(end)}`
  writeFileSync(docPath, updated)
}

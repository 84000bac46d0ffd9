// Every row of the security catalog is a test, a known gap, or has a one-line reason it does not
// apply; none is silently missing, and docs/security.md lists them as the index says.

import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CATALOG_INDEX, catalogIds, TABLE_ROWS, type IndexEntry } from './catalog-index.js'
import { DOC_PATH, readCatalog, ROOT, withIndex } from './catalog-doc.js'

const ids = catalogIds(readCatalog())
const sources = new Map<string, string>()
const source = (file: string): string => {
  let text = sources.get(file)
  if (text === undefined) {
    text = readFileSync(resolve(ROOT, file), 'utf8')
    sources.set(file, text)
  }
  return text
}

describe('the catalog index', () => {
  it('knows every row of ../shared/research/security-catalog.md, and no other', () => {
    expect(ids.length).toBeGreaterThan(150)
    expect(new Set(ids).size).toBe(ids.length)
    const missing = ids.filter((id) => (CATALOG_INDEX[id] ?? []).length === 0)
    expect(missing, 'rows with no test and no reason').toEqual([])
    const unknown = Object.keys(CATALOG_INDEX).filter((id) => !ids.includes(id))
    expect(unknown, 'index entries for rows the catalog does not have').toEqual([])
  })

  it('each table row of catalog.test.ts has a catalog id and a unique title', () => {
    const titles = TABLE_ROWS.map((row) => `${row.id}: ${row.what}`)
    expect(new Set(titles).size).toBe(titles.length)
    for (const row of TABLE_ROWS) expect(ids).toContain(row.id)
  })

  const entries = Object.entries(CATALOG_INDEX).flatMap(([id, list]) =>
    list.map((entry): [string, IndexEntry] => [`${id} ${entry.kind}`, entry]),
  )

  it.each(entries)('%s points at something real', (_label, entry) => {
    switch (entry.kind) {
      case 'test':
      case 'gap':
      case 'script': {
        expect(existsSync(resolve(ROOT, entry.file)), entry.file).toBe(true)
        const text = source(entry.file)
        const tableRow = TABLE_ROWS.some((row) => `${row.id}: ${row.what}` === entry.name)
        if (entry.kind === 'script') expect(text.length).toBeGreaterThan(0)
        else if (!tableRow)
          expect(text.includes(entry.name), `${entry.file} › ${entry.name}`).toBe(true)
        if (entry.kind === 'test' && entry.case !== undefined) expect(text).toContain(entry.case)
        if (entry.kind === 'gap') {
          // A gap is an it.fails test whose comment names the bug; the index gives it one line.
          const at = text.indexOf(entry.name)
          expect(text.slice(Math.max(0, at - 40), at)).toMatch(/it\.fails\(\s*['"`]$/)
          expect(entry.bug).not.toMatch(/\n/)
        }
        return
      }
      case 'n/a':
        expect(entry.reason.length).toBeGreaterThan(10)
        expect(entry.reason).not.toMatch(/\n/)
        return
      case 'pending':
        expect(
          existsSync(resolve(ROOT, entry.until)),
          `${entry.until} has landed: write the test`,
        ).toBe(false)
        return
    }
  })

  it('docs/security.md lists every row with its evidence (regenerate: node --import tsx test/security/catalog-doc.ts)', () => {
    const doc = readFileSync(DOC_PATH, 'utf8')
    expect(doc).toBe(withIndex(doc, ids))
  })
})

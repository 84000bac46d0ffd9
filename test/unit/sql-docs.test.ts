// docs/authorization-sql.md can't drift: its DDL is exactly what `sql init` runs, dialect by dialect.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { SqlAuthzStore } from '../../providers/sql/index.js'

const doc = readFileSync(
  join(import.meta.dirname, '..', '..', 'docs', 'authorization-sql.md'),
  'utf8',
)
const blocks = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((match) => match[1]!.trim())

it.each([
  ['postgres', 0],
  ['mysql', 1],
  ['sqlite', 2],
] as const)('the %s schema in the docs is the one sql init creates', async (dialect, index) => {
  const statements = await SqlAuthzStore.statements(dialect)
  expect(blocks[index]).toBe(statements.map((statement) => `${statement};`).join('\n'))
})

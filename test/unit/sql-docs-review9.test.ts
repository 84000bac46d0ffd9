// SQL review 9: the docs' shared-store snippet runs as written, on a database it starts without.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { SqlAuthzStore, SqlGroupsProvider } from '../../providers/sql/index.js'
import { sqliteDatabase } from '../helpers/sql.js'

const doc = readFileSync(
  join(import.meta.dirname, '..', '..', 'docs', 'authorization-sql.md'),
  'utf8',
)
const database = sqliteDatabase()

afterAll(() => database.cleanup())

type Snippet = (
  store: typeof SqlAuthzStore,
  groups: typeof SqlGroupsProvider,
  url: string,
) => Promise<{ store: SqlAuthzStore; groups: SqlGroupsProvider }>

it('grants through a shared store on a new database, as the docs write it', async () => {
  const block = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((match) => match[1]!)
    .find((code) => code.includes('new SqlGroupsProvider({ store,'))
  expect(block).toBeDefined()
  // Its imports and declarations are the test's parameters; the rest is JavaScript as it is.
  const body = block!
    .split('\n')
    .filter((line) => !/^(import|declare) /.test(line))
    .join('\n')
  const AsyncFunction = (async () => undefined).constructor as new (...args: string[]) => Snippet
  const run = new AsyncFunction(
    'SqlAuthzStore',
    'SqlGroupsProvider',
    'url',
    `${body}\nreturn { store, groups }`,
  )
  const { store, groups } = await run(SqlAuthzStore, SqlGroupsProvider, database.url)
  try {
    expect(await store.lookup('groups', 'alice@example.com')).toEqual(['admin'])
  } finally {
    await groups.close()
    await store.close()
  }
})

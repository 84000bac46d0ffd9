// docs/providers/entra-id.md "Tests without Microsoft", run as a consumer would run it: its `user`
// is the User a route sees (id and scopes), not the checked token provider.verifyToken gives.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')
const workDir = join(root, 'test-results', `entra-doc-review6-${process.pid}`)

afterAll(() => rmSync(workDir, { recursive: true, force: true }))

/** The package's specifiers as a consumer imports them, pointed at the source. */
const SOURCES: Record<string, string> = {
  'oidc-guard': 'src/index.ts',
  'oidc-guard/testing': 'src/testing.ts',
  'oidc-guard/providers/entra-id': 'providers/entra-id/index.ts',
}

it('the "Tests without Microsoft" block verifies its token into the user it prints', async () => {
  const doc = readFileSync(join(root, 'docs', 'providers', 'entra-id.md'), 'utf8')
  const section = doc.slice(doc.indexOf('## Tests without Microsoft'))
  const code = /```ts\n([\s\S]*?)```/.exec(section)![1]!
  const runnable = code.replace(/from '(oidc-guard[^']*)'/g, (whole, specifier: string) => {
    const source = SOURCES[specifier]
    if (source === undefined) throw new Error(`the block imports ${specifier}: map it above`)
    return `from ${JSON.stringify(pathToFileURL(join(root, source)).href)}`
  })
  mkdirSync(workDir, { recursive: true })
  const file = join(workDir, 'tests-without-microsoft.ts')
  writeFileSync(file, `${runnable}\nexport { user }\n`)
  const { user } = (await import(pathToFileURL(file).href)) as {
    user: { id?: unknown; scopes?: unknown; provider?: unknown }
  }
  // What the block's comment says it prints.
  expect(code).toContain("// a-user-object-id [ 'Orders.Read' ]")
  expect({ id: user.id, scopes: user.scopes, provider: user.provider }).toEqual({
    id: 'a-user-object-id',
    scopes: ['Orders.Read'],
    provider: 'entra-id',
  })
})

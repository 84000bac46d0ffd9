// What a consumer of the packed package met: bundlers, and advice in the docs that must work as written.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { afterAll, describe, expect, it } from 'vitest'
import { createVerifier } from '../../src/pipeline.js'
import { createTestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'

const root = join(import.meta.dirname, '..', '..')

// A folder with no node_modules above it: the optional packages cannot be found from there.
const empty = mkdtempSync(join(tmpdir(), 'oidc-guard-bundle-'))
afterAll(() => rmSync(empty, { recursive: true, force: true }))

describe('bundling an app that never uses SQL', () => {
  it('esbuild bundles the SQL drivers without kysely, pg, mysql2 or better-sqlite3 installed', async () => {
    const source = readFileSync(join(root, 'providers', 'sql', 'drivers.ts'), 'utf8')
    const result = await build({
      stdin: { contents: source, loader: 'ts', resolveDir: empty, sourcefile: 'drivers.ts' },
      bundle: true,
      write: false,
      platform: 'node',
      format: 'esm',
      logLevel: 'silent',
      // The package's own modules are not what this test is about.
      plugins: [
        {
          name: 'own-modules-external',
          setup(plugin) {
            plugin.onResolve({ filter: /^\.\.?\// }, (args) => ({
              path: args.path,
              external: true,
            }))
          },
        },
      ],
    })
    // An import() esbuild cannot resolve fails the build unless it is written as optional (inside
    // a try, or with .catch): then it stays in the bundle, for run time.
    expect(result.errors).toEqual([])
    const bundle = result.outputFiles[0]!.text
    for (const name of ['kysely', 'pg', 'mysql2', 'better-sqlite3']) {
      expect(bundle).toContain(`import("${name}")`)
    }
  })
})

describe('docs/testing.md on rotated keys', () => {
  it('the jwksCache it suggests is accepted and picks up rotated keys at once', async () => {
    const doc = readFileSync(join(root, 'docs', 'testing.md'), 'utf8')
    const suggested = /`jwksCache: \{ cooldownMs: (\d+) \}`/.exec(doc)
    expect(suggested).not.toBeNull()
    const idp = await createTestIssuer({ listen: false })
    try {
      const { issuer, jwksUri, audience, fetch } = idp
      const verify = createVerifier({
        provider: new JwksProvider({
          issuer,
          jwksUri,
          audience,
          fetch,
          jwksCache: { cooldownMs: Number(suggested![1]) },
        }),
      })
      expect((await verify(idp.mint())).isAuthenticated).toBe(true)
      idp.rotateKeys()
      await new Promise((resolve) => setTimeout(resolve, 2)) // past the one-millisecond cooldown
      expect((await verify(idp.mint())).isAuthenticated).toBe(true)
      expect(idp.counts.jwks).toBe(2)
    } finally {
      await idp.close()
    }
  })
})

describe('the shipped docs', () => {
  it('say that the examples they point at are in the repository, not in the package', () => {
    const docs = join(root, 'docs')
    for (const file of readdirSync(docs).filter((name) => name.endsWith('.md'))) {
      const sections = readFileSync(join(docs, file), 'utf8').split(/^## /m)
      for (const section of sections.filter((text) => text.includes('examples/'))) {
        expect(section, `${file}: ## ${section.split('\n')[0]}`).toContain('oidc-guard repository')
      }
    }
  })
})

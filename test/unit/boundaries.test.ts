// Keeps the layering of STYLE.md true: the core names no provider, providers enter through spi.ts,
// only the glue imports express, only the verification files import node:crypto.

import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8')
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map(
    (match) => match[1]!,
  )
}

const core = sourceFiles('src')
const providers = sourceFiles('providers')
const EXPRESS_GLUE = [
  'src/middleware.ts',
  'src/guards.ts',
  'src/has-checks.ts',
  'src/error-handler.ts',
  'src/express-augment.ts',
  'src/basic-auth.ts',
  'src/credentials-auth.ts',
  'src/api-key-auth.ts',
  'src/resource-metadata.ts',
  'src/health-handler.ts',
  'src/private-answer.ts',
]
const CRYPTO_USERS = [
  'src/jwt.ts',
  'src/pkcs1.ts',
  'src/key-set.ts',
  'src/testing-cognito.ts',
  'src/testing-entra-claims.ts',
  'src/test-signer.ts',
  'src/test-issuer.ts',
  'src/test-kit-options.ts',
  'src/test-keys.ts',
  'src/passwords.ts',
  'src/api-key-auth.ts',
]

describe('import boundaries', () => {
  it('finds the files it checks', () => {
    expect(core.length).toBeGreaterThan(10)
    expect(providers.length).toBeGreaterThan(1)
  })

  it.each(core)('%s does not import providers or jose', (file) => {
    for (const target of importsOf(file)) {
      // The one allowed arrow: the public surface re-exports fromEnv, the composition root that
      // names the built-in providers and so lives with them.
      if (file === 'src/index.ts' && target === '../providers/from-env.js') continue
      expect(target).not.toMatch(/providers\//)
      expect(target).not.toBe('jose')
    }
  })

  // The testing kit imitates vendors on purpose (Cognito- and Entra-shaped tokens).
  it.each(core.filter((file) => !/^src\/testing(-[a-z]+)*\.ts$/.test(file)))(
    '%s names no provider in its code',
    (file) => {
      // Comments may cite a vendor as an example; code may not depend on one.
      const code = readFileSync(join(root, file), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '')
      expect(code).not.toMatch(/cognito|entra|azure|microsoft|amazon/i)
    },
  )

  it.each([...core, ...providers])('%s imports express only if it is Express glue', (file) => {
    if (EXPRESS_GLUE.includes(file)) return
    expect(importsOf(file)).not.toContain('express')
  })

  it.each([...core, ...providers])(
    '%s imports node:crypto only if it verifies signatures',
    (file) => {
      if (CRYPTO_USERS.includes(file)) return
      expect(importsOf(file)).not.toContain('node:crypto')
    },
  )

  it.each(providers)('%s reaches the core only through src/spi.ts', (file) => {
    for (const target of importsOf(file).filter((target) => target.includes('/src/'))) {
      expect(target).toMatch(/\/src\/spi\.js$/)
    }
  })

  it.each(providers)('%s imports no other provider (except the generic jwks one)', (file) => {
    // providers/from-env.ts sits above the provider folders: it is the registry that names them all.
    if (file === 'providers/from-env.ts') return
    const own = file.split('/')[1]
    for (const target of importsOf(file).filter((target) => target.startsWith('../'))) {
      const other = target.match(/^\.\.\/([^/.]+)\//)?.[1]
      if (other !== undefined && other !== own) expect(other).toBe('jwks')
    }
  })
})

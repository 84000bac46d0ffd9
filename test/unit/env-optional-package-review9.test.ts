// packageResolves: whether an optional peer dependency is installed, known without importing it.

import { describe, expect, it } from 'vitest'
import { missingPackages, packageResolves } from '../../src/optional-package.js'

const failingWith = (code: string) => (): string => {
  throw Object.assign(new Error(`resolution failed (${code})`), { code })
}

describe('packageResolves', () => {
  it('finds an installed package without importing it, and not one that does not exist', () => {
    expect(packageResolves('ioredis')).toBe(true)
    expect(packageResolves('oidc-guard-no-such-package-review9')).toBe(false)
  })

  it('takes a resolver, so a test can make a package missing', () => {
    expect(packageResolves('ioredis', failingWith('MODULE_NOT_FOUND'))).toBe(false)
    expect(packageResolves('ioredis', () => '/somewhere/index.js')).toBe(true)
  })

  it('counts a package with no CommonJS entry as installed: import() still reaches it', () => {
    expect(packageResolves('esm-only', failingWith('ERR_PACKAGE_PATH_NOT_EXPORTED'))).toBe(true)
  })
})

describe('missingPackages', () => {
  it('lists only the packages certainly not installed', () => {
    expect(missingPackages(['ioredis', 'oidc-guard-no-such-package-review9', 'kysely'])).toEqual([
      'oidc-guard-no-such-package-review9',
    ])
    // Any failure but "not found" (a package without a CommonJS entry, say) is not "missing".
    expect(missingPackages(['x'], failingWith('ERR_PACKAGE_PATH_NOT_EXPORTED'))).toEqual([])
    expect(missingPackages(['x'], failingWith('MODULE_NOT_FOUND'))).toEqual(['x'])
  })
})

// Whether optional peer dependencies are installed, known at construction without importing them.

import { createRequire } from 'node:module'

/** Finds a package's entry point the way Node does, or throws (`require.resolve`'s contract). */
export type PackageResolver = (name: string) => unknown

/**
 * Resolves a package from this file, as the library's lazy `import()` will: in an installed
 * package it sits beside the providers, so both look in the same node_modules. Only where this
 * file is the installed one: in a bundle, `import.meta.url` is the bundle's (whose bundler may have
 * put the driver inside it, with no node_modules beside it) or missing (CommonJS output), and a
 * check would refuse a package that loads fine; there the lazy import reports a missing one.
 */
function ownResolver(): PackageResolver | undefined {
  const url: unknown = import.meta.url
  if (typeof url !== 'string' || !/\/src\/optional-package\.[cm]?[jt]s$/.test(url)) {
    return undefined
  }
  const require = createRequire(url)
  return (name) => require.resolve(name)
}

const resolveFromHere = ownResolver()

/**
 * The packages of `names` that are certainly not installed, found synchronously (so at
 * construction, not at the first request; the packages themselves stay loaded lazily, costing
 * nothing to apps that do not use them). Only "not found" counts: a package that resolves for
 * `import` alone (no CommonJS entry) is installed. Nothing is reported where the check cannot be
 * made (a bundle).
 *
 * @param resolve replaces Node's resolution (tests make a package missing with it).
 * @example if (missingPackages(['ioredis']).length > 0) problems.add('… npm install ioredis')
 */
export function missingPackages(
  names: readonly string[],
  resolve: PackageResolver | undefined = resolveFromHere,
): string[] {
  if (resolve === undefined) return []
  return names.filter((name) => {
    try {
      resolve(name)
      return false
    } catch (error) {
      return (error as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND'
    }
  })
}

/** Whether `name` is installed, or cannot be told (see {@link missingPackages}). */
export function packageResolves(name: string, resolve?: PackageResolver): boolean {
  return missingPackages([name], resolve).length === 0
}

// Whether an optional peer dependency is installed, known at construction without importing it.

import { createRequire } from 'node:module'

/** Finds a package's entry point the way Node does, or throws (`require.resolve`'s contract). */
export type PackageResolver = (name: string) => string

// Resolved from this file, as the library's own `import(name)` would be: in an installed package
// it sits next to the providers, so both look in the same node_modules.
const requireHere = createRequire(import.meta.url)
const resolveFromHere: PackageResolver = (name) => requireHere.resolve(name)

/**
 * Whether `name` can be found, without loading it (a driver's import stays lazy: it costs start-up
 * time and memory to every app that does not use it). A package found but exporting no CommonJS
 * entry still counts: it is installed, and `import()` reaches it.
 *
 * @param resolve replaces Node's resolution (tests make a package missing with it).
 * @example if (!packageResolves('ioredis')) problems.add('… npm install ioredis')
 */
export function packageResolves(name: string, resolve: PackageResolver = resolveFromHere): boolean {
  try {
    resolve(name)
    return true
  } catch (error) {
    return (error as { code?: unknown } | null)?.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED'
  }
}

// Bundles the measured scripts (servers, micro benchmark) with the oidc-guard sources they import
// into plain JavaScript: no TypeScript loader in a measured process (tsx adds keepNames wrappers
// and a loader thread), as with the published build; packages stay in node_modules.

import { build } from 'esbuild'
import { join } from 'node:path'
import { ROOT } from './processes.js'
import type { TargetName } from './shared.js'

/**
 * Where bundled servers go: under node_modules, so linters skip them and their bare imports
 * (express, jose…) resolve to the repository's packages.
 */
export const BUILD_DIR = join(ROOT, 'node_modules/.cache/oidc-guard-bench')

/** Bundles the servers of `targets` and the micro benchmark; returns the path of each bundle. */
export async function buildScripts(
  targets: readonly TargetName[],
): Promise<Record<TargetName | 'micro', string>> {
  const entryPoints: Record<string, string> = {
    micro: join(ROOT, 'bench/micro.ts'),
    ...Object.fromEntries(
      targets.map((target) => [target, join(ROOT, `bench/servers/${target}.ts`)]),
    ),
  }
  await build({
    entryPoints,
    outdir: BUILD_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
  })
  const bundles = Object.keys(entryPoints).map((name) => [name, join(BUILD_DIR, `${name}.mjs`)])
  return Object.fromEntries(bundles) as Record<TargetName | 'micro', string>
}

// The options of the authorization sources' calls and cache, and the sources themselves, checked
// once, when jwtAuth (or createVerifier, basicAuth, apiKeyAuth) is built.

import {
  checkCacheBounds,
  checkOptionNames,
  checkTimeout,
  isPlainObject,
  type OptionFlags,
  type Problems,
} from './options.js'
import { checkSharedTier, type SharedCacheTier } from './shared-tier.js'
import type { Facet } from './source-answers.js'
import type { UserSources } from './user.js'

/** Options of the cross-request cache of authorization answers. */
export interface SourceCacheOptions {
  /** How long an answer is reused for the same issuer and subject, in milliseconds. Default 30 000. */
  ttlMs?: number
  /** Most answers kept (least recently used go first). Default 10 000. */
  max?: number
  /**
   * A second tier shared by every instance (Redis, from `oidc-guard/redis`): a miss here asks it
   * before the source, and `forgetUser` evicts the user everywhere. When it is down, lookups go
   * to the sources (degraded, logged once per episode), never to a 500 or a grant. The answers of
   * a source with a cache of its own (one with `forget` or `clear`, such as `GraphGroupResolver`)
   * stay in each instance's process: another instance not yet told of a `forgetUser` would put
   * its source's old answer back in the tier.
   */
  shared?: SharedCacheTier
}

/** How the pipeline calls authorization sources. */
export interface EnrichmentOptions {
  /** Longest wait for a source, in milliseconds; past it the facet answers 503. Default 5000. */
  sourceTimeoutMs?: number
  /**
   * Reuse a source's answer across requests of one user (issuer + subject: `user.id`, or the value
   * the source looks the user up by, its `cacheKey`) for a short time, so a burst of requests costs
   * one lookup; `false` turns it off. Sources that read the token itself (`fromToken`) are never
   * cached. Default `{ ttlMs: 30_000, max: 10_000 }`.
   */
  sourceCache?: SourceCacheOptions | false
}

export const METHODS = {
  groups: 'fetchGroups',
  roles: 'fetchRoles',
  permissions: 'fetchPermissions',
  profile: 'fetchProfile',
} as const
export const FACETS = Object.keys(METHODS) as Facet[]
const HOOKS = [
  ['forget', "its own cache's forget"],
  ['clear', "its own cache's clear"],
  ['cacheKey', 'the value it looks the user up by'],
] as const
export const DEFAULT_TIMEOUT_MS = 5_000
export const DEFAULT_TTL_MS = 30_000
export const DEFAULT_MAX = 10_000

/** Checks a `sources` object given to `jwtAuth`/`createVerifier`: each needs its fetch method. */
export function checkSources(problems: Problems, sources: UserSources): void {
  for (const facet of FACETS) {
    const source: unknown = sources[facet]
    const method = METHODS[facet]
    if (source === undefined) continue
    if (
      typeof source !== 'object' ||
      source === null ||
      typeof (source as Record<string, unknown>)[method] !== 'function'
    ) {
      problems.add(
        `${facet} must be an object with a ${method}(user) method, got ${describe(source)}`,
      )
      continue
    }
    // A hook that is not a method would leave the source's own cache unforgotten, or its answers
    // cached under user.id though it looks users up by something else, silently.
    for (const [hook, purpose] of HOOKS) {
      const value = (source as Record<string, unknown>)[hook]
      if (value !== undefined && typeof value !== 'function') {
        problems.add(`${facet}.${hook} must be a method (${purpose}), or left out`)
      }
    }
  }
}

const SOURCE_CACHE_OPTION_NAMES = Object.keys({
  ttlMs: true,
  max: true,
  shared: true,
} as const satisfies OptionFlags<SourceCacheOptions>)

/** Checks the enrichment options. */
export function checkEnrichmentOptions(problems: Problems, options: EnrichmentOptions): void {
  checkTimeout(problems, 'sourceTimeoutMs', options.sourceTimeoutMs)
  const { sourceCache } = options
  if (sourceCache === undefined || sourceCache === false) return
  if (typeof sourceCache !== 'object' || sourceCache === null) {
    problems.add('sourceCache must be { ttlMs, max } or false')
    return
  }
  // The shared tier itself where its options go (`sourceCache: shared`) has no keys to refuse,
  // and would leave each instance its own cache: only a plain object holds options.
  if (!isPlainObject(sourceCache)) {
    const hint = typeof (sourceCache as { invalidate?: unknown }).invalidate === 'function'
    problems.add(
      `sourceCache must be a plain object { ttlMs, max, shared } or false${hint ? ' (did you mean sourceCache: { shared }?)' : ''}`,
    )
    return
  }
  // A misspelt key (`sharde`, `ttl`) would leave its default in force: no shared tier, 30 s.
  checkOptionNames(problems, 'sourceCache', sourceCache, SOURCE_CACHE_OPTION_NAMES)
  checkCacheBounds(problems, 'sourceCache', sourceCache)
  checkSharedTier(problems, sourceCache.shared)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'function') return 'a function (pass an instance: new MySource())'
  return typeof value
}

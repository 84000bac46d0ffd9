// GraphGroupResolver's options, and their checks at construction.

import {
  checkNumber,
  checkOptionNames,
  checkTimeout,
  checkUrl,
  isProduction,
  MAX_CACHE_ENTRIES,
  type FetchFunction,
  type Logger,
  type OptionFlags,
  type Problems,
  type SourceContext,
  type User,
} from '../../src/spi.js'
import { show } from './config.js'

/** The settings of {@link GraphGroupResolverOptions.cache}. */
export interface GraphCacheOptions {
  /** How long an answer is reused, in milliseconds. Default 300 000. */
  ttlMs?: number
  /** Most answers kept (least recently used go first). Default 10 000. */
  max?: number
}

/** Options of {@link GraphGroupResolver}. */
export interface GraphGroupResolverOptions {
  /**
   * Returns an access token for Microsoft Graph, for the user's tenant (`user.claims.tid`), with
   * `GroupMember.Read.All` (application permission, client credentials) or a delegated token
   * (on-behalf-of `user.token`). Called once per lookup; cache tokens on your side (MSAL does).
   * It returns the token string: MSAL's result's `accessToken`, not the result itself.
   */
  getGraphToken: (user: User, context: SourceContext) => string | Promise<string>
  /**
   * Graph's origin, that of the users' cloud: `https://graph.microsoft.us` (or
   * `https://dod-graph.microsoft.us`) for US Government, `https://microsoftgraph.chinacloudapi.cn`
   * for China. Default `https://graph.microsoft.com`, the public cloud's. Another cloud's Graph
   * than the token issuer's is refused (`EntraIdProvider` at construction, a lookup with 503).
   */
  graphEndpoint?: string
  /** Longest wait for one lookup (token, every page), in milliseconds. Default 5000. */
  timeoutMs?: number
  /** Ask for security groups only (`securityEnabledOnly`), as the `groups` claim does by default. Default `true`. */
  securityEnabledOnly?: boolean
  /**
   * The resolver's own cache of answers, per tenant and user: `{ ttlMs, max }` or `false`.
   * Default `{ ttlMs: 300_000, max: 10_000 }`: a membership change shows within five minutes.
   */
  cache?: GraphCacheOptions | false
  /** Most `@odata.nextLink` pages followed. Default 20. */
  maxPages?: number
  /** The fetch to call Graph with (tests, proxies). Default `globalThis.fetch`. */
  fetch?: FetchFunction
  /**
   * Where failures are logged (never with the token): a pino logger. Default: none, as with `false`.
   */
  logger?: Logger | false
}

// Every option, checked by name: a misspelt one (`timeout`, `cache: { ttl }`) would quietly leave
// its default in force.
export const OPTION_NAMES = Object.keys({
  getGraphToken: true,
  graphEndpoint: true,
  timeoutMs: true,
  securityEnabledOnly: true,
  cache: true,
  maxPages: true,
  fetch: true,
  logger: true,
} as const satisfies OptionFlags<GraphGroupResolverOptions>)
const CACHE_OPTION_NAMES = Object.keys({
  ttlMs: true,
  max: true,
} as const satisfies OptionFlags<GraphCacheOptions>)

export function resolveEndpoint(problems: Problems, value: unknown): string {
  const endpoint = value ?? 'https://graph.microsoft.com'
  checkUrl(problems, 'graphEndpoint', endpoint, isProduction())
  if (typeof endpoint !== 'string') return ''
  try {
    const url = new URL(endpoint)
    if (url.pathname !== '/') problems.add('graphEndpoint is an origin, without a path (no /v1.0)')
    return url.origin
  } catch {
    return ''
  }
}

/** The `cache` option checked: its settings, `false` for none, or `undefined` for the default. */
export function resolveCacheOption(
  problems: Problems,
  cache: unknown,
): GraphGroupResolverOptions['cache'] {
  if (cache === undefined || cache === false) return cache
  if (typeof cache !== 'object' || cache === null || Array.isArray(cache)) {
    problems.add(`cache must be { ttlMs, max } or false, got ${show(cache)}`)
    return undefined
  }
  checkOptionNames(problems, 'GraphGroupResolver cache', cache, CACHE_OPTION_NAMES)
  const settings = cache as GraphCacheOptions
  checkTimeout(problems, 'cache.ttlMs', settings.ttlMs)
  checkNumber(problems, 'cache.max', settings.max, 1, { integer: true, max: MAX_CACHE_ENTRIES })
  return settings
}

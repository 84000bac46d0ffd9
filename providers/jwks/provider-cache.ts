// Which key cache a provider uses: a shared JwksCache, one of its own built from options or a
// fetch (logging where the shared one does), checked with the provider's other options.

import {
  checkJwksCacheOptions,
  defaultLogger,
  isPlainObject,
  JwksCache,
  sharedJwksCache,
  type JwksCacheOptions,
  type Logger,
  type Problems,
} from '../../src/spi.js'
import type { TokenCheckOptions } from './jwks-provider.js'

/**
 * Checks `jwksCache` and `fetch` with the provider's other options, so that one `ConfigError`
 * lists every problem. A `fetch` beside a `JwksCache` instance is refused: the instance fetches
 * the keys with its own, and a proxy meant for both would silently carry only discovery. So is a
 * `fetch` given both ways, as the provider's and as `jwksCache: { fetch }`: one would be ignored.
 */
export function checkKeyFetching(problems: Problems, options: TokenCheckOptions): void {
  const { jwksCache, fetch } = options
  if (fetch !== undefined && typeof fetch !== 'function') {
    problems.add('fetch must be a function with the signature of fetch()')
  }
  if (jwksCache instanceof JwksCache) {
    if (fetch !== undefined) {
      problems.add(
        'fetch cannot be given beside a JwksCache instance, which fetches the keys with its own: ' +
          'give fetch to the JwksCache (new JwksCache({ fetch }))',
      )
    }
  } else if (isPlainObject(jwksCache)) {
    checkJwksCacheOptions(problems, jwksCache as JwksCacheOptions)
    // Two fetches, one of them silently unused: the provider's would win, and a proxy meant for
    // the keys (given to the cache) would not carry them.
    if (fetch !== undefined && jwksCache.fetch !== undefined) {
      problems.add(
        'fetch cannot be given both as an option and as jwksCache.fetch (one would be ignored): ' +
          'give it once, either way (both carry discovery and the keys)',
      )
    }
  } else if (jwksCache !== undefined) {
    problems.add(jwksCacheProblem(jwksCache))
  }
}

/**
 * Why `jwksCache` is neither a JwksCache nor its options. A JwksCache of another copy of
 * oidc-guard (two versions installed side by side) fails `instanceof`; it is refused rather than
 * used, since the two versions' caches need not work alike, and it is named, since it looks right.
 */
function jwksCacheProblem(jwksCache: unknown): string {
  const expected = 'jwksCache must be a JwksCache or its options ({ cooldownMs, … })'
  if (constructorName(jwksCache) === 'JwksCache') {
    return (
      `${expected}, got a JwksCache from another copy of oidc-guard: two versions installed? ` +
      '(npm ls oidc-guard); import JwksCache and the providers from the same one'
    )
  }
  // An object that is no plain one is named: it looks like options, and is not.
  if (typeof jwksCache !== 'object' || jwksCache === null) return expected
  return `${expected}, got ${objectKind(jwksCache)}`
}

function constructorName(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return undefined
  return (value as { constructor?: { name?: unknown } }).constructor?.name
}

/** What an object is, for an error: `an array`, `a Map`, `an instance of a class`. */
function objectKind(value: object): string {
  if (Array.isArray(value)) return 'an array'
  const name = constructorName(value)
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an instance of a class'
}

/**
 * The cache a provider uses: the one given, its own when given options or a fetch, else the shared
 * one. Its own logs where the shared one does (oidc-guard's logger, at `AUTH_MIDDLEWARE_LOG_LEVEL`)
 * unless given `jwksCache.logger`, or else the provider's `logger`: a proxy's fetch or a tuned
 * option must not silence failed fetches, discovery and a set of no usable key.
 */
export function resolveJwksCache(
  options: TokenCheckOptions,
  providerLogger?: Logger | false,
): JwksCache {
  const { jwksCache, fetch } = options
  if (jwksCache instanceof JwksCache) return jwksCache
  if (jwksCache === undefined && fetch === undefined) return sharedJwksCache()
  return new JwksCache({
    ...jwksCache,
    ...(fetch === undefined ? {} : { fetch }),
    logger: jwksCache?.logger ?? providerLogger ?? defaultLogger(),
  })
}

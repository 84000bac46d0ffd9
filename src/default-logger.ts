// oidc-guard's own process-wide logger, for the parts that log outside any request's pipeline.

import { readLogLevel } from './env.js'
import { resolveLogger, type Logger } from './logger.js'
import { Problems } from './options.js'

let library: Logger | undefined

/**
 * oidc-guard's own logger for parts that log outside any request's pipeline (the process-wide key
 * cache, an identity pool's exchanges): one pino logger on stdout at `AUTH_MIDDLEWARE_LOG_LEVEL`,
 * made on first use. Separate from the key cache, so that a part that only logs does not depend on
 * the `JWKS_CACHE_*` variables being valid.
 *
 * @throws {ConfigError} when `AUTH_MIDDLEWARE_LOG_LEVEL` is invalid.
 */
export function defaultLogger(): Logger {
  if (library === undefined) {
    const problems = new Problems()
    const level = readLogLevel(process.env, problems)
    problems.throwIfAny()
    library = resolveLogger(undefined, level)
  }
  return library
}

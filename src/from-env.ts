// fromEnv(): a complete jwtAuth configuration from environment variables, each read once.

import type { JwtProvider } from './contracts.js'
import type { EnvReader } from './env.js'
import type { JwksCache } from './jwks-cache.js'
import type { Logger } from './logger.js'
import type { UserSources } from './user.js'

/** What every provider built from the environment shares. */
export interface EnvContext {
  /** The key cache configured by `JWKS_CACHE_INTERVAL` / `JWKS_CACHE_USAGES`. */
  readonly jwksCache: JwksCache
  readonly logger: Logger
  readonly production: boolean
}

/**
 * How a provider is built from environment variables. Each provider folder exports one; the
 * `AUTH_PROVIDER` value `name` selects it. `create` reads through `env` (which records problems
 * and masks secrets) and returns `undefined` when a problem prevents building it.
 */
export interface ProviderEnvFactory {
  /** The `AUTH_PROVIDER` value that selects this provider: `jwks`, `cognito`… */
  readonly name: string
  /** Every variable `create` may read, so unknown `AUTH_*` variables can be reported as typos. */
  readonly variables: readonly string[]
  create(env: EnvReader, context: EnvContext): JwtProvider | undefined
}

/** How authorization sources are built from environment variables (claims, SQL…). */
export interface SourcesEnvFactory {
  /** Every variable `create` may read. */
  readonly variables: readonly string[]
  /** The sources these variables configure; facets it does not configure are left out. */
  create(env: EnvReader, context: EnvContext): UserSources
}

// The verifier's options: their type, every option name, their checks and the log level.

import type {
  GroupsProvider,
  JwtProvider,
  PermissionsProvider,
  ProfileProvider,
  RolesProvider,
} from './contracts.js'
import type { EnrichmentOptions } from './enrichment-options.js'
import { readLogLevel, type Env } from './env.js'
import { LOG_LEVELS, type Logger, type LogLevel } from './logger.js'
import {
  checkNumber,
  checkOptionNames,
  MAX_CACHE_ENTRIES,
  type OptionFlags,
  type Problems,
} from './options.js'
import type { RevocationStore } from './revocation.js'

/** Options of {@link createVerifier} (and the verification half of `jwtAuth`). */
export interface VerifierOptions extends EnrichmentOptions {
  /** The provider that verifies tokens. Give `provider` or `providers`, not both. */
  provider?: JwtProvider
  /** Several providers: each token goes to the one whose issuer matches its `iss`. */
  providers?: readonly JwtProvider[]
  /** Source of `user.groups` (wins over the provider's default). */
  groups?: GroupsProvider
  /** Source of `user.roles`. */
  roles?: RolesProvider
  /** Source of `user.permissions`. */
  permissions?: PermissionsProvider
  /** Source of `user.profile`. */
  profile?: ProfileProvider
  /**
   * Longest token accepted, in characters, checked before any decoding. Default: the longest a
   * provider accepts (its own `maxTokenLength`), at least 16 KiB.
   */
  maxTokenLength?: number
  /** A pino logger to write to (a child is used), or `false` for none. Default: a new pino logger. */
  logger?: Logger | false
  /** Level of the logger oidc-guard creates. Default `AUTH_MIDDLEWARE_LOG_LEVEL`, else `info`. */
  logLevel?: LogLevel
  /** The environment read for defaults. Default `process.env`. */
  env?: Env
  /**
   * Remembers verified tokens (keyed by the whole token) so a token's signature is checked once
   * in its lifetime: each reuse re-checks `exp`/`nbf`/age and that its key is still published.
   * Failures are never remembered. `false` turns it off. Default `{ max: 10_000 }`.
   */
  tokenCache?: { max?: number } | false
  /**
   * Refuses revoked tokens (401 "token revoked"), checked after the signature and claims on every
   * request, remembered tokens included: a `MemoryRevocationStore` for one instance, or the Redis
   * store of `oidc-guard/redis` for many.
   */
  revocation?: RevocationStore
}

// Every option of createVerifier; the compiler keeps the list and VerifierOptions in step.
const VERIFIER_OPTIONS = {
  provider: true,
  providers: true,
  groups: true,
  roles: true,
  permissions: true,
  profile: true,
  maxTokenLength: true,
  logger: true,
  logLevel: true,
  env: true,
  tokenCache: true,
  revocation: true,
  sourceTimeoutMs: true,
  sourceCache: true,
} as const satisfies OptionFlags<VerifierOptions>

/**
 * The options `jwtAuth` adds to the verifier's. `createVerifier` takes them and leaves them to the
 * middleware, so one options object (`fromEnv()`'s, say) serves both; middleware.ts checks that
 * this list and the verifier's together are exactly `JwtAuthOptions`.
 */
export const MIDDLEWARE_OPTION_NAMES = [
  'credentialsRequired',
  'invalidToken',
  'realm',
  'onError',
  'tokenLocations',
  'resourceMetadata',
  'disabled',
  'allowDisabledInProduction',
] as const

/** Every option `createVerifier` and `jwtAuth` know; any other key is refused as a misspelling. */
export const OPTION_NAMES: readonly string[] = Object.freeze([
  ...Object.keys(VERIFIER_OPTIONS),
  ...MIDDLEWARE_OPTION_NAMES,
])

/**
 * The level of the logger oidc-guard creates: `logLevel`, else `AUTH_MIDDLEWARE_LOG_LEVEL`, else
 * `info`. A level pino does not know is a problem here, not pino's bare `Error` at construction.
 */
export function resolveLogLevel(
  problems: Problems,
  options: { readonly logLevel?: unknown; readonly env?: Env | undefined },
): LogLevel {
  const { logLevel } = options
  if (logLevel === undefined) return readLogLevel(options.env ?? process.env, problems)
  if ((LOG_LEVELS as readonly unknown[]).includes(logLevel)) return logLevel as LogLevel
  problems.add(`logLevel must be one of ${LOG_LEVELS.join(', ')}`)
  return 'info'
}

/** True when `value` is an object with a function named `method` (a provider, a store). */
export function hasMethod(value: unknown, method: string): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>)[method] === 'function'
  )
}

/** Checks the verifier's own limits and stores: `maxTokenLength`, `revocation`, `tokenCache`. */
export function checkVerifierOptions(problems: Problems, options: VerifierOptions): void {
  checkNumber(problems, 'maxTokenLength', options.maxTokenLength, 64)
  const { tokenCache, revocation } = options
  if (revocation !== undefined && !hasMethod(revocation, 'isRevoked')) {
    problems.add('revocation must be a revocation store (an object with isRevoked(verified))')
  }
  if (tokenCache !== undefined && tokenCache !== false) {
    if (typeof tokenCache !== 'object' || tokenCache === null) {
      problems.add('tokenCache must be { max } or false')
    } else {
      checkOptionNames(problems, 'tokenCache', tokenCache, ['max'])
      checkNumber(problems, 'tokenCache.max', tokenCache.max, 1, {
        integer: true,
        max: MAX_CACHE_ENTRIES,
      })
    }
  }
}

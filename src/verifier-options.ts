// The verifier's options: their type, every option name, their checks and the log level.

import type {
  GroupsProvider,
  JwtProvider,
  PermissionsProvider,
  ProfileProvider,
  RolesProvider,
} from './contracts.js'
import type { EnrichmentOptions } from './enrichment-options.js'
import { envOf, readLogLevel, type Env } from './env.js'
import {
  LOG_LEVELS,
  logLevelProblem,
  loggerProblem,
  resolveLogger,
  type Logger,
  type LogLevel,
} from './logger.js'
import {
  checkNumber,
  checkOptionNames,
  MAX_CACHE_ENTRIES,
  Problems,
  type OptionFlags,
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
  /**
   * Level of the logger oidc-guard creates. Default `AUTH_MIDDLEWARE_LOG_LEVEL`, else `info`.
   * Refused with `logger` (`ERR_AUTH_CONFIG`): no logger is created then, so set the level on
   * yours. A level that restates the `env` given, as `fromEnv()` passes it, is accepted.
   */
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

/** The options the log level is resolved from. */
interface LogLevelOptions {
  readonly logLevel?: unknown
  readonly logger?: unknown
  readonly env?: Env | undefined
}

/**
 * The level of the logger oidc-guard creates: `logLevel`, else `AUTH_MIDDLEWARE_LOG_LEVEL`, else
 * `info`. A level pino does not know is a problem here, not pino's bare `Error` at construction;
 * so is `logLevel` given with `logger` (a pino logger or `false`), where it would do nothing.
 *
 * One exception: a `logLevel` that restates the level of the `env` given, as `fromEnv()` returns
 * it next to the logger it was given (or made), is no contradiction of the caller's, so it is
 * accepted. When `AUTH_MIDDLEWARE_LOG_LEVEL` sets it and the caller's logger is at another level,
 * a warning says once that the variable is not applied, rather than leaving it silently unread.
 */
export function resolveLogLevel(problems: Problems, options: LogLevelOptions): LogLevel {
  const { logLevel, logger } = options
  if (logLevel === undefined) return readLogLevel(options.env ?? process.env, problems)
  if (!(LOG_LEVELS as readonly unknown[]).includes(logLevel)) {
    problems.add(`logLevel must be one of ${LOG_LEVELS.join(', ')}`)
    return 'info'
  }
  const level = logLevel as LogLevel
  if (restatesEnv(options, level)) {
    warnIfEnvLevelUnapplied(options, level)
  } else {
    const problem = logLevelProblem(logger, level)
    if (problem !== undefined) problems.add(problem)
  }
  return level
}

/** Whether `level` is the one the `env` given sets (`AUTH_MIDDLEWARE_LOG_LEVEL`, else `info`). */
function restatesEnv(options: LogLevelOptions, level: LogLevel): boolean {
  // The variable's own problems are reported where it is read (fromEnv()); here it is compared.
  // Read through envOf: an env that is no environment is refused elsewhere, never a TypeError here.
  return options.env !== undefined && readLogLevel(envOf(options.env), new Problems()) === level
}

// Options already warned about: jwtAuth resolves the level of a disabled middleware twice.
const warnedAbout = new WeakSet<object>()

/**
 * Warns, through the caller's logger, that `AUTH_MIDDLEWARE_LOG_LEVEL` is not applied to it: the
 * variable sets the level of the logger oidc-guard creates, and an operator raising it to `debug`
 * would otherwise see nothing and not know why.
 */
function warnIfEnvLevelUnapplied(options: LogLevelOptions, level: LogLevel): void {
  const { logger, env } = options
  const variable: unknown = envOf(env)['AUTH_MIDDLEWARE_LOG_LEVEL']
  if (typeof variable !== 'string' || variable.trim() === '') return
  if (logger === undefined || logger === false || loggerProblem('logger', logger) !== undefined) {
    return
  }
  const given = logger as Logger
  if (given.level === level || warnedAbout.has(options)) return
  warnedAbout.add(options)
  resolveLogger(given, level).warn(
    { variable: 'AUTH_MIDDLEWARE_LOG_LEVEL', value: level, loggerLevel: given.level },
    "AUTH_MIDDLEWARE_LOG_LEVEL is not applied: it sets the level of the logger oidc-guard creates, and oidc-guard writes to the logger it was given, at that logger's level; set the level on that logger",
  )
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

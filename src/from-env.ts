// fromEnv(): a complete jwtAuth configuration from environment variables, each read once.

import type { JwtProvider } from './contracts.js'
import { checkEnv, EnvReader, readJwksCacheEnv, readLogLevel, type Env } from './env.js'
import { ConfigError } from './errors.js'
import { JwksCache } from './jwks-cache.js'
import { resolveLogger, type Logger } from './logger.js'
import type { JwtAuthOptions } from './middleware.js'
import {
  assumingProduction,
  checkOptionNames,
  checkRealm,
  isPlainObject,
  isProduction,
  MAX_TIMER_MS,
  Problems,
} from './options.js'
import type { UserSources } from './user.js'
import { warnAboutVariables } from './env-warnings.js'

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
  /** Every variable `create` may read, so unknown `AUTH_*`/`AUTHZ_*` names can be told as typos. */
  readonly variables: readonly string[]
  /**
   * The seed's variables for this provider that are not read, each with the reason: warned about
   * when set and `AUTH_PROVIDER` names the provider. Un-prefixed names (`JWKS_URL_TEMPLATE`) may
   * belong to other software, so they are not warned about otherwise.
   */
  readonly unread?: Readonly<Record<string, string>>
  create(env: EnvReader, context: EnvContext): JwtProvider | undefined
}

/** How authorization sources are built from environment variables (claims, SQL…). */
export interface SourcesEnvFactory {
  /** Every variable `create` may read. */
  readonly variables: readonly string[]
  /** The sources these variables configure; facets it does not configure are left out. */
  create(env: EnvReader, context: EnvContext): UserSources
}

/**
 * How other `jwtAuth` options are built from environment variables (a revocation store, a shared
 * cache tier…). `sourceCache` objects are merged with the one the core variables configure.
 */
export interface OptionsEnvFactory {
  /** Every variable `create` may read. */
  readonly variables: readonly string[]
  create(env: EnvReader, context: EnvContext): Partial<JwtAuthOptions>
}

/** The providers, sources and other options `fromEnv` can build. */
export interface EnvRegistry {
  readonly providers: readonly ProviderEnvFactory[]
  readonly sources: readonly SourcesEnvFactory[]
  readonly options?: readonly OptionsEnvFactory[]
}

/** Options of `fromEnv` that no variable sets. */
export interface FromEnvOptions {
  /** A pino logger for oidc-guard (start-up warnings included), or `false` for none. Default: a new one at `AUTH_MIDDLEWARE_LOG_LEVEL`. */
  logger?: Logger | false
}

/** Variables read here, whatever the providers. */
export const CORE_VARIABLES: readonly string[] = Object.freeze([
  'AUTH_PROVIDER',
  'AUTH_MIDDLEWARE_DISABLED',
  'AUTH_MIDDLEWARE_ALLOW_DISABLED_IN_PRODUCTION',
  'AUTH_MIDDLEWARE_LOG_LEVEL',
  'AUTH_MIDDLEWARE_JSON_REPOSITORY_PATH',
  'AUTH_CREDENTIALS_REQUIRED',
  'AUTH_REALM',
  'AUTH_SOURCE_TIMEOUT_MS',
  'AUTH_SOURCE_CACHE',
  'AUTH_SOURCE_CACHE_TTL_MS',
  'JWKS_CACHE_INTERVAL',
  'JWKS_CACHE_USAGES',
])

/**
 * Builds `jwtAuth` options from environment variables using the factories of `registry`. Every
 * problem (name, value seen with secrets masked, what was expected) is collected and thrown as one
 * `ConfigError`; unknown `AUTH_*`, `AUTHZ_*`, `JWKS_CACHE_*` and `OIDC_GUARD_*` variables are
 * warned about once, as likely typos (one close to a known name also on stderr, naming it).
 * `settings` takes `logger` only.
 * With `AUTH_MIDDLEWARE_DISABLED=true` everything is still built and checked (`AUTH_PROVIDER` is
 * then optional) and returned with `disabled: true`, so `disabled: false` spread after it works.
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every problem.
 */
export function buildFromEnv(
  registry: EnvRegistry,
  source: Env,
  settings: FromEnvOptions = {},
): JwtAuthOptions {
  const problems = new Problems()
  // A variable that is no string (`{ AUTH_MIDDLEWARE_DISABLED: true }` from a test) would be read
  // as unset, or throw a TypeError from a reader: refused first, alone, as nothing else can be read.
  // So are settings that are no options: `{ loger: false }` would quietly log at the default level.
  checkEnv(problems, source)
  checkSettings(problems, settings)
  problems.throwIfAny()
  const env = new EnvReader(source, problems)
  const logLevel = readLogLevel(source, problems)
  const logger = resolveLogger(settings.logger, logLevel)
  warnAboutVariables(env, registry, logger, CORE_VARIABLES)
  // jwtAuth decides (and refuses it in production) from the same env, passed on as `env`.
  const disabled = env.boolean('AUTH_MIDDLEWARE_DISABLED') === true
  if (disabled) env.boolean('AUTH_MIDDLEWARE_ALLOW_DISABLED_IN_PRODUCTION')

  const context: EnvContext = {
    jwksCache: buildJwksCache(source, problems, logger),
    logger,
    production: isProduction(source),
  }
  const options = assumingProduction(context.production, () =>
    buildOptions(env, registry, context, disabled),
  )
  if (disabled) options.disabled = true
  // The logger made here (none given) stays fromEnv()'s own, for what it warns about: jwtAuth makes
  // its own at logLevel, so `{ ...fromEnv(), logLevel: 'debug' }` is an override, not a logger
  // given with a level it cannot take.
  if (settings.logger !== undefined) options.logger = settings.logger
  options.logLevel = logLevel
  options.env = passedOn(source)
  problems.throwIfAny()
  return options
}

// The variables jwtAuth and createVerifier read from their `env` option (the disabled switch, the
// log level, whether it is production): all fromEnv hands on. Everything else is read already.
const PASSED_ON_VARIABLES: readonly string[] = Object.freeze([
  'AUTH_MIDDLEWARE_DISABLED',
  'AUTH_MIDDLEWARE_ALLOW_DISABLED_IN_PRODUCTION',
  'AUTH_MIDDLEWARE_LOG_LEVEL',
  'NODE_ENV',
])

/**
 * A frozen copy of the variables of `source` that jwtAuth and createVerifier read. Not the whole
 * environment: the options are an object apps log (`logger.info({ config })`), and
 * process.env holds the database password and every other secret of the process. An enumerable
 * property, so that `{ ...fromEnv(), … }` keeps it.
 */
function passedOn(source: Env): Env {
  const copy: Record<string, string> = {}
  for (const name of PASSED_ON_VARIABLES) {
    const value = source[name]
    if (value !== undefined) copy[name] = value
  }
  return Object.freeze(copy)
}

/**
 * `fromEnv`'s second argument: nothing, or a plain object with `logger` only. A pino logger given
 * as the argument itself (`fromEnv(env, logger)`) is the likeliest mistake, and said so.
 */
function checkSettings(problems: Problems, settings: unknown): void {
  if (isPlainObject(settings)) {
    checkOptionNames(problems, 'fromEnv', settings, ['logger'])
    return
  }
  const looksLikeLogger = typeof (settings as { warn?: unknown } | null)?.warn === 'function'
  problems.add(
    `fromEnv: the second argument must be an options object, fromEnv(env, { logger }), or left out; got ${kindOf(settings)}` +
      (looksLikeLogger ? ': to give a logger, write fromEnv(env, { logger })' : ''),
  )
}

/** What a value is, for a message, without the value itself (it may be anything, a secret too). */
function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value !== 'object') return `a ${typeof value}`
  const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'an object'
}

/**
 * The key cache `JWKS_CACHE_INTERVAL` and `JWKS_CACHE_USAGES` configure. Its own problems join the
 * others, named by the variables; a cache with the defaults stands in so the providers can still
 * be built and checked.
 */
function buildJwksCache(source: Env, problems: Problems, logger: Logger): JwksCache {
  const options = readJwksCacheEnv(source, problems)
  const label = 'JWKS_CACHE_INTERVAL / JWKS_CACHE_USAGES'
  return (
    collect(problems, label, () => new JwksCache({ ...options, logger })) ??
    new JwksCache({ logger })
  )
}

/** Everything but the logging settings; the providers and sources are built, never started. */
function buildOptions(
  env: EnvReader,
  registry: EnvRegistry,
  context: EnvContext,
  disabled: boolean,
): JwtAuthOptions {
  const problems = env.problems
  const providers = buildProviders(env, registry, context, disabled)
  const options: JwtAuthOptions = { providers, ...buildSources(env, registry, context) }
  const credentialsRequired = env.boolean('AUTH_CREDENTIALS_REQUIRED')
  if (credentialsRequired !== undefined) options.credentialsRequired = credentialsRequired
  // Checked here as jwtAuth will check them, so that one error names every problem and the variable.
  const realm = env.checked('AUTH_REALM', checkRealm)
  if (realm !== undefined) options.realm = realm
  const timer = { integer: true, max: MAX_TIMER_MS }
  const timeout = env.positive('AUTH_SOURCE_TIMEOUT_MS', timer)
  if (timeout !== undefined) options.sourceTimeoutMs = timeout
  const ttlMs = env.positive('AUTH_SOURCE_CACHE_TTL_MS', timer)
  const cacheOff = env.boolean('AUTH_SOURCE_CACHE') === false
  if (ttlMs !== undefined && cacheOff) {
    problems.add(
      'AUTH_SOURCE_CACHE_TTL_MS contradicts AUTH_SOURCE_CACHE=false, which turns the cache off: remove one',
    )
  }
  if (ttlMs !== undefined) options.sourceCache = { ttlMs }
  for (const factory of registry.options ?? []) {
    const extra = collect(problems, 'options', () => factory.create(env, context)) ?? {}
    const { sourceCache, ...rest } = extra
    Object.assign(options, rest)
    if (sourceCache) options.sourceCache = { ...(options.sourceCache || {}), ...sourceCache }
  }
  if (cacheOff) options.sourceCache = false
  return options
}

function buildProviders(
  env: EnvReader,
  registry: EnvRegistry,
  context: EnvContext,
  disabled: boolean,
): JwtProvider[] {
  const known = registry.providers.map((factory) => factory.name)
  const names = env.list(
    'AUTH_PROVIDER',
    disabled
      ? {}
      : {
          required: `(one or more of ${known.join(', ')}, comma-separated), or AUTH_MIDDLEWARE_DISABLED=true for local development`,
        },
  )
  const built: { provider: JwtProvider; factory: ProviderEnvFactory }[] = []
  for (const [index, name] of (names ?? []).entries()) {
    const factory = registry.providers.find((candidate) => candidate.name === name.toLowerCase())
    if (factory === undefined) {
      env.problems.add(
        `AUTH_PROVIDER names ${JSON.stringify(name)}; known providers: ${known.join(', ')}`,
      )
    } else if (names!.slice(0, index).some((earlier) => earlier.toLowerCase() === factory.name)) {
      env.problems.add(`AUTH_PROVIDER names ${factory.name} twice`)
    } else {
      const provider = collect(env.problems, `AUTH_PROVIDER=${factory.name}`, () =>
        factory.create(env, context),
      )
      if (provider !== undefined) built.push({ provider, factory })
    }
  }
  checkIssuersApart(env.problems, built)
  return built.map(({ provider }) => provider)
}

/**
 * Two providers `AUTH_PROVIDER` names may not accept one issuer (jwtAuth would refuse them by their
 * place in a list no one wrote): said here in terms of the variables, `jwks,oidc` reading one
 * AUTH_PROVIDER_ISSUER above all.
 */
function checkIssuersApart(
  problems: Problems,
  built: readonly { provider: JwtProvider; factory: ProviderEnvFactory }[],
): void {
  const owners = new Map<string, ProviderEnvFactory>()
  for (const { provider, factory } of built) {
    for (const issuer of new Set(provider.issuers)) {
      const owner = owners.get(issuer)
      if (owner === undefined) {
        owners.set(issuer, factory)
        continue
      }
      const shared = factory.variables.filter(
        (name) => name.endsWith('_ISSUER') && owner.variables.includes(name),
      )
      const why = shared.length > 0 ? `, both from ${shared.join(', ')}` : ''
      problems.add(
        `AUTH_PROVIDER names ${owner.name} and ${factory.name}, which both accept the issuer ${JSON.stringify(issuer)}${why}: keep one of them`,
      )
    }
  }
}

type SourceOptions = Pick<JwtAuthOptions, 'groups' | 'roles' | 'permissions' | 'profile'>

function buildSources(env: EnvReader, registry: EnvRegistry, context: EnvContext): SourceOptions {
  const merged: Record<string, unknown> = {}
  for (const factory of registry.sources) {
    const sources = collect(env.problems, 'authorization sources', () =>
      factory.create(env, context),
    )
    for (const [facet, value] of Object.entries(sources ?? {})) {
      if (value === undefined) continue
      if (merged[facet] !== undefined) {
        env.problems.add(`two sets of variables configure the ${facet} source; keep one`)
      }
      merged[facet] = value
    }
  }
  return merged as SourceOptions
}

/** Runs a constructor, turning its ConfigError into problems of ours so all are reported at once. */
function collect<T>(problems: Problems, label: string, build: () => T): T | undefined {
  try {
    return build()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    for (const problem of error.problems) problems.add(`${label}: ${problem}`)
    return undefined
  }
}

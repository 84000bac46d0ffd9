// The start-up warnings of fromEnv(): variables set that will not be read, each said once with why.

import type { EnvReader } from './env.js'
import type { EnvRegistry } from './from-env.js'
import type { Logger } from './logger.js'
import { closestName } from './options.js'
import { warnOnce } from './warn-once.js'

const NO_KILL_SWITCH =
  'is not supported: signature verification cannot be switched off (AUTH_MIDDLEWARE_DISABLED exists for local development)'
const NO_LOG_FORMAT =
  'is a loguru format of the Python package with no equivalent here: it is ignored. oidc-guard writes pino JSON lines; pipe them through pino-pretty to read them by eye, or pass fromEnv({ logger }) a pino logger of your own with the transport you want'
const NO_POOL_EQUIVALENT =
  'is a pool setting of the Python package with no equivalent here: it is ignored (AUTHZ_POOL_SIZE and AUTHZ_POOL_TIMEOUT_IN_SECONDS are read)'

// Names the seed (or its docs) used that are deliberately not read, with the reason: set, each is
// warned about with its reason rather than as a typo.
const UNREAD_VARIABLES: Readonly<Record<string, string>> = {
  JWT_TOKEN_VERIFICATION_DISABLED: NO_KILL_SWITCH,
  TOKEN_VERIFICATION_DISABLED: NO_KILL_SWITCH,
  AUTH_MIDDLEWARE_LOG_FORMAT: NO_LOG_FORMAT,
  AUTH_MIDDLEWARE_JWKS_CACHE_INTERVAL_MINUTES:
    'is not read: the setting is JWKS_CACHE_INTERVAL (in minutes too); rename the variable',
  AUTH_MIDDLEWARE_JWKS_CACHE_USAGES:
    'is not read: the setting is JWKS_CACHE_USAGES; rename the variable',
  AUTHZ_MAX_OVERFLOW: NO_POOL_EQUIVALENT,
  AUTHZ_POOL_PRE_PING: NO_POOL_EQUIVALENT,
  AUTHZ_POOL_RECYCLE_IN_SECONDS: NO_POOL_EQUIVALENT,
  AUTHZ_POOL_RESET_ON_RETURN: NO_POOL_EQUIVALENT,
  AUTHZ_ECHO_POOL: NO_POOL_EQUIVALENT,
  AUTHZ_POOL: NO_POOL_EQUIVALENT,
}

/**
 * Warns about every variable set that will not be read: unknown `AUTH_*`/`AUTHZ_*`/`JWKS_CACHE_*`
 * names (likely typos, their prefix in any case), `OIDC_GUARD_*` names, the seed's names that are
 * deliberately not read, and the variables of providers `AUTH_PROVIDER` does not name. `core`
 * lists the variables fromEnv itself reads.
 */
export function warnAboutVariables(
  env: EnvReader,
  registry: EnvRegistry,
  logger: Logger,
  core: readonly string[],
): void {
  warnAboutUnknown(env, registry, logger, core)
  warnAboutUnselected(env, registry, logger)
  warnAboutUnread(env, registry, logger)
}

/**
 * Warns about a provider's variables that are set while `AUTH_PROVIDER` does not name it: the
 * setting the user believes in is not in force (`AUTH_PROVIDER_JWKS_URI` under
 * `AUTH_PROVIDER=oidc`, where the keys are discovered instead). Only `AUTH_*` names: other
 * names (`USER_POOL_ID`) may be the app's own.
 */
function warnAboutUnselected(env: EnvReader, registry: EnvRegistry, logger: Logger): void {
  const named = new Set((env.peek('AUTH_PROVIDER') ?? '').split(',').map(normalName))
  const selected = registry.providers.filter((factory) => named.has(factory.name))
  const inForce = new Set(selected.flatMap((factory) => factory.variables))
  for (const factory of registry.providers) {
    if (named.has(factory.name)) continue
    for (const name of factory.variables) {
      // Blank counts as unset (docs/configuration.md): `NAME=` in a .env template sets nothing.
      if (!name.startsWith('AUTH_') || inForce.has(name) || env.peek(name) === undefined) continue
      logger.warn(
        { variable: name },
        '%s is set, but AUTH_PROVIDER does not include %s: it is ignored',
        name,
        factory.name,
      )
      inForce.add(name) // once, though several providers read it
    }
  }
}

function normalName(name: string): string {
  return name.trim().toLowerCase()
}

// The prefixes of oidc-guard's own variables. Written in any case, a name is a slip too
// (`auth_credentials_required`), but only one close to a variable read is said: lower-case names
// may be another program's.
const OUR_PREFIX = /^(?:AUTHZ?|JWKS_CACHE)_/i
const OUR_PREFIX_AS_WRITTEN = /^(?:AUTHZ?|JWKS_CACHE)_/
// A prefix of the package's name, which it does not read: `OIDC_GUARD_CREDENTIALS_REQUIRED`.
const PACKAGE_PREFIX = /^OIDC_GUARD_/i

/**
 * Warns about every unknown `AUTH_*`, `AUTHZ_*` and `JWKS_CACHE_*` variable, by its name alone (a
 * misspelt secret's value is what the secret pattern misses), and about every `OIDC_GUARD_*` one.
 * One close to a variable that is read (`AUTH_REVOCATON`) is a misspelling whose setting is not in
 * force, often the safe one (revocation, credentials required): it names the variable meant and is
 * said on stderr too, once per process and name, so no log level or `logger: false` hides it. It
 * is not refused: other software's `AUTH_*` names (NextAuth's `AUTH_SECRET`) share the prefix, and
 * a warning never breaks their start-up.
 */
function warnAboutUnknown(
  env: EnvReader,
  registry: EnvRegistry,
  logger: Logger,
  core: readonly string[],
): void {
  const known = [
    ...new Set([
      ...core,
      ...registry.providers.flatMap((factory) => factory.variables),
      ...registry.sources.flatMap((factory) => factory.variables),
      ...(registry.options ?? []).flatMap((factory) => factory.variables),
    ]),
  ]
  // The seed's names a provider does not read (JWKS_CACHE_STRATEGY) are warned about, with why,
  // under that provider (warnAboutUnread), and are no typos under another.
  const seeds = new Set(registry.providers.flatMap((factory) => Object.keys(factory.unread ?? {})))
  for (const name of env.namesMatching(OUR_PREFIX)) {
    if (known.includes(name) || UNREAD_VARIABLES[name] !== undefined || seeds.has(name)) continue
    const meant = meantVariable(name, known)
    if (meant !== undefined) {
      warnMisspelt(logger, name, meant)
    } else if (OUR_PREFIX_AS_WRITTEN.test(name)) {
      logger.warn(
        { variable: name },
        'unknown environment variable %s ignored (a typo?); every variable is listed in docs/configuration.md of the oidc-guard package',
        name,
      )
    }
  }
  warnAboutPackagePrefix(env, logger, known)
  for (const [name, reason] of Object.entries(UNREAD_VARIABLES)) {
    if (env.peek(name) !== undefined) logger.warn({ variable: name }, '%s %s', name, reason)
  }
}

/**
 * Warns about every `OIDC_GUARD_*` variable: named after the package, none is read. One whose rest
 * names a variable (`OIDC_GUARD_CREDENTIALS_REQUIRED`) is said as a misspelling of it.
 */
function warnAboutPackagePrefix(env: EnvReader, logger: Logger, known: readonly string[]): void {
  for (const name of env.namesMatching(PACKAGE_PREFIX)) {
    const meant = meantUnprefixed(name, known)
    if (meant !== undefined) {
      warnMisspelt(logger, name, meant, 'oidc-guard reads AUTH_* variables')
      continue
    }
    logger.warn(
      { variable: name },
      'environment variable %s ignored: oidc-guard reads AUTH_* variables, every one listed in docs/configuration.md of the oidc-guard package',
      name,
    )
  }
}

/**
 * A variable not read, close to `meant`: logged, and said once on stderr, whatever the logger.
 * `reason` says why it is not read when it is no plain typo.
 */
function warnMisspelt(logger: Logger, name: string, meant: string, reason?: string): void {
  logger.warn(
    { variable: name, meant },
    'unknown environment variable %s ignored (%s): did you mean %s? The setting it was meant for is not in force',
    name,
    reason ?? 'a typo?',
    meant,
  )
  warnOnce(
    `OIDC_GUARD_MISSPELT_${name}`,
    `environment variable ${name} is not read by oidc-guard (${reason === undefined ? '' : `${reason}; `}did you mean ${meant}?): the setting it was meant for is not in force`,
  )
}

// The prefixes an `OIDC_GUARD_*` name's setting most likely has: `OIDC_GUARD_DISABLED` is
// AUTH_MIDDLEWARE_DISABLED, `OIDC_GUARD_JWKS_CACHE_INTERVAL` is JWKS_CACHE_INTERVAL.
const PREFIXES_MEANT: readonly string[] = [
  '',
  'AUTH_',
  'AUTHZ_',
  'AUTH_MIDDLEWARE_',
  'AUTH_PROVIDER_',
]

/** The variable an `OIDC_GUARD_*` name was meant as: its rest under our prefixes, exact or close. */
function meantUnprefixed(name: string, known: readonly string[]): string | undefined {
  const rest = name.replace(PACKAGE_PREFIX, '').toUpperCase()
  const candidates = PREFIXES_MEANT.map((prefix) => prefix + rest)
  const exact = candidates.find((candidate) => known.includes(candidate))
  if (exact !== undefined) return exact
  for (const candidate of candidates) {
    const meant = meantVariable(candidate, known)
    if (meant !== undefined) return meant
  }
  return undefined
}

/**
 * The seed's variables of the providers `AUTH_PROVIDER` names that are not read (`JWKS_URL_TEMPLATE`
 * under `cognito`), each warned about with its reason when set, once though several providers list it.
 */
function warnAboutUnread(env: EnvReader, registry: EnvRegistry, logger: Logger): void {
  const named = new Set((env.peek('AUTH_PROVIDER') ?? '').split(',').map(normalName))
  const warned = new Set<string>()
  for (const factory of registry.providers) {
    if (!named.has(factory.name)) continue
    for (const [name, reason] of Object.entries(factory.unread ?? {})) {
      if (warned.has(name) || env.peek(name) === undefined) continue
      warned.add(name)
      logger.warn({ variable: name }, '%s %s', name, reason)
    }
  }
}

// Units variables end with, which a misspelling most often leaves out (AUTH_SOURCE_TIMEOUT).
const UNIT_SUFFIXES: readonly string[] = ['_MS', '_SEC', '_IN_SECONDS']
// Units added to a variable that has none in its name (JWKS_CACHE_INTERVAL_MINUTES).
const ADDED_UNITS: readonly string[] = [
  '_MINUTES',
  '_IN_MINUTES',
  '_MIN',
  '_MS',
  '_SEC',
  '_SECONDS',
  '_IN_SECONDS',
]

/**
 * The variable `name` most likely misspells, if one is close enough: the rule checkOptionNames
 * applies to option names (two edits, compared in upper case), a variable's slips being its case,
 * a unit left off, and a unit added.
 */
function meantVariable(name: string, known: readonly string[]): string | undefined {
  return closestName(name.toUpperCase(), known, (key, candidate) => {
    return (
      candidate === key ||
      UNIT_SUFFIXES.some((suffix) => candidate === key + suffix) ||
      ADDED_UNITS.some((suffix) => key === candidate + suffix)
    )
  })
}

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
 * Warns about every variable set that will not be read: unknown `AUTH_*`/`AUTHZ_*` names (likely
 * typos), the seed's names that are deliberately not read, and the variables of providers
 * `AUTH_PROVIDER` does not name. `core` lists the variables fromEnv itself reads.
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
  const named = new Set((env.raw('AUTH_PROVIDER') ?? '').split(',').map(normalName))
  const selected = registry.providers.filter((factory) => named.has(factory.name))
  const inForce = new Set(selected.flatMap((factory) => factory.variables))
  for (const factory of registry.providers) {
    if (named.has(factory.name)) continue
    for (const name of factory.variables) {
      // Blank counts as unset (docs/configuration.md): `NAME=` in a .env template sets nothing.
      if (!name.startsWith('AUTH_') || inForce.has(name) || env.raw(name) === undefined) continue
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

/**
 * Warns about every unknown `AUTH_*` and `AUTHZ_*` variable, by its name alone (a misspelt secret's
 * value is what the secret pattern misses). One close to a variable that is read (`AUTH_REVOCATON`)
 * is a misspelling whose setting is not in force, often the safe one (revocation, credentials
 * required): it names the variable meant and is said on stderr too, once per process and name, so
 * no log level or `logger: false` hides it. It is not refused: other software's `AUTH_*` names
 * (NextAuth's `AUTH_SECRET`) share the prefix, and a warning never breaks their start-up.
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
  const ours = [...env.namesStartingWith('AUTH_'), ...env.namesStartingWith('AUTHZ_')]
  for (const name of ours) {
    if (known.includes(name) || UNREAD_VARIABLES[name] !== undefined) continue
    const meant = meantVariable(name, known)
    if (meant === undefined) {
      logger.warn(
        { variable: name },
        'unknown environment variable %s ignored (a typo?); every variable is listed in docs/configuration.md of the oidc-guard package',
        name,
      )
      continue
    }
    logger.warn(
      { variable: name, meant },
      'unknown environment variable %s ignored (a typo?): did you mean %s? The setting it was meant for is not in force',
      name,
      meant,
    )
    warnOnce(
      `OIDC_GUARD_MISSPELT_${name}`,
      `environment variable ${name} is not read by oidc-guard (did you mean ${meant}?): the setting it was meant for is not in force`,
    )
  }
  for (const [name, reason] of Object.entries(UNREAD_VARIABLES)) {
    if (env.raw(name) !== undefined) logger.warn({ variable: name }, '%s %s', name, reason)
  }
}

/**
 * The seed's variables of the providers `AUTH_PROVIDER` names that are not read (`JWKS_URL_TEMPLATE`
 * under `cognito`), each warned about with its reason when set, once though several providers list it.
 */
function warnAboutUnread(env: EnvReader, registry: EnvRegistry, logger: Logger): void {
  const named = new Set((env.raw('AUTH_PROVIDER') ?? '').split(',').map(normalName))
  const warned = new Set<string>()
  for (const factory of registry.providers) {
    if (!named.has(factory.name)) continue
    for (const [name, reason] of Object.entries(factory.unread ?? {})) {
      if (warned.has(name) || env.raw(name) === undefined) continue
      warned.add(name)
      logger.warn({ variable: name }, '%s %s', name, reason)
    }
  }
}

// Units variables end with, which a misspelling most often leaves out (AUTH_SOURCE_TIMEOUT).
const UNIT_SUFFIXES: readonly string[] = ['_MS', '_SEC', '_IN_SECONDS']

/**
 * The variable `name` most likely misspells, if one is close enough: the rule checkOptionNames
 * applies to option names (two edits), a variable's slips being its case and a unit left off.
 */
function meantVariable(name: string, known: readonly string[]): string | undefined {
  return closestName(name, known, (key, candidate) => {
    return (
      candidate.toUpperCase() === key.toUpperCase() ||
      UNIT_SUFFIXES.some((suffix) => candidate === key + suffix)
    )
  })
}

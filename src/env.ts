// Environment variables: each read once, parsed and checked, every problem reported together.

import { LOG_LEVELS, type LogLevel } from './logger.js'
import { isPlainObject, Problems, showUrl } from './options.js'

/** The environment to read: `process.env` by default, a plain object in tests. */
export type Env = Readonly<Record<string, string | undefined>>

// Names whose values are secrets (or carry one, as a database URL with its password does).
const SECRET_NAME =
  /SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|(?:^|_)TOKEN$|DATABASE_UR[IL]|REDIS_UR[IL]|_DSN$|CREDENTIALS$/

/** Whether a variable's value must never be echoed (in errors or logs). */
export function isSecretVariable(name: string): boolean {
  return SECRET_NAME.test(name)
}

/** How a value seen in the environment is shown in an error: quoted, or masked when secret. */
export function showValue(name: string, raw: string): string {
  return isSecretVariable(name) ? `(${raw.length} characters, hidden)` : JSON.stringify(raw)
}

// The `env` option, when it is no environment, is read as an empty one: its problems stop the
// construction, and every check that reads it on the way must not throw a TypeError first.
const NO_ENV: Env = Object.freeze({})

/**
 * Checks an `env` option (`option` names it in the problems): a plain object whose values are
 * strings (or undefined), as `process.env` is. Each variable of another type is a problem naming it
 * and its type (a secret's value never shown): `{ AUTH_MIDDLEWARE_DISABLED: true }` would otherwise
 * be read as unset.
 */
export function checkEnv(problems: Problems, env: unknown, option = 'env'): void {
  if (env === undefined) return
  if (!isEnvironment(env)) {
    problems.add(
      `${option} must be an object of environment variables (process.env, or { NAME: 'value' }), got ${kindOfValue(env)}`,
    )
    return
  }
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && typeof value !== 'string') {
      problems.add(
        `${option}.${name} must be a string, as environment variables are${textHint(name, value)}, got ${kindOfValue(value)}`,
      )
    }
  }
}

/**
 * The environment an `env` option gives to read: `process.env` when not given, an empty one when
 * {@link checkEnv} refuses it, so that nothing read before the problems are thrown meets a value
 * that is not a string.
 */
export function envOf(env: unknown): Env {
  if (env === undefined) return process.env
  return isEnvironment(env) && Object.values(env).every(isEnvValue) ? (env as Env) : NO_ENV
}

/**
 * An object literal, a dotenv parse result, `Object.create(null)`, or `process.env` (whose
 * prototype is Node's own, a proxy of it included): not a list, a Map or a string.
 */
function isEnvironment(value: unknown): value is Record<string, unknown> {
  return (
    isPlainObject(value) ||
    (typeof value === 'object' &&
      value !== null &&
      Object.getPrototypeOf(value) === Object.getPrototypeOf(process.env))
  )
}

function isEnvValue(value: unknown): boolean {
  return value === undefined || typeof value === 'string'
}

/** What a refused value is, never the value itself. */
function kindOfValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'an object that is not a plain one' : `a ${typeof value}`
}

/** How a boolean or a number is written as a variable's text (`true` as 'true'); not a secret's. */
function textHint(name: string, value: unknown): string {
  if (isSecretVariable(name)) return ''
  return typeof value === 'boolean' || typeof value === 'number'
    ? ` (write '${String(value)}')`
    : ''
}

// One pair of matching quotes around the whole value, which `docker run --env-file`, `kubectl create
// configmap --from-env-file` and some .env loaders keep as characters of the value:
// AUTH_PROVIDER_AUDIENCE="orders-api" there is `"orders-api"`, and every token's audience would
// then be refused. (NODE_ENV alone is read without them, by isProduction: production's checks
// must never be lost to a pair of quotes.)
const QUOTED = /^(["'])[\s\S]*\1$/

/** `value` without the pair of quotes around it; `undefined` when nothing is left. */
function unquoted(value: string): string | undefined {
  const inner = value.slice(1, -1).trim()
  return inner === '' ? undefined : inner
}

// The variables whose quotes were reported, for each set of problems: readers of one environment
// may share one (fromEnv's do), and a variable read twice is still one problem.
const quotesReported = new WeakMap<Problems, Set<string>>()

function reportQuoted(problems: Problems, name: string, value: string): void {
  const reported = quotesReported.get(problems) ?? new Set<string>()
  quotesReported.set(problems, reported)
  if (reported.has(name)) return
  reported.add(name)
  // Any variable may hold a URL (an issuer, a key set's): its user information and query are
  // hidden as a URL's always are, a secret's whole value as always.
  const shown = isSecretVariable(name) ? showValue(name, value) : showUrl(value)
  problems.add(
    `${name} is wrapped in quotes, which your env loader kept: remove them, got ${shown}`,
  )
}

const TRUE = new Set(['true', '1', 'yes', 'on'])
const FALSE = new Set(['false', '0', 'no', 'off'])

/**
 * Reads typed values out of an environment, recording every problem in `problems` (naming the
 * variable, the value seen, secrets masked, and what was expected) and every name it was asked
 * for, so unknown variables can be told apart. Empty values count as unset; a value wrapped in
 * quotes an env loader kept (`"orders-api"`) is a problem.
 *
 * @example
 * const env = new EnvReader(process.env, problems)
 * const issuer = env.string('AUTH_PROVIDER_ISSUER', { required: 'when AUTH_PROVIDER=jwks' })
 */
export class EnvReader {
  readonly #env: Env
  readonly problems: Problems

  constructor(env: Env, problems: Problems) {
    this.#env = env
    this.problems = problems
  }

  /**
   * A reader of an `env` option as an API takes it (`option` being its name): checked by
   * {@link checkEnv}, each problem recorded, and read as {@link envOf} reads it (`process.env` when
   * not given, an empty environment when refused). For providers, which reach only this class.
   */
  static forOption(problems: Problems, env: unknown, option = 'env'): EnvReader {
    checkEnv(problems, env, option)
    return new EnvReader(envOf(env), problems)
  }

  /**
   * The raw value, or `undefined` when unset or blank, and when it is no string: `checkEnv` reports
   * those, and every reader of an environment must not throw a TypeError before it does. A value
   * wrapped in one pair of quotes is a problem (once per variable), and read without them, so
   * that it draws no second, misleading one.
   */
  raw(name: string): string | undefined {
    const value = this.#trimmed(name)
    if (value === undefined || !QUOTED.test(value)) return value
    reportQuoted(this.problems, name, value)
    return unquoted(value)
  }

  /**
   * The value as {@link raw} reads it, recording no problem: for the warnings about variables set
   * that may not be read at all, which must never stop a start-up.
   */
  peek(name: string): string | undefined {
    const value = this.#trimmed(name)
    return value === undefined || !QUOTED.test(value) ? value : unquoted(value)
  }

  /** Names of the environment's variables that `pattern` matches. */
  namesMatching(pattern: RegExp): string[] {
    return Object.keys(this.#env).filter((name) => pattern.test(name))
  }

  #trimmed(name: string): string | undefined {
    const value: unknown = this.#env[name]
    return typeof value !== 'string' || value.trim() === '' ? undefined : value.trim()
  }

  /** A string; with `required`, its absence is a problem explained by the text given. */
  string(name: string, options: { required?: string } = {}): string | undefined {
    const value = this.raw(name)
    if (value === undefined && options.required !== undefined) {
      this.problems.add(`${name} is required ${options.required}`)
    }
    return value
  }

  /**
   * A comma-separated list (blanks dropped); `undefined` when unset, and when it lists nothing
   * (`,`): that is a problem of its own, and an empty list would draw a second one from the
   * option it sets, naming no variable.
   */
  list(name: string, options: { required?: string } = {}): string[] | undefined {
    const value = this.string(name, options)
    if (value === undefined) return undefined
    const items = value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '')
    if (items.length > 0) return items
    this.#expected(name, 'a comma-separated list')
    return undefined
  }

  /** `true/false`, `1/0`, `yes/no`, `on/off` in any case; anything else is a problem. */
  boolean(name: string): boolean | undefined {
    const value = this.raw(name)?.toLowerCase()
    if (value === undefined) return undefined
    if (TRUE.has(value)) return true
    if (FALSE.has(value)) return false
    this.#expected(name, 'true or false')
    return undefined
  }

  /** A number greater than 0 (a whole one with `integer`), `max` at most. */
  positive(name: string, options: { integer?: boolean; max?: number } = {}): number | undefined {
    const raw = this.raw(name)
    if (raw === undefined) return undefined
    const { integer = false, max = Number.MAX_VALUE } = options
    const fits = (value: number): boolean =>
      Number.isFinite(value) && value > 0 && value <= max && (!integer || Number.isInteger(value))
    const value = decimal(raw)
    if (fits(value)) return value
    const kind = (integer ? 'a whole number' : 'a number') + notationHint(raw, fits)
    const range =
      max === Number.MAX_VALUE
        ? 'above 0'
        : integer
          ? `from 1 to ${max}`
          : `above 0, at most ${max}`
    this.#expected(name, `${kind} ${range}`)
    return undefined
  }

  /** A number of seconds from 0 to `max`. */
  seconds(name: string, max: number): number | undefined {
    const raw = this.raw(name)
    if (raw === undefined) return undefined
    const fits = (value: number): boolean => Number.isFinite(value) && value >= 0 && value <= max
    const value = decimal(raw)
    if (fits(value)) return value
    this.#expected(name, `a number of seconds${notationHint(raw, fits)} from 0 to ${max}`)
    return undefined
  }

  /** One of `choices`, compared without case. */
  oneOf<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const raw = this.raw(name)
    if (raw === undefined) return undefined
    const found = choices.find((choice) => choice === raw.toLowerCase())
    if (found === undefined) this.#expected(name, `one of ${choices.join(', ')}`)
    return found
  }

  /**
   * A string checked by the check its option shares with a constructor (`checkRealm`…), each
   * problem followed by the value seen, as every other problem here is. The value is returned even
   * when refused: the problem is what stops the configuration.
   */
  checked(
    name: string,
    check: (problems: Problems, name: string, value: string) => void,
  ): string | undefined {
    const value = this.raw(name)
    if (value !== undefined) {
      check(new ValueShown(this.problems, showValue(name, this.#env[name] ?? '')), name, value)
    }
    return value
  }

  #expected(name: string, what: string): void {
    this.problems.add(`${name} must be ${what}, got ${showValue(name, this.#env[name] ?? '')}`)
  }
}

/** Problems passed on to `target`, each followed by the value a variable was seen with. */
class ValueShown extends Problems {
  readonly #target: Problems
  readonly #seen: string

  constructor(target: Problems, seen: string) {
    super()
    this.#target = target
    this.#seen = seen
  }

  override add(problem: string): void {
    this.#target.add(`${problem}, got ${this.#seen}`)
  }
}

// The Python package's loguru level names, read as the pino level that logs the same records
// (loguru's SUCCESS sits between INFO and WARNING; pino has no level there, so info keeps it).
const LOGURU_LEVELS: ReadonlyMap<string, LogLevel> = new Map([
  ['warning', 'warn'],
  ['critical', 'fatal'],
  ['success', 'info'],
])

/**
 * `AUTH_MIDDLEWARE_LOG_LEVEL`: a pino level (`fatal` … `trace`, `silent`), or one of the Python
 * package's loguru names (`WARNING`, `CRITICAL`, `SUCCESS`), in any case; default `info`.
 */
export function readLogLevel(env: Env, problems: Problems): LogLevel {
  const reader = new EnvReader(env, problems)
  const loguru = LOGURU_LEVELS.get(reader.raw('AUTH_MIDDLEWARE_LOG_LEVEL')?.toLowerCase() ?? '')
  return loguru ?? reader.oneOf('AUTH_MIDDLEWARE_LOG_LEVEL', LOG_LEVELS) ?? 'info'
}

// The JWKS cache's cooldownMs (30 s, which no variable changes), in minutes: a shorter interval
// would refetch the key set all the time, and the cache refuses it.
const MIN_JWKS_CACHE_INTERVAL_MINUTES = 0.5
// A key the issuer withdraws (compromised, rotated out) stays trusted until the next refresh: a
// day at most, as the cache's own maximum (MAX_REFRESH_INTERVAL_MS) says.
const MAX_JWKS_CACHE_INTERVAL_MINUTES = 1440

/** `JWKS_CACHE_INTERVAL` when from 0.5 to 1440 minutes, else a problem (a value meant as ms, say). */
function checkedInterval(reader: EnvReader, minutes: number | undefined): number | undefined {
  if (minutes === undefined) return undefined
  const seen = showValue('JWKS_CACHE_INTERVAL', reader.raw('JWKS_CACHE_INTERVAL') ?? '')
  if (minutes < MIN_JWKS_CACHE_INTERVAL_MINUTES) {
    reader.problems.add(
      `JWKS_CACHE_INTERVAL is in minutes and must be at least ${MIN_JWKS_CACHE_INTERVAL_MINUTES} ` +
        `(30 s, the least time between two fetches of a key set), got ${seen}`,
    )
    return undefined
  }
  if (minutes > MAX_JWKS_CACHE_INTERVAL_MINUTES) {
    reader.problems.add(
      `JWKS_CACHE_INTERVAL is in minutes and must be at most ${MAX_JWKS_CACHE_INTERVAL_MINUTES} ` +
        `(24 h: a key removed from the key set stays trusted until the next refresh), got ${seen}` +
        unitHint(minutes),
    )
    return undefined
  }
  return minutes
}

/** What a too-large interval most likely meant: milliseconds, else seconds, when either fits. */
function unitHint(value: number): string {
  const fits = (minutes: number): boolean =>
    minutes >= MIN_JWKS_CACHE_INTERVAL_MINUTES && minutes <= MAX_JWKS_CACHE_INTERVAL_MINUTES
  const round = (minutes: number): number => Number(minutes.toFixed(2))
  const asMilliseconds = round(value / 60_000)
  if (fits(asMilliseconds)) {
    return `; ${value} looks like milliseconds: write ${asMilliseconds} for ${asMilliseconds} minutes`
  }
  // Seconds only when they make whole minutes: 2880 is more likely two days meant in minutes.
  const asSeconds = value / 60
  if (Number.isInteger(asSeconds) && fits(asSeconds)) {
    return `; if ${value} was meant in seconds, write ${asSeconds} for ${asSeconds} minutes`
  }
  return ''
}

/**
 * `JWKS_CACHE_INTERVAL` (minutes, 0.5 to 1440, default 20) and `JWKS_CACHE_USAGES` (default 1000),
 * with the seed's names and meanings, as JWKS cache options.
 */
export function readJwksCacheEnv(
  env: Env,
  problems: Problems,
): { refreshIntervalMs?: number; refreshAfterUses?: number } {
  const reader = new EnvReader(env, problems)
  const minutes = checkedInterval(reader, reader.positive('JWKS_CACHE_INTERVAL'))
  const usages = reader.positive('JWKS_CACHE_USAGES', { integer: true })
  const options: { refreshIntervalMs?: number; refreshAfterUses?: number } = {}
  if (minutes !== undefined) options.refreshIntervalMs = minutes * 60_000
  if (usages !== undefined) options.refreshAfterUses = usages
  return options
}

// Plain decimal notation only: Number() also reads '0x10' as 16, '1e3' as 1000 and '' as 0, none
// of which anyone writes meaning that number of minutes or milliseconds.
const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/

/**
 * For a value refused only for its notation (`5e3`, `0x10`, which `fits` once read as a number):
 * that only plain decimal digits are read.
 */
function notationHint(raw: string, fits: (value: number) => boolean): string {
  return raw.trim() !== '' && fits(Number(raw)) ? ' written in plain decimal digits' : ''
}

/** The number `raw` writes in plain decimal notation, else NaN. */
function decimal(raw: string): number {
  return DECIMAL.test(raw) ? Number(raw) : Number.NaN
}

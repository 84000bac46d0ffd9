// The key cache's options: their defaults, their checks, and their resolution at construction.

import type { JwksCacheOptions } from './jwks-cache.js'
import { checkLogger, neverThrows, silentLogger, type Logger } from './logger.js'
import {
  checkNumber,
  checkOptionNames,
  checkTimeout,
  Problems,
  type OptionFlags,
} from './options.js'

/** {@link JwksCacheOptions} with every default filled in: what the cache runs on. */
export type ResolvedJwksCacheOptions = Required<Omit<JwksCacheOptions, 'logger'>> & {
  logger: Logger
}

const DEFAULTS = {
  refreshIntervalMs: 20 * 60_000,
  refreshAfterUses: 1000,
  cooldownMs: 30_000,
  timeoutMs: 5_000,
  maxResponseBytes: 1024 * 1024,
  staleIfErrorMs: 60 * 60_000,
  failureBackoffMs: 1_000,
} as const

// Every option of the key cache: a misspelt `refreshInterval` would keep the default, silently.
const JWKS_CACHE_OPTION_NAMES = Object.keys({
  refreshIntervalMs: true,
  refreshAfterUses: true,
  cooldownMs: true,
  timeoutMs: true,
  maxResponseBytes: true,
  staleIfErrorMs: true,
  failureBackoffMs: true,
  fetch: true,
  logger: true,
} as const satisfies OptionFlags<JwksCacheOptions>)

/**
 * The longest refresh interval: 24 h. A key the issuer withdraws (compromised, rotated out) stays
 * trusted until the set is refreshed, and on a quiet API nothing else (uses, an unknown kid)
 * refreshes it; an interval of weeks is most often minutes or milliseconds confused.
 */
export const MAX_REFRESH_INTERVAL_MS = 24 * 60 * 60_000

/**
 * The longest stale-if-error window: 24 h. Through an outage the last good keys serve that long
 * past the refresh interval, a key the issuer withdrew among them.
 */
export const MAX_STALE_IF_ERROR_MS = 24 * 60 * 60_000

/**
 * The largest JWK Set response: 16 MiB. A set of the 100 keys it may hold is a few dozen KiB;
 * a response is read into memory whole, and parsed, before its size can say anything else.
 */
export const MAX_RESPONSE_BYTES_LIMIT = 16 * 1024 * 1024

// The least of each number; the most, where one applies, is checked with its reason below.
const NUMBER_CHECKS: Record<
  Exclude<keyof typeof DEFAULTS, 'timeoutMs'>,
  { min: number; integer?: boolean }
> = {
  refreshIntervalMs: { min: 1 },
  refreshAfterUses: { min: 1, integer: true },
  cooldownMs: { min: 1 },
  maxResponseBytes: { min: 1, integer: true },
  staleIfErrorMs: { min: 0 },
  failureBackoffMs: { min: 1 },
}

/**
 * Adds a problem for each invalid {@link JwksCacheOptions} member, named `jwksCache.<name>`, and
 * for each name that is not an option: the cache's constructor checks them, and so does a
 * provider given them, beside its other options.
 */
export function checkJwksCacheOptions(problems: Problems, options: JwksCacheOptions): void {
  if (typeof options !== 'object' || options === null) {
    problems.add('jwksCache options must be an object ({ refreshIntervalMs, cooldownMs, … })')
    return
  }
  checkOptionNames(problems, 'jwksCache', options, JWKS_CACHE_OPTION_NAMES)
  for (const [name, { min, integer = false }] of Object.entries(NUMBER_CHECKS)) {
    checkNumber(problems, `jwksCache.${name}`, options[name as keyof typeof NUMBER_CHECKS], min, {
      integer,
    })
  }
  checkTimeout(problems, 'jwksCache.timeoutMs', options.timeoutMs)
  checkRefreshInterval(problems, options)
  checkFailureBackoff(problems, options)
  checkAtMost(
    problems,
    'staleIfErrorMs',
    options.staleIfErrorMs,
    MAX_STALE_IF_ERROR_MS,
    '24 h: through an outage the last good keys serve that long, a withdrawn key among them',
  )
  checkAtMost(
    problems,
    'maxResponseBytes',
    options.maxResponseBytes,
    MAX_RESPONSE_BYTES_LIMIT,
    '16 MiB: a JWK Set of the 100 keys a set may hold is a few dozen KiB',
  )
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    problems.add('jwksCache.fetch must be a function with the signature of fetch()')
  }
  checkLogger(problems, 'jwksCache.logger', options.logger)
}

/**
 * A refresh interval under the cooldown refetches the set all the time, one fetch always in flight
 * (a value meant as minutes, as `JWKS_CACHE_INTERVAL` takes, is the usual cause); one over a day
 * keeps a withdrawn key trusted for as long (milliseconds given where minutes were meant, say). The
 * cache refreshes every `max(refreshIntervalMs, cooldownMs)`, so the cooldown is held to the
 * interval, the default one included, and so to the same day.
 */
function checkRefreshInterval(problems: Problems, options: JwksCacheOptions): void {
  const { refreshIntervalMs: given, cooldownMs = DEFAULTS.cooldownMs } = options
  const valid = (value: unknown): value is number => isValidNumber(value, 1)
  if (valid(given) && given > MAX_REFRESH_INTERVAL_MS) {
    problems.add(
      `jwksCache.refreshIntervalMs is in milliseconds (JWKS_CACHE_INTERVAL is in minutes) and must ` +
        `be at most ${MAX_REFRESH_INTERVAL_MS} (24 h: a key removed from the set stays trusted ` +
        `until the next refresh), got ${given}`,
    )
  }
  if (!valid(cooldownMs)) return
  const interval = given ?? DEFAULTS.refreshIntervalMs
  if (!valid(interval) || interval >= cooldownMs) return
  problems.add(
    given === undefined
      ? `jwksCache.cooldownMs (${cooldownMs}) must be at most refreshIntervalMs (${interval} by ` +
          'default; the set is refreshed every max(refreshIntervalMs, cooldownMs), and at least ' +
          'once a day, so that a withdrawn key stops being trusted)'
      : `jwksCache.refreshIntervalMs is in milliseconds (JWKS_CACHE_INTERVAL is in minutes) and ` +
          `must be at least cooldownMs (${cooldownMs}), got ${interval}`,
  )
}

// Only numbers that pass checkNumber are compared with each other: one problem per mistake.
function isValidNumber(value: unknown, min = 0): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min
}

/** Adds a problem when a valid number option is above `max`, saying why the limit is there. */
function checkAtMost(
  problems: Problems,
  name: string,
  value: unknown,
  max: number,
  why: string,
): void {
  if (!isValidNumber(value) || value <= max) return
  problems.add(`jwksCache.${name} must be at most ${max} (${why}), got ${value}`)
}

/**
 * The wait after a failed fetch doubles from `failureBackoffMs` up to the cooldown; a first wait
 * above the cooldown would keep the keys unavailable (503) that long after one failed fetch, at
 * start-up say, however soon the issuer is back. The default cooldown counts when none is given.
 */
function checkFailureBackoff(problems: Problems, options: JwksCacheOptions): void {
  const { failureBackoffMs: first, cooldownMs } = options
  const cooldown = cooldownMs ?? DEFAULTS.cooldownMs
  if (!isValidNumber(first, 1) || !isValidNumber(cooldown, 1) || first <= cooldown) return
  problems.add(
    `jwksCache.failureBackoffMs must be at most cooldownMs (${cooldown}` +
      `${cooldownMs === undefined ? ' by default' : ''}), got ${first}: the wait after a failed ` +
      'fetch doubles from it up to the cooldown, and the keys stay unavailable (503) while it ' +
      'runs; raise cooldownMs too for longer waits',
  )
}

/**
 * Checks `options` and fills in the defaults; the caller's object is left as it is.
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every invalid option.
 */
export function resolveJwksCacheOptions(options: JwksCacheOptions): ResolvedJwksCacheOptions {
  const problems = new Problems()
  checkJwksCacheOptions(problems, options)
  problems.throwIfAny()
  return {
    ...DEFAULTS,
    fetch: (input, init) => globalThis.fetch(input, init),
    ...definedOnly(options),
    logger: options.logger ? neverThrows(options.logger) : silentLogger,
  }
}

/** Drops `undefined` members so they do not override defaults (exactOptionalPropertyTypes-safe). */
export function definedOnly<T extends object>(options: T): Partial<T> {
  const result: Partial<T> = {}
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined) (result as Record<string, unknown>)[name] = value
  }
  return result
}

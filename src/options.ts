// Option checks shared by every constructor: each collects problems, ConfigError reports them all.

import { ConfigError } from './errors.js'
import { ASYMMETRIC_ALGORITHMS, isJwsAlgorithm, type JwsAlgorithm } from './jwt.js'

/** Collects configuration problems so that one error can list every one of them. */
export class Problems {
  readonly #list: string[] = []

  add(problem: string): void {
    this.#list.push(problem)
  }

  /** How many problems were added so far: lets a check skip work built on a value found wrong. */
  get size(): number {
    return this.#list.length
  }

  /** @throws {ConfigError} listing every problem added, if any. */
  throwIfAny(): void {
    if (this.#list.length > 0) throw new ConfigError(this.#list)
  }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

// Everything from the scheme's `//` (or the start) to the last `@`: the user information, and with
// it a password, whatever characters it holds and whether or not the URL parser accepts the rest.
const USER_INFORMATION = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?[\s\S]*@/
// In a URL that parses, user information ends the authority: an `@` in the path is not one.
const AUTHORITY_USER_INFORMATION = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/
const HAS_AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//

// From the first `?` or `#` on: a query or fragment, where a URL carries tokens (`?token=…`).
const QUERY_OR_FRAGMENT = /([?#])[\s\S]*$/
// Everything after the scheme's `//` (or the whole value, without one).
const AFTER_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?[\s\S]*$/

/**
 * A URL as an error may show it: quoted, with any user information (a password) and any query or
 * fragment hidden. When the value does not parse, no one can tell where a password ends: hidden up
 * to the last `@`, and a `?` or `#` before that `@` may start a query holding it, so then all but
 * the scheme is hidden.
 */
export function showUrl(value: string): string {
  return JSON.stringify(hideSecrets(value))
}

function hideSecrets(value: string): string {
  if (URL.canParse(value) && HAS_AUTHORITY.test(value)) {
    return value
      .replace(AUTHORITY_USER_INFORMATION, '$1[hidden]@')
      .replace(QUERY_OR_FRAGMENT, '$1[hidden]')
  }
  const at = value.lastIndexOf('@')
  const query = value.search(/[?#]/)
  if (at !== -1 && query !== -1 && query < at) return value.replace(AFTER_SCHEME, '$1[hidden]')
  return value.replace(USER_INFORMATION, '$1[hidden]@').replace(QUERY_OR_FRAGMENT, '$1[hidden]')
}

/**
 * Checks a URL keys are fetched from: absolute, no credentials, query or fragment, and https
 * except on loopback (or anywhere outside production, with a plain-http issuer in development).
 * The value seen is shown with its user information hidden, whichever check fails.
 */
export function urlProblem(value: unknown, production: boolean): string | undefined {
  if (typeof value !== 'string' || value === '') return 'must be an absolute https URL'
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return `must be an absolute https URL, got ${showUrl(value)}`
  }
  // The URL parser drops spaces, tabs and newlines that the issuer's exact comparison would keep.
  if (hasSpaceOrControl(value)) {
    return `must not contain spaces or control characters, got ${showUrl(value)}`
  }
  if (url.username !== '' || url.password !== '') return 'must not carry credentials'
  if (url.search !== '' || url.hash !== '') return 'must not have a query or fragment'
  if (url.protocol === 'https:') return undefined
  if (url.protocol === 'http:' && (LOOPBACK_HOSTS.has(url.hostname) || !production))
    return undefined
  return `must use https (plain http is allowed only on loopback or outside production), got ${showUrl(value)}`
}

/** Whether `value` is a plain-http URL of this machine (a local development issuer's form). */
export function isLoopbackHttp(value: string): boolean {
  try {
    const url = new URL(value)
    return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)
  } catch {
    return false
  }
}

function hasSpaceOrControl(value: string): boolean {
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index)
    if (code <= 0x20 || code === 0x7f) return true
  }
  return false
}

/**
 * Adds a problem when a URL that is compared as text (a resource identifier, RFC 9728 §3.3) is not
 * written as the URL parser writes it: upper-case host, default port, `..`, non-ASCII characters
 * would make the text differ from the URL built from it. A root path's slash may be left out.
 */
export function checkNormalForm(problems: Problems, name: string, value: unknown): void {
  if (typeof value !== 'string' || urlProblem(value, false) !== undefined) return
  const url = new URL(value)
  if (url.href === value || url.href === `${value}/`) return
  const written = url.pathname === '/' ? url.origin : url.href
  problems.add(`${name} must be written as ${JSON.stringify(written)}, got ${show(value)}`)
}

/** Adds a problem when `value` is not a usable URL (see {@link urlProblem}). */
export function checkUrl(
  problems: Problems,
  name: string,
  value: unknown,
  production: boolean,
): void {
  const problem = urlProblem(value, production)
  if (problem !== undefined) problems.add(`${name} ${problem}`)
}

// RFC 6750 §3 (and RFC 7617 §2): a realm is a quoted-string of visible ASCII without `"` or `\`.
const SAFE_REALM = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** Adds a problem unless `value` is undefined or a realm a challenge can quote as it is. */
export function checkRealm(problems: Problems, name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'string' || !SAFE_REALM.test(value))) {
    problems.add(`${name} must be a string of visible ASCII characters without " or \\`)
  }
}

/** Timers (and `AbortSignal.timeout`) hold at most 2^31 - 1 ms; a longer delay silently becomes 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647

/**
 * The most entries a cache's `max` may ask for: lru-cache allocates its tables for `max` up front,
 * and a billion would end the process at construction (out of memory) instead of a ConfigError.
 */
export const MAX_CACHE_ENTRIES = 10_000_000

/**
 * Adds a problem unless `value` is undefined or a finite number in `[min, max]` (a whole number
 * with `integer`).
 */
export function checkNumber(
  problems: Problems,
  name: string,
  value: unknown,
  min = 0,
  limits: { max?: number; integer?: boolean } = {},
): void {
  if (value === undefined) return
  const { max = Number.MAX_VALUE, integer = false } = limits
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= min &&
    value <= max &&
    (!integer || Number.isInteger(value))
  if (!ok) {
    const kind = integer ? 'a whole number' : 'a finite number'
    const range = max === Number.MAX_VALUE ? `≥ ${min}` : `from ${min} to ${max}`
    problems.add(`${name} must be ${kind} ${range}, got ${show(value)}`)
  }
}

/**
 * Checks the `ttlMs` and `max` of an in-process cache's options, named `name.ttlMs` and `name.max`:
 * whole numbers, since lru-cache refuses a fractional ttl with a bare TypeError, within what a
 * timer holds and what the cache allocates up front.
 */
export function checkCacheBounds(
  problems: Problems,
  name: string,
  options: { readonly ttlMs?: unknown; readonly max?: unknown },
): void {
  checkNumber(problems, `${name}.ttlMs`, options.ttlMs, 1, { integer: true, max: MAX_TIMER_MS })
  checkNumber(problems, `${name}.max`, options.max, 1, { integer: true, max: MAX_CACHE_ENTRIES })
}

/** Adds a problem unless `value` is undefined or a usable timer duration in milliseconds. */
export function checkTimeout(problems: Problems, name: string, value: unknown): void {
  checkNumber(problems, name, value, 1, { max: MAX_TIMER_MS })
}

/** Adds a problem unless `value` is a non-empty string. */
export function checkString(problems: Problems, name: string, value: unknown): void {
  if (typeof value !== 'string' || value.trim() === '') {
    problems.add(`${name} is required (a non-empty string), got ${show(value)}`)
  }
}

/**
 * Resolves an audience option: one or several strings, or `null` to skip the check on purpose.
 * `undefined` is a problem: a forgotten audience would accept tokens minted for any API.
 */
export function resolveAudience(
  problems: Problems,
  name: string,
  value: unknown,
): readonly string[] | null {
  if (value === null) return null
  const list = typeof value === 'string' ? [value] : value
  if (
    Array.isArray(list) &&
    list.length > 0 &&
    list.every((a) => typeof a === 'string' && a !== '')
  ) {
    return Object.freeze([...(list as string[])])
  }
  problems.add(
    value === undefined
      ? `${name} is required: the API's identifier as it appears in the tokens' aud claim (null skips the check deliberately)`
      : `${name} must be a non-empty string or list of strings, or null, got ${show(value)}`,
  )
  return []
}

/** Resolves an algorithm allow-list: asymmetric algorithms only, never `none` or HMAC. */
export function resolveAlgorithms(
  problems: Problems,
  name: string,
  value: readonly string[] | undefined,
  fallback: readonly JwsAlgorithm[] = ASYMMETRIC_ALGORITHMS,
): ReadonlySet<JwsAlgorithm> {
  if (value === undefined) return new Set(fallback)
  if (!Array.isArray(value) || value.length === 0) {
    problems.add(
      `${name} must be a non-empty list of algorithms (${ASYMMETRIC_ALGORITHMS.join(', ')})`,
    )
    return new Set()
  }
  for (const alg of value) {
    if (!isJwsAlgorithm(alg)) {
      problems.add(
        `${name} contains ${show(alg)}: only asymmetric algorithms are accepted (${ASYMMETRIC_ALGORITHMS.join(', ')}); none and HMAC never are`,
      )
    }
  }
  return new Set(value.filter(isJwsAlgorithm))
}

// Set while fromEnv(env) builds its providers: they ask isProduction() with no argument (built in
// code, process.env is all they know), yet the env fromEnv was given may be the one saying
// production. Either one saying so is enough, as for the disabled switch.
let assumedProduction = false

// One pair of matching quotes around the whole value, which `docker run --env-file` and some .env
// loaders keep as characters of the value: NODE_ENV="production" there is `"production"`.
const QUOTED = /^(["'])(.*)\1$/s

/**
 * Whether NODE_ENV says production (read once, at construction). Read loosely (`Production`,
 * `production ` with a stray space, `prod`, `"production"` with the quotes an env file kept): what
 * it guards is stricter in production, so a misspelt production must not read as development.
 * With no argument, `process.env` is read, and inside {@link assumingProduction}`(true, …)` the
 * answer is `true` whatever it says.
 */
export function isProduction(env?: NodeJS.ProcessEnv): boolean {
  if (env === undefined) return assumedProduction || isProduction(process.env)
  const value = env['NODE_ENV']?.trim().replace(QUOTED, '$2').trim().toLowerCase()
  return value === 'production' || value === 'prod'
}

/**
 * Runs `build` (synchronously) with `isProduction()` saying production when `production` is true,
 * so constructors called inside apply production's stricter checks to an environment given as an
 * object. Nested calls keep the outer answer when it is production.
 */
export function assumingProduction<T>(production: boolean, build: () => T): T {
  const outer = assumedProduction
  assumedProduction = outer || production
  try {
    return build()
  } finally {
    assumedProduction = outer
  }
}

/**
 * Every option of an options interface, each marked `true`: written `{ … } as const satisfies
 * OptionFlags<MyOptions>`, the compiler refuses a list that misses an option or names one the
 * interface lacks, so the names checked at run time cannot drift from the type.
 */
/**
 * An object literal's or `Object.create(null)`'s: what options are given as. Anything else (an
 * array, a Map, a class instance such as a cache) holds no options in its own enumerable members,
 * and read as options it would quietly leave every default in force.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

export type OptionFlags<T> = { readonly [K in keyof Required<T>]: true }

/**
 * Adds a problem for each key of `options` not in `names`, naming the closest option when one is a
 * likely misspelling. An option misspelt and ignored quietly falls back to its default, which is
 * often the open one (`credentialRequired: true` leaves a route public; `revocaton` checks no
 * revocation). Options that are not an object are left to the caller's own checks.
 */
export function checkOptionNames(
  problems: Problems,
  name: string,
  options: unknown,
  names: readonly string[],
): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return
  for (const key of Object.keys(options)) {
    if (names.includes(key)) continue
    const closest = closestName(key, names)
    const hint = closest === undefined ? '' : ` (did you mean ${closest}?)`
    problems.add(
      `${name}: ${JSON.stringify(key)} is not an option${hint}; the options are ${names.join(', ')}`,
    )
  }
}

// A name this many edits away from an option (or differing only in case) is offered as a hint.
const MAX_HINT_EDITS = 2
// Units and qualifiers options end with, which a name without them most often forgot.
const OPTION_SUFFIXES = /^(?:Ms|Sec|Seconds|Supported)$/

/** Whether `key` is `candidate` but for its case or a unit left off: one slip, however many edits. */
function isOptionSlip(key: string, candidate: string): boolean {
  return (
    candidate.toLowerCase() === key.toLowerCase() ||
    // `clockTolerance` for clockToleranceSec, `scopes` for scopesSupported: one slip, not three.
    (candidate.startsWith(key) && OPTION_SUFFIXES.test(candidate.slice(key.length)))
  )
}

/**
 * The name of `names` that `key` most likely misspells, if any is close enough: at most two edits
 * away, or one slip as `isSlip` tells (an option's by default).
 */
export function closestName(
  key: string,
  names: readonly string[],
  isSlip: (key: string, candidate: string) => boolean = isOptionSlip,
): string | undefined {
  let closest: string | undefined
  let fewest = MAX_HINT_EDITS + 1
  for (const candidate of names) {
    const edits = isSlip(key, candidate) ? 0 : editDistance(key, candidate, fewest)
    if (edits < fewest) {
      closest = candidate
      fewest = edits
    }
  }
  return closest
}

/**
 * Levenshtein distance between `a` and `b`, or `limit` once it is sure to reach it: a key far
 * longer than any option (the caller's, of any length) is not compared at all.
 */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i]
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, substitution))
    }
    if (Math.min(...row) >= limit) return limit
    previous = row
  }
  return Math.min(previous[b.length]!, limit)
}

/**
 * `app.use(requireUser)` or `app.use(authErrorHandler)`, the call forgotten, type-checks (against
 * Express's error-handler overload, for a guard), and Express then calls the factory itself, with
 * (req, res, next), on every request: the request would hang, or a message would list the
 * request's own properties as unknown options. Throwing there hands Express 4 and
 * 5 alike a ConfigError for `next` instead; the arguments are never written into the message.
 */
export function refuseUncalledFactory(
  name: string,
  usage: string,
  first: unknown,
  kind = 'guard factory',
): void {
  const candidate = first as { method?: unknown; headers?: unknown } | null | undefined
  if (typeof candidate?.method === 'string' && typeof candidate.headers === 'object') {
    const article = /^[aeiou]/i.test(kind) ? 'an' : 'a'
    throw new ConfigError([`${name} is ${article} ${kind}: write app.use(${usage})`])
  }
}

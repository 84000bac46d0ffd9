// Logging through pino: a caller's logger or our own; credentials never reach a record.

import { pino, type Logger } from 'pino'
import { ConfigError } from './errors.js'
import type { Problems } from './options.js'

export type { Logger }

/**
 * Paths pino censors in every record: credentials must never reach a log line, whatever a
 * caller attaches (request objects, headers, errors).
 */
export const REDACTED_PATHS: readonly string[] = Object.freeze([
  'authorization',
  'token',
  'password',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'request.headers.cookie',
  '*.authorization',
  '*.token',
  '*.password',
])

const redact = { paths: [...REDACTED_PATHS], censor: '[redacted]' }

/** A logger that writes nothing (the default of low-level parts used on their own). */
export const silentLogger: Logger = pino({ enabled: false })

/** Log levels accepted by `AUTH_MIDDLEWARE_LOG_LEVEL` and the `logLevel` option. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

// What oidc-guard calls on a logger it is given: child() and isLevelEnabled() on a verifier's or a
// middleware's, and the level methods on every one.
const REQUIRED_METHODS = ['child', 'isLevelEnabled', 'error', 'warn', 'info', 'debug'] as const
const STANDARD_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const

/**
 * What is wrong with a `logger` option, or undefined when it is `undefined`, `false` (with
 * `allowFalse`) or has the methods oidc-guard calls. A `console` or a half-built object would
 * otherwise fail later, as a bare TypeError at construction or, worse, in a background fetch.
 */
export function loggerProblem(
  name: string,
  value: unknown,
  { allowFalse = true }: { allowFalse?: boolean } = {},
): string | undefined {
  if (value === undefined || (allowFalse && value === false)) return undefined
  const expected = `a pino logger (pino() from the pino package)${allowFalse ? ', or false for none' : ', or left out'}`
  if (typeof value !== 'object' || value === null) {
    return `${name} must be ${expected}, got ${value === null ? 'null' : typeof value}`
  }
  const logger = value as Partial<Record<string, unknown>>
  const missing = REQUIRED_METHODS.filter((method) => typeof logger[method] !== 'function')
  if (missing.length === 0) return undefined
  return `${name} must be ${expected}; it has no ${missing.map((method) => `${method}()`).join(', ')}`
}

/** Adds a problem when `value` is no logger oidc-guard can write to (see {@link loggerProblem}). */
export function checkLogger(
  problems: Problems,
  name: string,
  value: unknown,
  options?: { allowFalse?: boolean },
): void {
  const problem = loggerProblem(name, value, options)
  if (problem !== undefined) problems.add(problem)
}

/**
 * What is wrong with `logLevel` given together with `logger`, or undefined when one is missing:
 * the level is that of the logger oidc-guard creates, and with a logger given (or `false`) none is
 * created, so the level would do nothing, silently (a `debug` that writes no debug record).
 */
export function logLevelProblem(logger: unknown, logLevel: unknown): string | undefined {
  if (logger === undefined || logLevel === undefined) return undefined
  const instead =
    logger === false
      ? 'drop logLevel (logger: false writes nothing), or drop logger to use the built-in one at that level'
      : 'set the level on your own logger, or drop logger to use the built-in one'
  return `logLevel cannot be used with logger: it is the level of the logger oidc-guard creates, and none is created when logger is given; ${instead}`
}

/**
 * The logger oidc-guard writes to: a child of the caller's logger, a silent one for `false`, or a
 * new pino logger at `level` on stdout, which redacts {@link REDACTED_PATHS}; never one that throws.
 * `level` is only that new logger's: a caller's logger keeps its own level (a `logLevel` given
 * with it is refused, see {@link logLevelProblem}).
 *
 * The caller's child keeps the caller's redaction, and adds none: a child's `redact` replaces its
 * parent's (pino's documented behaviour), so ours would drop the caller's paths (personal data, say)
 * from every record oidc-guard writes. Our records need none: they carry codes, names and errors
 * passed through {@link safeError}, never a header, a token or a password.
 *
 * @throws {ConfigError} when `logger` is neither `false` nor a pino logger.
 */
export function resolveLogger(logger: Logger | false | undefined, level: LogLevel): Logger {
  if (logger === false) return silentLogger
  if (logger !== undefined) {
    const problem = loggerProblem('logger', logger)
    if (problem !== undefined) throw new ConfigError([problem])
    return neverThrows(logger.child({ component: 'oidc-guard' }))
  }
  return neverThrows(pino({ name: 'oidc-guard', level, redact }))
}

const guarded = new WeakSet<object>()
// One wrapper per logger: parts that tell every logger they hold of one event (the stores of one
// SQL pool) see one logger given twice as one, and say the event once.
const wrappers = new WeakMap<object, Logger>()

/**
 * `logger` with log methods that never throw: a record its sink, serializer or hook fails on is
 * dropped. Logging runs on error paths and inside background fetches and event handlers, where a
 * throw would turn an outage's 503 into a 401, count a good fetch as failed, or end the process.
 * Each method calls the logger's current one (so a level change is followed, and a disabled level
 * costs one call to pino's no-op); everything else, `isLevelEnabled` included, is the logger's own.
 * Guarding a guarded logger, or the silent one, returns it as it is; guarding one logger twice
 * returns the same wrapper.
 */
export function neverThrows(logger: Logger): Logger {
  if (logger === silentLogger || guarded.has(logger)) return logger
  const known = wrappers.get(logger)
  if (known !== undefined) return known
  const target = logger as unknown as Record<string, unknown>
  const safe = Object.create(logger) as Logger
  const custom = Object.keys((logger.levels as Logger['levels'] | undefined)?.values ?? {})
  for (const name of new Set<string>([...STANDARD_LEVELS, ...custom])) {
    if (typeof target[name] !== 'function') continue
    const method = (...args: unknown[]): void => {
      try {
        ;(target[name] as (...args: unknown[]) => unknown).apply(logger, args)
      } catch {
        // Dropped: a log line is never worth the request or the process.
      }
    }
    Object.defineProperty(safe, name, { value: method, writable: true, configurable: true })
  }
  Object.defineProperties(safe, {
    // pino's own setter would install its raw methods on the wrapper, so the level lives on `logger`.
    level: {
      get: () => logger.level,
      set: (level: string) => void (logger.level = level),
      configurable: true,
    },
    child: {
      value: (...args: Parameters<Logger['child']>) =>
        neverThrows(logger.child(...args) as unknown as Logger),
      writable: true,
      configurable: true,
    },
  })
  guarded.add(safe)
  wrappers.set(logger, safe)
  return safe
}

// A credential after an auth scheme or in a URL, and dotted runs of base64url text (where compact
// JWS/JWE hide): what must never leave in an error text. Each pattern runs in time linear in the
// text: a run starts only where no character of its kind precedes it, so a long run without dots
// is tried once, not from each of its characters (which made scrubbing an attacker's
// 50,000-character username take seconds).
const SCHEME_CREDENTIAL = /\b(Bearer|Basic|DPoP|ApiKey)\s+[A-Za-z0-9._~+/=-]{8,}/gi
const DOTTED_RUN = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+/g
// The user information of a URL (a database's or Redis's, with its password).
const URL_CREDENTIALS = /(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^\s/@]+@/g
// A password a database driver reads from a URL's query: `?password=`, `&sslpassword=`, mysql2's
// `password1` to `password3` and `passwordSha1`, and mysql2's `ssl` JSON, which may hold a private
// key and its passphrase. A match starts only at a `?` or `&`, and its value stops at the next `&`,
// so no character is tried twice.
const QUERY_PASSWORD = /([?&](?:(?:ssl)?password(?:[123]|sha1)?|ssl)=)[^&#\s]+/gi
const MAX_ERROR_TEXT = 1_000
// A JWS has 3 segments and a JWE 5, each of 8 characters or more.
const MIN_SEGMENT = 8
const MIN_SEGMENTS = 3
// The longest label of a host name (RFC 1035 §2.3.4).
const MAX_LABEL = 63

/**
 * Whether a stretch of token-sized segments may be a compact JWS or JWE rather than a host name
 * (cognito-idp.eu-west-1.amazonaws.com, keycloak.internal.example.com: an operator must read
 * which host failed). A token's JSON header or payload is base64url that starts `ey` or `ew` (`{`,
 * or `{` then white space); its signature or ciphertext is longer than a label, or holds `_`, which
 * no host name does. Any one of these marks the stretch as a token.
 */
function mayBeToken(segments: readonly string[]): boolean {
  return segments.some(
    (segment) =>
      segment.startsWith('ey') ||
      segment.startsWith('ew') ||
      segment.length > MAX_LABEL ||
      segment.includes('_'),
  )
}

/** A dotted run with every stretch of three or more token-sized segments redacted. */
function redactTokens(run: string): string {
  const segments = run.split('.')
  const kept: string[] = []
  let stretch = 0 // token-sized segments just before this one
  for (let index = 0; index <= segments.length; index += 1) {
    const segment = segments[index]
    if (segment !== undefined && segment.length >= MIN_SEGMENT) {
      stretch += 1
      continue
    }
    const stretchStart = index - stretch
    if (stretch >= MIN_SEGMENTS && mayBeToken(segments.slice(stretchStart, index))) {
      kept.push('[redacted token]')
    } else kept.push(...segments.slice(stretchStart, index))
    if (segment !== undefined) kept.push(segment)
    stretch = 0
  }
  return kept.join('.')
}

/**
 * `text` without credentials and token-shaped runs, cut to 1,000 characters: the one scrubber of
 * every error text oidc-guard passes on (logs, diagnostics channels, health reports).
 */
export function scrub(text: string): string {
  return text
    .replace(SCHEME_CREDENTIAL, '$1 [redacted]')
    .replace(URL_CREDENTIALS, '$1[redacted]@')
    .replace(QUERY_PASSWORD, '$1[redacted]')
    .replace(DOTTED_RUN, redactTokens)
    .slice(0, MAX_ERROR_TEXT)
}

/** What {@link safeError} keeps of an error. */
export interface SafeError {
  type: string
  message: string
  code?: string
  stack?: string
}

/**
 * What of a foreign error (a source's, a repository's, a provider's) may be logged: its type,
 * code, message and stack with anything token-shaped removed, and nothing else. Errors of HTTP
 * clients carry the request they made (`config.headers.Authorization`), which pino's serializer
 * would copy whole; redaction paths cannot follow every shape, so they are not logged at all.
 * pino's `err` serializer takes `type` from an object's constructor, which would say `Object` for
 * every error: the summary's own `constructor` is undefined (not enumerable), so the serializer
 * keeps its `type`. It keeps Object's prototype: a logger that formats errors as text
 * (`${err}`) would otherwise throw, and the record would be lost.
 */
export function safeError(error: unknown): SafeError {
  const summary = Object.defineProperty({}, 'constructor', { value: undefined }) as SafeError
  if (!(error instanceof Error)) {
    summary.type = typeof error
    summary.message = scrub(String(error))
    return summary
  }
  const code = (error as { code?: unknown }).code
  summary.type = error.name
  summary.message = scrub(error.message)
  if (typeof code === 'string' || typeof code === 'number') summary.code = String(code)
  if (error.stack !== undefined) summary.stack = scrub(error.stack)
  return summary
}

/** The scrubbed message of a foreign error: what a health report, a channel or a log may show. */
export function scrubbedMessage(error: unknown): string {
  return safeError(error).message
}

// Logging through pino: a caller's logger or our own, with credentials redacted everywhere.

import { pino, type Logger } from 'pino'

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

/**
 * The logger oidc-guard writes to: a child of the caller's logger (with our redaction added), a
 * silent one for `false`, or a new pino logger at `level` on stdout.
 */
export function resolveLogger(logger: Logger | false | undefined, level: LogLevel): Logger {
  if (logger === false) return silentLogger
  if (logger !== undefined) return logger.child({ component: 'oidc-guard' }, { redact })
  return pino({ name: 'oidc-guard', level, redact })
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
// `password1` to `password3` and `passwordSha1`. A match starts only at a `?` or `&`, and its value
// stops at the next `&`, so no character is tried twice.
const QUERY_PASSWORD = /([?&](?:ssl)?password(?:[123]|sha1)?=)[^&#\s]+/gi
const MAX_ERROR_TEXT = 1_000
// A JWS has 3 segments and a JWE 5, each of 8 characters or more.
const MIN_SEGMENT = 8
const MIN_SEGMENTS = 3

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
    if (stretch >= MIN_SEGMENTS) kept.push('[redacted token]')
    else kept.push(...segments.slice(stretchStart, index))
    if (segment !== undefined) kept.push(segment)
    stretch = 0
  }
  return kept.join('.')
}

function scrub(text: string): string {
  return text
    .replace(SCHEME_CREDENTIAL, '$1 [redacted]')
    .replace(URL_CREDENTIALS, '$1[redacted]@')
    .replace(QUERY_PASSWORD, '$1[redacted]')
    .replace(DOTTED_RUN, redactTokens)
    .slice(0, MAX_ERROR_TEXT)
}

/**
 * What of a foreign error (a source's, a repository's, a provider's) may be logged: its type,
 * code, message and stack with anything token-shaped removed, and nothing else. Errors of HTTP
 * clients carry the request they made (`config.headers.Authorization`), which pino's serializer
 * would copy whole; redaction paths cannot follow every shape, so they are not logged at all.
 */
export function safeError(error: unknown): {
  type: string
  message: string
  code?: string
  stack?: string
} {
  if (!(error instanceof Error)) return { type: typeof error, message: scrub(String(error)) }
  const code = (error as { code?: unknown }).code
  const summary: { type: string; message: string; code?: string; stack?: string } = {
    type: error.name,
    message: scrub(error.message),
  }
  if (typeof code === 'string' || typeof code === 'number') summary.code = String(code)
  if (error.stack !== undefined) summary.stack = scrub(error.stack)
  return summary
}

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

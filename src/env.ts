// Environment variables the core reads, each parsed and checked once.

import { LOG_LEVELS, type LogLevel } from './logger.js'
import type { Problems } from './options.js'

/** The environment to read: `process.env` by default, a plain object in tests. */
export type Env = Readonly<Record<string, string | undefined>>

function show(value: string): string {
  return JSON.stringify(value)
}

/** `AUTH_MIDDLEWARE_LOG_LEVEL`: a pino level, default `info`. */
export function readLogLevel(env: Env, problems: Problems): LogLevel {
  const raw = env['AUTH_MIDDLEWARE_LOG_LEVEL']
  if (raw === undefined || raw === '') return 'info'
  const level = raw.toLowerCase()
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel
  problems.add(
    `AUTH_MIDDLEWARE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${show(raw)}`,
  )
  return 'info'
}

function readPositive(env: Env, name: string, problems: Problems): number | undefined {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return undefined
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) {
    problems.add(`${name} must be a positive number, got ${show(raw)}`)
    return undefined
  }
  return value
}

/**
 * `JWKS_CACHE_INTERVAL` (minutes, default 20) and `JWKS_CACHE_USAGES` (default 1000), with the
 * seed's names and meanings, as JWKS cache options.
 */
export function readJwksCacheEnv(
  env: Env,
  problems: Problems,
): { refreshIntervalMs?: number; refreshAfterUses?: number } {
  const minutes = readPositive(env, 'JWKS_CACHE_INTERVAL', problems)
  const usages = readPositive(env, 'JWKS_CACHE_USAGES', problems)
  const options: { refreshIntervalMs?: number; refreshAfterUses?: number } = {}
  if (minutes !== undefined) options.refreshIntervalMs = minutes * 60_000
  if (usages !== undefined) {
    if (Number.isInteger(usages)) options.refreshAfterUses = usages
    else problems.add(`JWKS_CACHE_USAGES must be a whole number, got ${show(String(usages))}`)
  }
  return options
}

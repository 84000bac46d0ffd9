// The Redis stores from environment variables: AUTH_REDIS_URL, the shared cache and revocation.

import {
  ConfigError,
  MAX_TIMER_MS,
  type JwtAuthOptions,
  type OptionsEnvFactory,
} from '../../src/spi.js'
import {
  IOREDIS_MISSING,
  ioredisInstalled,
  redisUrlProblem,
  type RedisConnectionOptions,
} from './connection.js'
import { RedisRevocationStore, type RevocationStoreDownPolicy } from './revocation-store.js'
import { RedisSharedCache } from './shared-cache.js'

const URL_VARIABLE = 'AUTH_REDIS_URL'
const REVOCATION_MODES = ['off', 'redis'] as const
const DOWN_POLICIES: readonly RevocationStoreDownPolicy[] = ['fail-closed', 'fail-open']

/**
 * Builds the Redis stores from the environment, for `fromEnv()`. `AUTH_REDIS_URL` names the
 * Redis (its password is never shown); with it, the authorization cache gets a shared tier unless
 * `AUTH_REDIS_SOURCE_CACHE=false` (or `AUTH_SOURCE_CACHE=false`). `AUTH_REVOCATION=redis` adds a
 * {@link RedisRevocationStore} (default `off`: revocation fails closed when Redis is away, so it
 * is a choice), with `AUTH_REVOCATION_ON_STORE_DOWN` and `AUTH_REVOCATION_MAX_TOKEN_LIFETIME_SEC`.
 * `AUTH_REDIS_PREFIX` and `AUTH_REDIS_TIMEOUT_MS` apply to both. No URL: nothing is built.
 *
 * @example
 * const options = fromEnv() // AUTH_REDIS_URL=redis://cache:6379 AUTH_REVOCATION=redis
 * const revocations = options.revocation as RedisRevocationStore
 */
export const redisEnv: OptionsEnvFactory = {
  variables: [
    URL_VARIABLE,
    'AUTH_REDIS_PREFIX',
    'AUTH_REDIS_TIMEOUT_MS',
    'AUTH_REDIS_SOURCE_CACHE',
    'AUTH_REVOCATION',
    'AUTH_REVOCATION_ON_STORE_DOWN',
    'AUTH_REVOCATION_MAX_TOKEN_LIFETIME_SEC',
  ],
  create(env, context): Partial<JwtAuthOptions> {
    const url = env.string('AUTH_REDIS_URL')
    const prefix = env.string('AUTH_REDIS_PREFIX')
    const timeoutMs = env.positive('AUTH_REDIS_TIMEOUT_MS', { integer: true, max: MAX_TIMER_MS })
    const sharedCache = env.boolean('AUTH_REDIS_SOURCE_CACHE')
    const mode = env.oneOf('AUTH_REVOCATION', REVOCATION_MODES) ?? 'off'
    const onDown = env.oneOf('AUTH_REVOCATION_ON_STORE_DOWN', DOWN_POLICIES)
    const lifetime = env.positive('AUTH_REVOCATION_MAX_TOKEN_LIFETIME_SEC', { integer: true })
    const coreCacheOff = ['false', '0', 'no', 'off'].includes(
      env.raw('AUTH_SOURCE_CACHE')?.toLowerCase() ?? '',
    )
    const problems = env.problems
    if (mode !== 'redis' && (onDown !== undefined || lifetime !== undefined)) {
      problems.add(
        'AUTH_REVOCATION_ON_STORE_DOWN and AUTH_REVOCATION_MAX_TOKEN_LIFETIME_SEC need AUTH_REVOCATION=redis',
      )
    }
    if (url === undefined) {
      if (mode === 'redis')
        problems.add('AUTH_REVOCATION=redis needs AUTH_REDIS_URL, which is not set')
      else if (prefix !== undefined || timeoutMs !== undefined || sharedCache !== undefined) {
        problems.add(
          'AUTH_REDIS_PREFIX, AUTH_REDIS_TIMEOUT_MS and AUTH_REDIS_SOURCE_CACHE need AUTH_REDIS_URL',
        )
      }
      return {}
    }
    if (sharedCache === true && coreCacheOff) {
      problems.add(
        'AUTH_REDIS_SOURCE_CACHE=true contradicts AUTH_SOURCE_CACHE=false, which turns off both tiers of the cache: remove one',
      )
    }
    const urlProblem = redisUrlProblem(url)
    if (urlProblem !== undefined) {
      problems.add(`${URL_VARIABLE} ${urlProblem}`)
      return {}
    }
    const sharedTier = sharedCache !== false && !coreCacheOff
    const users = redisUsers(mode === 'redis', sharedTier)
    if (users !== undefined && !ioredisInstalled()) {
      problems.add(`${users} ${IOREDIS_MISSING}`)
      return {}
    }

    const connection: RedisConnectionOptions = { url, logger: context.logger }
    if (prefix !== undefined) connection.prefix = prefix
    if (timeoutMs !== undefined) connection.timeoutMs = timeoutMs
    const options: Partial<JwtAuthOptions> = {}
    try {
      if (mode === 'redis') {
        options.revocation = new RedisRevocationStore({
          ...connection,
          ...(onDown === undefined ? {} : { onRevocationStoreDown: onDown }),
          ...(lifetime === undefined ? {} : { maxTokenLifetimeSec: lifetime }),
        })
      }
      if (sharedTier) {
        options.sourceCache = { shared: new RedisSharedCache(connection) }
      }
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      for (const text of error.problems) problems.add(`${URL_VARIABLE}: ${text}`)
      return {}
    }
    context.logger.debug(
      { revocation: mode, sharedCache: options.sourceCache !== undefined },
      'redis stores configured',
    )
    return options
  },
}

/**
 * What makes oidc-guard connect to Redis, as the variables say it, with its verb ("… needs");
 * `undefined` when nothing does.
 */
function redisUsers(revocation: boolean, sharedCache: boolean): string | undefined {
  const sharedTier = `${URL_VARIABLE} (the shared tier of the authorization cache; AUTH_REDIS_SOURCE_CACHE=false turns it off)`
  if (revocation && sharedCache) return `AUTH_REVOCATION=redis and ${sharedTier} need`
  if (revocation) return 'AUTH_REVOCATION=redis needs'
  return sharedCache ? `${sharedTier} needs` : undefined
}

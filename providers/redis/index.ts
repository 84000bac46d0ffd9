// oidc-guard/redis: what many instances share through Redis: revocations and authorization answers.

export {
  RedisRevocationStore,
  type RedisRevocationStoreOptions,
  type RevocationStoreDownPolicy,
} from './revocation-store.js'
export { RedisSharedCache, type RedisSharedCacheOptions } from './shared-cache.js'
export type { RedisConnectionOptions } from './connection.js'
export { redisEnv } from './env.js'

// The one door providers use into the core: everything a provider builds on, and nothing else.

export {
  MAX_CLOCK_TOLERANCE_SEC,
  scopesOf,
  splitScope,
  type ClaimsPolicy,
  type IssuerRule,
} from './claims.js'
export type {
  GroupsProvider,
  JwtProvider,
  PermissionsProvider,
  ProfileProvider,
  ProviderHealth,
  RolesProvider,
  SourceContext,
  VerifiedToken,
} from './contracts.js'
export type { ApiKeyRecord, ApiKeyRepository } from './api-key-auth.js'
export type { CredentialsRepository, UserCredentials } from './credentials.js'
export { isDroppedLoad, noteDrop } from './cache-drops.js'
export { Discovery } from './discovery.js'
export type { SharedCacheEntry, SharedCacheTier } from './shared-tier.js'
export type { ComponentHealth } from './health.js'
export { jtiEntry, revocableIds, subjectEntry, tokenIdOf } from './revocation-entries.js'
export {
  DEFAULT_MAX_TOKEN_LIFETIME_SEC,
  issuedBefore,
  outlivesRevocations,
  subjectKey,
  tokenRevoked,
  type RevocationEntry,
  type RevocationOptions,
  type RevocationStore,
} from './revocation.js'
export { parseCommandLine, UsageError } from './command-line.js'
export { EnvReader, type Env } from './env.js'
export {
  buildFromEnv,
  type EnvContext,
  type EnvRegistry,
  type FromEnvOptions,
  type OptionsEnvFactory,
  type ProviderEnvFactory,
  type SourcesEnvFactory,
} from './from-env.js'
export type { JwtAuthOptions } from './middleware.js'
export {
  ConfigError,
  CredentialsRequiredError,
  ForbiddenError,
  InsufficientScopeError,
  InvalidTokenError,
  UnavailableError,
  type AuthError,
} from './errors.js'
export { FetchFailure, isJsonObject, readJsonCapped, type FetchFunction } from './fetch-json.js'
export { defaultLogger } from './default-logger.js'
export { JwksCache, sharedJwksCache, type JwksCacheOptions } from './jwks-cache.js'
export { checkJwksCacheOptions } from './jwks-cache-options.js'
export {
  ASYMMETRIC_ALGORITHMS,
  DEFAULT_MAX_TOKEN_LENGTH,
  normaliseTyp,
  type JwsAlgorithm,
  type JwtClaims,
  type ParsedJwt,
} from './jwt.js'
export { checkLogger, neverThrows, safeError, silentLogger, type Logger } from './logger.js'
export { percentDecodes } from './percent-encoding.js'
export {
  checkNumber,
  checkOptionNames,
  checkString,
  checkTimeout,
  checkUrl,
  isLoopbackHttp,
  isPlainObject,
  isProduction,
  MAX_CACHE_ENTRIES,
  MAX_TIMER_MS,
  Problems,
  resolveAlgorithms,
  resolveAudience,
  showUrl,
  type OptionFlags,
} from './options.js'
export { missingPackages, packageResolves, type PackageResolver } from './optional-package.js'
export { standardIdentity, stringClaim, User, type UserIdentity, type UserSources } from './user.js'
export { Verification, verifyJwt, type KeySource, type VerificationPolicy } from './verify-token.js'

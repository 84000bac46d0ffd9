// The public surface of 'oidc-guard' (re-exports only).

export {
  apiKeyAuth,
  generateApiKey,
  hashApiKey,
  type ApiKeyAuthOptions,
  type ApiKeyRecord,
  type ApiKeyRepository,
} from './api-key-auth.js'
export { basicAuth, type BasicAuthOptions } from './basic-auth.js'
export type { CredentialsAuthOptions } from './credentials-auth.js'

export type { TokenLocations } from './bearer.js'
export {
  JsonCredentialsRepository,
  parseBasicAuthorization,
  type BasicCredentials,
  type CredentialsRepository,
  type JsonCredentialsRepositoryOptions,
  type UserCredentials,
} from './credentials.js'
export { scopesOf } from './claims.js'
export type {
  GroupsProvider,
  JwtProvider,
  PermissionsProvider,
  ProfileProvider,
  ProviderHealth,
  RolesProvider,
  SourceContext,
  SourceTraits,
  VerifiedToken,
} from './contracts.js'
export {
  authErrorHandler,
  sendAuthError,
  type AuthErrorHandlerOptions,
  type OnAuthError,
} from './error-handler.js'
export {
  AuthError,
  ConfigError,
  CredentialsInvalidError,
  CredentialsRequiredError,
  ForbiddenError,
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  isAuthError,
  UnavailableError,
  type AuthChallenge,
  type AuthErrorCode,
  type InvalidTokenCode,
  type OAuthErrorName,
  type UnavailableCode,
} from './errors.js'
export type {} from './express-augment.js'
export type { FetchFunction } from './fetch-json.js'
export {
  CHANNELS,
  type JwksEvent,
  type RevocationEvent,
  type SourceEvent,
  type VerifyEvent,
} from './diagnostics.js'
export type { EnrichmentOptions, SourceCacheOptions } from './enrichment-options.js'
export type { SharedCacheEntry, SharedCacheTier } from './shared-tier.js'
export {
  getCurrentUser,
  requireAll,
  requireAny,
  requireGroups,
  requirePermissions,
  requireRoles,
  requireScopes,
  requireUser,
  type Guard,
} from './guards.js'
export type { GuardOptions, ListGuardOptions, RequireUserOptions } from './guard-options.js'
export { hasGroups, hasPermissions, hasRoles, hasScopes } from './has-checks.js'
export { JwksCache, sharedJwksCache, type JwksCacheOptions } from './jwks-cache.js'
export type { KeySetStatus } from './key-set-status.js'
export type { ComponentHealth, HealthReport } from './health.js'
export { healthHandler, type HealthHandlerOptions, type HealthSource } from './health-handler.js'
export type { JwsAlgorithm, JwtClaims, JwtHeader } from './jwt.js'
export type { Logger, LogLevel } from './logger.js'
export type { DisabledOptions } from './disabled.js'
export type { Env } from './env.js'
export type {
  EnvContext,
  EnvRegistry,
  FromEnvOptions,
  OptionsEnvFactory,
  ProviderEnvFactory,
  SourcesEnvFactory,
} from './from-env.js'
// The composition root: fromEnv names the built-in providers, so it lives with them.
export { fromEnv } from '../providers/from-env.js'
export { jwtAuth, type JwtAuthOptions } from './middleware.js'
export {
  DEFAULT_PBKDF2_ITERATIONS,
  hashPassword,
  verifyPassword,
  type HashPasswordOptions,
  type PasswordHashAlgorithm,
  type VerifiedPasswordCacheOptions,
  type VerifyPasswordOptions,
} from './passwords.js'
export { createVerifier, type Verifier } from './pipeline.js'
export { protectedResourceMetadata, type ResourceMetadataOptions } from './resource-metadata.js'
export {
  MemoryRevocationStore,
  type RevocationOptions,
  type RevocationStore,
} from './revocation.js'
export { permissionCovers, type Match } from './rules.js'
export { User, type UserIdentity, type UserOrigin, type UserSources } from './user.js'
export type { VerifierOptions } from './verifier-options.js'

// oidc-guard/providers/entra-id: Microsoft Entra ID (single- and multi-tenant, v1/v2, B2C), roles, groups, Graph.

export { EntraIdProvider } from './entra-id-provider.js'
export type {
  B2cOptions,
  EntraIdProviderOptions,
  GroupOverageResolver,
  TenantPredicate,
} from './options.js'
export {
  EntraGroupsProvider,
  EntraRolesProvider,
  hasGroupOverage,
  type EntraGroupsOptions,
} from './groups.js'
export {
  GraphGroupResolver,
  type GraphCacheOptions,
  type GraphGroupResolverOptions,
} from './graph.js'
export {
  CONSUMER_TENANT_ID,
  PUBLIC_AUTHORITY_HOST,
  type MultiTenant,
  type TokenVersion,
} from './authority.js'
export { entraIdEnv } from './env.js'

// oidc-guard/providers/claims: groups, roles and permissions read from any claim of the token.

export { type ClaimPath, type ClaimSourceOptions } from './claim-reader.js'
export {
  ClaimGroupsProvider,
  ClaimPermissionsProvider,
  ClaimRolesProvider,
} from './claim-sources.js'

// Claim-based authorization sources built from environment variables.

import type { SourcesEnvFactory, UserSources } from '../../src/spi.js'
import {
  ClaimGroupsProvider,
  ClaimPermissionsProvider,
  ClaimRolesProvider,
} from './claim-sources.js'

/**
 * `AUTH_GROUPS_CLAIM`, `AUTH_ROLES_CLAIM`, `AUTH_PERMISSIONS_CLAIM`: read the facet from these
 * claims of the token (several, comma-separated, are merged; dot paths or keys as written).
 */
export const claimSourcesEnv: SourcesEnvFactory = {
  variables: ['AUTH_GROUPS_CLAIM', 'AUTH_ROLES_CLAIM', 'AUTH_PERMISSIONS_CLAIM'],
  create(env) {
    const sources: { -readonly [K in keyof UserSources]: UserSources[K] } = {}
    const groups = env.list('AUTH_GROUPS_CLAIM')
    if (groups !== undefined) sources.groups = new ClaimGroupsProvider({ claims: groups })
    const roles = env.list('AUTH_ROLES_CLAIM')
    if (roles !== undefined) sources.roles = new ClaimRolesProvider({ claims: roles })
    const permissions = env.list('AUTH_PERMISSIONS_CLAIM')
    if (permissions !== undefined) {
      sources.permissions = new ClaimPermissionsProvider({ claims: permissions })
    }
    return sources
  },
}

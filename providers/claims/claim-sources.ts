// Groups, roles and permissions read from the token's own claims, for any issuer.

import type { GroupsProvider, PermissionsProvider, RolesProvider, User } from '../../src/spi.js'
import { compileClaimReader, type ClaimReader, type ClaimSourceOptions } from './claim-reader.js'

/**
 * Groups from a claim of the verified token (default `groups`). Never cached across requests: two
 * tokens of one user may carry different claims.
 *
 * @example new ClaimGroupsProvider({ claim: 'groups' })
 * @example new ClaimGroupsProvider({ claim: 'https://example.com/groups' }) // Auth0 namespaced claim
 * @example new ClaimGroupsProvider({ delimiter: ',' }) // "ops,sre" is two groups; without it, one
 * @throws {ConfigError} for invalid options: not an object, an unknown name, an empty claim…
 */
export class ClaimGroupsProvider implements GroupsProvider {
  readonly fromToken = true
  readonly #read: ClaimReader

  constructor(options?: ClaimSourceOptions) {
    this.#read = compileClaimReader('ClaimGroupsProvider', options, 'groups')
  }

  fetchGroups(user: User): readonly string[] {
    return this.#read(user.claims)
  }
}

/**
 * Roles from a claim of the verified token (default `roles`, as Entra ID's app roles). Keycloak:
 * `realm_access.roles`, or `resource_access.<client>.roles` for a client's roles.
 *
 * @example new ClaimRolesProvider({ claims: ['realm_access.roles', ['resource_access', 'orders-api', 'roles']] })
 * @throws {ConfigError} for invalid options: not an object, an unknown name, an empty claim…
 */
export class ClaimRolesProvider implements RolesProvider {
  readonly fromToken = true
  readonly #read: ClaimReader

  constructor(options?: ClaimSourceOptions) {
    this.#read = compileClaimReader('ClaimRolesProvider', options, 'roles')
  }

  fetchRoles(user: User): readonly string[] {
    return this.#read(user.claims)
  }
}

/**
 * Permissions from a claim of the verified token (default `permissions`, as Auth0's RBAC). Use
 * `claim: 'scope'` to treat the space-separated scopes as permissions.
 *
 * @example new ClaimPermissionsProvider() // Auth0: "permissions": ["orders:read"]
 * @throws {ConfigError} for invalid options: not an object, an unknown name, an empty claim…
 */
export class ClaimPermissionsProvider implements PermissionsProvider {
  readonly fromToken = true
  readonly #read: ClaimReader

  constructor(options?: ClaimSourceOptions) {
    this.#read = compileClaimReader('ClaimPermissionsProvider', options, 'permissions')
  }

  fetchPermissions(user: User): readonly string[] {
    return this.#read(user.claims)
  }
}

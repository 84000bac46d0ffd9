// Roles and groups read from Entra tokens, with group overage detected and never read as "none".

import {
  ForbiddenError,
  type GroupsProvider,
  type JwtClaims,
  type RolesProvider,
  type SourceContext,
  type User,
} from '../../src/spi.js'
import type { GroupOverageResolver } from './options.js'

/**
 * The strings of a list claim. A lone string is one item; non-strings are dropped; anything else
 * carries none (a malformed claim in a signed token grants nothing rather than failing).
 */
export function listClaim(claims: JwtClaims, name: string): readonly string[] {
  const value = claims[name]
  if (typeof value === 'string') return value === '' ? [] : [value]
  if (!Array.isArray(value)) return []
  return [
    ...new Set(value.filter((item): item is string => typeof item === 'string' && item !== '')),
  ]
}

/**
 * Whether the token says its user has more groups than it could carry: `_claim_names.groups`
 * (JWT access and ID tokens, past 200 groups) or `hasgroups: true` (implicit-flow tokens). The
 * `_claim_sources` endpoint the token names is never fetched: it is the token's word, not ours.
 */
export function hasGroupOverage(claims: JwtClaims): boolean {
  if (claims['hasgroups'] === true) return true
  const names = claims['_claim_names']
  return typeof names === 'object' && names !== null && 'groups' in names
}

/**
 * The 403 of an overage nobody can resolve (ENT-13). Not a 503: waiting changes nothing until a
 * resolver is configured, and a `Retry-After` would have clients retry for ever.
 */
function overageUnresolved(): ForbiddenError {
  return new ForbiddenError(
    'group membership is too large for the token; configure a group overage resolver',
  )
}

/** Options of {@link EntraGroupsProvider}. */
export interface EntraGroupsOptions {
  /** Called for users whose groups overflowed the token (see `EntraIdProviderOptions`). */
  overageResolver?: GroupOverageResolver | undefined
}

/**
 * A user's groups from the token's `groups` claim (group object ids, or names when the app
 * registration emits `sAMAccountName`): the default groups source of `EntraIdProvider`. When the
 * token carries an overage marker instead, the resolver answers (for example
 * {@link GraphGroupResolver}; its failures are 503s); without one the facet is refused with a 403
 * saying why, never an empty list that would look like "member of nothing".
 *
 * @example
 * app.use(jwtAuth({ provider, groups: new EntraGroupsProvider({ overageResolver: graph }) }))
 */
export class EntraGroupsProvider implements GroupsProvider {
  readonly fromToken = true
  readonly #resolver: GroupOverageResolver | undefined

  constructor(options: EntraGroupsOptions = {}) {
    this.#resolver = options.overageResolver
  }

  fetchGroups(user: User, context?: SourceContext): readonly string[] | Promise<readonly string[]> {
    if (!hasGroupOverage(user.claims)) return listClaim(user.claims, 'groups')
    const resolver = this.#resolver
    if (resolver === undefined) throw overageUnresolved()
    const given = context ?? { signal: new AbortController().signal }
    return typeof resolver === 'function'
      ? resolver(user, given)
      : resolver.fetchGroups(user, given)
  }
}

/**
 * A user's (or an app's) app roles from the token's `roles` claim: roles assigned to users, and
 * application permissions granted to daemon clients (app-only tokens). The default roles source
 * of `EntraIdProvider`.
 *
 * @example
 * app.post('/invoices', requireRoles(['Invoices.Write']), handler)
 */
export class EntraRolesProvider implements RolesProvider {
  readonly fromToken = true

  fetchRoles(user: User): readonly string[] {
    return listClaim(user.claims, 'roles')
  }
}

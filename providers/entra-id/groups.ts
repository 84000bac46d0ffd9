// Roles and groups read from Entra tokens, with group overage detected and never read as "none".

import {
  checkOptionNames,
  ForbiddenError,
  Problems,
  type GroupsProvider,
  type JwtClaims,
  type OptionFlags,
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
  /**
   * Called for users whose groups overflowed the token, on every such request: this source reads
   * the token, so the pipeline caches none of its answers; only the resolver's own cache (as
   * `GraphGroupResolver`'s) spares its backend (see `EntraIdProviderOptions`).
   */
  overageResolver?: GroupOverageResolver | undefined
}

const OPTION_NAMES = Object.keys({
  overageResolver: true,
} as const satisfies OptionFlags<EntraGroupsOptions>)

/** Adds a problem when `resolver` is neither left out, nor a function, nor a groups source. */
export function checkOverageResolver(problems: Problems, name: string, resolver: unknown): void {
  if (resolver === undefined || typeof resolver === 'function') return
  if (typeof (resolver as Partial<GroupsProvider> | null)?.fetchGroups === 'function') return
  problems.add(`${name} must be a function or a groups source (fetchGroups)`)
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

  /** @throws {ConfigError} `ERR_AUTH_CONFIG` for an unknown option or a resolver of no use. */
  constructor(options: EntraGroupsOptions = {}) {
    const problems = new Problems()
    // A misspelt `overageResolver` would refuse every overflowing user, saying none is configured.
    checkOptionNames(problems, 'EntraGroupsProvider', options, OPTION_NAMES)
    checkOverageResolver(problems, 'overageResolver', options?.overageResolver)
    problems.throwIfAny()
    this.#resolver = options?.overageResolver
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

  /**
   * Forgets one user's answers in the resolver's own cache (`GraphGroupResolver`'s), the only
   * cache of overage answers: this source reads the token, so the pipeline keeps none of its own.
   */
  forget(user: { readonly issuer: string; readonly subject: string }): void {
    if (typeof this.#resolver === 'object') this.#resolver.forget?.(user)
  }

  /** Forgets every answer in the resolver's own cache. */
  clear(): void {
    if (typeof this.#resolver === 'object') this.#resolver.clear?.()
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

// Groups, and groups as roles, read from a Cognito token's `cognito:groups` claim.

import {
  checkOptionNames,
  Problems,
  type GroupsProvider,
  type JwtClaims,
  type OptionFlags,
  type RolesProvider,
  type User,
} from '../../src/spi.js'

/** The claim Cognito puts a user's groups in (access and ID tokens alike). */
export const COGNITO_GROUPS_CLAIM = 'cognito:groups'

/** Options of {@link CognitoGroupsProvider} and {@link CognitoGroupsAsRolesProvider}. */
export interface CognitoGroupsOptions {
  /**
   * The claim holding the list. Default `cognito:groups`.
   *
   * @remarks **Security:** name a claim users cannot write. Cognito lets users change their own
   * custom attributes (`custom:*`) unless the app client's write permissions exclude them, and a
   * refreshed ID token then carries whatever they wrote: never grant privileges from one of those.
   */
  claim?: string
}

/**
 * The groups a token carries in `claim`. A string is one group (never split into characters),
 * non-string members are dropped, and anything else (an object, a number) carries none: the
 * token's signature is valid, so a malformed claim grants nothing rather than failing the request.
 */
export function groupsInClaim(claims: JwtClaims, claim: string): readonly string[] {
  const value = claims[claim]
  if (typeof value === 'string') return value === '' ? [] : [value]
  if (!Array.isArray(value)) return []
  const names = value.filter((item): item is string => typeof item === 'string' && item !== '')
  return [...new Set(names)]
}

const GROUPS_OPTIONS = Object.keys({
  claim: true,
} as const satisfies OptionFlags<CognitoGroupsOptions>)

/**
 * The claim to read. Options that are not an object (a claim name given as it is), or that misspell
 * `claim`, are refused: read as no options, they would read `cognito:groups` instead.
 */
function resolveClaim(options: CognitoGroupsOptions | undefined, kind: string): string {
  const problems = new Problems()
  const given: unknown = options
  const isObject = typeof given === 'object' && given !== null && !Array.isArray(given)
  if (given !== undefined && !isObject) {
    const hint =
      typeof given === 'string' ? ` (a claim is { claim: ${JSON.stringify(given)} })` : ''
    problems.add(`${kind}: options must be an object ({ claim }) or left out${hint}`)
  }
  checkOptionNames(problems, kind, given, GROUPS_OPTIONS)
  // Only undefined is the default: a null claim is refused, never read as cognito:groups.
  const claim = isObject && options?.claim !== undefined ? options.claim : COGNITO_GROUPS_CLAIM
  if (typeof claim !== 'string' || claim.trim() === '') {
    problems.add(`${kind}: claim must be a non-empty claim name, e.g. "${COGNITO_GROUPS_CLAIM}"`)
  }
  problems.throwIfAny()
  return claim
}

/**
 * A user's groups from the token's `cognito:groups` claim (the default source of groups of
 * `CognitoProvider`). Read from the token, so never cached across requests.
 *
 * Unlike the Python seed, there is no fall-back from a missing claim to the token's scopes:
 * scopes are granted to app clients, groups to users, and a scope must never make anyone a
 * member of a group. Guard scopes with `requireScopes`.
 *
 * @example
 * app.use(jwtAuth({ provider, groups: new CognitoGroupsProvider() }))
 * app.get('/admin', requireGroups(['admin']), handler)
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` when `claim` is not a non-empty string, or the options
 *   are not `{ claim }`.
 */
export class CognitoGroupsProvider implements GroupsProvider {
  readonly fromToken = true
  readonly claim: string

  constructor(options?: CognitoGroupsOptions) {
    this.claim = resolveClaim(options, 'CognitoGroupsProvider')
  }

  fetchGroups(user: User): readonly string[] {
    return groupsInClaim(user.claims, this.claim)
  }
}

/**
 * A user's roles: the groups of the token's `cognito:groups` claim, for apps that think in roles
 * (`requireRoles`). Read from the token, so never cached across requests.
 *
 * @example
 * app.use(jwtAuth({ provider, roles: new CognitoGroupsAsRolesProvider() }))
 * app.delete('/orders/:id', requireRoles(['order-admin']), handler)
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` when `claim` is not a non-empty string, or the options
 *   are not `{ claim }`.
 */
export class CognitoGroupsAsRolesProvider implements RolesProvider {
  readonly fromToken = true
  readonly claim: string

  constructor(options?: CognitoGroupsOptions) {
    this.claim = resolveClaim(options, 'CognitoGroupsAsRolesProvider')
  }

  fetchRoles(user: User): readonly string[] {
    return groupsInClaim(user.claims, this.claim)
  }
}

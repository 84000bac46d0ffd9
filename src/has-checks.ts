// has* checks: a guard's decision as a boolean, for decisions inside a handler. An outage is
// never a quiet answer: it rejects (or throws) the 503 the guard would have answered.

import type { Request } from 'express'
import { AuthError } from './errors.js'
import { hasOptionsOf } from './guard-options.js'
import { checkedUser } from './guards.js'
import { Problems } from './options.js'
import {
  checkList,
  checkMatch,
  facetRule,
  scopeRule,
  type Match,
  type Rule,
  type RuleFacet,
} from './rules.js'

async function has(req: Request, rule: Rule): Promise<boolean> {
  const user = checkedUser(req)
  if (user.isSynthetic) return true
  if (!user.isAuthenticated) return false
  const verdict = await rule.check(user)
  if (verdict instanceof AuthError && verdict.status === 503) throw verdict
  return verdict === undefined
}

function hasList(
  name: string,
  facet: RuleFacet,
  req: Request,
  values: readonly string[],
  given: { match?: Match } | undefined,
): Promise<boolean> {
  const problems = new Problems()
  const required = checkList(problems, name, facet, values)
  const options = hasOptionsOf(problems, name, given)
  const match = checkMatch(problems, name, options.match)
  try {
    problems.throwIfAny()
  } catch (error) {
    return Promise.reject(error)
  }
  return has(req, facetRule(facet, required, match))
}

/**
 * Whether the request's user is in any of these groups (every one with `{ match: 'all' }`), for
 * decisions inside a handler. `false` for anonymous users, and on a request no authentication
 * middleware ran on (which warns once per process, `OIDC_GUARD_NO_AUTH_MIDDLEWARE`). Rejects with
 * the 503 `UnavailableError` when the groups source is down: an outage is never a quiet `false` or
 * `true`.
 * Express 4 ignores a handler's rejected promise (the process then ends): there, catch it and
 * call `next(error)` (see docs/authorization.md). Only `match` counts: a guard's `status` and
 * `redirect` are accepted and ignored, so one options object can serve both; any other key is a
 * `ConfigError` (a rejection here; `hasScopes` throws it).
 *
 * @example if (await hasGroups(req, ['admin'])) order.internalNotes = notes
 */
export function hasGroups(
  req: Request,
  groups: readonly string[],
  options?: { match?: Match },
): Promise<boolean> {
  return hasList('hasGroups', 'groups', req, groups, options)
}

/** Whether the request's user has any of these roles; see {@link hasGroups}. */
export function hasRoles(
  req: Request,
  roles: readonly string[],
  options?: { match?: Match },
): Promise<boolean> {
  return hasList('hasRoles', 'roles', req, roles, options)
}

/** Whether the request's user holds any of these permissions (wildcards apply); see {@link hasGroups}. */
export function hasPermissions(
  req: Request,
  permissions: readonly string[],
  options?: { match?: Match },
): Promise<boolean> {
  return hasList('hasPermissions', 'permissions', req, permissions, options)
}

/**
 * Whether the request's token carries any of these scopes (every one with `{ match: 'all' }`).
 * Synchronous: scopes are in the token. `false` for anonymous users and, with a warning, on a
 * request no authentication middleware ran on; see {@link hasGroups}.
 */
export function hasScopes(
  req: Request,
  scopes: readonly string[],
  options?: { match?: Match },
): boolean {
  const problems = new Problems()
  const required = checkList(problems, 'hasScopes', 'scopes', scopes)
  const checked = hasOptionsOf(problems, 'hasScopes', options)
  const match = checkMatch(problems, 'hasScopes', checked.match)
  problems.throwIfAny()
  const user = checkedUser(req)
  if (user.isSynthetic) return true
  return user.isAuthenticated && scopeRule(required, match).check(user) === undefined
}

// Authorization rules, framework-free: does a user have these groups, roles, permissions or scopes?

import { AuthError, ForbiddenError, InsufficientScopeError, UnavailableError } from './errors.js'
import type { Problems } from './options.js'
import type { User } from './user.js'

/** Whether one listed value is enough (`'any'`, the default) or every one is needed (`'all'`). */
export type Match = 'any' | 'all'

/** A rule's verdict: `undefined` lets the user through, an error says why not. */
export type Verdict = AuthError | undefined

/**
 * A compiled authorization rule. `check` answers synchronously when it can (scopes, kind) and
 * returns a promise only when it must load a facet.
 */
export interface Rule {
  check(user: User): Verdict | Promise<Verdict>
}

/** The facets rules can ask for, with the words used in messages. */
export type RuleFacet = 'groups' | 'roles' | 'permissions'
const SINGULAR: Record<RuleFacet | 'scopes', string> = {
  groups: 'group',
  roles: 'role',
  permissions: 'permission',
  scopes: 'scope',
}

/**
 * Validates a guard's list when the route is defined. A string instead of a list is refused: the
 * Python seed turned `require_groups("admin")` into a substring test that `"min"` passed. Entries
 * that could never match are refused too, each named; names with spaces stay legal for groups,
 * roles and permissions, since a source may hand them out as written.
 */
export function checkList(
  problems: Problems,
  guard: string,
  what: RuleFacet | 'scopes',
  values: unknown,
): readonly string[] {
  const example = `${guard}(['${what === 'scopes' ? 'orders:read' : 'admin'}'])`
  if (typeof values === 'string') {
    problems.add(
      `${guard} takes a list of ${what}, not a string: write ${guard}([${JSON.stringify(values)}])`,
    )
    return []
  }
  if (!Array.isArray(values) || values.length === 0) {
    problems.add(`${guard} needs a non-empty list of ${what}, e.g. ${example}`)
    return []
  }
  // Array.from turns the holes of a sparse list into undefined, which filter and map would skip.
  const entries: unknown[] = Array.from(values as unknown[])
  entries.forEach((value, index) => {
    const problem = entryProblem(what, value)
    if (problem !== undefined) problems.add(`${guard}: entry ${index + 1} ${problem}`)
  })
  return Object.freeze(entries as string[])
}

// RFC 6749 §3.3 scope-token: a space separates scopes, and '"' and '\\' cannot appear in the
// challenge's scope="…" (RFC 6750 §3), so a required scope with them could never be granted.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** Why one entry of a guard's list could never match, or undefined when it is fine. */
function entryProblem(what: RuleFacet | 'scopes', value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    return `is ${show(value)}: the list accepts only non-empty strings`
  }
  if (what === 'scopes' && !SCOPE_TOKEN.test(value)) return scopeProblem(value)
  if (what !== 'permissions') return undefined
  const segments = value.split(':')
  if (segments.includes('*')) {
    return `${JSON.stringify(value)} contains a wildcard; wildcards belong to the permissions a user is granted, a route requires concrete ones`
  }
  if (segments.includes('')) {
    return `${JSON.stringify(value)} has an empty segment; a permission is non-empty segments joined by ':', e.g. 'orders:read'`
  }
  return undefined
}

function scopeProblem(value: string): string {
  const shown = JSON.stringify(value)
  const trimmed = value.trim()
  if (SCOPE_TOKEN.test(trimmed)) {
    return `${shown} has spaces around it: write ${JSON.stringify(trimmed)}`
  }
  if (/\s/.test(trimmed)) {
    return `${shown} is not one scope: a scope has no spaces, list each scope as its own entry`
  }
  return `${shown} is not a scope: a scope is printable ASCII without spaces, '"' or '\\' (RFC 6749 §3.3)`
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === undefined) return 'undefined'
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return `${String(value)} (${value === null ? 'null' : typeof value})`
  }
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'function' ? 'a function' : 'an object'
}

/** Validates `match`. */
export function checkMatch(problems: Problems, guard: string, match: unknown): Match {
  if (match === undefined) return 'any'
  if (match === 'any' || match === 'all') return match
  problems.add(`${guard}: match must be 'any' or 'all', got ${String(match)}`)
  return 'any'
}

/**
 * Whether a granted permission covers a required one. Permissions are `:`-separated segments,
 * compared exactly and case-sensitively. In a granted permission a `*` segment matches any one
 * segment, and a `*` as the last segment matches one or more: `orders:*` grants `orders:read`
 * and `orders:read:own` but not `orders`; `*:read` grants `orders:read`; `*` grants everything.
 */
export function permissionCovers(granted: string, required: string): boolean {
  if (granted === required || granted === '*') return true
  if (!granted.includes('*')) return false
  const have = granted.split(':')
  const want = required.split(':')
  for (let index = 0; index < have.length; index += 1) {
    const segment = have[index]!
    const last = index === have.length - 1
    if (index >= want.length) return false
    if (segment === '*') {
      if (last) return true
      continue
    }
    if (segment !== want[index]) return false
  }
  return have.length === want.length
}

function holds(granted: readonly string[], required: string, wildcards: boolean): boolean {
  if (!wildcards) return granted.includes(required)
  return granted.some(
    (permission) => typeof permission === 'string' && permissionCovers(permission, required),
  )
}

/**
 * Whether `granted` meets the rule. It is checked here again, failing closed: a `User` holds only
 * lists of strings, but `req.currentUser` may be any object an application put there, and a
 * string's `includes` is a substring test that `"nonadmin"` would pass for `admin`.
 */
function satisfied(
  granted: unknown,
  required: readonly string[],
  match: Match,
  wildcards: boolean,
): boolean {
  if (!Array.isArray(granted)) return false
  return match === 'all'
    ? required.every((value) => holds(granted, value, wildcards))
    : required.some((value) => holds(granted, value, wildcards))
}

/** A rule on groups, roles or permissions: loads the facet (once per request) and compares. */
export function facetRule(facet: RuleFacet, required: readonly string[], match: Match): Rule {
  const wildcards = facet === 'permissions'
  const refusal = `missing a required ${SINGULAR[facet]}`
  return {
    check: (user) =>
      user[facet].then((granted) =>
        satisfied(granted, required, match, wildcards) ? undefined : new ForbiddenError(refusal),
      ),
  }
}

/** A rule on the token's scopes, answered without waiting for anything. */
export function scopeRule(required: readonly string[], match: Match): Rule {
  return {
    check: (user) =>
      satisfied(user.scopes, required, match, false)
        ? undefined
        : user.token === undefined
          ? new InsufficientScopeError(required, NO_TOKEN_SCOPE_REFUSAL)
          : new InsufficientScopeError(required),
  }
}

// A Basic or API-key user's scopes come with no token: "the token lacks…" would misdirect them.
const NO_TOKEN_SCOPE_REFUSAL = 'the credentials lack a required scope'

/** A rule on who is calling: a person, or a client application on its own behalf. */
export function kindRule(kind: 'human' | 'm2m'): Rule {
  const refusal =
    kind === 'm2m'
      ? 'only client applications may call this route'
      : 'only users may call this route'
  return {
    check: (user) => (user.isM2M === (kind === 'm2m') ? undefined : new ForbiddenError(refusal)),
  }
}

function isPromise(value: Verdict | Promise<Verdict>): value is Promise<Verdict> {
  return value !== undefined && typeof (value as Promise<Verdict>).then === 'function'
}

/** Runs a rule, turning a throw into its verdict (an AuthError) so combinators can weigh it. */
async function settle(rule: Rule, user: User): Promise<Verdict> {
  try {
    return await rule.check(user)
  } catch (error) {
    if (error instanceof AuthError) return error
    throw error
  }
}

/**
 * Every rule must hold. Rules run left to right and stop at the first refusal, so a later rule's
 * facet is never loaded when an earlier one already refused: put cheap rules (scopes) first. A
 * source's 401 is a refusal like any other here, answered as it is, thrown or returned.
 */
export function allRule(rules: readonly Rule[]): Rule {
  return {
    check: (user) => {
      for (let index = 0; index < rules.length; index += 1) {
        const verdict = rules[index]!.check(user)
        if (isPromise(verdict)) return continueAll(verdict, rules, index + 1, user)
        if (verdict !== undefined) return verdict
      }
      return undefined
    },
  }
}

async function continueAll(
  pending: Promise<Verdict>,
  rules: readonly Rule[],
  from: number,
  user: User,
): Promise<Verdict> {
  const first = await pending
  if (first !== undefined) return first
  for (let index = from; index < rules.length; index += 1) {
    const verdict = await rules[index]!.check(user)
    if (verdict !== undefined) return verdict
  }
  return undefined
}

/**
 * One rule is enough. Rules run left to right and stop at the first that holds. A rule whose
 * source is down does not decide: the next ones still may let the user through; when none does,
 * the answer is 503 (access could not be ruled on), otherwise the first rule's refusal. A 401 (a
 * source whose API refused the token: revoked, signed out) decides at once: the token itself is
 * no longer good, so no later rule may grant on it, and no other refusal may hide it.
 */
export function anyRule(rules: readonly Rule[]): Rule {
  return {
    check: async (user) => {
      let refusal: Verdict
      let outage: Verdict
      for (const rule of rules) {
        const verdict = await settle(rule, user)
        if (verdict === undefined) return undefined
        if (verdict.status === 401) return verdict
        if (verdict instanceof UnavailableError) outage ??= verdict
        else refusal ??= verdict
      }
      return outage ?? refusal
    },
  }
}

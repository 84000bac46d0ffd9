// Route guards: decide on the user an authentication middleware put on the request, and answer
// 401/403/503 or go on. The decisions themselves are the framework-free rules of rules.ts; the
// options are checked in guard-options.ts, and has-checks.ts gives the same decisions as booleans.

import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { currentUserOf } from './current-user.js'
import { AuthError, copyError, CredentialsRequiredError, NO_STORE } from './errors.js'
import { sendPlainStatus } from './error-handler.js'
import {
  checkGuardOptions,
  LIST_OPTIONS,
  optionsOf,
  USER_OPTIONS,
  type GuardOptions,
  type ListGuardOptions,
  type RequireUserOptions,
} from './guard-options.js'
import { respondWithAuthError } from './middleware.js'
import { Problems, refuseUncalledFactory } from './options.js'
import { redirectTo } from './redirect-target.js'
import {
  allRule,
  anyRule,
  checkList,
  checkMatch,
  facetRule,
  kindRule,
  scopeRule,
  type Rule,
  type RuleFacet,
  type Verdict,
} from './rules.js'
import { User } from './user.js'
import { warnOnce } from './warn-once.js'

/**
 * A guard: Express middleware that also carries its rule, and the options it answers anonymous
 * users with, so `requireAll`/`requireAny` can combine it.
 */
export type Guard = RequestHandler & {
  readonly [GUARD_RULE]: Rule
  readonly [GUARD_ANONYMOUS]: GuardOptions
}

const GUARD_RULE = Symbol('oidc-guard.rule')
const GUARD_ANONYMOUS = Symbol('oidc-guard.anonymous')
// Which guard options answer a refusal, when a combinator passes on an inner guard's refusal.
const REFUSAL_OPTIONS = new WeakMap<AuthError, GuardOptions>()

/** The user on the request, or the anonymous user on routes `jwtAuth` did not run on. */
export function getCurrentUser(req: Request): User {
  return (currentUserOf(req) as User | undefined) ?? User.anonymous
}

/**
 * Every authentication middleware (jwtAuth, basicAuth, apiKeyAuth, the disabled switch) sets a
 * user on each request it sees, the anonymous one included: a guard that finds none runs on a
 * route mounted before the middleware, and refuses valid tokens with a bare 401; a has* check
 * there answers false for them. Guards have no logger, so a Node.js warning says it on stderr,
 * once per process (one code for both: the mistake and its fix are the same), whatever the level.
 */
function warnNoMiddleware(): void {
  warnOnce(
    'OIDC_GUARD_NO_AUTH_MIDDLEWARE',
    'a guard or has* check ran on a request no authentication middleware ran on (a guard refuses it, a has* check answers false): mount jwtAuth (or basicAuth/apiKeyAuth) before the routes it protects',
  )
}

/** The user a guard or a has* check decides on: the anonymous user, with a warning, when none. */
export function checkedUser(req: Request): User {
  const current = currentUserOf(req) as User | undefined
  if (current !== undefined) return current
  warnNoMiddleware()
  return User.anonymous
}

/**
 * Answers a guard's refusal: a redirect for anonymous visitors when asked, the route's own status
 * when given (never for outages, which stay 503), otherwise the error the way the request's
 * authentication middleware answers errors.
 */
export function refuse(
  error: AuthError,
  options: GuardOptions,
  req: Request,
  res: Response,
  next: NextFunction,
): void {
  const { redirect, status } = REFUSAL_OPTIONS.get(error) ?? options
  // A redirect or a chosen status is written here; once a handler before the guard has sent the
  // headers, neither can be, and the error goes to Express's error handlers, whose last one closes
  // the connection rather than leave the response hanging until the server's time-out.
  if (redirect !== undefined && !getCurrentUser(req).isAuthenticated) {
    if (res.headersSent) next(error)
    // no-store as every refusal: an app's `public, max-age` would let a shared cache send signed-in
    // users this anonymous visitor's way to the login page (no cookie token, so no Vary: Cookie).
    else res.set('Cache-Control', NO_STORE).redirect(302, redirectTo(redirect, req.originalUrl))
  } else if (status !== undefined && error.status !== 503) {
    if (res.headersSent) next(error)
    else sendPlainStatus(res, status) // The route asked for this answer, even over onError.
  } else {
    respondWithAuthError(error, req, res, next)
  }
}

function isVerdictPromise(value: Verdict | Promise<Verdict>): value is Promise<Verdict> {
  return value !== undefined && typeof (value as Promise<Verdict>).then === 'function'
}

/**
 * Builds a guard from a rule: anonymous users are refused with 401 (or the reason their token was
 * refused, under `invalidToken: 'anonymous'`) answered with `anonymous`'s status/redirect, the
 * disabled switch's synthetic user passes, and everyone else is let through only when the rule
 * holds. A rule that loads a facet is awaited; anything else is decided synchronously.
 */
function guard(rule: Rule, options: GuardOptions, anonymous: GuardOptions = options): Guard {
  // Inside requireAll/requireAny this guard's refusals keep this guard's status and redirect,
  // whether the rule answers with a refusal or its source throws one.
  const tagged: Rule = {
    check: (user) => {
      let verdict: Verdict | Promise<Verdict>
      try {
        verdict = rule.check(user)
      } catch (error) {
        throw tagFailure(error, options)
      }
      return isVerdictPromise(verdict)
        ? verdict.then(
            (v) => tag(v, options),
            (error: unknown) => {
              throw tagFailure(error, options)
            },
          )
        : tag(verdict, options)
    },
  }
  function oidcGuard(req: Request, res: Response, next: NextFunction): void {
    const user = checkedUser(req)
    if (user.isSynthetic) return next()
    if (!user.isAuthenticated) {
      return refuse(req.authError ?? new CredentialsRequiredError(), anonymous, req, res, next)
    }
    let verdict: Verdict | Promise<Verdict>
    try {
      verdict = rule.check(user)
    } catch (error) {
      return decide(error, options, req, res, next)
    }
    if (!isVerdictPromise(verdict)) return decided(verdict, options, req, res, next)
    // A throw while answering (a response wrapper that throws, say) would otherwise be an
    // unhandled rejection, which ends the process: Express's error handlers answer it instead.
    verdict
      .then(
        (value) => decided(value, options, req, res, next),
        (error: unknown) => decide(error, options, req, res, next),
      )
      .catch(next)
  }
  return Object.assign(oidcGuard, { [GUARD_RULE]: tagged, [GUARD_ANONYMOUS]: anonymous })
}

function tag(verdict: Verdict, options: GuardOptions): Verdict {
  if (verdict !== undefined && !REFUSAL_OPTIONS.has(verdict)) REFUSAL_OPTIONS.set(verdict, options)
  return verdict
}

/**
 * A source's refusal (Entra ID's group overage without a resolver throws a ForbiddenError) is this
 * guard's refusal too, thrown on as a tagged copy: the error may be shared with other requests and
 * routes. Outages (503) stay untagged, so no route's status ever hides one, and anything else stays
 * the application's error.
 */
function tagFailure(error: unknown, options: GuardOptions): unknown {
  if (!(error instanceof AuthError) || error.status === 503 || REFUSAL_OPTIONS.has(error)) {
    return error
  }
  const copy = copyError(error)
  REFUSAL_OPTIONS.set(copy, options)
  return copy
}

function decided(
  verdict: Verdict,
  options: GuardOptions,
  req: Request,
  res: Response,
  next: NextFunction,
): void {
  if (verdict === undefined) next()
  else refuse(verdict, options, req, res, next)
}

function decide(
  error: unknown,
  options: GuardOptions,
  req: Request,
  res: Response,
  next: NextFunction,
): void {
  // A facet that failed answers its own 503; anything else is the application's error.
  if (error instanceof AuthError) refuse(error, options, req, res, next)
  else next(error)
}

/**
 * Lets only authenticated users through: anonymous requests get 401 with a bare `Bearer`
 * challenge (RFC 6750 §3), or a redirect with `redirect`. With `kind`, only people (`'human'`)
 * or only client applications (`'m2m'`); the others get 403.
 *
 * @example app.get('/me', requireUser(), handler)
 * @example app.get('/jobs', requireUser({ kind: 'm2m' }), handler)
 * @throws {ConfigError} at route definition for invalid options, or options that are not an
 * object (`requireUser('m2m')`); `null` means none.
 */
export function requireUser(options?: RequireUserOptions): Guard {
  refuseUncalledFactory('requireUser', 'requireUser()', options)
  const problems = new Problems()
  const given = optionsOf(problems, 'requireUser', options, "{ kind: 'human' }", USER_OPTIONS)
  const answer = checkGuardOptions(problems, given)
  const { kind } = given
  if (kind !== undefined && kind !== 'human' && kind !== 'm2m') {
    problems.add(`requireUser: kind must be 'human' or 'm2m', got ${String(kind)}`)
  }
  problems.throwIfAny()
  return guard(kind === undefined ? { check: () => undefined } : kindRule(kind as Kind), answer)
}

type Kind = NonNullable<RequireUserOptions['kind']>

function listGuard(
  name: string,
  facet: RuleFacet | 'scopes',
  values: unknown,
  given: ListGuardOptions | undefined,
): Guard {
  refuseUncalledFactory(name, `${name}(['…'])`, values)
  const problems = new Problems()
  const required = checkList(problems, name, facet, values)
  const options = optionsOf(problems, name, given, "{ match: 'all' }", LIST_OPTIONS)
  const match = checkMatch(problems, name, options.match)
  const answer = checkGuardOptions(problems, options)
  problems.throwIfAny()
  const rule = facet === 'scopes' ? scopeRule(required, match) : facetRule(facet, required, match)
  return guard(rule, answer)
}

/**
 * Lets through users in any of these groups (every one with `{ match: 'all' }`). Groups come from
 * the `groups` source, loaded on first use and at most once per request; a source that is down
 * answers 503, never access. Otherwise 403 `forbidden`. Matching is exact and case-sensitive.
 *
 * @example app.delete('/orders/:id', requireGroups(['admin', 'ops']), handler)
 * @throws {ConfigError} at route definition: an empty list, a string instead of a list, a bad `match`.
 */
export function requireGroups(groups: readonly string[], options?: ListGuardOptions): Guard {
  return listGuard('requireGroups', 'groups', groups, options)
}

/**
 * Lets through users with any of these roles (every one with `{ match: 'all' }`); like
 * {@link requireGroups}, over the `roles` source.
 *
 * @example app.post('/refunds', requireRoles(['finance']), handler)
 * @throws {ConfigError} at route definition for invalid arguments.
 */
export function requireRoles(roles: readonly string[], options?: ListGuardOptions): Guard {
  return listGuard('requireRoles', 'roles', roles, options)
}

/**
 * Lets through users holding any of these permissions (every one with `{ match: 'all' }`), over
 * the `permissions` source. A granted permission may use wildcards: `orders:*` covers
 * `orders:read` and `orders:read:own`, `*:read` covers `orders:read`, `*` covers everything
 * (see docs/authorization.md). Required permissions are concrete: a `*` in them is a ConfigError.
 *
 * @example app.get('/orders', requirePermissions(['orders:read']), handler)
 * @throws {ConfigError} at route definition for invalid arguments.
 */
export function requirePermissions(
  permissions: readonly string[],
  options?: ListGuardOptions,
): Guard {
  return listGuard('requirePermissions', 'permissions', permissions, options)
}

/**
 * Lets through tokens granted any of these scopes (`scope` or `scp`; every one with
 * `{ match: 'all' }`). Otherwise 403 with `WWW-Authenticate: Bearer error="insufficient_scope",
 * scope="…"` naming the required scopes (RFC 6750 §3.1). Decided without any lookup.
 *
 * @example app.get('/orders', requireScopes(['orders.read']), handler)
 * @throws {ConfigError} at route definition for invalid arguments.
 */
export function requireScopes(scopes: readonly string[], options?: ListGuardOptions): Guard {
  return listGuard('requireScopes', 'scopes', scopes, options)
}

/**
 * The inner guards' rules, and the options anonymous users are answered with. Every guard refuses
 * anonymous users, so the first inner guard is the one that refuses them, in requireAll as in
 * requireAny: its status/redirect answer, not a bare 401 that would give away a hidden route.
 */
function combine(name: string, guards: readonly unknown[]): Combined {
  refuseUncalledFactory(name, `${name}(requireUser(), …)`, guards[0])
  const problems = new Problems()
  if (guards.length === 0) problems.add(`${name} needs at least one guard`)
  const rules = guards.map((candidate, index) => {
    const rule = (candidate as Partial<Guard> | undefined)?.[GUARD_RULE]
    if (rule === undefined) {
      problems.add(
        `${name}: argument ${index + 1} is not a guard made by requireUser, requireGroups, requireRoles, requirePermissions, requireScopes, requireAll or requireAny`,
      )
    }
    return rule!
  })
  problems.throwIfAny()
  return { rules, anonymous: (guards[0] as Guard)[GUARD_ANONYMOUS] }
}

const NO_OPTIONS: GuardOptions = Object.freeze({})

interface Combined {
  readonly rules: Rule[]
  readonly anonymous: GuardOptions
}

/**
 * Lets through users every guard lets through. Guards run left to right and stop at the first
 * refusal, so a later guard's facet is never loaded when an earlier one refused: put cheap ones
 * (scopes) first. A refusal is answered with the status/redirect of the guard that refused; an
 * anonymous user is refused by the first guard. requireAll has no options of its own.
 *
 * @example app.post('/orders', requireAll(requireScopes(['orders.write']), requireGroups(['ops'])), handler)
 * @throws {ConfigError} at route definition when an argument is not a guard.
 */
export function requireAll(...guards: Guard[]): Guard {
  const { rules, anonymous } = combine('requireAll', guards)
  return guard(allRule(rules), NO_OPTIONS, anonymous)
}

/**
 * Lets through users any one guard lets through, trying them left to right. A guard whose source
 * is down does not decide alone: a later one may still let the user through; when none does, the
 * answer is 503; otherwise the first guard's refusal, with its status/redirect (for anonymous users
 * too). A guard whose source refused the token (401) decides at once: no later guard may grant.
 * requireAny has no options of its own.
 *
 * @example app.get('/report', requireAny(requireRoles(['auditor']), requireAll(requireGroups(['ops']), requireScopes(['report.read']))), handler)
 * @throws {ConfigError} at route definition when an argument is not a guard.
 */
export function requireAny(...guards: Guard[]): Guard {
  const { rules, anonymous } = combine('requireAny', guards)
  return guard(anyRule(rules), NO_OPTIONS, anonymous)
}

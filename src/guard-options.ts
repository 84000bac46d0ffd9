// What each guard and has* check accepts: checked once when a guard is defined, and on each call of
// a has* check. A misspelt or mistyped option is refused with a message that says what to change,
// and the values a guard answers with are kept in a frozen copy.

import type { Problems } from './options.js'
import type { Match } from './rules.js'

/** Options every guard accepts. */
export interface GuardOptions {
  /**
   * The status to answer with instead of 401/403, for example 404 to hide a route: the body is
   * then `{ "error": "not_found" }` and no challenge is sent, so 401 and 407 (which need one)
   * are refused, and so are 5xx (a refusal is not an outage). Answered by the guard itself, over
   * `onError`, which does not see this refusal. Outages still answer 503.
   */
  status?: number
  /**
   * For HTML routes: send an anonymous visitor to this URL (302), with the page they asked for in
   * `?next=` (Starlette's `requires(redirect=…)`). Users who are signed in but not allowed still
   * get the error status.
   */
  redirect?: string
}

/** Options of the list guards: `requireGroups`, `requireRoles`, `requirePermissions`, `requireScopes`. */
export interface ListGuardOptions extends GuardOptions {
  /** `'any'` (default): one listed value is enough; `'all'`: every one is needed. */
  match?: Match
}

/** Options of {@link requireUser}. */
export interface RequireUserOptions extends GuardOptions {
  /**
   * Only people (`'human'`) or only machine-to-machine clients (`'m2m'`). Default: either. A token
   * is machine-to-machine when its provider recognises it as one (`user.isM2M`; which issuers'
   * tokens are recognised: docs/authorization.md); a machine token it does not recognise counts
   * as a person's, so also guard machine-only or people-only routes by scope or role there.
   */
  kind?: 'human' | 'm2m'
}

// The options each kind of guard takes. A misspelt one (`{ mode: 'all' }`, `{ kinds: 'm2m' }`)
// ignored would quietly fall back to the default, which grants more: `any` instead of `all`.
export const LIST_OPTIONS = ['match', 'status', 'redirect'] as const
export const USER_OPTIONS = ['kind', 'status', 'redirect'] as const
// status and redirect mean nothing to has*, but a guard's options object passed to one (typed
// structurally, so TypeScript lets it) must not turn every request into a 500. They are accepted
// unchecked and ignored, and the refusal of a misspelt key says so (docs/authorization.md).
const HAS_OPTIONS = ['match', 'status', 'redirect'] as const
const HAS_OPTIONS_NOTE =
  ' (a has* check uses only match: status and redirect are accepted, and ignored, so that one ' +
  'options object can serve a require* guard and a has* check)'

/**
 * Options as given, read once into a frozen copy of the `allowed` keys: `undefined` and `null`
 * mean none; anything else must be an object with no other key. A string (`requireUser('m2m')`)
 * read as options would quietly have no `kind`, and admit everyone; the caller's object read again
 * on every request could be changed after it was checked (`options.status = 200`).
 */
export function optionsOf<K extends string>(
  problems: Problems,
  name: string,
  options: unknown,
  example: string,
  allowed: readonly K[],
  note = '',
): Readonly<Partial<Record<K, unknown>>> {
  if (options === undefined || options === null) return Object.freeze({})
  if (typeof options !== 'object' || Array.isArray(options)) {
    const got =
      typeof options === 'string'
        ? JSON.stringify(options)
        : Array.isArray(options)
          ? 'a list'
          : typeof options === 'function' || typeof options === 'symbol'
            ? `a ${typeof options}`
            : `${String(options)} (${typeof options})`
    problems.add(`${name}: options must be an object, e.g. ${example}, got ${got}`)
    return Object.freeze({})
  }
  for (const key of Object.keys(options)) {
    if (!(allowed as readonly string[]).includes(key)) {
      problems.add(
        `${name}: ${JSON.stringify(key)} is not an option; ` +
          `the options are ${allowed.join(', ')}${note}`,
      )
    }
  }
  const copy: Partial<Record<K, unknown>> = {}
  for (const key of allowed) {
    const value: unknown = (options as Record<string, unknown>)[key]
    if (value !== undefined) copy[key] = value
  }
  return Object.freeze(copy)
}

/** The options of a has* check: `match`, and a guard's `status` and `redirect`, ignored. */
export function hasOptionsOf(
  problems: Problems,
  name: string,
  options: unknown,
): Readonly<Partial<Record<(typeof HAS_OPTIONS)[number], unknown>>> {
  return optionsOf(problems, name, options, "{ match: 'all' }", HAS_OPTIONS, HAS_OPTIONS_NOTE)
}

/**
 * Checks guard options when the route is defined, not per request, and returns the checked values
 * frozen: the guard answers with these, whatever happens to the object they came from.
 */
export function checkGuardOptions(
  problems: Problems,
  options: { readonly status?: unknown; readonly redirect?: unknown },
): GuardOptions {
  const { status, redirect } = options
  if (
    status !== undefined &&
    (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 499)
  ) {
    // A refusal is the client's error: a 5xx would count it as an outage in every monitor and load
    // balancer, and a 503 without Retry-After would tell clients to come back for the same answer.
    problems.add(
      `status must be a client error status (400-499), got ${String(status)}; outages already answer 503`,
    )
  } else if (status === 401 || status === 407) {
    // Both must carry a challenge (RFC 9110 §15.5.2, §15.5.8), which a chosen status never does.
    problems.add(
      `status ${status} needs a challenge this answer cannot carry: leave status out for the default 401, or use 403 or 404`,
    )
  }
  if (redirect !== undefined && (typeof redirect !== 'string' || redirect === '')) {
    problems.add('redirect must be a non-empty URL')
  }
  return Object.freeze({
    ...(typeof status === 'number' && { status }),
    ...(typeof redirect === 'string' && { redirect }),
  })
}

// Route guards: decide on the user jwtAuth put on the request, and answer 401/403/503 or go on.

import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type { AuthError } from './errors.js'
import { CredentialsRequiredError, ForbiddenError } from './errors.js'
import { sendPlainStatus } from './error-handler.js'
import { respondWithAuthError } from './middleware.js'
import { Problems } from './options.js'
import { User } from './user.js'

/** Options every guard accepts. */
export interface GuardOptions {
  /**
   * The status to answer with instead of 401/403, for example 404 to hide a route: the body is
   * then `{ "error": "not_found" }` and no challenge is sent. Takes precedence over `onError`.
   */
  status?: number
  /**
   * For HTML routes: send an anonymous visitor to this URL (302), with the page they asked for in
   * `?next=` (Starlette's `requires(redirect=…)`). Users who are signed in but not allowed still
   * get the error status.
   */
  redirect?: string
}

/** Options of {@link requireUser}. */
export interface RequireUserOptions extends GuardOptions {
  /** Only people (`'human'`) or only machine-to-machine clients (`'m2m'`). Default: either. */
  kind?: 'human' | 'm2m'
}

/** The user on the request, or the anonymous user on routes `jwtAuth` did not run on. */
export function getCurrentUser(req: Request): User {
  return (req as Partial<Request>).currentUser ?? User.anonymous
}

/** Checks guard options when the route is defined, not per request. */
export function checkGuardOptions(problems: Problems, options: GuardOptions): void {
  const { status, redirect } = options
  if (status !== undefined && (!Number.isInteger(status) || status < 400 || status > 599)) {
    problems.add(`status must be an HTTP error status (400-599), got ${String(status)}`)
  }
  if (redirect !== undefined && (typeof redirect !== 'string' || redirect === '')) {
    problems.add('redirect must be a non-empty URL')
  }
}

function redirectTo(target: string, req: Request): string {
  const separator = target.includes('?') ? '&' : '?'
  return `${target}${separator}${new URLSearchParams({ next: req.originalUrl })}`
}

/**
 * Answers a guard's refusal: a redirect for anonymous visitors when asked, otherwise the error
 * the way the request's `jwtAuth` answers errors.
 */
export function refuse(
  error: AuthError,
  options: GuardOptions,
  req: Request,
  res: Response,
  next: NextFunction,
): void {
  if (options.redirect !== undefined && !getCurrentUser(req).isAuthenticated) {
    res.redirect(302, redirectTo(options.redirect, req))
  } else if (options.status !== undefined) {
    sendPlainStatus(res, options.status) // The route asked for this answer, even over onError.
  } else {
    respondWithAuthError(error, req, res, next)
  }
}

/**
 * Lets only authenticated users through: anonymous requests get 401 with a bare `Bearer`
 * challenge (RFC 6750 §3), or a redirect with `redirect`.
 *
 * @example app.get('/me', requireUser(), handler)
 * @example app.get('/jobs', requireUser({ kind: 'm2m' }), handler)
 * @throws {ConfigError} at route definition for invalid options.
 */
export function requireUser(options: RequireUserOptions = {}): RequestHandler {
  const problems = new Problems()
  checkGuardOptions(problems, options)
  if (options.kind !== undefined && options.kind !== 'human' && options.kind !== 'm2m') {
    problems.add(`kind must be 'human' or 'm2m'`)
  }
  problems.throwIfAny()
  const { kind } = options
  return function requireUserGuard(req, res, next) {
    const user = getCurrentUser(req)
    if (!user.isAuthenticated) {
      // A token jwtAuth let through as anonymous is answered as what it was: invalid.
      return refuse(req.authError ?? new CredentialsRequiredError(), options, req, res, next)
    }
    if (kind !== undefined && user.isM2M !== (kind === 'm2m')) {
      const error = new ForbiddenError(
        kind === 'm2m'
          ? 'only client applications may call this route'
          : 'only users may call this route',
      )
      return refuse(error, options, req, res, next)
    }
    next()
  }
}

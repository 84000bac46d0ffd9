// healthHandler(): the verifier's health report as an Express route: 200 when it can serve, else 503.

import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { Problems } from './options.js'
import type { Verifier } from './pipeline.js'

/** Options of {@link healthHandler}. */
export interface HealthHandlerOptions {
  /**
   * Answer the whole report (providers' key sets with their JWKS URIs and last errors, caches,
   * revocation store). `false` answers `{ ok }` only, for a probe reachable from outside (with
   * authentication disabled too: `{ ok: true }`, not `disabled`). Default `true`.
   */
  details?: boolean
}

const OPTION_NAMES: ReadonlySet<string> = new Set(['details'])

/** What the handler reads the report from: a verifier, or the middleware `jwtAuth` returned. */
export type HealthSource = Pick<Verifier, 'health'> | { readonly verifier: Verifier | undefined }

/**
 * An Express handler answering the health report as JSON: 200 when every part can serve (each
 * provider holds keys, the revocation store can answer), 503 otherwise, never cached. A shared
 * authorization cache that is down (its `health()` says not ok, throws or does not answer in 2 s)
 * is reported without failing the check: the sources still answer. With
 * authentication disabled (`AUTH_MIDDLEWARE_DISABLED`) it answers 200 `{ ok: true, disabled: true }`
 * (`{ ok: true }` with `details: false`). When something before it has answered already (a
 * request time-out), the report is dropped rather than written to a response that is sent.
 *
 * Warning: the full report names JWKS URIs and connection errors; mount it on an internal port
 * or behind a guard, or pass `{ details: false }`. Use it as a readiness probe rather than a
 * liveness probe: every instance shares the same IdP and Redis, and restarting them all helps
 * no one.
 *
 * @example
 * const auth = jwtAuth({ provider, revocation })
 * app.get('/health/auth', healthHandler(auth))
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` at construction when `source` is neither a verifier nor
 *   the middleware of `jwtAuth`, or an option is unknown or not of its type (`details: 'false'`
 *   would otherwise serve the whole report it was meant to hide).
 */
export function healthHandler(
  source: HealthSource,
  options: HealthHandlerOptions = {},
): RequestHandler {
  const problems = new Problems()
  const verifier = resolve(problems, source)
  const details = resolveDetails(problems, options)
  problems.throwIfAny()
  return function oidcGuardHealth(_req: Request, res: Response, next: NextFunction): void {
    res.set('cache-control', 'no-store')
    if (verifier === undefined) {
      res.status(200).json(details ? { ok: true, disabled: true } : { ok: true })
      return
    }
    // Each part may take up to 2 s to answer: a time-out middleware may have answered meanwhile,
    // and a late write would throw ERR_HTTP_HEADERS_SENT from a promise no one awaits, which ends
    // the process.
    verifier
      .health()
      .then(
        (report) => {
          if (res.headersSent) return
          res.status(report.ok ? 200 : 503).json(details ? report : { ok: report.ok })
        },
        () => {
          // The report gathers its parts' failures itself; a failure here is a bug, not an outage
          // to describe to a caller.
          if (res.headersSent) return
          res.status(503).json({ ok: false })
        },
      )
      // A failure to write (a report that cannot be serialised, say) goes to Express's error
      // handlers, as Express 5 does for a handler's rejected promise: the last one closes a
      // response already started.
      .catch(next)
  }
}

function resolve(problems: Problems, source: HealthSource): Pick<Verifier, 'health'> | undefined {
  const candidate: unknown = source
  const isObject =
    typeof candidate === 'function' || (typeof candidate === 'object' && candidate !== null)
  if (isObject && 'verifier' in candidate) {
    return (candidate as { verifier: Verifier | undefined }).verifier
  }
  if (isObject && typeof (candidate as { health?: unknown }).health === 'function') {
    return candidate as Pick<Verifier, 'health'>
  }
  problems.add('healthHandler needs a verifier (createVerifier) or the middleware jwtAuth returned')
  return undefined
}

/** Whether to answer the whole report; anything but a boolean is refused, never read as "yes". */
function resolveDetails(problems: Problems, options: HealthHandlerOptions): boolean {
  const given: unknown = options
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    problems.add('healthHandler options must be an object ({ details })')
    return false
  }
  for (const name of Object.keys(given)) {
    if (!OPTION_NAMES.has(name)) {
      problems.add(
        `healthHandler has no option ${JSON.stringify(name)}: its only option is details`,
      )
    }
  }
  const { details } = given as { details?: unknown }
  if (details !== undefined && typeof details !== 'boolean') {
    problems.add('healthHandler option details must be true or false')
  }
  return details !== false
}

// healthHandler(): the verifier's health report as an Express route: 200 when it can serve, else 503.

import type { Request, RequestHandler, Response } from 'express'
import { ConfigError } from './errors.js'
import type { HealthReport } from './health.js'
import type { Verifier } from './pipeline.js'

/** Options of {@link healthHandler}. */
export interface HealthHandlerOptions {
  /**
   * Answer the whole report (providers' key sets with their JWKS URIs and last errors, caches,
   * revocation store). `false` answers `{ ok }` only, for a probe reachable from outside.
   * Default `true`.
   */
  details?: boolean
}

/** What the handler reads the report from: a verifier, or the middleware `jwtAuth` returned. */
export type HealthSource = Pick<Verifier, 'health'> | { readonly verifier: Verifier | undefined }

/**
 * An Express handler answering the health report as JSON: 200 when every part can serve (each
 * provider holds keys, the revocation store can answer), 503 otherwise, never cached. Each
 * provider's entry gains `keyAgeSec`, the age of its key set. A shared authorization cache that is
 * down is reported (degraded) without failing the check: the sources still answer. With
 * authentication disabled (`AUTH_MIDDLEWARE_DISABLED`) it answers 200 `{ ok: true, disabled: true }`.
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
 *   the middleware of `jwtAuth`.
 */
export function healthHandler(
  source: HealthSource,
  options: HealthHandlerOptions = {},
): RequestHandler {
  const verifier = resolve(source)
  const details = options.details !== false
  return function oidcGuardHealth(_req: Request, res: Response): void {
    res.set('cache-control', 'no-store')
    if (verifier === undefined) {
      res.status(200).json({ ok: true, disabled: true })
      return
    }
    verifier.health().then(
      (report) => {
        res.status(report.ok ? 200 : 503).json(details ? withAges(report) : { ok: report.ok })
      },
      () => {
        // The report gathers its parts' failures itself; a failure here is a bug, not an outage
        // to describe to a caller.
        res.status(503).json({ ok: false })
      },
    )
  }
}

function resolve(source: HealthSource): Pick<Verifier, 'health'> | undefined {
  const candidate: unknown = source
  const isObject =
    typeof candidate === 'function' || (typeof candidate === 'object' && candidate !== null)
  if (isObject && 'verifier' in candidate) {
    return (candidate as { verifier: Verifier | undefined }).verifier
  }
  if (isObject && typeof (candidate as { health?: unknown }).health === 'function') {
    return candidate as Pick<Verifier, 'health'>
  }
  throw new ConfigError([
    'healthHandler needs a verifier (createVerifier) or the middleware jwtAuth returned',
  ])
}

function withAges(report: HealthReport): HealthReport {
  const now = Date.now()
  return {
    ...report,
    providers: report.providers.map((provider) => ({
      ...provider,
      ...(provider.fetchedAt === undefined
        ? {}
        : { keyAgeSec: Math.max(0, Math.round((now - provider.fetchedAt.getTime()) / 1000)) }),
    })),
  }
}

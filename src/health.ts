// The health report: each provider's keys, the revocation store, the authorization caches.

import type { JwtProvider, ProviderHealth } from './contracts.js'
import { safeError } from './logger.js'

/** The health of a dependency other than a provider (a revocation store, a shared cache). */
export interface ComponentHealth {
  readonly ok: boolean
  readonly detail?: string | undefined
}

/** What `verifier.health()` reports; `ok` is false when any part cannot serve. */
export interface HealthReport {
  readonly ok: boolean
  readonly providers: ReadonlyArray<ProviderHealth & { name: string; issuers: readonly string[] }>
  readonly tokenCache: { readonly size: number }
  readonly sourceCache: { readonly size: number; readonly shared?: ComponentHealth | undefined }
  readonly revocation?: ComponentHealth | undefined
}

/** Something that may report its health. */
export interface HasHealth {
  health?(): ComponentHealth | Promise<ComponentHealth>
}

async function componentHealth(part: HasHealth | undefined): Promise<ComponentHealth | undefined> {
  if (part === undefined || typeof part.health !== 'function') return undefined
  try {
    return await part.health()
  } catch (error) {
    // Scrubbed: the report may be served, and a store's error text may carry a URL's password.
    return { ok: false, detail: safeError(error).message }
  }
}

/** Gathers the report; a part that throws while reporting is reported as not ok. */
export async function healthReport(parts: {
  providers: readonly JwtProvider[]
  tokenCacheSize: number
  sourceCacheSize: number
  shared: HasHealth | undefined
  revocation: HasHealth | undefined
}): Promise<HealthReport> {
  const providers = parts.providers.map((provider) => ({
    name: provider.name,
    issuers: provider.issuers,
    ...(provider.health?.() ?? { ok: true, keyCount: 0 }),
  }))
  const [shared, revocation] = await Promise.all([
    componentHealth(parts.shared),
    componentHealth(parts.revocation),
  ])
  const ok =
    providers.every((provider) => provider.ok) && (revocation?.ok ?? true) && (shared?.ok ?? true)
  return {
    ok,
    providers,
    tokenCache: { size: parts.tokenCacheSize },
    sourceCache: { size: parts.sourceCacheSize, shared },
    revocation,
  }
}

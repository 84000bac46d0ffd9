// The health report: each provider's keys, the revocation store, the authorization caches.

import type { JwtProvider, ProviderHealth } from './contracts.js'
import { safeError } from './logger.js'

/** The health of a dependency other than a provider (a revocation store, a shared cache). */
export interface ComponentHealth {
  readonly ok: boolean
  readonly detail?: string | undefined
}

/** A provider's entry of the report: its health, its names, and the age of its key set. */
export type ProviderReport = ProviderHealth & {
  readonly name: string
  readonly issuers: readonly string[]
  /** Seconds since `fetchedAt`, when the provider holds keys. */
  readonly keyAgeSec?: number | undefined
}

/**
 * What `verifier.health()` reports; `ok` is false when a part requests need cannot serve (a
 * provider, the revocation store). The shared source cache is reported but never counts: while it
 * is down the sources still answer, so it is degraded, not a reason to leave the load balancer.
 */
export interface HealthReport {
  readonly ok: boolean
  readonly providers: readonly ProviderReport[]
  readonly tokenCache: { readonly size: number }
  readonly sourceCache: { readonly size: number; readonly shared?: ComponentHealth | undefined }
  readonly revocation?: ComponentHealth | undefined
}

/** Something that may report its health. */
export interface HasHealth {
  health?(): ComponentHealth | Promise<ComponentHealth>
}

const BAD_ANSWER = 'health() answered neither { ok: true } nor { ok: false }'

/**
 * Longest wait for one part's `health()`, in milliseconds: a store whose database hangs (a dropped
 * SYN, a lock) must not hang the readiness probe with it. Past it the part is reported not ok.
 */
export const HEALTH_TIMEOUT_MS = 2_000
const NO_ANSWER = `health() did not answer within ${HEALTH_TIMEOUT_MS} ms`

/**
 * What `ask()` answers, or a rejection saying so once {@link HEALTH_TIMEOUT_MS} has passed. The
 * timer is cleared when the answer comes, and never keeps the process alive.
 */
async function withinLimit<T>(ask: () => T | Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(NO_ANSWER)), HEALTH_TIMEOUT_MS)
    timer.unref?.()
  })
  try {
    // A synchronous throw becomes a rejection, reported like any other.
    return await Promise.race([new Promise<T>((resolve) => resolve(ask())), late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A part's health as reported. Its text is scrubbed: the report may be served, and a store's own
 * text (it is user code) may carry a URL's password. An answer outside the contract (`false`,
 * `{ ok: undefined }`), or none within {@link HEALTH_TIMEOUT_MS}, is not ok, as `isRevoked`
 * answering outside its own is an outage.
 */
async function componentHealth(part: HasHealth | undefined): Promise<ComponentHealth | undefined> {
  if (part === undefined || typeof part.health !== 'function') return undefined
  let answer: unknown
  try {
    answer = await withinLimit(() => part.health!())
  } catch (error) {
    return { ok: false, detail: safeError(error).message }
  }
  if (typeof answer !== 'object' || answer === null) return { ok: false, detail: BAD_ANSWER }
  const { ok, detail } = answer as { ok?: unknown; detail?: unknown }
  if (typeof ok !== 'boolean') return { ok: false, detail: BAD_ANSWER }
  return detail === undefined ? { ok } : { ok, detail: scrubbed(detail) }
}

function scrubbed(text: unknown): string {
  return safeError(String(text)).message
}

/**
 * A provider's health as reported: a `health()` that throws, rejects (a provider written in
 * JavaScript may answer a promise) or does not answer within {@link HEALTH_TIMEOUT_MS} is not ok,
 * with what it threw scrubbed as its `lastError`.
 */
async function providerHealth(provider: JwtProvider): Promise<ProviderHealth> {
  if (provider.health === undefined) return { ok: true, keyCount: 0 }
  try {
    return (await withinLimit(() => provider.health!())) ?? { ok: true, keyCount: 0 }
  } catch (error) {
    return { ok: false, keyCount: 0, lastError: safeError(error).message }
  }
}

/** A provider's entry: its `lastError` scrubbed (a fetch's error may name a proxy's password). */
async function providerReport(provider: JwtProvider, now: number): Promise<ProviderReport> {
  const health = await providerHealth(provider)
  const { fetchedAt, lastError } = health
  return {
    name: provider.name,
    issuers: provider.issuers,
    ...health,
    ...(lastError === undefined ? {} : { lastError: scrubbed(lastError) }),
    ...(fetchedAt instanceof Date
      ? { keyAgeSec: Math.max(0, Math.round((now - fetchedAt.getTime()) / 1000)) }
      : {}),
  }
}

/**
 * Gathers the report; a part that throws while reporting is reported as not ok. The shared cache's
 * health is reported as it answers but left out of `ok`: a shared tier that is down (or a custom
 * one whose `health()` says so, throws or hangs) costs lookups, not answers, and failing the
 * readiness probe for it would take every instance out of service at once.
 */
export async function healthReport(parts: {
  providers: readonly JwtProvider[]
  tokenCacheSize: number
  sourceCacheSize: number
  shared: HasHealth | undefined
  revocation: HasHealth | undefined
}): Promise<HealthReport> {
  const now = Date.now()
  const [providers, shared, revocation] = await Promise.all([
    Promise.all(parts.providers.map((provider) => providerReport(provider, now))),
    componentHealth(parts.shared),
    componentHealth(parts.revocation),
  ])
  const ok = providers.every((provider) => provider.ok === true) && (revocation?.ok ?? true)
  return {
    ok,
    providers,
    tokenCache: { size: parts.tokenCacheSize },
    sourceCache: { size: parts.sourceCacheSize, shared },
    revocation,
  }
}

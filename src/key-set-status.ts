// What a health report says of one key set: its status, and why a set verifies nothing.

import type { SkippedKey } from './key-set.js'

/** What `JwksCache.status()` reports of one key set (for health checks). */
export interface KeySetStatus {
  readonly keyCount: number
  readonly fetchedAt: Date | undefined
  readonly lastError: string | undefined
}

/** Why a set of no usable key verifies nothing: empty, or the reasons its members were skipped. */
export function describeNoUsableKey(skipped: readonly SkippedKey[]): string {
  if (skipped.length === 0) return 'the JWK Set holds no usable key (it is empty)'
  // The reasons are a few fixed texts (key-set.ts), so listing the distinct ones stays short.
  const reasons = [...new Set(skipped.map((key) => key.reason))].join('; ')
  return `the JWK Set holds no usable key (${skipped.length} skipped: ${reasons})`
}

/** Why a set that had keys reports none: they outlived the refresh interval plus `staleIfErrorMs`. */
export const STALE_KEYS_DROPPED =
  'keys expired: not refreshed within the refresh interval plus staleIfErrorMs'

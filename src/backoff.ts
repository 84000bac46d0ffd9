// Retry timing shared by the key cache and discovery: elapsed time and the failure back-off.

/**
 * Time since `since`; infinite when the wall clock has stepped back past it (NTP, a resumed VM),
 * so a backwards step lets one fetch through instead of blocking refetches for as long as the step.
 */
export function elapsed(now: number, since: number): number {
  return now >= since ? now - since : Number.POSITIVE_INFINITY
}

/**
 * Wait before the next attempt after `failures` failures in a row: `firstMs`, doubling up to
 * `maxMs`, never beyond (the key cache refuses a `failureBackoffMs` above its cooldown, and a
 * first wait above the most must not stretch it either).
 */
export function backoffMs(failures: number, firstMs: number, maxMs: number): number {
  if (failures === 0) return 0
  return Math.min(firstMs * 2 ** (failures - 1), maxMs)
}

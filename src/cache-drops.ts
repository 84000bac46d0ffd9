// Loads through an lru-cache that survive the cache dropping them: clear(), delete(), eviction.

// The reasons lru-cache gave when it aborted a pending load (its key deleted or evicted): it
// rejects everyone waiting on that load with the reason itself, which is how they are told apart
// from a failure of the load.
const droppedLoads = new WeakSet<object>()

/**
 * Called first in a cache's `fetchMethod` with its signal: remembers the reason if lru-cache
 * aborts the load, so that {@link isDroppedLoad} knows the rejection for its own.
 */
export function noteDrop(signal: AbortSignal): void {
  signal.addEventListener(
    'abort',
    () => {
      const reason: unknown = signal.reason
      if (typeof reason === 'object' && reason !== null) droppedLoads.add(reason)
    },
    { once: true },
  )
}

/**
 * Whether a load's rejection is lru-cache dropping it (see {@link noteDrop}), not its failure:
 * the cache's doing, so the caller starts the load again (once; then without the cache).
 */
export function isDroppedLoad(error: unknown): boolean {
  return typeof error === 'object' && error !== null && droppedLoads.has(error)
}

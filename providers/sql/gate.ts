// A bounded gate in front of a connection pool: so many at once, so many waiting, so long a wait.
// Also the two bounds on a caller's wait for one task: a deadline and an abort signal.

/** Why the gate refused a task: too many waiting, or no slot freed in time. */
export class GateRefusedError extends Error {
  override readonly name = 'GateRefusedError'
}

interface Waiter {
  readonly admit: () => void
}

/**
 * Lets at most `size` tasks run at once (one per pooled connection). A task that finds every
 * slot busy waits at most `acquireTimeoutMs`, and at most `maxWaiting` tasks wait: beyond that
 * the task is refused at once. So when the database is slow or gone, callers get an error within
 * a bound instead of piling up behind the pool. A waiter whose `signal` aborts leaves the queue.
 */
export class Gate {
  readonly size: number
  readonly maxWaiting: number
  readonly acquireTimeoutMs: number
  #active = 0
  readonly #queue: Waiter[] = []

  constructor(options: { size: number; maxWaiting: number; acquireTimeoutMs: number }) {
    this.size = options.size
    this.maxWaiting = options.maxWaiting
    this.acquireTimeoutMs = options.acquireTimeoutMs
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#queue.length
  }

  /**
   * Runs `task` once a slot is free; the slot is held until the task settles.
   *
   * @throws {GateRefusedError} when too many tasks wait, or no slot frees within the time-out.
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal)
    try {
      return await task()
    } finally {
      release()
    }
  }

  /**
   * Takes a slot once one is free, for a task whose end the caller tracks itself; resolves to the
   * function that gives the slot back (calling it again does nothing).
   *
   * @throws {GateRefusedError} when too many tasks wait, or no slot frees within the time-out.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    await this.#acquire(signal)
    let held = true
    return () => {
      if (!held) return
      held = false
      this.#release()
    }
  }

  #acquire(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted()
    if (this.#active < this.size) {
      this.#active += 1
      return Promise.resolve()
    }
    if (this.#queue.length >= this.maxWaiting) {
      return Promise.reject(
        new GateRefusedError(
          `${this.maxWaiting} lookups already wait for one of the ${this.size} database connections`,
        ),
      )
    }
    return new Promise<void>((resolve, reject) => {
      const leave = (): void => {
        const index = this.#queue.indexOf(waiter)
        if (index >= 0) this.#queue.splice(index, 1)
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      const onAbort = (): void => {
        leave()
        reject(signal?.reason)
      }
      const waiter: Waiter = {
        admit: () => {
          leave()
          this.#active += 1
          resolve()
        },
      }
      const timer = setTimeout(() => {
        leave()
        reject(
          new GateRefusedError(
            `no database connection became free within ${this.acquireTimeoutMs} ms (pool size ${this.size})`,
          ),
        )
      }, this.acquireTimeoutMs)
      timer.unref?.()
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#queue.push(waiter)
    })
  }

  #release(): void {
    this.#active -= 1
    this.#queue[0]?.admit()
  }
}

/** Settles like `promise`, or rejects with `message` after `ms`; a late failure is swallowed. */
export function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
    timer.unref?.()
  })
  promise.catch(() => undefined)
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/** Settles like `promise`, or rejects with the reason of `signal` as soon as it aborts. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  promise.catch(() => undefined)
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  return Promise.race([promise, aborted]).finally(() =>
    signal.removeEventListener('abort', onAbort!),
  )
}

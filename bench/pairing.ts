// How the micro benchmark measures a verifier against the raw limit: paired slices of CPU time.

/** A verifier under measurement. */
export interface Candidate {
  name: string
  /** Synchronous checks run in a plain loop; asynchronous ones are awaited one at a time. */
  async: boolean
  check: (token: string, index: number) => unknown
}

/** Calls made and the CPU microseconds they took. */
export interface Sample {
  calls: number
  micros: number
}

/** A clock of CPU microseconds; the tests give a fake one. */
export type CpuClock = () => number

// Each candidate's budget is cut into slices, each paired with a slice of the raw limit right
// beside it, so that both see the same machine. Measured once per round instead, the raw limit
// and a candidate measured seconds later drifted apart on a shared virtual machine: one run's
// median of per-round ratios said 73% where its ratio of medians said 81%.
export const SLICE_SECONDS = 0.1

/**
 * CPU time this process used (all threads, user + system), in microseconds. CPU time, not wall
 * time: on a machine shared with other work, time the process spends descheduled does not count.
 */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage()
  return user + system
}

/** Runs `check` over the tokens, from token `first` on, for about `seconds` of CPU time. */
export async function measure(
  candidate: Candidate,
  tokens: readonly string[],
  seconds: number,
  first = 0,
  clock: CpuClock = cpuMicros,
): Promise<Sample> {
  const budget = seconds * 1e6
  const start = clock()
  let calls = 0
  for (;;) {
    for (let batch = 0; batch < 64; batch += 1) {
      const index = (first + calls) % tokens.length
      const outcome = candidate.check(tokens[index]!, index)
      if (candidate.async) await outcome
      else if (outcome === false) throw new Error(`${candidate.name} refused a valid token`)
      calls += 1
    }
    const elapsed = clock() - start
    if (elapsed >= budget) return { calls, micros: elapsed }
  }
}

/** Calls per CPU second of samples taken together. */
export function rateOf(samples: readonly Sample[]): number {
  let calls = 0
  let micros = 0
  for (const sample of samples) {
    calls += sample.calls
    micros += sample.micros
  }
  return (calls * 1e6) / micros
}

/**
 * One round of `candidate` against the raw limit: slices of each in turn (which goes first
 * alternates), each on the tokens the last one left off at. Returns both rates over the round.
 */
export async function paired(
  candidate: Candidate,
  raw: Candidate,
  tokens: readonly string[],
  seconds: number,
  clock: CpuClock = cpuMicros,
): Promise<{ rate: number; rawRate: number }> {
  const slices = Math.max(1, Math.round(seconds / SLICE_SECONDS))
  const sliceSeconds = seconds / slices
  const own: Sample[] = []
  const limit: Sample[] = []
  let next = 0
  let nextRaw = 0
  for (let slice = 0; slice < slices; slice += 1) {
    for (const which of slice % 2 === 0 ? [raw, candidate] : [candidate, raw]) {
      const sample = await measure(
        which,
        tokens,
        sliceSeconds,
        which === raw ? nextRaw : next,
        clock,
      )
      if (which === raw) {
        nextRaw += sample.calls
        limit.push(sample)
      } else {
        next += sample.calls
        own.push(sample)
      }
    }
  }
  return { rate: rateOf(own), rawRate: rateOf(limit) }
}

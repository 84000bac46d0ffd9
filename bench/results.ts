// The shape of bench/results/*.json and the medians and ratios computed from its runs.

import { PEERS, type Algorithm, type Mode, type TargetName } from './shared.js'

/** Where and when the numbers were measured. */
export interface Machine {
  date: string
  node: string
  cpu: string
  cpuCount: number
  memoryGiB: number
  kernel: string
  /** 1-minute load average before and after: above ~0.2 means other work shared the machine. */
  loadBefore: number
  loadAfter: number
  versions: Record<string, string>
  commit: string
}

/** One measured run of one target in one mode. */
export interface RunRecord {
  cores: 1 | 2
  alg: Algorithm
  mode: Mode
  target: TargetName
  round: number
  /** False when a response had an unexpected status, a request failed, or the server crashed. */
  ok: boolean
  failure?: string
  requests: number
  requestsPerSec: number
  p50Ms: number
  p99Ms: number
  /** Server CPU time (user + system, all threads) over the measured window, per request. */
  cpuMicrosPerRequest: number
  /** Server RSS at the end of the measured window. */
  rssMiB: number
  /** JWKS requests the issuer received from this server, from its start to the end of the run. */
  jwksFetches: number
  statuses: Record<string, number>
  unexpected: Record<string, number>
  /** Cold mode: requests beyond the pool size reused a token (still a miss for every cache). */
  poolWrapped?: boolean
}

/** The median over rounds of one target in one mode. */
export interface Summary {
  cores: 1 | 2
  alg: Algorithm
  mode: Mode
  target: TargetName
  ok: boolean
  failure?: string
  rounds: number
  requestsPerSec: number
  p50Ms: number
  p99Ms: number
  cpuMicrosPerRequest: number
  rssMiB: number
  jwksFetches: number
  /** requests/s ÷ the no-auth app's, same mode and configuration. */
  ratioToCeiling?: number
  /** requests/s ÷ the best peer's that did not fail. */
  ratioToBestPeer?: number
}

/** Verifications per second of one verifier, without HTTP. */
export interface MicroRecord {
  alg: Algorithm
  name: string
  opsPerSec: number
  /** opsPerSec ÷ raw synchronous `crypto.verify` with a KeyObject, same algorithm. */
  percentOfRaw: number
}

/** RSS over a flood of distinct tokens. */
export interface MemoryRecord {
  target: TargetName
  garbageTokens: number
  validTokens: number
  samples: { requests: number; phase: 'garbage' | 'valid'; rssMiB: number }[]
  startRssMiB: number
  peakRssMiB: number
  endRssMiB: number
  ok: boolean
  unexpected: Record<string, number>
  requestsPerSec: number
}

export interface Results {
  machine: Machine
  options: Record<string, unknown>
  runs: RunRecord[]
  summary: Summary[]
  micro: MicroRecord[]
  memory?: MemoryRecord[]
}

/** Whether a results file holds anything measured: HTTP runs, the micro benchmark or memory. */
export function hasMeasurements(results: Pick<Results, 'runs' | 'micro' | 'memory'>): boolean {
  return results.runs.length > 0 || results.micro.length > 0 || (results.memory?.length ?? 0) > 0
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

function groupKey(run: Pick<RunRecord, 'cores' | 'alg' | 'mode' | 'target'>): string {
  return `${run.cores}|${run.alg}|${run.mode}|${run.target}`
}

/** Medians per (cores, alg, mode, target); a cell with any failed round is failed, not reported. */
export function summarise(runs: readonly RunRecord[]): Summary[] {
  const groups = new Map<string, RunRecord[]>()
  for (const run of runs) {
    const key = groupKey(run)
    groups.set(key, [...(groups.get(key) ?? []), run])
  }
  const summaries: Summary[] = []
  for (const group of groups.values()) {
    const first = group[0]!
    const failed = group.find((run) => !run.ok)
    const of = (pick: (run: RunRecord) => number): number => median(group.map(pick))
    summaries.push({
      cores: first.cores,
      alg: first.alg,
      mode: first.mode,
      target: first.target,
      ok: failed === undefined,
      ...(failed?.failure === undefined ? {} : { failure: failed.failure }),
      rounds: group.length,
      requestsPerSec: of((run) => run.requestsPerSec),
      p50Ms: of((run) => run.p50Ms),
      p99Ms: of((run) => run.p99Ms),
      cpuMicrosPerRequest: of((run) => run.cpuMicrosPerRequest),
      rssMiB: of((run) => run.rssMiB),
      jwksFetches: of((run) => run.jwksFetches),
    })
  }
  for (const summary of summaries) {
    const same = summaries.filter(
      (other) =>
        other.cores === summary.cores && other.alg === summary.alg && other.mode === summary.mode,
    )
    const ceiling = same.find((other) => other.target === 'no-auth' && other.ok)
    if (ceiling !== undefined)
      summary.ratioToCeiling = summary.requestsPerSec / ceiling.requestsPerSec
    const peers = same.filter((other) => PEERS.includes(other.target) && other.ok)
    const best = Math.max(...peers.map((peer) => peer.requestsPerSec))
    if (peers.length > 0) summary.ratioToBestPeer = summary.requestsPerSec / best
  }
  return summaries
}

/** One round of one configuration and mode: the runs that succeeded, by target. */
export type Round = ReadonlyMap<TargetName, RunRecord>

/**
 * The rounds of one configuration and mode, in order. Targets of a round are measured in slices
 * taken in turn, so comparing them within a round cancels the drift of a shared machine that
 * medians over rounds keep.
 */
export function roundsOf(
  runs: readonly RunRecord[],
  cores: 1 | 2,
  alg: Algorithm,
  mode: Mode,
): Round[] {
  const byRound = new Map<number, Map<TargetName, RunRecord>>()
  for (const run of runs) {
    if (run.cores !== cores || run.alg !== alg || run.mode !== mode || !run.ok) continue
    const round = byRound.get(run.round) ?? new Map<TargetName, RunRecord>()
    byRound.set(run.round, round.set(run.target, run))
  }
  return [...byRound.entries()].sort(([a], [b]) => a - b).map(([, round]) => round)
}

/** In how many of the rounds `holds` is true, among those where it can be decided (not undefined). */
export function roundsHeld(
  rounds: readonly Round[],
  holds: (round: Round) => boolean | undefined,
): { held: number; of: number } {
  let held = 0
  let of = 0
  for (const round of rounds) {
    const verdict = holds(round)
    if (verdict === undefined) continue
    of += 1
    if (verdict) held += 1
  }
  return { held, of }
}

/** Per round, `target`'s requests/s ÷ `reference`'s, where both succeeded. */
export function roundRatios(
  rounds: readonly Round[],
  target: TargetName,
  reference: TargetName,
): number[] {
  const ratios: number[] = []
  for (const round of rounds) {
    const own = round.get(target)
    const other = round.get(reference)
    if (own !== undefined && other !== undefined)
      ratios.push(own.requestsPerSec / other.requestsPerSec)
  }
  return ratios
}

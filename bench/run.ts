// `npm run bench`: oidc-guard and its peers side by side behind the same Express app, one local
// issuer, the load generator and each server in separate processes on separate cores.

import { mkdirSync, readFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { buildScripts } from './build.js'
import type { IssuerReady } from './issuer.js'
import { combineLoads, load, loadProblems, type LoadOptions, type LoadResult } from './load.js'
import { runMemory } from './memory.js'
import { parseOptions, type BenchOptions } from './options.js'
import { cpuMicros, pinSelf, ROOT, rssMiB, startProcess, type Started } from './processes.js'
import {
  addRound,
  checkPerf,
  compareCategories,
  recordPerf,
  removePerfMap,
  summarisePerf,
  type MeasuredWindow,
  type PerfProfile,
} from './perf.js'
import { summariseProfiles } from './profile.js'
import { markdownTables } from './report.js'
import { shortCommit, writeResultsFile } from './repository.js'
import {
  hasMeasurements,
  summarise,
  type Machine,
  type MicroRecord,
  type Results,
  type RunRecord,
} from './results.js'
import {
  AUDIENCE,
  expectedStatuses,
  type Mode,
  type Setup,
  type ServerEnv,
  type TargetName,
  type TokenKind,
} from './shared.js'
import { contenderStreams, fetchPools, type NextToken, type TokenPools } from './tokens.js'

const DISTINCT_TOKENS = 10_000
// Above twice oidc-guard's default token cache (10,000, LRU): cycling it misses every time.
const MIN_COLD_TOKENS = 25_000
// The fastest cold target measured (~9,000 req/s on two cores, the fastest machine): see coldPoolSize.
const COLD_TOKENS_PER_SECOND = 9_000
const SIGNED_BAD_TOKENS = 300
// The second warm-up, on new connections (see warmUp).
const REWARM_SECONDS = 0.5
// Warm-ups are taken in turn in pieces of at most this many requests, or SLICE_SECONDS (see warmUp).
const WARM_UP_PIECE_REQUESTS = 1_000
// A round's measured window of each target is cut into slices of about this length, taken in turn.
const SLICE_SECONDS = 0.5
// How far a slice may run past its length: autocannon ends a load at its next sample (SAMPLE_MS),
// and opening 64 connections and the event loop's lag add some (0.01–0.13 s measured).
const SLICE_OVERRUN_SECONDS = 0.1
const PEER_PACKAGES = [
  'express',
  'express-oauth2-jwt-bearer',
  'express-jwt',
  'jwks-rsa',
  'aws-jwt-verify',
  'jose',
  'lru-cache',
  'autocannon',
]

function log(message: string): void {
  process.stderr.write(`${message}\n`)
}

function packageVersion(name: string): string {
  const file = join(ROOT, 'node_modules', name, 'package.json')
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
}

function describeMachine(loadBefore: number): Machine {
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const commit = shortCommit()
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpuCount: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    loadBefore,
    loadAfter: loadBefore,
    versions: Object.fromEntries(PEER_PACKAGES.map((name) => [name, packageVersion(name)])),
    commit: `oidc-guard ${own.version} (${commit})`,
  }
}

/** JWKS fetches made through each target's own JWKS URI since the last reset, by target. */
async function jwksFetches(control: string): Promise<Partial<Record<TargetName, number>>> {
  return (await (await fetch(`${control}/counts`)).json()) as Partial<Record<TargetName, number>>
}

type RunPlan = Pick<RunRecord, 'cores' | 'alg' | 'mode' | 'target' | 'round'>

function failedRun(base: RunPlan, failure: string): RunRecord {
  return {
    ...base,
    ok: false,
    failure: failure.slice(0, 500),
    requests: 0,
    requestsPerSec: 0,
    p50Ms: 0,
    p99Ms: 0,
    cpuMicrosPerRequest: 0,
    rssMiB: 0,
    jwksFetches: 0,
    statuses: {},
    unexpected: {},
  }
}

/**
 * How long a run warms up: `warmup` seconds, except where a token cache must be filled first (as
 * it would be after the first minutes in production, where each token has come back many times):
 * two full passes over the 10,000 distinct tokens, which the garbage mode sends on every other
 * request (oidc-guard completes an entry at a token's second use, when it keeps the user mapped
 * from its claims). The cold mode makes one pass of tokens it never sends again, so that it
 * measures a server whose cache is full and evicts one token per new token, not one still growing
 * its heap to the cache's size.
 */
function warmUpLength(
  mode: Mode,
  options: BenchOptions,
): { amount: number } | { duration: number } {
  if (options.quick) return { duration: options.warmup } // A smoke run: caches stay part-filled.
  if (mode === 'cold') return { amount: DISTINCT_TOKENS }
  if (mode === 'distinct') return { amount: 2 * DISTINCT_TOKENS }
  if (mode === 'garbage') return { amount: 4 * DISTINCT_TOKENS }
  return { duration: options.warmup }
}

/** What a profile adds to a run: options for the server's node, a recorder of the measured window. */
interface Observer {
  nodeOptions?: string[]
  /** Called before the measured window; what it returns, after it, with the window's figures. */
  measuredWindow?: (pid: number) => Promise<(window: MeasuredWindow) => Promise<void>>
}

/** One target's server of a round, warmed up, with what its measured window has loaded so far. */
interface Contender {
  target: TargetName
  server: Started<{ port: number }>
  common: Omit<LoadOptions, 'next' | 'duration' | 'amount'>
  /** The warm-up's tokens, continued from piece to piece (see warmUp). */
  warmUp: () => NextToken
  /** The mode's tokens, continued from slice to slice. */
  next: () => NextToken
  slices: LoadResult[]
  cpuMicros: number
  problems: string[]
}

/** Starts `target`'s server on `cores`, its key set behind its own JWKS URI; {@link warmUp} next. */
async function startContender(
  options: BenchOptions,
  setup: Setup,
  pools: TokenPools,
  plan: { cores: 1 | 2; mode: Mode; target: TargetName },
  observe: Observer,
): Promise<Contender> {
  const { cores, mode, target } = plan
  const env: ServerEnv = {
    BENCH_ISSUER: setup.issuer.issuer,
    BENCH_JWKS_URI: `${setup.issuer.control}/jwks/${target}`,
    BENCH_AUDIENCE: AUDIENCE,
    BENCH_ALGORITHMS: pools.alg,
  }
  const server = await startProcess<{ port: number }>(setup.servers[target]!, {
    cores: cores === 1 ? '1' : '0,1',
    env: { ...env },
    nodeOptions: observe.nodeOptions ?? [],
  })
  const streams = contenderStreams(mode, pools)
  return {
    target,
    server,
    common: {
      url: `http://127.0.0.1:${server.ready.port}/`,
      expected: (kind: TokenKind) => expectedStatuses(target, kind),
      connections: options.connections,
    },
    warmUp: streams.warmUp,
    next: streams.window,
    slices: [],
    cpuMicros: 0,
    problems: [],
  }
}

/**
 * Warms the contenders up, taking turns in pieces of at most WARM_UP_PIECE_REQUESTS requests (or
 * SLICE_SECONDS): JIT, the key set, a full token cache; the cold mode warms up on other tokens.
 * Then a little more on new connections: the first connections' close and the next ones' open
 * take paths of Node's http and stream code that its optimized code has not seen, and dozens of
 * functions are deoptimized and recompiled (--trace-deopt), in every target alike.
 *
 * In turns, so that no server idles long before it is measured. Warmed up one after the other,
 * the first servers idled through the others' warm-ups, 20 s and more, and V8's memory reducer,
 * which acts on a heap left alone for about 8 s, shrank their heaps: seven copies of one server
 * measured up to 1.5 times slower the earlier they had been started (as fast as the others with
 * `--no-memory-reducer`). With three rounds, rotating the order by one a round, oidc-guard, third
 * in the list, was among the first three in every round.
 */
async function warmUp(
  contenders: readonly Contender[],
  mode: Mode,
  options: BenchOptions,
  fail: (contender: Contender, error: unknown) => void,
): Promise<void> {
  const length = warmUpLength(mode, options)
  const byRequests = 'amount' in length
  const pieceSize = byRequests ? WARM_UP_PIECE_REQUESTS : SLICE_SECONDS
  const left = new Map(
    contenders.map((contender) => [contender, byRequests ? length.amount : length.duration]),
  )
  const failed = new Set<Contender>()
  const warming = async (
    contender: Contender,
    piece: { amount: number } | { duration: number },
  ) => {
    try {
      const result = await load({ ...contender.common, next: contender.warmUp, ...piece })
      contender.problems.push(...loadProblems([result]))
      return true
    } catch (error) {
      failed.add(contender)
      fail(contender, error)
      left.delete(contender)
      return false
    }
  }
  while (left.size > 0) {
    for (const [contender, rest] of left) {
      const size = Math.min(rest, pieceSize)
      if (!(await warming(contender, byRequests ? { amount: size } : { duration: size }))) continue
      if (rest - size > 0) left.set(contender, rest - size)
      else left.delete(contender)
    }
  }
  for (const contender of contenders) {
    if (failed.has(contender)) continue
    await warming(contender, { duration: REWARM_SECONDS })
  }
}

/** Loads a contender for `seconds` more of its measured window. */
async function measureSlice(contender: Contender, seconds: number): Promise<LoadResult> {
  const cpuBefore = cpuMicros(contender.server.pid)
  const slice = await load({ ...contender.common, next: contender.next, duration: seconds })
  contender.cpuMicros += cpuMicros(contender.server.pid) - cpuBefore
  contender.slices.push(slice)
  return slice
}

/** How many slices a measured window of `duration` seconds is cut into, each about SLICE_SECONDS. */
function sliceCount(duration: number): number {
  return Math.max(1, Math.round(duration / SLICE_SECONDS))
}

/**
 * The cold mode's pool: enough tokens that its fastest target does not wrap within a measured
 * window. Every request of the window draws a token, and so does each request still in flight when
 * a slice ends (at most one per connection and slice); each slice may run a little past its length
 * (SLICE_OVERRUN_SECONDS). At least MIN_COLD_TOKENS, so that the pool defeats a cache.
 */
function coldPoolSize(options: Pick<BenchOptions, 'duration' | 'connections'>): number {
  const slices = sliceCount(options.duration)
  const seconds = options.duration + slices * SLICE_OVERRUN_SECONDS
  const tokens = Math.ceil(seconds * COLD_TOKENS_PER_SECOND) + slices * options.connections
  return Math.max(MIN_COLD_TOKENS, tokens)
}

/** A contender's record of the round: its slices taken as one window (see combineLoads). */
function recordOf(
  contender: Contender,
  plan: RunPlan,
  fetches: number,
  coldPool: number,
): RunRecord {
  const window = combineLoads(contender.slices)
  const problems = [...contender.problems, ...loadProblems([window])]
  return {
    ...plan,
    ok: problems.length === 0,
    ...(problems.length === 0 ? {} : { failure: `unexpected ${problems.join(', ')}` }),
    requests: window.requests,
    requestsPerSec: window.requestsPerSec,
    p50Ms: window.p50Ms,
    p99Ms: window.p99Ms,
    cpuMicrosPerRequest: contender.cpuMicros / Math.max(1, window.requests),
    rssMiB: rssMiB(contender.server.pid),
    jwksFetches: fetches,
    statuses: window.statuses,
    unexpected: window.unexpected,
    // Tokens drawn, not requests answered: those in flight at each slice's end used theirs too.
    ...(plan.mode === 'cold' ? { poolWrapped: window.sent > coldPool } : {}),
  }
}

/** Starts one target's server, warms it up, measures it in one window, stops it (profiles). */
async function measure(
  options: BenchOptions,
  setup: Setup,
  pools: TokenPools,
  plan: { cores: 1 | 2; mode: Mode; target: TargetName; round: number },
  observe: Observer = {},
): Promise<RunRecord> {
  const base = { ...plan, alg: pools.alg }
  await fetch(`${setup.issuer.control}/reset`, { method: 'POST' })
  let contender: Contender | undefined
  try {
    contender = await startContender(options, setup, pools, plan, observe)
    await warmUp([contender], plan.mode, options, (_, error) => {
      throw error
    })
    const watching = await observe.measuredWindow?.(contender.server.pid)
    const window = await measureSlice(contender, options.duration)
    await watching?.({
      pid: contender.server.pid,
      requests: window.requests,
      cpuMicros: contender.cpuMicros,
    })
    const fetches = (await jwksFetches(setup.issuer.control))[plan.target] ?? 0
    return recordOf(contender, base, fetches, pools.cold.length)
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error)
    return failedRun(base, `${detail} ${contender?.server.stderr() ?? ''}`.trim())
  } finally {
    await contender?.server.stop()
  }
}

/**
 * One round of one configuration and mode: every target's server started, all warmed up in pieces
 * taken in turn (see warmUp), then all measured in slices taken in turn, so that each target's
 * window is spread over the same seconds as the others'. Measured one after another instead, targets saw different machines: on
 * a shared virtual machine the no-auth app alone measured 4,256 to 7,678 req/s across the rounds
 * of one run, and ratios between targets moved as much.
 */
async function measureRound(
  options: BenchOptions,
  setup: Setup,
  pools: TokenPools,
  plan: { cores: 1 | 2; mode: Mode; round: number },
  targets: readonly TargetName[],
): Promise<RunRecord[]> {
  await fetch(`${setup.issuer.control}/reset`, { method: 'POST' })
  const records = new Map<TargetName, RunRecord>()
  const contenders: Contender[] = []
  const baseOf = (target: TargetName): RunPlan => ({ ...plan, target, alg: pools.alg })
  try {
    for (const target of targets) {
      try {
        contenders.push(await startContender(options, setup, pools, { ...plan, target }, {}))
      } catch (error) {
        records.set(target, failedRun(baseOf(target), errorText(error)))
      }
    }
    await warmUp(contenders, plan.mode, options, (contender, error) => {
      const stderr = contender.server.stderr()
      records.set(
        contender.target,
        failedRun(baseOf(contender.target), `${errorText(error)} ${stderr}`.trim()),
      )
    })
    const slices = sliceCount(options.duration)
    const sliceSeconds = options.duration / slices
    for (let slice = 0; slice < slices; slice += 1) {
      // Each slice starts with the next contender, so that none is always first after the warm-ups.
      const shift = slice % Math.max(1, contenders.length)
      for (const contender of [...contenders.slice(shift), ...contenders.slice(0, shift)]) {
        if (records.has(contender.target)) continue
        try {
          await measureSlice(contender, sliceSeconds)
        } catch (error) {
          const stderr = contender.server.stderr()
          records.set(
            contender.target,
            failedRun(baseOf(contender.target), `${errorText(error)} ${stderr}`),
          )
        }
      }
    }
    const fetches = await jwksFetches(setup.issuer.control)
    for (const contender of contenders) {
      if (records.has(contender.target)) continue
      const base = baseOf(contender.target)
      records.set(
        contender.target,
        recordOf(contender, base, fetches[contender.target] ?? 0, pools.cold.length),
      )
    }
  } finally {
    await Promise.all(contenders.map((contender) => contender.server.stop()))
  }
  return targets.map((target) => records.get(target)!)
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).trim()
}

/** The targets in the order of `round` (from 1): rotated, so no target always runs first or last. */
function rotated(targets: readonly TargetName[], round: number): TargetName[] {
  const shift = (round - 1) % targets.length
  return [...targets.slice(shift), ...targets.slice(0, shift)]
}

/** Every configuration, round and mode of the plan, each a round of all targets (measureRound). */
async function runHttp(options: BenchOptions, setup: Setup): Promise<RunRecord[]> {
  const runs: RunRecord[] = []
  const coldTokens = coldPoolSize(options)
  for (const alg of options.algorithms) {
    log(`minting ${alg} tokens: ${DISTINCT_TOKENS} distinct, ${coldTokens} cold, bad ones…`)
    const pools = await fetchPools(setup.issuer.control, alg, {
      distinct: DISTINCT_TOKENS,
      cold: options.modes.includes('cold') ? coldTokens : 1,
      signedBad: SIGNED_BAD_TOKENS,
    })
    for (const cores of options.cores) {
      for (let round = 1; round <= options.rounds; round += 1) {
        for (const mode of cores === 1 ? options.modes : options.modesOnTwoCores) {
          const targets = rotated(options.targets, round)
          for (const run of await measureRound(
            options,
            setup,
            pools,
            { cores, mode, round },
            targets,
          )) {
            runs.push(run)
            const rate = run.ok
              ? `${Math.round(run.requestsPerSec)} req/s`
              : `FAILED ${run.failure}`
            log(`${alg}, ${cores} core(s), round ${round}, ${mode}, ${run.target}: ${rate}`)
          }
        }
      }
    }
  }
  return runs
}

/** `--profile MODE`: where the time goes, with node --cpu-prof or with perf. */
async function runProfile(options: BenchOptions, setup: Setup, mode: Mode): Promise<void> {
  const alg = options.algorithms[0]!
  const pools = await fetchPools(setup.issuer.control, alg, {
    distinct: DISTINCT_TOKENS,
    cold: mode === 'cold' ? coldPoolSize(options) : 1,
    signedBad: SIGNED_BAD_TOKENS,
  })
  if (options.profiler === 'perf') return runPerfProfile(options, setup, pools, mode)
  for (const target of options.targets) {
    const dir = join(ROOT, 'bench/profiles', `${target}-${mode}-${Date.now()}`)
    mkdirSync(dir, { recursive: true })
    const plan = { cores: 1 as const, mode, target, round: 1 }
    const run = await measure(options, setup, pools, plan, {
      nodeOptions: ['--cpu-prof', '--cpu-prof-dir', dir],
    })
    log(
      `${target} ${mode}: ${Math.round(run.requestsPerSec)} req/s, ${run.cpuMicrosPerRequest.toFixed(1)} CPU µs/req`,
    )
    console.log(summariseProfiles(dir, `${target}, ${mode}`, run.cpuMicrosPerRequest))
  }
}

/**
 * `--profile MODE --profiler perf`: every target in each round (interleaved, order rotated), the
 * measured window sampled by perf; prints each category's µs per request side by side, then each
 * target's costliest symbols.
 */
async function runPerfProfile(
  options: BenchOptions,
  setup: Setup,
  pools: TokenPools,
  mode: Mode,
): Promise<void> {
  checkPerf()
  const dir = join(ROOT, 'bench/profiles', `perf-${mode}-${Date.now()}`)
  mkdirSync(dir, { recursive: true })
  const profiles = new Map<TargetName, PerfProfile>(
    options.targets.map((target) => [
      target,
      { label: target, samples: [], mainThreads: new Set(), requests: 0, cpuMicros: 0 },
    ]),
  )
  for (let round = 1; round <= options.rounds; round += 1) {
    for (const target of rotated(options.targets, round)) {
      const plan = { cores: 1 as const, mode, target, round }
      let server: number | undefined
      const run = await measure(options, setup, pools, plan, {
        // V8 also writes a code-event log with --perf-basic-prof: into the profile's folder, not
        // the server's working directory (the repository root).
        nodeOptions: [
          '--perf-basic-prof',
          `--logfile=${join(dir, `${target}-${round}-v8.log`)}`,
          '--no-logfile-per-isolate',
        ],
        measuredWindow: async (pid) => {
          server = pid
          const recording = await recordPerf(pid, join(dir, `${target}-${round}.data`))
          return async (window) => addRound(profiles.get(target)!, await recording.stop(), window)
        },
      }).finally(() => server !== undefined && removePerfMap(server))
      if (!run.ok) throw new Error(`${target}, round ${round}: ${run.failure}`)
      log(
        `round ${round}, ${target} ${mode}: ${Math.round(run.requestsPerSec)} req/s, ${run.cpuMicrosPerRequest.toFixed(1)} CPU µs/req`,
      )
    }
  }
  console.log(
    `## ${mode}, ${pools.alg}, one core, ${options.rounds} round(s) (perf data in ${dir})\n`,
  )
  console.log(compareCategories([...profiles.values()]))
  for (const profile of profiles.values()) console.log(summarisePerf(profile))
}

async function runMicro(options: BenchOptions, script: string): Promise<MicroRecord[]> {
  const micro = await startProcess<{ results: MicroRecord[] }>(script, {
    cores: '1',
    args: ['--algs', 'RS256,ES256'],
    env: { BENCH_MICRO_SECONDS: String(options.quick ? 0.15 : 0.6) },
    timeoutMs: 10 * 60_000,
  })
  await micro.stop()
  return micro.ready.results
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const started = Date.now()
  const results: Results = {
    machine: describeMachine(loadavg()[0] ?? 0),
    options: { ...options },
    runs: [],
    summary: [],
    micro: [],
  }
  // The load generator (this process) and the issuer keep to core 0; servers get core 1.
  pinSelf('0')
  log('bundling the servers and the micro benchmark…')
  const scripts = await buildScripts(options.microOnly ? [] : options.targets)
  if (!options.microOnly) {
    const issuer = await startProcess<IssuerReady>('bench/issuer.ts', { cores: '0' })
    const setup: Setup = { issuer: issuer.ready, servers: scripts }
    try {
      if (options.profile !== undefined) {
        await runProfile(options, setup, options.profile)
        return
      }
      if (options.memory) results.memory = await runMemory(options, setup, log)
      else results.runs = await runHttp(options, setup)
    } finally {
      await issuer.stop()
    }
  }
  if (!options.memory && (options.micro || options.microOnly)) {
    log('micro benchmark: verifications/s without HTTP, one core…')
    results.micro = await runMicro(options, scripts.micro)
  }
  results.summary = summarise(results.runs)
  results.machine.loadAfter = loadavg()[0] ?? 0
  // A results file replaces the one before it (memory.json, micro.json, latest.json are
  // published): one in which nothing was measured would only erase them.
  if (!hasMeasurements(results)) {
    throw new Error(`nothing was measured: ${options.out} is left as it was`)
  }
  await writeResultsFile(options.out, results)
  console.log(markdownTables(results))
  log(`done in ${Math.round((Date.now() - started) / 1000)} s; results in ${options.out}`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

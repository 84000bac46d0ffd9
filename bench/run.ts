// `npm run bench`: oidc-guard and its peers side by side behind the same Express app, one local
// issuer, the load generator and each server in separate processes on separate cores.

import { mkdirSync, readFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { buildScripts } from './build.js'
import type { IssuerReady } from './issuer.js'
import { load } from './load.js'
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
import { fetchPools, tokenStream, type TokenPools } from './tokens.js'

const DISTINCT_TOKENS = 10_000
// Above twice oidc-guard's default token cache (10,000, LRU): cycling it misses every time.
const MIN_COLD_TOKENS = 25_000
// Enough for the fastest cold target (~9,000 req/s on two cores) not to wrap within a run.
const COLD_TOKENS_PER_SECOND = 9_000
const SIGNED_BAD_TOKENS = 300
// The second warm-up, on new connections (see measure).
const REWARM_SECONDS = 0.5
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

async function jwksFetches(control: string): Promise<number> {
  return ((await (await fetch(`${control}/counts`)).json()) as { jwks: number }).jwks
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

/** Starts one target's server, warms it up, measures it, stops it. */
async function measure(
  options: BenchOptions,
  setup: Setup,
  pools: TokenPools,
  plan: { cores: 1 | 2; mode: Mode; target: TargetName; round: number },
  observe: Observer = {},
): Promise<RunRecord> {
  const { cores, mode, target } = plan
  const base = { ...plan, alg: pools.alg }
  const env: ServerEnv = {
    BENCH_ISSUER: setup.issuer.issuer,
    BENCH_JWKS_URI: setup.issuer.jwksUri,
    BENCH_AUDIENCE: AUDIENCE,
    BENCH_ALGORITHMS: pools.alg,
  }
  await fetch(`${setup.issuer.control}/reset`, { method: 'POST' })
  let server: Started<{ port: number }> | undefined
  try {
    server = await startProcess<{ port: number }>(setup.servers[target]!, {
      cores: cores === 1 ? '1' : '0,1',
      env: { ...env },
      nodeOptions: observe.nodeOptions ?? [],
    })
    const common = {
      url: `http://127.0.0.1:${server.ready.port}/`,
      expected: (kind: TokenKind) => expectedStatuses(target, kind),
      connections: options.connections,
    }
    // Warm-up: JIT, the key set, a full token cache; cold mode warms up on other tokens. Then a
    // little more on new connections: the first connections' close and the next ones' open take
    // paths of Node's http and stream code that its optimized code has not seen, and dozens of
    // functions are deoptimized and recompiled (--trace-deopt), in every target alike.
    const warmTokens = tokenStream(mode === 'cold' ? 'warm-up' : mode, pools)
    const warm = await load({ ...common, next: warmTokens, ...warmUpLength(mode, options) })
    const rewarm = await load({ ...common, next: warmTokens, duration: REWARM_SECONDS })
    const watching = await observe.measuredWindow?.(server.pid)
    const cpuBefore = cpuMicros(server.pid)
    const result = await load({
      ...common,
      next: tokenStream(mode, pools),
      duration: options.duration,
    })
    const cpuAfter = cpuMicros(server.pid)
    await watching?.({
      pid: server.pid,
      requests: result.requests,
      cpuMicros: cpuAfter - cpuBefore,
    })
    const rss = rssMiB(server.pid)
    const problems = [warm, rewarm, result].flatMap((run) => [
      ...Object.entries(run.unexpected).map(([what, count]) => `${count}× ${what}`),
      ...(run.errors > 0 ? [`${run.errors} request errors`] : []),
      ...(run.timeouts > 0 ? [`${run.timeouts} timeouts`] : []),
    ])
    return {
      ...base,
      ok: problems.length === 0,
      ...(problems.length === 0 ? {} : { failure: `unexpected ${problems.join(', ')}` }),
      requests: result.requests,
      requestsPerSec: result.requestsPerSec,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      cpuMicrosPerRequest: (cpuAfter - cpuBefore) / Math.max(1, result.requests),
      rssMiB: rss,
      jwksFetches: await jwksFetches(setup.issuer.control),
      statuses: result.statuses,
      unexpected: result.unexpected,
      ...(mode === 'cold' ? { poolWrapped: result.requests > pools.cold.length } : {}),
    }
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error)
    return failedRun(base, `${detail} ${server?.stderr() ?? ''}`.trim())
  } finally {
    await server?.stop()
  }
}

/** The targets in the order of `round` (from 1): rotated, so no target always runs first or last. */
function rotated(targets: readonly TargetName[], round: number): TargetName[] {
  const shift = (round - 1) % targets.length
  return [...targets.slice(shift), ...targets.slice(0, shift)]
}

/** Every configuration, round, mode and target of the plan; targets interleaved, order rotated. */
async function runHttp(options: BenchOptions, setup: Setup): Promise<RunRecord[]> {
  const runs: RunRecord[] = []
  const coldTokens = Math.max(MIN_COLD_TOKENS, Math.ceil(options.duration * COLD_TOKENS_PER_SECOND))
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
          for (const target of rotated(options.targets, round)) {
            const run = await measure(options, setup, pools, { cores, mode, target, round })
            runs.push(run)
            const rate = run.ok
              ? `${Math.round(run.requestsPerSec)} req/s`
              : `FAILED ${run.failure}`
            log(`${alg}, ${cores} core(s), round ${round}, ${mode}, ${target}: ${rate}`)
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
    cold:
      mode === 'cold' ? Math.max(MIN_COLD_TOKENS, options.duration * COLD_TOKENS_PER_SECOND) : 1,
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
  await writeResultsFile(options.out, results)
  console.log(markdownTables(results))
  log(`done in ${Math.round((Date.now() - started) / 1000)} s; results in ${options.out}`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})

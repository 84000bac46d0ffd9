// Command-line options of `npm run bench`.

import { ALGORITHMS, MODES, TARGETS, type Algorithm, type Mode, type TargetName } from './shared.js'

/** A resolved benchmark plan. */
export interface BenchOptions {
  quick: boolean
  modes: Mode[]
  /** Modes of the two-core configuration: cold only unless --modes or --cores 2 alone is given. */
  modesOnTwoCores: Mode[]
  targets: TargetName[]
  /** Core configurations: 1 pins the server to core 1, 2 lets it use both. */
  cores: (1 | 2)[]
  algorithms: Algorithm[]
  /** Measured seconds per target and round (in slices taken in turn with the other targets). */
  duration: number
  /** Unmeasured seconds before each run (JIT, key fetch). */
  warmup: number
  rounds: number
  connections: number
  micro: boolean
  /** Only the micro benchmark. */
  microOnly: boolean
  /** Only the memory test. */
  memory: boolean
  /** Only profile oidc-guard (or `--targets`) in this mode. */
  profile?: Mode
  /** node --cpu-prof (JavaScript, once per target) or perf (everything, over the rounds). */
  profiler: 'cpu-prof' | 'perf'
  /** Results file, relative to the repository root. */
  out: string
}

export const USAGE = `npm run bench -- [options]
  --quick               short smoke run (1 round, 1 s per run, one core)
  --modes a,b           ${MODES.join(', ')} (default: all)
  --targets a,b         ${TARGETS.join(', ')} (default: all)
  --cores 1|2|1,2       server on one pinned core, on both, or both configurations (default 1,2;
                        two cores run the cold mode only, unless --modes is given)
  --algs a,b            ${ALGORITHMS.join(', ')} (default RS256)
  --duration N          measured seconds per target and round, taken in slices of 0.5 s in
                        turn with the other targets' (default 3)
  --warmup N            warm-up seconds per run (default 1.5)
  --rounds N            rounds, each with every target's server started anew, medians
                        reported (default 3)
  --connections N       concurrent connections (default 64)
  --micro               only the micro benchmark (verifications/s without HTTP); takes only
                        --quick and --out
  --no-micro            skip the micro benchmark
  --memory              only the memory test: 1,000,000 distinct garbage tokens, then 200,000
                        distinct valid ES256 tokens, RSS sampled (oidc-guard unless --targets);
                        takes only --targets, --connections, --quick and --out
  --profile MODE        profile oidc-guard (or --targets) in one MODE, on one core, with node
                        --cpu-prof; prints the costliest functions in µs per request (profiles
                        in bench/profiles/); not with --modes, --cores, --micro or --memory
  --profiler perf       profile with Linux perf instead: the measured window of each target in
                        each round (--rounds), V8's C++, garbage collection and the kernel
                        included; prints µs per request by category and by symbol
  --out FILE            results file, relative to the repository root or absolute (default
                        bench/results/latest.json; quick.json with --quick, micro.json with
                        --micro, memory.json with --memory, partial.json with --targets,
                        --modes, --cores or --algs: a subset never replaces the published run)
Options a run would ignore, and options given twice, are refused.`

export function list<T extends string>(name: string, value: string, allowed: readonly T[]): T[] {
  const items = value.split(',').filter((item) => item !== '')
  const unknown = items.filter((item) => !(allowed as readonly string[]).includes(item))
  if (unknown.length > 0 || items.length === 0) {
    throw new Error(
      `--${name}: unknown ${unknown.join(', ') || '(empty)'}; use ${allowed.join(', ')}`,
    )
  }
  // A mode or core count given twice would be measured twice a round, and a round's comparisons
  // would keep only one of the two.
  const repeated = items.filter((item, index) => items.indexOf(item) !== index)
  if (repeated.length > 0) {
    throw new Error(`--${name}: ${[...new Set(repeated)].join(', ')} given twice; give each once`)
  }
  return items as T[]
}

/** One item of a list option: `--profile cold,repeated` would profile cold only. */
function one<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  const items = list(name, value, allowed)
  if (items.length > 1) throw new Error(`--${name} takes one of ${allowed.join(', ')}, not a list`)
  return items[0]!
}

/**
 * What each run that measures one thing only leaves unused: given beside it, such an option would
 * be silently ignored (and --micro beside --memory once measured nothing and wrote an empty
 * results file over the published memory.json).
 */
const IGNORED_BY: Readonly<Record<'--micro' | '--memory' | '--profile', readonly string[]>> = {
  '--micro': [
    '--memory',
    '--profile',
    '--profiler',
    '--no-micro',
    '--modes',
    '--targets',
    '--cores',
    '--algs',
    '--duration',
    '--warmup',
    '--rounds',
    '--connections',
  ],
  '--memory': [
    '--profile',
    '--profiler',
    '--no-micro',
    '--modes',
    '--cores',
    '--algs',
    '--duration',
    '--warmup',
    '--rounds',
  ],
  // A profile measures its mode on one core with the first algorithm, and skips the micro benchmark.
  '--profile': ['--modes', '--cores', '--no-micro'],
}

/** Refuses options that the run asked for would ignore, and options given twice. */
function refuseIgnored(given: readonly string[], options: BenchOptions): void {
  const twice = given.filter((flag, index) => given.indexOf(flag) !== index)
  if (twice.length > 0) {
    throw new Error(`${[...new Set(twice)].join(', ')} given more than once; give each once`)
  }
  for (const [only, ignored] of Object.entries(IGNORED_BY)) {
    if (!given.includes(only)) continue
    const unused = ignored.filter((flag) => given.includes(flag))
    if (unused.length > 0) {
      throw new Error(
        `${only} measures only its own part and would ignore ${unused.join(', ')}: ` +
          `leave ${unused.length === 1 ? 'it' : 'them'} out, or run them separately`,
      )
    }
  }
  if (options.profile !== undefined && options.algorithms.length > 1) {
    throw new Error('--profile measures one algorithm: give --algs one of them')
  }
  if (
    options.profile !== undefined &&
    options.profiler === 'cpu-prof' &&
    given.includes('--rounds')
  ) {
    throw new Error(
      '--profile with node --cpu-prof measures one round: --rounds needs --profiler perf',
    )
  }
}

function positive(name: string, value: string | undefined): number {
  const number = Number(value)
  if (!Number.isFinite(number) || number <= 0)
    throw new Error(`--${name} must be a positive number`)
  return number
}

/** Parses `argv` (without node and the script). */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick')
  const options: BenchOptions = {
    quick,
    modes: [...MODES],
    modesOnTwoCores: ['cold'],
    targets: [...TARGETS],
    cores: quick ? [1] : [1, 2],
    algorithms: ['RS256'],
    duration: quick ? 1 : 3,
    warmup: quick ? 0.5 : 1.5,
    rounds: quick ? 1 : 3,
    connections: 64,
    micro: true,
    microOnly: false,
    memory: false,
    profiler: 'cpu-prof',
    out: quick ? 'bench/results/quick.json' : 'bench/results/latest.json',
  }
  let outGiven = false
  let targetsGiven = false
  let modesGiven = false
  let subset = false
  const given: string[] = []
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index]!
    given.push(flag)
    const value = (): string => {
      const next = argv[++index]
      if (next === undefined) throw new Error(`${flag} needs a value`)
      return next
    }
    switch (flag) {
      case '--quick':
        break
      case '--modes':
        options.modes = list('modes', value(), MODES)
        modesGiven = true
        break
      case '--targets':
        options.targets = list('targets', value(), TARGETS)
        targetsGiven = true
        break
      case '--cores':
        options.cores = list('cores', value(), ['1', '2'] as const).map(Number) as (1 | 2)[]
        subset = true
        break
      case '--algs':
        options.algorithms = list('algs', value(), ALGORITHMS)
        subset = true
        break
      case '--duration':
        options.duration = positive('duration', value())
        break
      case '--warmup':
        options.warmup = positive('warmup', value())
        break
      case '--rounds':
        options.rounds = Math.ceil(positive('rounds', value()))
        break
      case '--connections':
        options.connections = Math.ceil(positive('connections', value()))
        break
      case '--micro':
        options.microOnly = true
        break
      case '--no-micro':
        options.micro = false
        break
      case '--memory':
        options.memory = true
        break
      case '--profile':
        options.profile = one('profile', value(), MODES)
        break
      case '--profiler':
        options.profiler = one('profiler', value(), ['cpu-prof', 'perf'] as const)
        break
      case '--out':
        options.out = value()
        outGiven = true
        break
      case '--help':
      case '-h':
        console.log(USAGE)
        process.exit(0)
        break
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`)
    }
  }
  refuseIgnored(given, options)
  if (modesGiven || !options.cores.includes(1)) options.modesOnTwoCores = [...options.modes]
  else options.modesOnTwoCores = options.modes.filter((mode) => mode === 'cold')
  // The memory test and profiles are about oidc-guard unless told otherwise.
  if (!targetsGiven && (options.memory || options.profile !== undefined)) {
    options.targets = ['oidc-guard']
  }
  if (given.includes('--profiler') && options.profile === undefined) {
    throw new Error(`--profiler ${options.profiler} profiles a mode: give --profile MODE too`)
  }
  if (!outGiven && !quick && options.memory) options.out = 'bench/results/memory.json'
  else if (!outGiven && !quick && options.microOnly) options.out = 'bench/results/micro.json'
  // latest.json is the published run, from which docs/performance.md is generated: an experiment on
  // some targets or modes must not replace it.
  else if (!outGiven && !quick && (subset || targetsGiven || modesGiven)) {
    options.out = 'bench/results/partial.json'
  }
  return options
}

// Where a server's CPU time goes, V8 and the kernel included: Linux perf samples the measured
// window, and each sample is put in a category (garbage collection, compiled JavaScript, V8's
// runtime, OpenSSL, the kernel…). node --cpu-prof (bench/profile.ts) sees JavaScript only: the
// collector, V8's C++ and the kernel are lumps in it, and those are where a remembered token's cost
// and a new token's memory work show.

import { spawn, spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { whereOf } from './profile.js'

/** Samples per second: enough for a 3 s window, and too few to slow the server (10 kHz does). */
export const PERF_HZ = 2000

/** Where a sample's time went, by the code it was in; the order of the tables. */
export const CATEGORIES = [
  'garbage collection',
  'compiler (JIT)',
  'compiled JavaScript',
  'V8 builtins',
  'V8 runtime (C++)',
  'OpenSSL',
  'Node.js and libuv (C++)',
  'libc',
  'kernel',
  'other',
] as const
export type Category = (typeof CATEGORIES)[number]

/** One line of `perf report`: CPU time of a symbol on one thread. */
export interface Sample {
  nanos: number
  thread: number
  dso: string
  symbol: string
}

// V8's collector: its heap spaces, scavenger, marker, sweeper and evacuator, and the write barrier.
const GC =
  /^v8::internal::(?:\(anonymous namespace\)::)?(?:Heap\b|Heap::|.*Scaveng|.*Mark(?:ing|Compact|Bit)|.*Sweep|.*Evacuat|GCTracer|.*Space::|.*Space\b|MemoryAllocator|MemoryChunk|.*Page::|RememberedSet|SlotSet|TypedSlot|LocalHeap|.*ObjectVisitor|.*BodyDescriptor|.*Ephemeron|WeakObjects|IsUnscavenged|.*Collector)|^Builtins_RecordWrite|^Builtins_.*Barrier|^cppgc::/
const COMPILER =
  /^v8::internal::(?:compiler::|maglev::|baseline::|wasm::|Compiler|Parser|Scanner|.*Bytecode(?:Generator|ArrayBuilder|Analysis)|Deoptimizer|.*Assembler|Zone\b|Zone::|AstNode|.*Ast[A-Z]|.*Optimiz|RegExpCompiler|.*RegExpParser)/
const OPENSSL =
  /^_*(?:BN_|bn_|RSA_|rsa_|EVP_|evp_|ossl_|OSSL_|OPENSSL_|CRYPTO_|SHA\d|sha\d|ecp_nistz256|EC_|ec_|ECDSA|ecdsa|ERR_|ASN1|asn1|x86_64_|aesni|DH_|BIO_|RAND_|rand_|OBJ_|X509|PKCS|EC_GFp|EC_POINT|BN_MONT|ctr_)/

/** The category of one symbol. */
export function categoryOf(dso: string, symbol: string): Category {
  if (dso === '[kernel.kallsyms]' || dso.startsWith('[kernel')) return 'kernel'
  if (GC.test(symbol)) return 'garbage collection'
  if (COMPILER.test(symbol)) return 'compiler (JIT)'
  if (/^lib(?:crypto|ssl)\.so/.test(dso) || OPENSSL.test(symbol)) return 'OpenSSL'
  if (dso.startsWith('[JIT]') || dso.startsWith('perf-')) {
    return /^(?:Builtin|BytecodeHandler):/.test(symbol) ? 'V8 builtins' : 'compiled JavaScript'
  }
  if (symbol.startsWith('Builtins_')) return 'V8 builtins'
  if (symbol.startsWith('v8::')) return 'V8 runtime (C++)'
  if (/^(?:node::|uv_|uv__|llhttp_|cares_|ares_)/.test(symbol)) return 'Node.js and libuv (C++)'
  if (/^(?:libc|libm|libstdc\+\+|libgcc|ld-linux)/.test(dso) || dso === '[vdso]') return 'libc'
  return 'other'
}

/**
 * Parses `perf report -F period,pid,dso,sym -t '|' -q`: `  184000000  |   5572:node   |libc.so.6  |[.] _int_free`.
 * A symbol may hold the separator (a JavaScript file's path): only the first three are split on.
 */
export function parseReport(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    const fields = line.split('|')
    if (fields.length < 4) continue
    const nanos = Number(fields[0]!.trim())
    const thread = Number(/^\s*(\d+):/.exec(fields[1]!)?.[1])
    if (!Number.isFinite(nanos) || !Number.isFinite(thread)) continue
    const symbol = fields
      .slice(3)
      .join('|')
      .replace(/^\s*\[.\]\s?/, '')
      .trim()
    samples.push({ nanos, thread, dso: fields[2]!.trim(), symbol })
  }
  return samples
}

/** `src/jwt.ts:42` for compiled JavaScript named `JS:*parseJwt file:///…/oidc-guard.js:1201:17`. */
export function sourceOf(symbol: string): { name: string; where: string } | undefined {
  const match = /^JS:[*~^+]?(.*?)\s*((?:file:\/\/|\/|node:)\S*?):(\d+):\d+$/.exec(symbol)
  if (match === null) return undefined
  return { name: match[1] || '(anonymous)', where: whereOf(match[2]!, Number(match[3]) - 1) }
}

/** CPU time of one target over its recorded rounds, to be put per request. */
export interface PerfProfile {
  label: string
  samples: Sample[]
  /** The server's main thread (its pid) in each round. */
  mainThreads: Set<number>
  /** Requests answered in the recorded windows, and the server CPU time in them (from /proc). */
  requests: number
  cpuMicros: number
}

/** The server and figures of one measured window. */
export interface MeasuredWindow {
  pid: number
  requests: number
  /** Server CPU time (user + system, every thread) over the window, from /proc. */
  cpuMicros: number
}

/** Adds one round's report to a target's profile. */
export function addRound(profile: PerfProfile, report: string, round: MeasuredWindow): void {
  profile.samples.push(...parseReport(report))
  profile.mainThreads.add(round.pid)
  profile.requests += round.requests
  profile.cpuMicros += round.cpuMicros
}

/**
 * µs per request of each part of a profile. perf's time is scaled to the CPU time /proc gave for
 * the measured windows: perf attaches a moment after it starts, and that moment is not the server's.
 */
function perRequest(profile: PerfProfile): (nanos: number) => number {
  const sampled = profile.samples.reduce((sum, sample) => sum + sample.nanos, 0)
  const scale = sampled === 0 ? 0 : profile.cpuMicros / sampled
  return (nanos) => (nanos * scale) / Math.max(1, profile.requests)
}

function sumBy<K>(samples: readonly Sample[], key: (sample: Sample) => K): Map<K, number> {
  const sums = new Map<K, number>()
  for (const sample of samples) {
    const name = key(sample)
    sums.set(name, (sums.get(name) ?? 0) + sample.nanos)
  }
  return sums
}

const fixed = (value: number): string => value.toFixed(1)

/** Each category's µs per request, side by side for every profiled target. */
export function compareCategories(profiles: readonly PerfProfile[]): string {
  const columns = profiles.map((profile) => {
    const scale = perRequest(profile)
    const sums = sumBy(profile.samples, (sample) => categoryOf(sample.dso, sample.symbol))
    const main = profile.samples
      .filter((sample) => profile.mainThreads.has(sample.thread))
      .reduce((sum, sample) => sum + sample.nanos, 0)
    const total = profile.samples.reduce((sum, sample) => sum + sample.nanos, 0)
    return { scale, sums, main, total }
  })
  const row = (name: string, value: (column: (typeof columns)[number]) => number): string =>
    `| ${name} | ${columns.map((column) => fixed(value(column))).join(' | ')} |`
  return [
    `| CPU µs per request | ${profiles.map((profile) => profile.label).join(' | ')} |`,
    `|---|${profiles.map(() => '---:').join('|')}|`,
    ...CATEGORIES.map((category) =>
      row(category, (column) => column.scale(column.sums.get(category) ?? 0)),
    ),
    row('**all**', (column) => column.scale(column.total)),
    row('of which other threads (V8 helpers, libuv)', (column) =>
      column.scale(column.total - column.main),
    ),
    '',
  ].join('\n')
}

/** The costliest symbols of one target, and oidc-guard's own functions, in µs per request. */
export function summarisePerf(profile: PerfProfile, count = 30): string {
  const scale = perRequest(profile)
  const bySymbol = sumBy(profile.samples, (sample) => `${sample.dso}\u0000${sample.symbol}`)
  const top = [...bySymbol.entries()].sort((a, b) => b[1] - a[1]).slice(0, count)
  const own = new Map<string, number>()
  for (const [key, nanos] of bySymbol) {
    const source = sourceOf(key.slice(key.indexOf('\u0000') + 1))
    if (source === undefined || !/^(?:src|providers)\//.test(source.where)) continue
    const name = `${source.name} | ${source.where}`
    own.set(name, (own.get(name) ?? 0) + nanos)
  }
  const ownTotal = [...own.values()].reduce((sum, nanos) => sum + nanos, 0)
  const perRequestTotal = profile.cpuMicros / Math.max(1, profile.requests)
  return [
    `### ${profile.label}: ${fixed(perRequestTotal)} CPU µs per request over ${profile.requests.toLocaleString('en-US')} requests`,
    '',
    `oidc-guard's own compiled JavaScript (src/, providers/): ${scale(ownTotal).toFixed(2)} µs/request.`,
    '',
    '| symbol | category | µs/request |',
    '|---|---|---:|',
    ...top.map(([key, nanos]) => {
      const [dso, symbol] = key.split('\u0000') as [string, string]
      const source = sourceOf(symbol)
      const name = source === undefined ? symbol : `${source.name} (${source.where})`
      return `| ${name.replaceAll('|', '\\|')} | ${categoryOf(dso, symbol)} | ${scale(nanos).toFixed(2)} |`
    }),
    '',
    '| oidc-guard function | where | µs/request |',
    '|---|---|---:|',
    ...[...own.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([name, nanos]) => `| ${name} | ${scale(nanos).toFixed(2)} |`),
    '',
  ].join('\n')
}

/** Throws unless `perf` can sample a process here. */
export function checkPerf(): void {
  const probe = spawnSync('perf', ['record', '-e', 'cpu-clock', '-q', '-o', '/dev/null', 'true'])
  if (probe.error !== undefined || probe.status !== 0) {
    const why = probe.error?.message ?? probe.stderr.toString().trim()
    throw new Error(
      `--profiler perf needs Linux perf allowed to sample (Debian: apt install linux-perf; ` +
        `kernel.perf_event_paranoid ≤ 1 or root): ${why}`,
    )
  }
}

// CPU time (ns of cpu-clock), thread, binary and symbol: everything a category needs.
const REPORT_FIELDS = 'period,pid,dso,sym'

/** Removes the map of compiled code that node --perf-basic-prof wrote for `pid` (read by reports). */
export function removePerfMap(pid: number): void {
  rmSync(`/tmp/perf-${pid}.map`, { force: true })
}

/** A running `perf record` of one process; `stop` ends it and returns `perf report`'s text. */
export interface PerfRecording {
  stop(): Promise<string>
}

/**
 * Samples every thread of `pid` (started with node --perf-basic-prof, whose map names compiled
 * JavaScript) into `file`, from the core the load generator runs on, until stopped.
 */
export async function recordPerf(pid: number, file: string): Promise<PerfRecording> {
  const args = ['record', '-e', 'cpu-clock', '-F', String(PERF_HZ), '-q', '-p', String(pid)]
  const recorder = spawn('taskset', ['-c', '0', 'perf', ...args, '-o', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let errors = ''
  recorder.stderr!.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk))
  const exited = new Promise<number | null>((resolve) => recorder.once('exit', resolve))
  // perf prints nothing once attached; it attaches within milliseconds, and the server idles.
  await new Promise((resolve) => setTimeout(resolve, 250))
  if (recorder.exitCode !== null) throw new Error(`perf record exited: ${errors.trim()}`)
  return {
    stop: async () => {
      recorder.kill('SIGINT')
      const code = await exited
      if (code !== 0 && code !== null) throw new Error(`perf record failed: ${errors.trim()}`)
      const report = spawnSync(
        'perf',
        ['report', '-i', file, '--stdio', '--no-children', '-q', '-t', '|', '-F', REPORT_FIELDS],
        { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' },
      )
      if (report.status !== 0) throw new Error(`perf report failed: ${report.stderr}`)
      return report.stdout
    },
  }
}

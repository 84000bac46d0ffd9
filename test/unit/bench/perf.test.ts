// The perf profile's reading: perf report's lines, their categories, and µs per request.

import { describe, expect, it } from 'vitest'
import {
  addRound,
  categoryOf,
  compareCategories,
  parseReport,
  sourceOf,
  summarisePerf,
  type PerfProfile,
} from '../../../bench/perf.js'
import { parseOptions } from '../../../bench/options.js'
import { ROOT } from '../../../bench/processes.js'

const JWT_SOURCE = `file://${ROOT}src/jwt.ts`

// perf report -F period,pid,dso,sym -t '|' -q, as it prints them (period in ns of cpu-clock).
const REPORT = [
  ' 40000000   |   6039:node   |node               |[.] v8::internal::Scavenger::ScavengeObject<v8::internal::FullHeapObjectSlot>',
  ' 20000000   |   6041:node   |node               |[.] v8::internal::ConcurrentMarking::RunMajor',
  ' 30000000   |   6039:node   |node               |[.] __bn_sqrx8x_reduction',
  ' 10000000   |   6039:node   |[kernel.kallsyms]  |[k] _raw_spin_unlock_irqrestore',
  ` 50000000   |   6039:node   |[JIT] tid 6039     |[.] JS:*parseJwt ${JWT_SOURCE}:177:10`,
  ' 25000000   |   6039:node   |node               |[.] Builtins_LoadIC_Megamorphic',
  ' 15000000   |   6039:node   |node               |[.] v8::internal::LookupIterator::LookupInRegularHolder<false>',
  ' 10000000   |   6039:node   |libc.so.6          |[.] malloc',
  'not a line of the report',
].join('\n')

function profileOf(label: string, report: string): PerfProfile {
  const profile: PerfProfile = {
    label,
    samples: [],
    mainThreads: new Set(),
    requests: 0,
    cpuMicros: 0,
  }
  // 200 ms sampled; /proc says 400 ms of CPU for 1,000 requests: 400 µs per request.
  addRound(profile, report, { pid: 6039, requests: 1_000, cpuMicros: 400_000 })
  return profile
}

describe('the perf profile', () => {
  it('reads every line of the report, and nothing else', () => {
    const samples = parseReport(REPORT)
    expect(samples).toHaveLength(8)
    expect(samples[0]).toEqual({
      nanos: 40_000_000,
      thread: 6039,
      dso: 'node',
      symbol: 'v8::internal::Scavenger::ScavengeObject<v8::internal::FullHeapObjectSlot>',
    })
    expect(samples[4]!.symbol).toBe(`JS:*parseJwt ${JWT_SOURCE}:177:10`)
  })

  it('keeps a symbol that holds the separator whole', () => {
    const [sample] = parseReport(' 1000 |  7:node  |[JIT] tid 7 |[.] JS:*a|b /x.js:1:1')
    expect(sample).toMatchObject({ dso: '[JIT] tid 7', symbol: 'JS:*a|b /x.js:1:1' })
  })

  it.each([
    ['node', 'v8::internal::Scavenger::ScavengePage', 'garbage collection'],
    ['node', 'v8::internal::Sweeper::RawSweep', 'garbage collection'],
    ['node', 'Builtins_RecordWriteSaveFP', 'garbage collection'],
    ['node', 'v8::internal::compiler::Pipeline::GenerateCode', 'compiler (JIT)'],
    ['node', 'v8::internal::maglev::MaglevGraphBuilder::Build', 'compiler (JIT)'],
    ['[JIT] tid 1', 'JS:*recall file:///x/oidc-guard.js:10:3', 'compiled JavaScript'],
    ['node', 'Builtins_LoadIC_Megamorphic', 'V8 builtins'],
    ['node', 'v8::internal::LookupIterator::LookupInRegularHolder<false>', 'V8 runtime (C++)'],
    ['node', 'v8::internal::StubCache::Set', 'V8 runtime (C++)'],
    ['node', '__bn_sqrx8x_reduction', 'OpenSSL'],
    ['node', 'bn_mulx4x_mont', 'OpenSSL'],
    ['node', 'EVP_DigestVerify', 'OpenSSL'],
    ['libcrypto.so.3', 'anything', 'OpenSSL'],
    ['node', 'node::crypto::Verify::VerifyFinal', 'Node.js and libuv (C++)'],
    ['node', 'llhttp__internal_execute', 'Node.js and libuv (C++)'],
    ['libc.so.6', '__memmove_avx512_unaligned_erms', 'libc'],
    ['[vdso]', '__vdso_clock_gettime', 'libc'],
    ['[kernel.kallsyms]', 'tcp_sendmsg', 'kernel'],
    ['node', 'something_else', 'other'],
  ])('puts %s %s in %s', (dso, symbol, category) => {
    expect(categoryOf(dso, symbol)).toBe(category)
  })

  it('names compiled JavaScript by its source file and line (line numbers from 1 in the map)', () => {
    expect(sourceOf(`JS:*parseJwt ${JWT_SOURCE}:177:10`)).toEqual({
      name: 'parseJwt',
      where: 'src/jwt.ts:177',
    })
    expect(sourceOf(`JS:~ ${JWT_SOURCE}:5:1`)).toEqual({
      name: '(anonymous)',
      where: 'src/jwt.ts:5',
    })
    expect(sourceOf('Builtins_LoadIC')).toBeUndefined()
  })

  it('puts each category in µs per request, scaled to the CPU time /proc measured', () => {
    const table = compareCategories([profileOf('oidc-guard', REPORT)])
    // 200 ms sampled stand for 400 ms: each sampled ms is 2 µs per request over 1,000 requests.
    expect(table).toContain('| garbage collection | 120.0 |')
    expect(table).toContain('| compiled JavaScript | 100.0 |')
    expect(table).toContain('| OpenSSL | 60.0 |')
    expect(table).toContain('| **all** | 400.0 |')
    // The marking thread is not the server's main thread.
    expect(table).toContain('| of which other threads (V8 helpers, libuv) | 40.0 |')
  })

  it("sums rounds, and lists the costliest symbols and oidc-guard's own functions", () => {
    const profile = profileOf('oidc-guard', REPORT)
    addRound(profile, REPORT, { pid: 7000, requests: 1_000, cpuMicros: 400_000 })
    const summary = summarisePerf(profile)
    expect(summary).toContain('### oidc-guard: 400.0 CPU µs per request over 2,000 requests')
    expect(summary).toContain('| parseJwt (src/jwt.ts:177) | compiled JavaScript | 100.00 |')
    expect(summary).toContain('| parseJwt | src/jwt.ts:177 | 100.00 |')
    expect(summary.indexOf('parseJwt (src/jwt.ts:177)')).toBeLessThan(
      summary.indexOf('ScavengeObject'),
    )
  })

  it('is asked for with a mode to profile; node --cpu-prof stays the default', () => {
    expect(parseOptions(['--profile', 'cold']).profiler).toBe('cpu-prof')
    expect(parseOptions(['--profile', 'cold', '--profiler', 'perf'])).toMatchObject({
      profile: 'cold',
      profiler: 'perf',
      targets: ['oidc-guard'],
    })
    expect(() => parseOptions(['--profiler', 'perf'])).toThrow(/give --profile MODE/)
    expect(() => parseOptions(['--profile', 'cold', '--profiler', 'gprof'])).toThrow(/profiler/)
  })
})

describe('the results file of npm run bench', () => {
  it('is the published latest.json only for a full run; a subset goes to partial.json', () => {
    expect(parseOptions([]).out).toBe('bench/results/latest.json')
    expect(parseOptions(['--rounds', '5', '--duration', '2']).out).toBe('bench/results/latest.json')
    for (const subset of [
      ['--targets', 'oidc-guard,aws-jwt-verify'],
      ['--modes', 'cold'],
      ['--cores', '1'],
      ['--algs', 'ES256'],
    ]) {
      expect(parseOptions(subset).out).toBe('bench/results/partial.json')
    }
    expect(parseOptions(['--modes', 'cold', '--out', 'x.json']).out).toBe('x.json')
    expect(parseOptions(['--quick', '--modes', 'cold']).out).toBe('bench/results/quick.json')
    expect(parseOptions(['--micro']).out).toBe('bench/results/micro.json')
  })
})

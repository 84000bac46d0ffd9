// Where a server's CPU time goes: a .cpuprofile (node --cpu-prof) summarised per function, in
// µs per request. Run directly: node --import tsx bench/profile.ts <dir> <cpu µs per request>.

import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ROOT } from './processes.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

interface Cost {
  name: string
  where: string
  selfMicros: number
  totalMicros: number
}

// Samples that are not the process working.
const IDLE = new Set(['(idle)'])

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** For each generated line of a bundle, the source file and line it came from (source map v3). */
function sourceLines(mapFile: string): ({ source: string; line: number } | undefined)[] {
  const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[]; mappings: string }
  const lines: ({ source: string; line: number } | undefined)[] = []
  let source = 0
  let sourceLine = 0
  for (const generated of map.mappings.split(';')) {
    let first: { source: string; line: number } | undefined
    for (const segment of generated.split(',')) {
      if (segment === '') continue
      const values: number[] = []
      let value = 0
      let shift = 0
      for (const char of segment) {
        const digit = BASE64.indexOf(char)
        value += (digit & 31) << shift
        if ((digit & 32) !== 0) shift += 5
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1)
          value = 0
          shift = 0
        }
      }
      if (values.length < 4) continue
      source += values[1]!
      sourceLine += values[2]!
      first ??= { source: map.sources[source]!, line: sourceLine }
    }
    lines.push(first)
  }
  return lines
}

const maps = new Map<string, ReturnType<typeof sourceLines> | undefined>()

/**
 * `src/jwt.ts:42` for a function of a bundled server, the package name for a dependency. `line`
 * counts from 0.
 */
export function whereOf(url: string, line: number): string {
  if (url === '') return ''
  const path = url.startsWith('file://') ? new URL(url).pathname : url
  if (path.includes('/oidc-guard-bench/')) {
    if (!maps.has(path)) {
      try {
        maps.set(path, sourceLines(`${path}.map`))
      } catch {
        maps.set(path, undefined)
      }
    }
    const origin = maps.get(path)?.[line]
    if (origin !== undefined) {
      const file = relative(ROOT, join(dirname(path), origin.source))
      const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1]
      return module ?? `${file}:${origin.line + 1}`
    }
  }
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1]
  return module ?? `${path.startsWith('/') ? relative(ROOT, path) : path}:${line + 1}`
}

function keyOf(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame
  return `${functionName || '(anonymous)'}@${whereOf(url, lineNumber)}`
}

/** Self and total (inclusive) time per function, over every profile of a directory. */
function costs(profiles: readonly CpuProfile[]): { costs: Cost[]; busyMicros: number } {
  const byKey = new Map<string, Cost>()
  let busyMicros = 0
  for (const profile of profiles) {
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
    const self = new Map<number, number>()
    profile.samples.forEach((id, index) => {
      self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0))
    })
    // Inclusive time, counted once per function even when it recurses (an ancestor has its key).
    const walk = (id: number, open: Set<string>): number => {
      const node = nodes.get(id)!
      const key = keyOf(node)
      const isIdle = IDLE.has(node.callFrame.functionName)
      const own = isIdle ? 0 : (self.get(id) ?? 0)
      busyMicros += own
      const nested = new Set(open).add(key)
      let total = own
      for (const child of node.children ?? []) total += walk(child, nested)
      if (!isIdle) {
        const cost = byKey.get(key) ?? {
          name: node.callFrame.functionName || '(anonymous)',
          where: whereOf(node.callFrame.url, node.callFrame.lineNumber),
          selfMicros: 0,
          totalMicros: 0,
        }
        cost.selfMicros += own
        if (!open.has(key)) cost.totalMicros += total
        byKey.set(key, cost)
      }
      return total
    }
    walk(profile.nodes[0]!.id, new Set())
  }
  return { costs: [...byKey.values()], busyMicros }
}

/**
 * A Markdown summary of the profiles in `dir`: the costliest functions by self time and by total
 * time, each in µs per request (its share of the busy time × the measured CPU µs per request).
 */
export function summariseProfiles(dir: string, label: string, cpuMicrosPerRequest: number): string {
  const profiles = readdirSync(dir)
    .filter((file) => file.endsWith('.cpuprofile'))
    .map((file) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile)
  const { costs: all, busyMicros } = costs(profiles)
  const perRequest = (micros: number): string =>
    ((micros / busyMicros) * cpuMicrosPerRequest).toFixed(2)
  const table = (title: string, pick: (cost: Cost) => number, count: number): string[] => [
    `| ${title} | where | µs/request | share |`,
    '|---|---|---:|---:|',
    ...[...all]
      .sort((a, b) => pick(b) - pick(a))
      .slice(0, count)
      .map(
        (cost) =>
          `| ${cost.name} | ${cost.where} | ${perRequest(pick(cost))} | ${((pick(cost) / busyMicros) * 100).toFixed(1)}% |`,
      ),
  ]
  // Time per package or file, self time only (so it adds up to the whole).
  const byWhere = new Map<string, number>()
  for (const cost of all) {
    const where = cost.where.replace(/:\d+$/, '') || cost.name
    byWhere.set(where, (byWhere.get(where) ?? 0) + cost.selfMicros)
  }
  const modules = [...byWhere.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)
  const own = all.filter((cost) => /^(src|providers)\//.test(cost.where))
  const ownTotal = own.reduce((sum, cost) => sum + cost.selfMicros, 0)
  return [
    `### ${label}: ${cpuMicrosPerRequest.toFixed(1)} CPU µs per request (${relative(ROOT, dir)})`,
    '',
    `oidc-guard's own code (src/, providers/): ${perRequest(ownTotal)} µs/request of self time.`,
    '',
    '| oidc-guard function | where | self µs/request | total µs/request |',
    '|---|---|---:|---:|',
    ...own
      .sort((a, b) => b.selfMicros - a.selfMicros)
      .slice(0, 20)
      .map(
        (cost) =>
          `| ${cost.name} | ${cost.where} | ${perRequest(cost.selfMicros)} | ${perRequest(cost.totalMicros)} |`,
      ),
    '',
    ...table('self time: function', (cost) => cost.selfMicros, 25),
    '',
    ...table('total time: function', (cost) => cost.totalMicros, 25),
    '',
    '| self time: module | µs/request | share |',
    '|---|---:|---:|',
    ...modules.map(
      ([where, micros]) =>
        `| ${where} | ${perRequest(micros)} | ${((micros / busyMicros) * 100).toFixed(1)}% |`,
    ),
    '',
  ].join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [dir, cpu] = process.argv.slice(2)
  if (dir === undefined || cpu === undefined) {
    console.error('usage: node --import tsx bench/profile.ts <profile dir> <cpu µs per request>')
    process.exit(2)
  }
  console.log(summariseProfiles(dir, relative(ROOT, dir), Number(cpu)))
}

// Child processes of the benchmark: spawned pinned to cores, awaited until ready, measured in /proc.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { READY_PREFIX } from './shared.js'

/** The repository root (bench/..). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** A child started by {@link startProcess}, with what it printed on its ready line. */
export interface Started<Ready> {
  readonly child: ChildProcess
  readonly pid: number
  readonly ready: Ready
  /** The last lines it wrote to stderr, for error reports. */
  stderr(): string
  /** SIGTERM, then SIGKILL after 3 s; resolves once it exited. */
  stop(): Promise<void>
}

/** Pins the whole calling process (every thread) to `cores`, e.g. `'0'`. */
export function pinSelf(cores: string): void {
  const result = spawnSync('taskset', ['-a', '-p', '-c', cores, String(process.pid)])
  if (result.status !== 0) throw new Error(`taskset failed: ${result.stderr.toString()}`)
}

/** How to start a child process. */
export interface StartOptions {
  /** CPU list for `taskset -c`, e.g. `'1'` or `'0,1'`. */
  cores: string
  env?: Record<string, string>
  args?: string[]
  /** Options for node itself (`--cpu-prof`…). */
  nodeOptions?: string[]
  timeoutMs?: number
}

/**
 * Runs `node <script>` pinned to `cores` with `taskset` (TypeScript through tsx, bundled
 * JavaScript as it is), and waits for the line starting with {@link READY_PREFIX} (its JSON is
 * the result's `ready`).
 */
export async function startProcess<Ready>(
  script: string,
  options: StartOptions,
): Promise<Started<Ready>> {
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : []
  const node = [process.execPath, ...(options.nodeOptions ?? []), ...loader, script]
  const child = spawn('taskset', ['-c', options.cores, ...node, ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const errors: string[] = []
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    errors.push(chunk)
    if (errors.length > 50) errors.shift()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} not ready after ${options.timeoutMs ?? 30_000} ms`)),
      options.timeoutMs ?? 30_000,
    )
    // Every line is read, so a chatty child never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith(READY_PREFIX)) return
      clearTimeout(timer)
      resolve(JSON.parse(line.slice(READY_PREFIX.length)) as Ready)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited (${code}) before it was ready: ${errors.join('')}`))
    })
  })
  return {
    child,
    // taskset execs node, so the child's pid is node's.
    pid: child.pid!,
    ready,
    stderr: () => errors.join(''),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100

/** CPU time (user + system, all threads) a process has used, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may hold spaces and parentheses: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) / CLOCK_TICKS) * 1e6
}

/** Resident set size of a process, in MiB (VmRSS). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  if (match === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(match[1]) / 1024
}

// `--memory`: a server's RSS through 1,000,000 distinct garbage tokens, then 200,000 distinct
// valid ES256 tokens, sampled every second. Every token is new to the server.

import { load } from './load.js'
import type { BenchOptions } from './options.js'
import { rssMiB, startProcess } from './processes.js'
import type { MemoryRecord } from './results.js'
import {
  AUDIENCE,
  FRESH_BAD_KINDS,
  expectedStatuses,
  type Setup,
  type TargetName,
  type TokenKind,
} from './shared.js'
import { fetchTokens, freshBadToken, type NextToken } from './tokens.js'

const GARBAGE_TOKENS = 1_000_000
const VALID_TOKENS = 200_000
const QUICK_DIVISOR = 20

/** Distinct garbage: junk, malformed, bit-flipped and badly signed tokens in turn. */
function garbageStream(valid: readonly string[]): () => NextToken {
  let serial = 0
  return () => {
    const index = serial++
    const kind = FRESH_BAD_KINDS[index % FRESH_BAD_KINDS.length]!
    return { token: freshBadToken(kind, Math.floor(index / FRESH_BAD_KINDS.length), valid), kind }
  }
}

async function measureTarget(
  options: BenchOptions,
  setup: Setup,
  target: TargetName,
  log: (message: string) => void,
): Promise<MemoryRecord> {
  const divisor = options.quick ? QUICK_DIVISOR : 1
  const garbageCount = GARBAGE_TOKENS / divisor
  const validCount = VALID_TOKENS / divisor
  log(`memory: minting ${validCount} valid ES256 tokens…`)
  const valid = await fetchTokens(setup.issuer.control, 'valid', 'ES256', validCount)
  const server = await startProcess<{ port: number }>(setup.servers[target]!, {
    cores: '1',
    env: {
      BENCH_ISSUER: setup.issuer.issuer,
      BENCH_JWKS_URI: setup.issuer.jwksUri,
      BENCH_AUDIENCE: AUDIENCE,
      BENCH_ALGORITHMS: 'ES256',
    },
  })
  const samples: MemoryRecord['samples'] = []
  const unexpected: Record<string, number> = {}
  try {
    const common = {
      url: `http://127.0.0.1:${server.ready.port}/`,
      expected: (kind: TokenKind) => expectedStatuses(target, kind),
      connections: options.connections,
    }
    // Warm-up on a few of the valid tokens, so the start is a running server with its keys.
    const warmTokens = valid.slice(0, 1000)
    let warmSerial = 0
    await load({
      ...common,
      amount: 1000,
      next: () => ({ token: warmTokens[warmSerial++ % warmTokens.length]!, kind: 'valid' }),
    })
    const startRssMiB = rssMiB(server.pid)
    let done = 0
    let phase: 'garbage' | 'valid' = 'garbage'
    let completed = 0
    const sampler = setInterval(() => {
      samples.push({ requests: done + completed, phase, rssMiB: rssMiB(server.pid) })
    }, 1000)
    const started = process.hrtime.bigint()
    try {
      log(`memory: ${target}, ${garbageCount} distinct garbage tokens…`)
      const track = (count: number): void => {
        completed = count
      }
      const garbage = await load({
        ...common,
        amount: garbageCount,
        next: garbageStream(valid),
        onResponse: track,
      })
      done += garbage.requests
      completed = 0
      phase = 'valid'
      log(`memory: ${target}, ${validCount} distinct valid tokens…`)
      let validSerial = 1000 // The warm-up used the first thousand.
      const fresh = await load({
        ...common,
        amount: validCount - 1000,
        next: () => ({ token: valid[validSerial++ % valid.length]!, kind: 'valid' }),
        onResponse: track,
      })
      done += fresh.requests
      for (const run of [garbage, fresh]) {
        for (const [what, count] of Object.entries(run.unexpected)) {
          unexpected[what] = (unexpected[what] ?? 0) + count
        }
        const failed = run.errors + run.timeouts
        if (failed > 0) unexpected['errors'] = (unexpected['errors'] ?? 0) + failed
        if (run.unanswered > 0) {
          unexpected['unanswered'] = (unexpected['unanswered'] ?? 0) + run.unanswered
        }
      }
    } finally {
      clearInterval(sampler)
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const endRssMiB = rssMiB(server.pid)
    samples.push({ requests: done, phase: 'valid', rssMiB: endRssMiB })
    return {
      target,
      garbageTokens: garbageCount,
      validTokens: validCount,
      samples,
      startRssMiB,
      peakRssMiB: Math.max(startRssMiB, ...samples.map((sample) => sample.rssMiB)),
      endRssMiB,
      ok: Object.keys(unexpected).length === 0,
      unexpected,
      requestsPerSec: done / seconds,
    }
  } finally {
    await server.stop()
  }
}

/** The memory test of every target asked for (oidc-guard by default). */
export async function runMemory(
  options: BenchOptions,
  setup: Setup,
  log: (message: string) => void,
): Promise<MemoryRecord[]> {
  const records: MemoryRecord[] = []
  for (const target of options.targets) {
    const record = await measureTarget(options, setup, target, log)
    log(
      `memory: ${target} RSS ${record.startRssMiB.toFixed(0)} → peak ${record.peakRssMiB.toFixed(0)} → ${record.endRssMiB.toFixed(0)} MiB`,
    )
    records.push(record)
  }
  return records
}

// npm run soak [-- --duration 60 --concurrency 32]: floods a jwtAuth server (a child process on
// 127.0.0.1) with valid, expired, forged, unknown-kid and garbage tokens for a bounded time, then
// reports requests/s, status counts per kind and the server's RSS over time, and checks that RSS
// levels off and that no request got an unexpected status (OPS-04). Not part of npm test.

import { fork, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto'
import { once } from 'node:events'
import { Agent, request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import type { ServerMessage } from './server.js'

/** The kinds of request in the mix, with their weight and the statuses each may get. */
const KINDS = {
  valid: { weight: 40, expected: [200] },
  expired: { weight: 12, expected: [401] },
  forged: { weight: 12, expected: [401] },
  'unknown kid': { weight: 12, expected: [401] },
  garbage: { weight: 12, expected: [400, 401] },
  anonymous: { weight: 6, expected: [401] },
  'missing group': { weight: 6, expected: [403] },
} as const
type Kind = keyof typeof KINDS

/** More distinct valid tokens than the verified-token cache holds (10 000), so it evicts. */
const VALID_TOKENS = 12_000
const BAD_TOKENS = 2_000
const MiB = 1024 * 1024

interface Options {
  durationSec: number
  concurrency: number
  sampleMs: number
  json: boolean
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '60' },
      concurrency: { type: 'string', default: '32' },
      'sample-ms': { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
    },
  })
  const durationSec = Number(values.duration)
  const concurrency = Number(values.concurrency)
  const sampleMs = Number(values['sample-ms'])
  if (!(durationSec >= 3 && durationSec <= 3600)) throw new Error('--duration: 3 to 3600 seconds')
  if (!(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 512)) {
    throw new Error('--concurrency: an integer from 1 to 512')
  }
  if (!(sampleMs >= 100)) throw new Error('--sample-ms: at least 100')
  return { durationSec, concurrency, sampleMs, json: values.json === true }
}

/** Pre-minted tokens of every kind (signing is the driver's cost, not the server's). */
function tokenPools(idp: TestIssuer): Record<Exclude<Kind, 'garbage' | 'anonymous'>, string[]> {
  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pool = (count: number, mint: (i: number) => string) =>
    Array.from({ length: count }, (_, i) => mint(i))
  return {
    valid: pool(VALID_TOKENS, (i) =>
      idp.mint({ sub: `user-${i}`, scope: 'orders.read', groups: ['admin'] }),
    ),
    expired: pool(BAD_TOKENS, (i) => idp.mint({ sub: `late-${i}` }, { expiresInSec: -120 })),
    forged: pool(BAD_TOKENS, (i) =>
      idp.mint(
        { sub: `admin-${i}`, groups: ['admin'] },
        i % 2 === 0 ? { key: attacker.privateKey } : { tamper: 'signature' },
      ),
    ),
    'unknown kid': pool(BAD_TOKENS, () =>
      idp.mint(
        { sub: 'admin' },
        { key: attacker.privateKey, kid: randomBytes(9).toString('base64url') },
      ),
    ),
    'missing group': pool(BAD_TOKENS, (i) => idp.mint({ sub: `plain-${i}`, groups: ['staff'] })),
  }
}

const GARBAGE_PREFIXES = [
  'Bearer ',
  'bearer ',
  'Bearer  ',
  'Basic ',
  'Bearer\t',
  '',
  'Bearer "',
  'Token ',
]

/** A fresh junk Authorization value: random base64url, dots, padding, quotes, other schemes. */
function garbage(): string {
  const body = randomBytes(randomInt(1, 600)).toString(randomInt(2) === 0 ? 'base64url' : 'base64')
  const dotted = body.replace(/(.{40})/g, (chunk) => (randomInt(3) === 0 ? `${chunk}.` : chunk))
  return `${GARBAGE_PREFIXES[randomInt(GARBAGE_PREFIXES.length)]}${dotted}`
}

const WEIGHTED: Kind[] = Object.entries(KINDS).flatMap(([kind, { weight }]) =>
  Array.from({ length: weight }, () => kind as Kind),
)

function pick<T>(list: readonly T[]): T {
  return list[randomInt(list.length)]!
}

interface Sample {
  readonly second: number
  readonly requests: number
  readonly rssMiB: number
  readonly heapMiB: number
  readonly jwksFetches: number
}

async function startServer(
  idp: TestIssuer,
  sampleMs: number,
): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(
    fileURLToPath(new URL('./server.ts', import.meta.url)),
    [idp.issuer, idp.jwksUri, idp.audience, String(sampleMs)],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  const [message] = (await once(child, 'message')) as [ServerMessage]
  if (message.type !== 'ready') throw new Error('the soak server did not start')
  return { child, port: message.port }
}

async function main(): Promise<void> {
  const { durationSec, concurrency, sampleMs, json } = options()
  const idp = await createTestIssuer({ algorithms: ['ES256'] })
  const pools = tokenPools(idp)
  const { child, port } = await startServer(idp, sampleMs)
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })

  const counts = new Map<Kind, Map<number, number>>()
  const unexpected: string[] = []
  let requests = 0
  let latest: Extract<ServerMessage, { type: 'sample' }> | undefined
  const samples: Sample[] = []
  const started = Date.now()
  let lastRequests = 0
  child.on('message', (message: ServerMessage) => {
    if (message.type !== 'sample') return
    latest = message
    samples.push({
      second: Math.round((message.at - started) / 1000),
      requests: requests - lastRequests,
      rssMiB: message.rss / MiB,
      heapMiB: message.heapUsed / MiB,
      jwksFetches: message.jwksFetches,
    })
    lastRequests = requests
  })

  const send = (path: string, authorization: string | undefined): Promise<number> =>
    new Promise((resolve, reject) => {
      const headers = authorization === undefined ? {} : { authorization }
      const req = request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end()
    })

  const deadline = started + durationSec * 1000
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const kind = pick(WEIGHTED)
      const path = kind === 'missing group' ? '/grouped' : pick(['/guarded', '/scoped', '/grouped'])
      const authorization =
        kind === 'anonymous'
          ? undefined
          : kind === 'garbage'
            ? garbage()
            : `Bearer ${pick(pools[kind])}`
      const status = await send(kind === 'anonymous' ? '/guarded' : path, authorization)
      requests += 1
      const byStatus = counts.get(kind) ?? new Map<number, number>()
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1)
      counts.set(kind, byStatus)
      if (!(KINDS[kind].expected as readonly number[]).includes(status) && unexpected.length < 20) {
        unexpected.push(`${kind} ${path} → ${status}`)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const elapsedSec = (Date.now() - started) / 1000
  agent.destroy()
  child.disconnect()
  await Promise.race([once(child, 'exit'), new Promise((resolve) => setTimeout(resolve, 5_000))])
  child.kill()
  await idp.close()

  const report = summarise({
    samples,
    counts,
    unexpected,
    requests,
    elapsedSec,
    concurrency,
    finalFetches: latest?.jwksFetches ?? 0,
  })
  if (json) console.log(JSON.stringify(report, null, 2))
  else print(report)
  process.exitCode = report.ok ? 0 : 1
}

interface Report {
  readonly ok: boolean
  readonly durationSec: number
  readonly concurrency: number
  readonly requests: number
  readonly requestsPerSec: number
  readonly statusCounts: Record<string, Record<string, number>>
  readonly unexpected: readonly string[]
  readonly rss: {
    readonly startMiB: number
    readonly middleMaxMiB: number
    readonly lastMaxMiB: number
    readonly peakMiB: number
    readonly levelled: boolean
  }
  readonly jwksFetches: number
  readonly samples: readonly Sample[]
}

function summarise(run: {
  samples: Sample[]
  counts: Map<Kind, Map<number, number>>
  unexpected: string[]
  requests: number
  elapsedSec: number
  concurrency: number
  finalFetches: number
}): Report {
  const { samples } = run
  const third = Math.max(1, Math.floor(samples.length / 3))
  const max = (list: Sample[]) => Math.max(0, ...list.map((sample) => sample.rssMiB))
  const middleMax = max(samples.slice(third, 2 * third))
  const lastMax = max(samples.slice(2 * third))
  // Levelled: the last third grows less than 5% (plus 8 MiB of allocator noise) over the middle.
  const levelled = samples.length >= 3 && lastMax <= middleMax * 1.05 + 8
  const statusCounts: Record<string, Record<string, number>> = {}
  for (const [kind, byStatus] of run.counts) statusCounts[kind] = Object.fromEntries(byStatus)
  const serverErrors = [...run.counts.values()].some((byStatus) =>
    [...byStatus.keys()].some((status) => status >= 500),
  )
  return {
    ok: levelled && run.unexpected.length === 0 && !serverErrors,
    durationSec: Math.round(run.elapsedSec),
    concurrency: run.concurrency,
    requests: run.requests,
    requestsPerSec: Math.round(run.requests / run.elapsedSec),
    statusCounts,
    unexpected: run.unexpected,
    rss: {
      startMiB: round(samples[0]?.rssMiB ?? 0),
      middleMaxMiB: round(middleMax),
      lastMaxMiB: round(lastMax),
      peakMiB: round(max(samples)),
      levelled,
    },
    jwksFetches: run.finalFetches,
    samples: samples.map((sample) => ({
      ...sample,
      rssMiB: round(sample.rssMiB),
      heapMiB: round(sample.heapMiB),
    })),
  }
}

const round = (value: number) => Math.round(value * 10) / 10

function print(report: Report): void {
  console.log(
    `soak: ${report.durationSec} s, ${report.concurrency} connections, ${report.requests} requests, ${report.requestsPerSec} req/s`,
  )
  console.log('status counts by kind:')
  for (const [kind, byStatus] of Object.entries(report.statusCounts)) {
    console.log(
      `  ${kind.padEnd(14)} ${Object.entries(byStatus)
        .map(([status, count]) => `${status}: ${count}`)
        .join(', ')}`,
    )
  }
  console.log('server RSS over time (second, req/s, RSS MiB, heap MiB):')
  const step = Math.max(1, Math.floor(report.samples.length / 20))
  report.samples.forEach((sample, index) => {
    if (index % step === 0 || index === report.samples.length - 1) {
      console.log(
        `  ${String(sample.second).padStart(4)} s  ${String(sample.requests).padStart(6)}  ${sample.rssMiB.toFixed(1).padStart(7)}  ${sample.heapMiB.toFixed(1).padStart(7)}`,
      )
    }
  })
  const { rss } = report
  console.log(
    `RSS: start ${rss.startMiB} MiB, max of the middle third ${rss.middleMaxMiB} MiB, max of the last third ${rss.lastMaxMiB} MiB, peak ${rss.peakMiB} MiB: ${rss.levelled ? 'levelled off' : 'STILL GROWING'}`,
  )
  console.log(`JWKS fetches by the server: ${report.jwksFetches}`)
  if (report.unexpected.length > 0)
    console.log(`unexpected statuses: ${report.unexpected.join('; ')}`)
  console.log(report.ok ? 'soak: OK' : 'soak: FAILED')
}

await main()

// Review 13 of the benchmark: slices as long as asked, requests that never get an answer, verdicts
// over peers that failed, garbage tokens that never repeat, contradictory options, the new signed
// bad tokens. No server is started: autocannon is replaced by a script of requests and answers.

import autocannon, { type Options, type RequestSpec, type Result } from 'autocannon'
import { performance } from 'node:perf_hooks'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { combineLoads, countLost, load, loadProblems, type Sent } from '../../bench/load.js'
import { parseOptions } from '../../bench/options.js'
import { markdownTables } from '../../bench/report.js'
import { hasMeasurements, summarise, type Results, type RunRecord } from '../../bench/results.js'
import {
  FRESH_BAD_KINDS,
  PEERS,
  SIGNED_BAD_KINDS,
  TARGETS,
  expectedStatuses,
  type Mode,
  type SignedBadKind,
  type TargetName,
} from '../../bench/shared.js'
import { contenderStreams, type TokenPools } from '../../bench/tokens.js'

vi.mock('autocannon', () => ({ default: vi.fn() }))

const fakeAutocannon = vi.mocked(autocannon)

afterEach(() => {
  vi.restoreAllMocks()
  fakeAutocannon.mockReset()
})

/** One connection of the script: its request context, as autocannon keeps one per request. */
interface Connection {
  context: Record<string, unknown>
}

/**
 * A fake autocannon run: `script` sends and answers requests on a clock it moves, then the load
 * ends at `cutAt`. Returns what autocannon returns.
 */
function scripted(
  script: (io: {
    open: () => Connection
    answer: (connection: Connection) => void
    at: (ms: number) => void
  }) => void,
  cutAt: number,
): void {
  fakeAutocannon.mockImplementation(((options: Options) => {
    const request = options.requests![0]! as Required<
      Pick<RequestSpec, 'setupRequest' | 'onResponse'>
    >
    let clock = 0
    vi.spyOn(performance, 'now').mockImplementation(() => clock)
    const send = (connection: Connection): void => {
      connection.context = {}
      request.setupRequest({}, connection.context)
    }
    script({
      open: () => {
        const connection = { context: {} }
        send(connection)
        return connection
      },
      answer: (connection) => {
        request.onResponse(200, '{"ok":true}', connection.context, {})
        send(connection)
      },
      at: (ms) => {
        clock = ms
      },
    })
    clock = cutAt
    const result = {
      latency: { p50: 1, p99: 2 },
      errors: 0,
      timeouts: 0,
      statusCodeStats: {},
    } as unknown as Result
    return Promise.resolve(result)
  }) as unknown as typeof autocannon)
}

const loadOf = (connections: number) =>
  load({
    url: 'http://127.0.0.1:1/',
    connections,
    duration: 0.5,
    next: () => ({ token: 'token', kind: 'valid' }),
    expected: () => [200],
  })

describe('review 13 #1: a load lasts what it is asked to', () => {
  it('has autocannon sample (and so check its stop flag) far more often than every second', async () => {
    scripted(({ open }) => {
      open()
    }, 0)
    await loadOf(1)
    const options = fakeAutocannon.mock.calls[0]![0]
    expect(options.duration).toBe(0.5)
    expect(options.sampleInt).toBeDefined()
    expect(options.sampleInt).toBeLessThanOrEqual(50)
  })
})

describe('review 13 #2: a request that never gets an answer fails the run', () => {
  it('counts a request overtaken by the other connections and never answered as lost', async () => {
    scripted(({ open, answer, at }) => {
      const [a, b] = [open(), open()]
      at(1)
      answer(a) // a's second request (sent at 1 ms) is never answered
      for (let ms = 2; ms < 100; ms += 1) {
        at(ms)
        answer(b)
      }
    }, 500)
    const result = await loadOf(2)
    expect(result.unanswered).toBe(1)
    expect(result.sent).toBe(2 + 1 + 98)
    expect(result.requests).toBe(99)
    expect(loadProblems([result])).toContain('1 requests never answered')
  })

  it('does not count the requests in flight at the cut, nor those of a stall that delays every answer', async () => {
    scripted(({ open, answer, at }) => {
      const connections = [open(), open(), open()]
      for (let ms = 1; ms < 100; ms += 1) {
        at(ms)
        answer(connections[ms % 3]!)
      }
    }, 700) // nothing answered for 600 ms before the cut: every answer was delayed alike
    const result = await loadOf(3)
    expect(result.unanswered).toBe(0)
  })

  it('does not count a connection whose first request (built before it opened) is still unanswered', async () => {
    scripted(({ open, answer, at }) => {
      open() // opens late: no answer in the whole load
      const b = open()
      for (let ms = 1; ms < 100; ms += 1) {
        at(ms)
        answer(b)
      }
    }, 500)
    expect((await loadOf(2)).unanswered).toBe(0)
  })

  it('counts every old request as lost when the server answered nothing at all', async () => {
    scripted(({ open }) => {
      open()
      open()
    }, 500)
    expect((await loadOf(2)).unanswered).toBe(2)
  })

  it('applies the rule as documented', () => {
    const sent = (sentAt: number, answeredBefore: number, first = false): Sent => ({
      sentAt,
      answeredBefore,
      first,
    })
    const cut = { at: 1000, answered: 500 }
    expect(countLost([sent(100, 10)], cut, 64)).toBe(1) // old, overtaken by 490
    expect(countLost([sent(800, 10)], cut, 64)).toBe(0) // 200 ms old: in flight
    expect(countLost([sent(100, 450)], cut, 64)).toBe(0) // overtaken by 50 < 128: a stall
    expect(countLost([sent(100, 10, true)], cut, 64)).toBe(0) // a connection still opening
    expect(countLost([sent(100, 0, true)], { at: 1000, answered: 0 }, 64)).toBe(1)
  })

  it('adds up what was sent and lost over the slices of a window', () => {
    const slice = { ...combineLoads([]), requests: 10, seconds: 0.5, sent: 74, unanswered: 1 }
    const window = combineLoads([slice, { ...slice, unanswered: 2 }])
    expect(window.sent).toBe(148)
    expect(window.unanswered).toBe(3)
  })
})

function runOf(
  target: TargetName,
  mode: Mode,
  round: number,
  rate: number,
  ok = true,
  cores: 1 | 2 = 1,
): RunRecord {
  return {
    cores,
    alg: 'RS256',
    mode,
    target,
    round,
    ok,
    ...(ok ? {} : { failure: 'unexpected 40× unknown-kid:500' }),
    requests: rate * 3,
    requestsPerSec: ok ? rate : 0,
    p50Ms: 1,
    p99Ms: 2,
    cpuMicrosPerRequest: 100,
    rssMiB: 100,
    jwksFetches: 1,
    statuses: {},
    unexpected: {},
  }
}

function resultsOf(runs: RunRecord[]): Results {
  return {
    machine: {
      date: '2026-12-08',
      node: 'v20',
      cpu: 'cpu',
      cpuCount: 2,
      memoryGiB: 1,
      kernel: 'k',
      loadBefore: 0,
      loadAfter: 0,
      versions: {},
      commit: 'c',
    },
    options: {},
    runs,
    summary: summarise(runs),
    micro: [],
  }
}

/** The targets table's row that starts with `label`. */
function row(runs: RunRecord[], label: string): string {
  const line = markdownTables(resultsOf(runs))
    .split('\n')
    .find((text) => text.startsWith(`| ${label}`))
  if (line === undefined) throw new Error(`no row ${label}`)
  return line
}

/** Three rounds of `mode`: no auth at 6,000 req/s, oidc-guard at `own`, each peer as given. */
function rounds(
  mode: Mode,
  own: number,
  peers: Partial<Record<TargetName, number | 'failed'>>,
  noAuth: number | 'failed' = 6000,
  cores: 1 | 2 = 1,
): RunRecord[] {
  const runs: RunRecord[] = []
  for (const round of [1, 2, 3]) {
    const entries = Object.entries({ ...peers, 'no-auth': noAuth, 'oidc-guard': own })
    for (const [target, rate] of entries) {
      runs.push(
        runOf(
          target as TargetName,
          mode,
          round,
          rate === 'failed' ? 0 : rate,
          rate !== 'failed',
          cores,
        ),
      )
    }
  }
  return runs
}

const everyPeer = (rate: number): Partial<Record<TargetName, number>> =>
  Object.fromEntries(PEERS.map((peer) => [peer, rate]))

describe('review 13 #3: "above every peer" is not met over a peer that failed or was not measured', () => {
  const garbage = '50% garbage, one core'

  it('cannot be judged when the fastest peer failed', () => {
    const line = row(
      rounds('garbage', 3000, { ...everyPeer(2500), 'aws-jwt-verify': 'failed' }),
      garbage,
    )
    expect(line).toContain('cannot be judged: aws-jwt-verify failed')
    expect(line).not.toMatch(/\| met \|$/)
    expect(line).not.toContain('held in')
  })

  it('cannot be judged when no peer was measured (a subset run)', () => {
    const line = row(rounds('garbage', 100, {}), garbage)
    expect(line).toContain('cannot be judged:')
    expect(line).toContain('aws-jwt-verify not measured')
    expect(line).toContain('jose raw not measured')
    expect(line).not.toMatch(/\| met \|$/)
  })

  it('cannot be judged when every peer failed, even at 0.96 × no auth', () => {
    const failed = Object.fromEntries(PEERS.map((peer) => [peer, 'failed' as const]))
    const line = row(rounds('repeated', 5760, failed), 'one repeated token, one core')
    expect(line).toContain('cannot be judged:')
    expect(line).not.toMatch(/\| met \|$/)
  })

  it('is not met when a measured peer is ahead, whatever another peer did', () => {
    const line = row(
      rounds('garbage', 3000, { ...everyPeer(2500), jose: 3500, 'express-jwt': 'failed' }),
      garbage,
    )
    expect(line).toMatch(/\| \*\*not met\*\* \|$/)
    expect(line).toContain('held in 0 of 3 rounds')
  })

  it('cannot judge the ceiling when no auth failed', () => {
    const line = row(
      rounds('repeated', 5900, everyPeer(3000), 'failed'),
      'one repeated token, one core',
    )
    expect(line).toContain('cannot be judged: no auth (ceiling) failed')
  })

  it('cannot judge the cold comparison when the peer failed', () => {
    const line = row(rounds('cold', 3000, { 'aws-jwt-verify': 'failed' }), 'cold, one core')
    expect(line).toContain('cannot be judged: aws-jwt-verify failed')
  })

  it('is still met when every peer was measured and is behind', () => {
    expect(row(rounds('garbage', 3000, everyPeer(2500)), garbage)).toMatch(
      /held in 3 of 3 rounds \| met \|$/,
    )
    expect(row(rounds('repeated', 5900, everyPeer(3000)), 'one repeated token, one core')).toMatch(
      /\| met \|$/,
    )
  })
})

/** Fake pools: token-shaped strings, a distinct JSON payload each, as freshBadToken needs. */
function fakePools(): TokenPools {
  const header = Buffer.from('{"alg":"RS256","kid":"k"}').toString('base64url')
  const signature = Buffer.alloc(256, 7).toString('base64url')
  const distinct = Array.from({ length: 10_000 }, (_, index) => {
    const payload = Buffer.from(JSON.stringify({ sub: `user-${index}` })).toString('base64url')
    return `${header}.${payload}.${signature}`
  })
  const signedBad = Object.fromEntries(
    SIGNED_BAD_KINDS.map((kind) => [kind, Array.from({ length: 300 }, (_, i) => `${kind}-${i}`)]),
  ) as Record<SignedBadKind, string[]>
  return { alg: 'RS256', distinct, cold: ['cold-0', 'cold-1'], signedBad }
}

describe('review 13 #4: a garbage token called distinct on every request never repeats on one server', () => {
  it('continues the warm-up stream in the measured window', () => {
    const streams = contenderStreams('garbage', fakePools())
    const fresh = new Set<string>(FRESH_BAD_KINDS)
    const seen = new Map<string, number>()
    // As warmUp: 40,000 requests of warm-up (in pieces), a re-warm, then the measured window.
    for (let index = 0; index < 42_000; index += 1) {
      const { token, kind } = streams.warmUp()
      if (fresh.has(kind)) seen.set(token, (seen.get(token) ?? 0) + 1)
    }
    let repeated = 0
    for (let index = 0; index < 12_000; index += 1) {
      const { token, kind } = streams.window()
      if (!fresh.has(kind)) continue
      if (seen.has(token)) repeated += 1
      seen.set(token, (seen.get(token) ?? 0) + 1)
    }
    expect(repeated).toBe(0)
    expect([...seen.values()].every((count) => count === 1)).toBe(true)
  })

  it('keeps the cold mode measuring tokens the warm-up never sent', () => {
    const streams = contenderStreams('cold', fakePools())
    expect(streams.warmUp().token).not.toMatch(/^cold-/)
    expect(streams.window().token).toBe('cold-0')
  })
})

describe('review 13 #5: contradictory or ignored options are refused', () => {
  it.each([
    [['--memory', '--micro'], /--micro measures only its own part and would ignore --memory/],
    [['--micro', '--memory'], /--micro measures only its own part and would ignore --memory/],
    [['--micro', '--profile', 'cold'], /--micro .*would ignore --profile/],
    [['--memory', '--profile', 'cold'], /--memory .*would ignore --profile/],
    [['--micro', '--targets', 'oidc-guard'], /would ignore --targets/],
    [['--memory', '--modes', 'cold'], /--memory .*would ignore --modes/],
    [['--profile', 'cold', '--modes', 'repeated'], /--profile .*would ignore --modes/],
    [['--profile', 'cold,repeated'], /--profile takes one of/],
    [['--profile', 'cold', '--profiler', 'perf,cpu-prof'], /--profiler takes one of/],
    [['--profile', 'cold', '--algs', 'RS256,ES256'], /--profile measures one algorithm/],
    [['--profile', 'cold', '--rounds', '3'], /--rounds needs --profiler perf/],
    [['--profiler', 'cpu-prof'], /give --profile MODE/],
    [['--modes', 'cold,cold'], /--modes: cold given twice/],
    [['--cores', '1,1'], /--cores: 1 given twice/],
    [['--targets', 'jose,no-auth,jose'], /--targets: jose given twice/],
    [['--duration', '2', '--duration', '3'], /--duration given more than once/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(message)
  })

  it('still takes the combinations each run uses', () => {
    expect(parseOptions(['--micro', '--quick']).microOnly).toBe(true)
    expect(parseOptions(['--memory', '--targets', 'jose', '--connections', '8'])).toMatchObject({
      memory: true,
      targets: ['jose'],
      out: 'bench/results/memory.json',
    })
    expect(
      parseOptions(['--profile', 'cold', '--profiler', 'perf', '--rounds', '2', '--duration', '2']),
    ).toMatchObject({ profile: 'cold', rounds: 2 })
    expect(
      parseOptions(['--quick', '--targets', 'no-auth,oidc-guard', '--modes', 'repeated']).modes,
    ).toEqual(['repeated'])
  })

  it('never writes a results file in which nothing was measured', () => {
    expect(hasMeasurements({ runs: [], micro: [] })).toBe(false)
    expect(hasMeasurements({ runs: [], micro: [], memory: [] })).toBe(false)
    expect(hasMeasurements({ runs: [runOf('jose', 'cold', 1, 1)], micro: [] })).toBe(true)
    expect(
      hasMeasurements({
        runs: [],
        micro: [{ alg: 'RS256', name: 'x', opsPerSec: 1, percentOfRaw: 1 }],
      }),
    ).toBe(true)
  })
})

describe('review 13 #6: the garbage mode sends a wrong issuer and a token not yet valid', () => {
  it('has both signed kinds, and every verifying target must refuse them with a 401', () => {
    expect(SIGNED_BAD_KINDS).toContain('wrong-issuer')
    expect(SIGNED_BAD_KINDS).toContain('not-yet-valid')
    for (const target of TARGETS.filter(
      (name) => name !== 'no-auth' && name !== 'empty-middleware',
    )) {
      expect(expectedStatuses(target, 'wrong-issuer')).toEqual([401])
      expect(expectedStatuses(target, 'not-yet-valid')).toEqual([401])
    }
  })
})

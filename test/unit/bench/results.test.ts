// The benchmark's round-by-round comparisons: what "held in k of n rounds" counts.

import { describe, expect, it } from 'vitest'
import { roundRatios, roundsHeld, roundsOf, type RunRecord } from '../../../bench/results.js'
import type { TargetName } from '../../../bench/shared.js'

function run(round: number, target: TargetName, requestsPerSec: number, ok = true): RunRecord {
  return {
    cores: 1,
    alg: 'RS256',
    mode: 'repeated',
    target,
    round,
    ok,
    requests: requestsPerSec * 3,
    requestsPerSec,
    p50Ms: 1,
    p99Ms: 2,
    cpuMicrosPerRequest: 100,
    rssMiB: 100,
    jwksFetches: 1,
    statuses: {},
    unexpected: {},
  }
}

const runs: RunRecord[] = [
  run(2, 'no-auth', 1000),
  run(2, 'oidc-guard', 960),
  run(1, 'no-auth', 1000),
  run(1, 'oidc-guard', 900),
  run(3, 'no-auth', 800),
  run(3, 'oidc-guard', 790, false),
  { ...run(1, 'oidc-guard', 5000), mode: 'cold' },
  { ...run(1, 'oidc-guard', 5000), cores: 2 },
]

describe('benchmark rounds', () => {
  it('groups the runs that succeeded by round, in order, for one configuration and mode', () => {
    const rounds = roundsOf(runs, 1, 'RS256', 'repeated')
    expect(rounds.map((round) => round.get('no-auth')?.round)).toEqual([1, 2, 3])
    expect(rounds[0]!.get('oidc-guard')?.requestsPerSec).toBe(900)
    expect(rounds[2]!.has('oidc-guard')).toBe(false) // Failed: not a measurement.
  })

  it('compares targets within a round', () => {
    const rounds = roundsOf(runs, 1, 'RS256', 'repeated')
    expect(roundRatios(rounds, 'oidc-guard', 'no-auth')).toEqual([0.9, 0.96])
  })

  it('counts the rounds where a target held, among those that could decide it', () => {
    const rounds = roundsOf(runs, 1, 'RS256', 'repeated')
    const tally = roundsHeld(rounds, (round) => {
      const own = round.get('oidc-guard')
      const ceiling = round.get('no-auth')
      if (own === undefined || ceiling === undefined) return undefined
      return own.requestsPerSec >= 0.95 * ceiling.requestsPerSec
    })
    expect(tally).toEqual({ held: 1, of: 2 })
  })
})

// The instruction-count table: each cell's ratios to no auth and to the empty middleware.

import { describe, expect, it } from 'vitest'
import {
  instructionsTable,
  tokenFor,
  type CountResults,
  type TokenSets,
} from '../../../bench/instructions.js'

const results: CountResults = {
  date: '2026-11-24T00:00:00.000Z',
  node: 'v20.20.2',
  valgrind: 'valgrind-3.19.0',
  commit: 'abc1234',
  warmupRequests: 25_000,
  warmupConnections: 3,
  measuredRequests: 15_000,
  records: [
    { target: 'no-auth', mode: 'repeated', requests: 15_000, instructionsPerRequest: 600_000 },
    {
      target: 'empty-middleware',
      mode: 'repeated',
      requests: 15_000,
      instructionsPerRequest: 612_000,
    },
    { target: 'oidc-guard', mode: 'repeated', requests: 15_000, instructionsPerRequest: 630_000 },
    { target: 'oidc-guard', mode: 'distinct', requests: 15_000, instructionsPerRequest: 750_000 },
    {
      target: 'aws-jwt-verify',
      mode: 'repeated',
      requests: 15_000,
      instructionsPerRequest: 1_057_653,
    },
  ],
}

describe('instructionsTable', () => {
  const table = instructionsTable(results)
  const row = (label: string) => table.split('\n').find((line) => line.startsWith(`| ${label} |`))

  it('gives each count with its ratios to no auth and to the empty middleware', () => {
    expect(row('oidc-guard')).toBe('| oidc-guard | 630.0k (1.050 / 1.029) | 750.0k (– / –) |')
  })

  it('writes thousands with their separator', () => {
    expect(row('aws-jwt-verify')).toContain('1,057.7k (1.763 / 1.728)')
  })

  it('gives a baseline no ratio to itself', () => {
    expect(row('no auth (ceiling)')).toMatch(
      /^\| no auth \(ceiling\) \| 600\.0k \(– \/ –\) \| n\/a \|$/,
    )
  })

  it('gives the empty middleware its ratio to no auth only', () => {
    expect(row('empty middleware (floor)')).toContain('612.0k (1.020 / –)')
  })

  it('adds a column for the cold mode when it was counted', () => {
    const cold = { target: 'oidc-guard', mode: 'cold', requests: 15_000 } as const
    const withCold = instructionsTable({
      ...results,
      records: [...results.records, { ...cold, instructionsPerRequest: 1_025_874 }],
    })
    expect(withCold).toContain(
      '| one repeated token | 10,000 distinct tokens | cold (every token new) |',
    )
    expect(withCold).toContain(
      '| oidc-guard | 630.0k (1.050 / 1.029) | 750.0k (– / –) | 1,025.9k (– / –) |',
    )
  })

  it('names both modes and the run', () => {
    expect(table).toContain('| one repeated token | 10,000 distinct tokens |')
    expect(table).toContain('15,000 requests counted after 25,000 of warm-up over 3 connections')
  })
})

describe('tokenFor', () => {
  const tokens: TokenSets = { distinct: ['d0', 'd1', 'd2'], cold: ['c0', 'c1'] }

  it('sends the first token on every request of the repeated mode', () => {
    expect([0, 1, 5].map((serial) => tokenFor(tokens, 'repeated', serial))).toEqual([
      'd0',
      'd0',
      'd0',
    ])
  })

  it('goes round the distinct tokens', () => {
    expect([0, 1, 2, 3].map((serial) => tokenFor(tokens, 'distinct', serial))).toEqual([
      'd0',
      'd1',
      'd2',
      'd0',
    ])
  })

  it('never sends a cold token twice: running out is an error, not a wrap-around', () => {
    expect([0, 1].map((serial) => tokenFor(tokens, 'cold', serial))).toEqual(['c0', 'c1'])
    expect(() => tokenFor(tokens, 'cold', 2)).toThrow('cold mode: only 2 tokens minted')
  })
})

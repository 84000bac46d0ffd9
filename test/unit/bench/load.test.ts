// How the benchmark takes a round's slices of one server as one measured window.

import { describe, expect, it } from 'vitest'
import { combineLoads, type LoadResult } from '../../../bench/load.js'

function slice(requests: number, seconds: number, p50Ms: number, p99Ms: number): LoadResult {
  return {
    requests,
    seconds,
    requestsPerSec: requests / seconds,
    p50Ms,
    p99Ms,
    errors: 0,
    timeouts: 0,
    sent: requests + 64,
    unanswered: 0,
    unexpected: {},
    statuses: { '200': requests },
  }
}

describe('combineLoads', () => {
  it('rates the slices over their summed time, not as a mean of their rates', () => {
    const window = combineLoads([slice(1000, 0.5, 8, 20), slice(3000, 1.5, 9, 30)])
    expect(window.requests).toBe(4000)
    expect(window.seconds).toBe(2)
    expect(window.requestsPerSec).toBe(2000)
  })

  it('takes the middle of the slices latencies', () => {
    const window = combineLoads([slice(10, 1, 8, 20), slice(10, 1, 12, 90), slice(10, 1, 9, 30)])
    expect(window.p50Ms).toBe(9)
    expect(window.p99Ms).toBe(30)
  })

  it('adds up statuses, unexpected answers, errors and time-outs, so one bad slice fails the run', () => {
    const bad: LoadResult = {
      ...slice(10, 1, 8, 20),
      errors: 2,
      timeouts: 1,
      unexpected: { 'forged:200': 3 },
      statuses: { '200': 7, '401': 3 },
    }
    const window = combineLoads([
      slice(10, 1, 8, 20),
      bad,
      { ...bad, unexpected: { 'forged:200': 1 } },
    ])
    expect(window.statuses).toEqual({ '200': 24, '401': 6 })
    expect(window.unexpected).toEqual({ 'forged:200': 4 })
    expect(window.errors).toBe(4)
    expect(window.timeouts).toBe(2)
  })

  it('reports no rate for no slices rather than dividing by zero', () => {
    expect(combineLoads([]).requestsPerSec).toBe(0)
  })
})

// The micro benchmark's paired measurement, under a fake CPU clock: what each rate counts.

import { describe, expect, it } from 'vitest'
import { measure, paired, rateOf, type Candidate } from '../../../bench/pairing.js'

/**
 * A clock that advances by what each call costs, and the calls in the order they ran. A call's cost
 * is its verifier's work times how slow the machine is at that moment (`slowDown` changes it).
 */
function fakeMachine() {
  let now = 0
  let slowness = 1
  const log: string[] = []
  const candidate = (name: string, micros: number, async = false): Candidate => ({
    name,
    async,
    check: (_token, index) => {
      now += micros * slowness
      log.push(`${name}:${index}`)
      return async ? Promise.resolve(true) : true
    },
  })
  return { clock: () => now, log, candidate, slowDown: () => (slowness += 1) }
}

const tokens = Array.from({ length: 100 }, (_, index) => `token-${index}`)

describe('micro benchmark pairing', () => {
  it('measures whole batches of 64 calls until the budget is spent, from the token asked for', async () => {
    const machine = fakeMachine()
    const sample = await measure(machine.candidate('a', 10), tokens, 0.001, 98, machine.clock)
    expect(sample).toEqual({ calls: 128, micros: 1280 })
    expect(machine.log.slice(0, 3)).toEqual(['a:98', 'a:99', 'a:0'])
  })

  it('awaits an asynchronous check and refuses a synchronous one that answers false', async () => {
    const machine = fakeMachine()
    const sample = await measure(machine.candidate('a', 50, true), tokens, 0.001, 0, machine.clock)
    expect(sample.calls).toBe(64)
    const refusing: Candidate = { name: 'refuses', async: false, check: () => false }
    await expect(measure(refusing, tokens, 0.001, 0, machine.clock)).rejects.toThrow(
      'refuses refused a valid token',
    )
  })

  it('adds samples up before dividing: calls per CPU second of them all', () => {
    expect(
      rateOf([
        { calls: 100, micros: 1000 },
        { calls: 300, micros: 1000 },
      ]),
    ).toBe(200_000)
  })

  it('alternates slices of the raw limit and the candidate, each going on where it left off', async () => {
    const machine = fakeMachine()
    const raw = machine.candidate('raw', 10)
    const slow = machine.candidate('slow', 40)
    // 0.4 s in slices of 0.1 s: four pairs, raw first, then the candidate first, and so on.
    const { rate, rawRate } = await paired(slow, raw, tokens, 0.4, machine.clock)
    expect(rawRate).toBe(100_000)
    expect(rate).toBe(25_000)
    // Slices in turn (r s | s r | r s | s r): consecutive calls of one verifier form five runs.
    const runs = machine.log
      .map((entry) => entry.split(':')[0])
      .filter((name, index, all) => index === 0 || name !== all[index - 1])
    expect(runs).toEqual(['raw', 'slow', 'raw', 'slow', 'raw'])
    // The candidate's second slice starts at the token after its first slice's last one.
    const slowCalls = machine.log.filter((entry) => entry.startsWith('slow:'))
    expect(slowCalls[2560]).toBe(`slow:${2560 % 100}`)
  })

  it('takes the ratio of rates measured side by side, so a machine that slows down between pairs does not move it', async () => {
    const machine = fakeMachine()
    const raw = machine.candidate('raw', 10)
    const half = machine.candidate('half', 20)
    let calls = 0
    const slowingDown: Candidate = {
      ...half,
      check: (token, index) => {
        calls += 1
        if (calls % 5000 === 0) machine.slowDown() // Slower and slower as the round goes on.
        return half.check(token, index)
      },
    }
    const { rate, rawRate } = await paired(slowingDown, raw, tokens, 0.6, machine.clock)
    // Measured once, before the candidate, the raw limit would put it near 25%.
    expect(rate / rawRate).toBeGreaterThan(0.45)
    expect(rate / rawRate).toBeLessThan(0.55)
  })
})

// The helpers that replaced copies: warnOnce (keyed by code), percentDecodes, and the one
// UsageError every command throws and the dispatcher answers with exit code 2.

import { afterEach, describe, expect, it, vi } from 'vitest'
import { runCli, type Command, type Io } from '../../bin/dispatch.js'
import { parseCommandLine, percentDecodes, UsageError } from '../../src/spi.js'
import { warnOnce } from '../../src/warn-once.js'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('warnOnce', () => {
  it('warns once per code, and each code on its own', () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    warnOnce('OIDC_GUARD_TEST_A', 'first a')
    warnOnce('OIDC_GUARD_TEST_A', 'second a')
    warnOnce('OIDC_GUARD_TEST_B', 'first b')
    expect(emitted.mock.calls).toEqual([
      ['first a', { code: 'OIDC_GUARD_TEST_A' }],
      ['first b', { code: 'OIDC_GUARD_TEST_B' }],
    ])
  })
})

describe('percentDecodes', () => {
  it.each([
    ['', true],
    ['p%40ss', true],
    ['plain', true],
    ['50%', false],
    ['%zz', false],
    ['%C3', false], // a lone byte of a two-byte UTF-8 sequence
  ])('%j → %s', (component, expected) => {
    expect(percentDecodes(component)).toBe(expected)
  })
})

describe('UsageError', () => {
  const io = (err: string[]): Io => ({
    out: () => undefined,
    err: (line) => void err.push(line),
    env: {},
  })

  it('parseCommandLine turns an unknown flag into a UsageError', () => {
    expect(() => parseCommandLine({ args: ['--nope'], options: {}, strict: true })).toThrow(
      UsageError,
    )
  })

  it('the one a provider throws through spi is the one the dispatcher answers with exit code 2', async () => {
    const command: Command = {
      name: 'probe',
      summary: 'probe',
      usage: 'Usage: oidc-guard probe',
      run: async (args) => {
        parseCommandLine({ args: [...args], options: {}, strict: true })
        return 0
      },
    }
    const err: string[] = []
    expect(await runCli(['probe', '--nope'], io(err), [command])).toBe(2)
    expect(err.join('\n')).toMatch(/^oidc-guard probe: .*--nope[\s\S]*Usage: oidc-guard probe$/)
  })
})

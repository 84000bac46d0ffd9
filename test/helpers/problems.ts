// The problems of a configuration that must be refused: for tests of option and env checks.

import { expect } from 'vitest'
import { ConfigError } from '../../src/errors.js'

/** The problems of the ConfigError `build` throws; fails the test when it throws none, or another. */
export function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  return expect.unreachable('the configuration was accepted: expected a ConfigError')
}

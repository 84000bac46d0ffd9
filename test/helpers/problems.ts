// What a refusal says: a configuration's problems, a token's InvalidTokenError.

import { expect } from 'vitest'
import { ConfigError, InvalidTokenError } from '../../src/errors.js'

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

/** The InvalidTokenError `promise` rejects with; fails the test when it resolves, or rejects otherwise. */
export async function refusal(promise: Promise<unknown>): Promise<InvalidTokenError> {
  const error = await promise.then(
    () => expect.unreachable('the token was accepted'),
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(InvalidTokenError)
  return error as InvalidTokenError
}

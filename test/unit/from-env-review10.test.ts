// fromEnv() given an environment that is no object of strings: a ConfigError naming the variable,
// never a TypeError from a reader or a boolean read as unset.

import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { fromEnv } from '../../providers/from-env.js'

function problemOf(env: unknown): string {
  try {
    fromEnv(env as never)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('fromEnv with an env that is not one', () => {
  it('names a variable that is a number', () => {
    expect(problemOf({ NODE_ENV: 1 })).toMatch(/env\.NODE_ENV must be a string,.*write '1'/)
  })

  it('refuses a boolean switch instead of reading it as unset', () => {
    const message = problemOf({ AUTH_MIDDLEWARE_DISABLED: true, AUTH_PROVIDER: 'jwks' })
    expect(message).toMatch(/env\.AUTH_MIDDLEWARE_DISABLED must be a string,.*write 'true'/)
    // Reported alone: nothing else could be read from it.
    expect(message).not.toMatch(/AUTH_PROVIDER_ISSUER/)
  })

  it.each([['production'], [[]]])('refuses %j as the environment', (env) => {
    expect(problemOf(env)).toMatch(/env must be an object of environment variables/)
  })

  it('never shows a secret variable’s value', () => {
    const message = problemOf({ AUTH_REDIS_URL: 12345678 })
    expect(message).toMatch(/env\.AUTH_REDIS_URL must be a string/)
    expect(message).not.toContain('12345678')
  })
})

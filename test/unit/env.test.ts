import { describe, expect, it } from 'vitest'
import { ConfigError, createVerifier } from '../../src/index.js'
import { readJwksCacheEnv, readLogLevel } from '../../src/env.js'
import { Problems } from '../../src/options.js'
import { JwksProvider } from '../../providers/jwks/index.js'

function problemsOf(read: (problems: Problems) => unknown): string[] {
  const problems = new Problems()
  read(problems)
  try {
    problems.throwIfAny()
    return []
  } catch (error) {
    return [...(error as ConfigError).problems]
  }
}

describe('environment variables of the core', () => {
  it.each([
    [{}, 'info'],
    [{ AUTH_MIDDLEWARE_LOG_LEVEL: 'DEBUG' }, 'debug'],
    [{ AUTH_MIDDLEWARE_LOG_LEVEL: 'silent' }, 'silent'],
  ])('AUTH_MIDDLEWARE_LOG_LEVEL %j → %s', (env, level) => {
    expect(readLogLevel(env, new Problems())).toBe(level)
  })

  it('names the variable and the value of a bad log level', () => {
    expect(
      problemsOf((problems) => readLogLevel({ AUTH_MIDDLEWARE_LOG_LEVEL: 'loud' }, problems)),
    ).toEqual([expect.stringMatching(/^AUTH_MIDDLEWARE_LOG_LEVEL must be one of .*, got "loud"$/)])
  })

  it('reads JWKS_CACHE_INTERVAL in minutes and JWKS_CACHE_USAGES as a count', () => {
    expect(
      readJwksCacheEnv({ JWKS_CACHE_INTERVAL: '10', JWKS_CACHE_USAGES: '50' }, new Problems()),
    ).toEqual({
      refreshIntervalMs: 600_000,
      refreshAfterUses: 50,
    })
    expect(readJwksCacheEnv({}, new Problems())).toEqual({})
  })

  it('reports every bad JWKS variable at once', () => {
    const problems = problemsOf((list) =>
      readJwksCacheEnv({ JWKS_CACHE_INTERVAL: 'soon', JWKS_CACHE_USAGES: '2.5' }, list),
    )
    expect(problems).toEqual([
      'JWKS_CACHE_INTERVAL must be a number above 0, got "soon"',
      'JWKS_CACHE_USAGES must be a whole number above 0, got "2.5"',
    ])
  })

  it('the verifier’s logger takes its level from the env it is given; the option wins', () => {
    const provider = new JwksProvider({
      issuer: 'https://e.example',
      jwksUri: 'https://e.example/k',
      audience: 'a',
    })
    expect(
      createVerifier({ provider, env: { AUTH_MIDDLEWARE_LOG_LEVEL: 'debug' } }).logger.level,
    ).toBe('debug')
    expect(
      createVerifier({ provider, env: { AUTH_MIDDLEWARE_LOG_LEVEL: 'debug' }, logLevel: 'error' })
        .logger.level,
    ).toBe('error')
    expect(() => createVerifier({ provider, env: { AUTH_MIDDLEWARE_LOG_LEVEL: 'loud' } })).toThrow(
      ConfigError,
    )
  })
})

// Review 8: MemoryRevocationStore refuses bad options with a ConfigError as the Redis store does,
// and fromEnv gives no "ignored"/"not supported" warning for a variable left blank.

import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { ConfigError, fromEnv, MemoryRevocationStore } from '../../src/index.js'

describe('MemoryRevocationStore options', () => {
  const build = (options: unknown) => () =>
    new MemoryRevocationStore(options as ConstructorParameters<typeof MemoryRevocationStore>[0])

  it.each([
    ['0', { maxTokenLifetimeSec: 0 }, 'got 0'],
    ['a negative number', { maxTokenLifetimeSec: -60 }, 'got -60'],
    ['NaN', { maxTokenLifetimeSec: Number.NaN }, 'got NaN'],
    ['Infinity', { maxTokenLifetimeSec: Number.POSITIVE_INFINITY }, 'got Infinity'],
    ['a string', { maxTokenLifetimeSec: '3600' }, 'got "3600"'],
    ['null', { maxTokenLifetimeSec: null }, 'got null'],
  ])('maxTokenLifetimeSec %s is a ConfigError naming the option', (_title, options, seen) => {
    expect(build(options)).toThrow(ConfigError)
    expect(build(options)).toThrow(
      /maxTokenLifetimeSec must be a positive number of seconds, the longest lifetime of your tokens/,
    )
    expect(build(options)).toThrow(seen)
    try {
      build(options)()
    } catch (error) {
      expect((error as ConfigError).code).toBe('ERR_AUTH_CONFIG')
    }
  })

  it('options that are not an object are a ConfigError showing the shape expected', () => {
    expect(build(3600)).toThrow(ConfigError)
    expect(build(3600)).toThrow('takes an options object such as { maxTokenLifetimeSec: 3600 }')
  })

  it('null, no options and a valid lifetime build a store', () => {
    expect(build(null)).not.toThrow()
    expect(build(undefined)).not.toThrow()
    expect(build({ maxTokenLifetimeSec: 0.5 })).not.toThrow()
  })
})

describe('fromEnv warnings for blank variables', () => {
  function warningsFor(extra: Record<string, string>): string[] {
    const lines: string[] = []
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) })
    fromEnv(
      {
        AUTH_PROVIDER: 'oidc',
        AUTH_PROVIDER_ISSUER: 'https://auth.example.com/',
        AUTH_PROVIDER_AUDIENCE: 'api',
        ...extra,
      },
      { logger },
    )
    return lines
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((entry) => entry.level === 40)
      .map((entry) => entry.msg)
  }

  it.each([
    ['an empty value', ''],
    ['a value of spaces only', '   '],
  ])('%s counts as unset: no warning', (_title, blank) => {
    expect(
      warningsFor({
        AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: blank,
        AUTH_PROVIDER_JWKS_URI: blank,
        JWT_TOKEN_VERIFICATION_DISABLED: blank,
        TOKEN_VERIFICATION_DISABLED: blank,
        AUTH_MIDDLEWARE_LOG_FORMAT: blank,
        AUTHZ_MAX_OVERFLOW: blank,
      }),
    ).toEqual([])
  })

  it('the same variables with a value are still warned about', () => {
    const warnings = warningsFor({
      AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: 'tenant',
      JWT_TOKEN_VERIFICATION_DISABLED: 'true',
    })
    expect(warnings).toContain(
      'AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID is set, but AUTH_PROVIDER does not include entra-id: it is ignored',
    )
    expect(
      warnings.some((msg) => msg.startsWith('JWT_TOKEN_VERIFICATION_DISABLED is not supported')),
    ).toBe(true)
  })
})

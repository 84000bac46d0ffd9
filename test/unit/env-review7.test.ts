// Review 7 of the environment: the JWKS interval's bounds, production from either env, URLs with
// credentials in errors, the Python package's names, scrubbed errors' types, and the docs of it.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { readJwksCacheEnv, readLogLevel } from '../../src/env.js'
import { ConfigError, fromEnv, jwtAuth } from '../../src/index.js'
import { JwksCache } from '../../src/jwks-cache.js'
import { safeError } from '../../src/logger.js'
import { Problems, urlProblem } from '../../src/options.js'

const root = join(import.meta.dirname, '..', '..')

const JWKS_ENV = {
  AUTH_PROVIDER: 'jwks',
  AUTH_PROVIDER_ISSUER: 'https://a.example/',
  AUTH_PROVIDER_JWKS_URI: 'https://a.example/jwks',
  AUTH_PROVIDER_AUDIENCE: 'api',
}

function problemsOf(build: () => unknown): string[] {
  try {
    build()
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems]
    throw error
  }
  return []
}

function memoryLogger() {
  const lines: Record<string, unknown>[] = []
  const logger = pino(
    { level: 'trace' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  )
  return { logger, lines }
}

describe('JWKS_CACHE_INTERVAL has an upper bound (24 h)', () => {
  const read = (value: string) =>
    problemsOf(() => {
      const problems = new Problems()
      readJwksCacheEnv({ JWKS_CACHE_INTERVAL: value }, problems)
      problems.throwIfAny()
    })

  it('accepts 1440 minutes and refuses more', () => {
    expect(read('1440')).toEqual([])
    expect(read('1441')).toEqual([
      expect.stringMatching(/^JWKS_CACHE_INTERVAL is in minutes and must be at most 1440 /),
    ])
  })

  it('says that 20 minutes written in milliseconds looks like milliseconds', () => {
    expect(read('1200000')).toEqual([
      expect.stringContaining('got "1200000"; 1200000 looks like milliseconds: write 20'),
    ])
  })

  it('says that an hour written in seconds may have been meant in seconds', () => {
    expect(read('3600')).toEqual([
      expect.stringContaining('if 3600 was meant in seconds, write 60 for 60 minutes'),
    ])
  })

  it('no seconds hint for a value that makes no whole minutes as seconds (1441)', () => {
    const [problem] = read('1441')
    expect(problem).toMatch(/must be at most 1440/)
    expect(problem).not.toMatch(/meant in seconds|looks like seconds/)
  })

  it('says that only plain decimal digits are read when a number is written another way', () => {
    expect(read('1e3')).toEqual([
      expect.stringContaining('must be a number written in plain decimal digits above 0'),
    ])
    expect(read('5m')).toEqual([expect.not.stringContaining('decimal')])
  })

  it('a huge value is one problem among the others, naming the variable', () => {
    const huge = '9'.repeat(310) // Infinity to Number()
    const problems = problemsOf(() =>
      fromEnv({ ...JWKS_ENV, JWKS_CACHE_INTERVAL: huge, AUTH_REALM: 'a"b' }, { logger: false }),
    )
    expect(problems).toEqual([
      expect.stringMatching(/^JWKS_CACHE_INTERVAL must be a number above 0/),
      expect.stringMatching(/^AUTH_REALM must be/),
    ])
  })

  it.each(['0x10', '1e3', '1e305', '-5', '+5', '5m', 'Infinity'])(
    'reads numbers in plain decimal notation only: %s is refused',
    (value) => {
      expect(read(value)).toEqual([
        expect.stringMatching(
          /^JWKS_CACHE_INTERVAL must be a number (written in plain decimal digits )?above 0/,
        ),
      ])
    },
  )

  it.each([
    ['20', []],
    ['0.5', []],
    ['.5', []],
  ])('reads %s', (value, expected) => {
    expect(read(value)).toEqual(expected)
  })

  it('new JwksCache refuses a refreshIntervalMs over 24 h, naming the option', () => {
    expect(() => new JwksCache({ refreshIntervalMs: 86_400_000 })).not.toThrow()
    expect(problemsOf(() => new JwksCache({ refreshIntervalMs: 72_000_000_000 }))).toEqual([
      expect.stringMatching(/^jwksCache\.refreshIntervalMs .* at most 86400000 .*got 72000000000$/),
    ])
  })
})

describe('resourceMetadata: production when either process.env or the env option says so', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it('refuses a plain-http resourceMetadata under process.env NODE_ENV=production', () => {
    vi.stubEnv('NODE_ENV', 'production')
    const md = 'http://api.example/.well-known/oauth-protected-resource'
    const problems = problemsOf(() =>
      jwtAuth({ ...fromEnv(JWKS_ENV, { logger: false }), resourceMetadata: md }),
    )
    expect(problems).toEqual([expect.stringMatching(/^resourceMetadata must use https/)])
  })
})

describe('a URL that parses shows its host though its path holds an @', () => {
  it('hides only the user information of the authority', () => {
    const problem = urlProblem('http://idp.example.com/tenants/team@example.com/', true)
    expect(problem).toContain('"http://idp.example.com/tenants/team@example.com/"')
    expect(urlProblem('http://user:pw@idp.example.com/a@b/ x', true)).toContain(
      '"http://[hidden]@idp.example.com/a@b/ x"',
    )
  })
})

describe('JwksCache takes logger: false, as the providers do', () => {
  it('builds, silent', () => {
    expect(() => new JwksCache({ logger: false })).not.toThrow()
  })
})

describe('a URL carrying credentials is never echoed, whichever check fails', () => {
  const secret = 's3cretPW'
  it.each([
    ['with a space', `https://user:${secret}@a.example/jw ks`],
    ['that does not parse', `https://user:${secret}@a ex/jwks`],
    ['without a scheme', `user:${secret}@a.example/jwks`],
    ['with an @ in the password', `https://user:${secret}@x@a.example/jw ks`],
    ['with a newline', `https://user:${secret}@a.example/\njwks`],
  ])('%s', (_label, url) => {
    const problem = urlProblem(url, false)
    expect(problem).toBeDefined()
    expect(problem).not.toContain(secret)
    expect(problem).toContain('[hidden]@')
  })

  it('through fromEnv too', () => {
    const problems = problemsOf(() =>
      fromEnv(
        { ...JWKS_ENV, AUTH_PROVIDER_JWKS_URI: `https://user:${secret}@a.example/jw ks` },
        { logger: false },
      ),
    )
    expect(problems).toEqual([
      expect.stringContaining(
        'must not contain spaces or control characters, got "https://[hidden]@a.example/jw ks"',
      ),
    ])
  })

  it('a URL without user information is still shown as written', () => {
    expect(urlProblem('https://a ex/jwks', false)).toBe(
      'must be an absolute https URL, got "https://a ex/jwks"',
    )
  })
})

describe("the Python package's names", () => {
  it.each([
    ['WARNING', 'warn'],
    ['Critical', 'fatal'],
    ['success', 'info'],
    ['warn', 'warn'],
  ])('AUTH_MIDDLEWARE_LOG_LEVEL=%s reads as %s', (value, level) => {
    const problems = new Problems()
    expect(readLogLevel({ AUTH_MIDDLEWARE_LOG_LEVEL: value }, problems)).toBe(level)
    expect(() => problems.throwIfAny()).not.toThrow()
    expect(
      fromEnv({ ...JWKS_ENV, AUTH_MIDDLEWARE_LOG_LEVEL: value }, { logger: false }).logLevel,
    ).toBe(level)
  })

  it('unread seed variables are warned about with what to do, not as typos', () => {
    const { logger, lines } = memoryLogger()
    fromEnv(
      {
        ...JWKS_ENV,
        AUTH_MIDDLEWARE_LOG_FORMAT: '{time} {message}',
        AUTH_MIDDLEWARE_JWKS_CACHE_INTERVAL_MINUTES: '5',
        AUTH_MIDDLEWARE_JWKS_CACHE_USAGES: '10',
      },
      { logger },
    )
    const about = (name: string) =>
      lines.filter((line) => line['variable'] === name).map((line) => String(line['msg']))
    expect(about('AUTH_MIDDLEWARE_LOG_FORMAT')).toEqual([expect.stringMatching(/pino JSON/)])
    expect(about('AUTH_MIDDLEWARE_JWKS_CACHE_INTERVAL_MINUTES')).toEqual([
      expect.stringMatching(/JWKS_CACHE_INTERVAL/),
    ])
    expect(about('AUTH_MIDDLEWARE_JWKS_CACHE_USAGES')).toEqual([
      expect.stringMatching(/ JWKS_CACHE_USAGES/),
    ])
    expect(lines.map((line) => String(line['msg'])).join('\n')).not.toContain('a typo?')
  })
})

describe('safeError keeps the error’s type through pino’s err serializer', () => {
  it('logs the error name, not Object', () => {
    class AccessDeniedException extends Error {
      override name = 'AccessDeniedException'
    }
    const error = Object.assign(new AccessDeniedException('no access for Bearer abcdefghijk'), {
      code: 'E403',
    })
    const { logger, lines } = memoryLogger()
    logger.warn({ err: safeError(error) }, 'source failed')
    logger.warn({ err: safeError('plain text') }, 'source failed')
    expect(lines[0]?.['err']).toMatchObject({
      type: 'AccessDeniedException',
      code: 'E403',
      message: 'no access for Bearer [redacted]',
    })
    expect(lines[1]?.['err']).toMatchObject({ type: 'string', message: 'plain text' })
  })

  it('is kept by a logger whose err serializer formats it as text', () => {
    const lines: string[] = []
    const logger = pino(
      { serializers: { err: (err: unknown) => ({ text: `${String(err)}` }) } },
      { write: (line: string) => void lines.push(line) },
    )
    logger.warn({ err: safeError(new Error('boom')) }, 'source failed')
    expect(lines).toHaveLength(1)
    expect(Object.keys(safeError(new Error('x')))).toEqual(['type', 'message', 'stack'])
  })
})

describe('docs/configuration.md', () => {
  const docs = readFileSync(join(root, 'docs/configuration.md'), 'utf8')
  const env = readFileSync(join(root, 'src/env.ts'), 'utf8')

  it('lists every boolean spelling src/env.ts accepts, and that blank values are unset', () => {
    const spellings = [...env.matchAll(/const (?:TRUE|FALSE) = new Set\(\[([^\]]+)\]\)/g)]
      .flatMap((match) => match[1]!.split(','))
      .map((item) => item.trim().replace(/'/g, ''))
    expect(spellings).toHaveLength(8)
    const paragraph = docs
      .split('\n\n')
      .map((text) => text.replace(/\s+/g, ' '))
      .find((text) => text.includes('a blank value (empty, or spaces only) counts as unset'))
    expect(paragraph).toBeDefined()
    for (const spelling of spellings) expect(paragraph).toContain(`\`${spelling}\``)
    expect(paragraph).toMatch(/trimmed/)
  })

  it('shows no LocalStack endpoint as a Cognito JWKS override', () => {
    const row = docs
      .split('\n')
      .find((line) => line.startsWith('| `AUTH_PROVIDER_AWS_COGNITO_JWKS_URI`'))
    expect(row).toBeDefined()
    expect(row).not.toMatch(/4566|LocalStack/i)
  })

  it('documents the loguru level names and the interval’s maximum', () => {
    expect(docs).toMatch(/`WARNING` as `warn`, `CRITICAL` as `fatal`, `SUCCESS` as `info`/)
    expect(docs).toMatch(/`JWKS_CACHE_INTERVAL` \| [^\n]*`1440`/)
  })
})

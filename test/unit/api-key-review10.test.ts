// Review fixes (round 10), without sockets: hashApiKey refuses keys no request can send;
// authenticate(key) refuses what the header path refuses; generateApiKey and hashPassword check
// their options; apiKeyAuth refuses scheme Basic, repositoryTimeoutMs with keys and a malformed
// expiresAt; a repository record that throws when read is a 503.

import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { apiKeyAuth, generateApiKey, hashApiKey } from '../../src/api-key-auth.js'
import { checkedRecord, MalformedRecordError } from '../../src/credentials.js'
import { ConfigError, UnavailableError } from '../../src/errors.js'
import { hashPassword } from '../../src/passwords.js'

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex')
const { key, hash } = generateApiKey({ prefix: 'og_' })

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  throw new Error('expected a ConfigError')
}

async function outcome(promise: Promise<unknown>): Promise<unknown> {
  try {
    return await promise
  } catch (error) {
    const { code, status, description } = error as Record<string, unknown>
    return { code, status, description }
  }
}

describe('hashApiKey refuses a key no request can send', () => {
  it.each([
    ['a trailing newline (a key file read with readFileSync)', `${key}\n`, /trailing newline/],
    ['a CR (a CRLF .env)', 'og_abc\r', /CRLF/],
    ['spaces', 'my team key', /b64token/],
    ['non-ASCII', 'clé-de-service', /b64token/],
    ['a lone surrogate (hashed as U+FFFD otherwise)', 'og_\uD800', /lone surrogate/],
    ['over 1 KiB', 'k'.repeat(1_025), /longer than 1024/],
  ])('%s: a TypeError naming the likely cause, never the key', (_case, given, message) => {
    expect(() => hashApiKey(given)).toThrow(TypeError)
    expect(() => hashApiKey(given)).toThrow(message)
    try {
      hashApiKey(given)
    } catch (error) {
      expect((error as Error).message).not.toContain(given.trim())
    }
  })

  it('a key a request can send still hashes as sha256sum does', () => {
    expect(hashApiKey(key)).toBe(sha256(key))
    expect(hashApiKey('A-z_0.9~+/==')).toBe(sha256('A-z_0.9~+/=='))
  })
})

describe('authenticate(key) refuses what the header path refuses', () => {
  it.each([
    ['spaces', 'my team key'],
    ['a trailing newline', `${key}\n`],
    ['non-ASCII', 'clé'],
    ['over 1 KiB', 'k'.repeat(1_025)],
  ])('%s: 400, even when a configured hash is that key’s', async (_case, given) => {
    const middleware = apiKeyAuth({ keys: [{ id: 'svc', hash: sha256(given) }], logger: false })
    expect(await outcome(middleware.authenticate(given))).toMatchObject({
      code: 'ERR_AUTH_INVALID_REQUEST',
      status: 400,
    })
  })

  it('an empty key is a 400 too, and a good key still authenticates', async () => {
    const middleware = apiKeyAuth({ keys: [{ id: 'svc', hash }], logger: false })
    expect(await outcome(middleware.authenticate(''))).toMatchObject({ status: 400 })
    expect(await middleware.authenticate(key)).toMatchObject({ id: 'svc' })
  })
})

describe('generateApiKey and hashPassword check their options', () => {
  it('generateApiKey("og_") is a TypeError showing the options object, not a key without prefix', () => {
    expect(() => generateApiKey('og_' as never)).toThrow(TypeError)
    expect(() => generateApiKey('og_' as never)).toThrow('generateApiKey({ prefix: "og_" })')
  })

  it('a misspelt option is a TypeError naming the right one; null is a TypeError of ours', () => {
    expect(() => generateApiKey({ prefx: 'og_' } as never)).toThrow(TypeError)
    expect(() => generateApiKey({ prefx: 'og_' } as never)).toThrow(/did you mean prefix\?/)
    expect(() => generateApiKey(null as never)).toThrow(/options must be an object/)
    expect(generateApiKey({}).key).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it.each([
    ['a string', 'scrypt', /options must be an object.*\{ algorithm: "scrypt" \}/],
    ['null', null, /options must be an object/],
    ['an array', [], /options must be an object/],
  ])(
    'hashPassword(pw, %s) is a ConfigError, never a PBKDF2 hash',
    async (_case, options, message) => {
      await expect(hashPassword('pw', options as never)).rejects.toThrow(ConfigError)
      await expect(hashPassword('pw', options as never)).rejects.toThrow(message)
    },
  )

  it('hashPassword scrypt: null is a ConfigError', async () => {
    await expect(
      hashPassword('pw', { algorithm: 'scrypt', scrypt: null as never }),
    ).rejects.toThrow(/scrypt must be an object/)
  })
})

describe('apiKeyAuth options', () => {
  it.each(['Basic', 'basic'])('scheme: %j is refused, with what to use instead', (scheme) => {
    const [problem] = problemsOf(() => apiKeyAuth({ scheme, keys: [{ id: 'a', hash }] }))
    expect(problem).toMatch(/scheme must not be Basic .*login dialog.*x-api-key.*ApiKey/)
  })

  it('repositoryTimeoutMs with keys is refused: it would do nothing', () => {
    const problems = problemsOf(() =>
      apiKeyAuth({ keys: [{ id: 'a', hash }], repositoryTimeoutMs: 50, logger: false }),
    )
    expect(problems).toEqual([
      'repositoryTimeoutMs is read only with repository: drop it (keys are in memory)',
    ])
  })

  it.each([
    ['a string that is no date', 'tomorrow'],
    ['milliseconds', Date.now() + 60_000],
    ['an invalid Date', new Date('nope')],
    ['a boolean', true],
  ])('a configured key whose expiresAt is %s is refused', (_case, expiresAt) => {
    const [problem] = problemsOf(() =>
      apiKeyAuth({ keys: [{ id: 'a', hash, expiresAt: expiresAt as never }], logger: false }),
    )
    expect(problem).toMatch(/^keys\[0\] expiresAt must be a valid Date, an ISO 8601 string/)
  })

  it.each([
    ['a Date', new Date('2030-01-01T00:00:00Z')],
    ['an ISO string', '2030-01-01T00:00:00Z'],
    ['seconds since the epoch', 1_893_456_000],
  ])('a configured key may expire at %s', (_case, expiresAt) => {
    expect(() => apiKeyAuth({ keys: [{ id: 'a', hash, expiresAt }], logger: false })).not.toThrow()
  })

  it('a configured key with a lifecycle column of a table (revoked) is refused: remove the key', () => {
    const [problem] = problemsOf(() =>
      apiKeyAuth({ keys: [{ id: 'a', hash, revoked: false } as never], logger: false }),
    )
    expect(problem).toMatch(/keys\[0\] has an unknown field "revoked"/)
  })
})

describe('checkedRecord (basicAuth’s repository answers)', () => {
  const passwordHash = 'pbkdf2_sha256$1000$00112233445566778899aabbccddeeff$' + '0'.repeat(64)

  it('a field that throws when read is a 503 whose cause is that error', () => {
    const failure = new Error('lazy relation: connection lost')
    const row = Object.defineProperty({ username: 'alice', passwordHash }, 'groups', {
      enumerable: true,
      get: () => {
        throw failure
      },
    })
    try {
      checkedRecord(row)
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(UnavailableError)
      expect((error as UnavailableError).cause).toBe(failure)
    }
  })

  it('a malformed record is a 503 whose cause names the field, never its value', () => {
    try {
      checkedRecord({ username: 'alice', id: 4711, passwordHash })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(UnavailableError)
      const cause = (error as UnavailableError).cause as MalformedRecordError
      expect(cause).toBeInstanceOf(MalformedRecordError)
      expect(cause.problem).toMatch(/^id must be a string, got a number/)
      expect(cause.message).not.toContain('4711')
    }
  })
})

// Review fixes (7) of basicAuth and apiKeyAuth, without sockets: allowLegacySha256 takes booleans
// only, a repository that never answers is a 503 after repositoryTimeoutMs (and no timer outlives
// an answer), authenticate() refuses what no header can carry before its cache is asked, and an
// empty username is nobody, at the decoy's cost.

import * as crypto from 'node:crypto'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { apiKeyAuth, hashApiKey } from '../../src/api-key-auth.js'
import { basicAuth } from '../../src/basic-auth.js'
import type { CredentialsRepository } from '../../src/credentials.js'
import { ConfigError, UnavailableError } from '../../src/errors.js'
import { hashPassword } from '../../src/passwords.js'

// Wrap the real PBKDF2 to see which hash each check ran.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof crypto>()
  return { ...real, pbkdf2: vi.fn(real.pbkdf2) }
})
const pbkdf2 = vi.mocked(crypto.pbkdf2)

const legacy = crypto.createHash('sha256').update('hunter2').digest('hex')
const legacyRepository: CredentialsRepository = {
  getCredentials: (username) =>
    username === 'bob' ? { username: 'bob', passwordHash: legacy } : undefined,
}
const never = () => new Promise<never>(() => {})
const outcome = (answer: Promise<unknown>) =>
  answer.then(
    (user) => ({ id: (user as { id: string }).id }),
    (error: { code?: string; status?: number; description?: string }) => ({
      code: error.code,
      status: error.status,
      description: error.description,
    }),
  )

let aliceHash: string
beforeAll(async () => {
  aliceHash = await hashPassword('pw\uFFFD', { iterations: 1_000 })
})

afterEach(() => {
  vi.useRealTimers()
  pbkdf2.mockClear()
})

describe('allowLegacySha256 is true or false', () => {
  it.each(['false', 'no', 'true', 0, 1])('%j is a ConfigError, never read as on', (value) => {
    const build = () =>
      basicAuth({
        credentialsRepository: legacyRepository,
        logger: false,
        allowLegacySha256: value as never,
      })
    expect(build).toThrow(ConfigError)
    expect(build).toThrow('allowLegacySha256 must be true or false')
  })

  it.each([
    [undefined, 'ERR_AUTH_CREDENTIALS_INVALID'],
    [false, 'ERR_AUTH_CREDENTIALS_INVALID'],
    [true, undefined],
  ])('%j: a legacy digest logs in only when true', async (allowLegacySha256, code) => {
    const middleware = basicAuth({
      credentialsRepository: legacyRepository,
      logger: false,
      ...(allowLegacySha256 === undefined ? {} : { allowLegacySha256 }),
    })
    const result = await outcome(middleware.authenticate('bob', 'hunter2'))
    expect(result).toEqual(code === undefined ? { id: 'bob' } : expect.objectContaining({ code }))
  })
})

describe('repositoryTimeoutMs: a repository that never answers is a 503', () => {
  const unavailable = {
    code: 'ERR_AUTH_CREDENTIALS_UNAVAILABLE',
    status: 503,
    description: 'credentials cannot be checked right now',
  }

  it.each([
    [
      'basicAuth',
      () =>
        basicAuth({ credentialsRepository: { getCredentials: never }, logger: false }).authenticate(
          'alice',
          'pw',
        ),
    ],
    [
      'apiKeyAuth',
      () => apiKeyAuth({ repository: { getApiKey: never }, logger: false }).authenticate('og_key'),
    ],
  ])('%s: after 5000 ms by default, with Retry-After', async (_name, ask) => {
    vi.useFakeTimers()
    let settled = false
    const answer = ask().catch((error: unknown) => error)
    void answer.then(() => (settled = true))
    await vi.advanceTimersByTimeAsync(4_999)
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    const error = await answer
    expect(error).toBeInstanceOf(UnavailableError)
    expect(error).toMatchObject(unavailable)
    expect((error as UnavailableError).headers['Retry-After']).toBe('5')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('takes its own value, for both middlewares', async () => {
    vi.useFakeTimers()
    const basic = basicAuth({
      credentialsRepository: { getCredentials: never },
      logger: false,
      repositoryTimeoutMs: 100,
    })
    const keys = apiKeyAuth({
      repository: { getApiKey: never },
      logger: false,
      repositoryTimeoutMs: 100,
    })
    const answers = [outcome(basic.authenticate('alice', 'pw')), outcome(keys.authenticate('k'))]
    await vi.advanceTimersByTimeAsync(100)
    expect(await Promise.all(answers)).toEqual([unavailable, unavailable])
  })

  it('leaves no timer behind once the repository answered, or threw', async () => {
    vi.useFakeTimers()
    const hash = hashApiKey('og_key')
    const keys = apiKeyAuth({
      repository: { getApiKey: () => ({ id: 'svc', hash }) },
      logger: false,
    })
    expect(await outcome(keys.authenticate('og_key'))).toEqual({ id: 'svc' })
    expect(vi.getTimerCount()).toBe(0)
    const failing = basicAuth({
      credentialsRepository: {
        getCredentials: () => Promise.reject(new Error('database down')),
      },
      logger: false,
    })
    expect(await outcome(failing.authenticate('alice', 'pw'))).toEqual(unavailable)
    expect(vi.getTimerCount()).toBe(0)
  })

  it.each([0, -1, '5000', Number.NaN, Number.POSITIVE_INFINITY])('%s is a ConfigError', (value) => {
    const options = { logger: false as const, repositoryTimeoutMs: value as never }
    expect(() =>
      basicAuth({ credentialsRepository: { getCredentials: never }, ...options }),
    ).toThrow('repositoryTimeoutMs')
    expect(() => apiKeyAuth({ repository: { getApiKey: never }, ...options })).toThrow(
      'repositoryTimeoutMs',
    )
  })
})

describe('authenticate() refuses what no header can carry, before its cache', () => {
  const repository: CredentialsRepository = {
    getCredentials: (username) =>
      username === 'alice' ? { username: 'alice', passwordHash: aliceHash } : undefined,
  }
  const invalidUnicode = {
    code: 'ERR_AUTH_INVALID_REQUEST',
    status: 400,
    description: 'Basic credentials are not valid Unicode',
  }

  it('a lone surrogate is refused cold and warm: never the U+FFFD password it would encode as', async () => {
    const middleware = basicAuth({ credentialsRepository: repository, logger: false })
    expect(await outcome(middleware.authenticate('alice', 'pw\uD800'))).toEqual(invalidUnicode)
    expect(await outcome(middleware.authenticate('alice', 'pw\uFFFD'))).toEqual({ id: 'alice' })
    expect(await outcome(middleware.authenticate('alice', 'pw\uD800'))).toEqual(invalidUnicode)
    expect(await outcome(middleware.authenticate('alice\uDC00', 'pw\uFFFD'))).toEqual(
      invalidUnicode,
    )
  })

  it.each([
    ['alice', undefined],
    [undefined, 'pw'],
    ['alice', 42],
    [null, null],
  ])('authenticate(%j, %j) is a 400, not a TypeError', async (username, password) => {
    const middleware = basicAuth({ credentialsRepository: repository, logger: false })
    expect(await outcome(middleware.authenticate(username as never, password as never))).toEqual({
      code: 'ERR_AUTH_INVALID_REQUEST',
      status: 400,
      description: 'malformed Basic credentials',
    })
  })

  it.each([undefined, null, 42, 'k\uD800'])('apiKeyAuth authenticate(%j) is a 400', async (key) => {
    // The configured key is the one a lone surrogate would be hashed as.
    const keys = apiKeyAuth({
      keys: [{ id: 'svc', hash: crypto.createHash('sha256').update('k\uFFFD').digest('hex') }],
      logger: false,
    })
    expect(await outcome(keys.authenticate(key as never))).toEqual({
      code: 'ERR_AUTH_INVALID_REQUEST',
      status: 400,
      description: 'malformed API key',
    })
  })
})

describe('an empty username is nobody', () => {
  it('is refused as an unknown user, with the decoy’s work, whatever the repository answers', async () => {
    const getCredentials = vi.fn((username: string) =>
      username === 'alice' || username === ''
        ? { username, id: username || 'root', passwordHash: aliceHash }
        : undefined,
    )
    const middleware = basicAuth({ credentialsRepository: { getCredentials }, logger: false })
    // A login raises the decoy to alice's cost: an unknown user's check costs the same as hers.
    expect(await outcome(middleware.authenticate('alice', 'pw\uFFFD'))).toEqual({ id: 'alice' })
    pbkdf2.mockClear()
    expect(await outcome(middleware.authenticate('', 'pw\uFFFD'))).toEqual({
      code: 'ERR_AUTH_CREDENTIALS_INVALID',
      status: 401,
      description: 'invalid username or password',
    })
    expect(pbkdf2.mock.calls.map((call) => call[2])).toEqual([1_000])
    // The hash ran was the decoy's (random salt), not the stored one.
    const storedSalt = Buffer.from(aliceHash.split('$')[2]!, 'hex')
    expect(Buffer.from(pbkdf2.mock.calls[0]![1] as Buffer).equals(storedSalt)).toBe(false)
  })
})

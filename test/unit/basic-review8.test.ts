// Review fixes (8) of basicAuth, apiKeyAuth and hashPassword, without sockets: misspelt option
// names are a ConfigError (never a silent default, often the open one), scrypt costs are bounded
// in work and memory so the decoy cannot make every unknown user pay seconds, and concurrent
// checks of the same credentials share one hash (a failure only while it is in flight).

import * as crypto from 'node:crypto'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { apiKeyAuth, hashApiKey } from '../../src/api-key-auth.js'
import { basicAuth } from '../../src/basic-auth.js'
import type { CredentialsRepository } from '../../src/credentials.js'
import { ConfigError } from '../../src/errors.js'
import { hashPassword, parsePasswordHash } from '../../src/passwords.js'

// Wrap the real PBKDF2 and scrypt to count the hashes each check ran.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof crypto>()
  return { ...real, pbkdf2: vi.fn(real.pbkdf2), scrypt: vi.fn(real.scrypt) }
})
const pbkdf2 = vi.mocked(crypto.pbkdf2)
const scrypt = vi.mocked(crypto.scrypt)

afterEach(() => {
  pbkdf2.mockClear()
  scrypt.mockClear()
})

const hex = (bytes: number) => crypto.randomBytes(bytes).toString('hex')
const storedScrypt = (N: number, r: number, p: number) =>
  `scrypt$${N}$${r}$${p}$${hex(16)}$${hex(32)}`
const noCredentials: CredentialsRepository = { getCredentials: () => undefined }
const key = { id: 'billing', hash: hashApiKey('og_key') }

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  throw new Error('expected a ConfigError')
}

describe('misspelt option names are refused', () => {
  it.each([
    [
      { credentialRequired: true },
      /"credentialRequired" is not an option \(did you mean credentialsRequired\?\)/,
    ],
    [
      { repositoryTimeout: 100 },
      /"repositoryTimeout" is not an option \(did you mean repositoryTimeoutMs\?\)/,
    ],
    [
      { allowLegacySHA256: true },
      /"allowLegacySHA256" is not an option \(did you mean allowLegacySha256\?\)/,
    ],
    [
      { verifiedCache: { ttl: 1_000 } },
      /^basicAuth verifiedCache: "ttl" is not an option \(did you mean ttlMs\?\)/,
    ],
    [
      { verifiedCache: { ttlMs: 1_000, maxEntries: 5 } },
      /verifiedCache: "maxEntries" is not an option/,
    ],
  ])('basicAuth(%j) is a ConfigError naming the option', (extra, message) => {
    const options = { credentialsRepository: noCredentials, logger: false as const, ...extra }
    expect(problemsOf(() => basicAuth(options as never))).toEqual([expect.stringMatching(message)])
  })

  it.each([
    [
      { credentialRequired: true },
      /"credentialRequired" is not an option \(did you mean credentialsRequired\?\)/,
    ],
    [
      { headerName: 'x-service-key' },
      /apiKeyAuth: "headerName" is not an option; the options are .*\bheader\b/,
    ],
    [{ schema: 'ApiKey' }, /"schema" is not an option \(did you mean scheme\?\)/],
  ])('apiKeyAuth(%j) is a ConfigError naming the option', (extra, message) => {
    const options = { keys: [key], logger: false as const, ...extra }
    expect(problemsOf(() => apiKeyAuth(options as never))).toEqual([expect.stringMatching(message)])
  })

  it.each([
    [
      { iteration: 1_000 },
      /hashPassword: "iteration" is not an option \(did you mean iterations\?\)/,
    ],
    [
      { algorithm: 'scrypt', scrypt: { n: 1_024 } },
      /hashPassword scrypt: "n" is not an option \(did you mean N\?\)/,
    ],
  ])('hashPassword(pw, %j) is a ConfigError naming the option', async (options, message) => {
    const failure = hashPassword('pw', options as never)
    await expect(failure).rejects.toBeInstanceOf(ConfigError)
    await expect(failure).rejects.toThrow(message)
    expect(pbkdf2).not.toHaveBeenCalled()
  })

  it('every documented option is still accepted', async () => {
    const shared = {
      realm: 'api',
      credentialsRequired: true,
      onError: () => {},
      groups: { fetchGroups: () => [] },
      roles: { fetchRoles: () => [] },
      permissions: { fetchPermissions: () => [] },
      profile: { fetchProfile: () => ({}) },
      sourceTimeoutMs: 1_000,
      repositoryTimeoutMs: 1_000,
      // logLevel is the level of the logger oidc-guard creates: with logger it is refused
      // (review 10), so it is given alone below.
      logger: false as const,
      env: {},
      disabled: false,
      allowDisabledInProduction: false,
    }
    expect(() =>
      basicAuth({
        ...shared,
        credentialsRepository: noCredentials,
        verifiedCache: { ttlMs: 1_000, max: 10 },
        allowLegacySha256: false,
      }),
    ).not.toThrow()
    const { logger: _logger, ...withoutLogger } = shared
    expect(() =>
      basicAuth({ ...withoutLogger, credentialsRepository: noCredentials, logLevel: 'silent' }),
    ).not.toThrow()
    // repositoryTimeoutMs is read only with a repository: refused with keys (review 10).
    const { repositoryTimeoutMs: _unread, ...withKeys } = shared
    expect(() => apiKeyAuth({ ...withKeys, header: 'x-key', keys: [key] })).not.toThrow()
    expect(() =>
      apiKeyAuth({ ...shared, scheme: 'ApiKey', repository: { getApiKey: () => undefined } }),
    ).not.toThrow()
    // Every option name, each with the algorithm that reads it.
    const hash = await hashPassword('pw', { algorithm: 'scrypt', scrypt: { N: 1_024, r: 8, p: 1 } })
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$/)
    const pbkdf2 = await hashPassword('pw', { algorithm: 'pbkdf2_sha256', iterations: 1_000 })
    expect(pbkdf2).toMatch(/^pbkdf2_sha256\$1000\$/)
  })
})

describe('scrypt costs are bounded in work (N × r × p) and memory (128 × N × r)', () => {
  it.each([
    ['2^17, 16, 16 (10 s, 256 MiB)', 131_072, 16, 16],
    ['2^18, 8, 1 (256 MiB)', 262_144, 8, 1],
    ['2^17, 8, 10 (over 10,000,000)', 131_072, 8, 10],
    ['2^15, 32, 16 (over 10,000,000)', 32_768, 32, 16],
  ])('parsePasswordHash refuses %s', (_label, N, r, p) => {
    expect(parsePasswordHash(storedScrypt(N, r, p))).toBeUndefined()
  })

  it.each([
    ['OWASP 2^17, 8, 1 (128 MiB)', 131_072, 8, 1],
    ['2^17, 8, 9 (9,437,184)', 131_072, 8, 9],
    ['the default 2^15, 8, 3', 32_768, 8, 3],
  ])('parsePasswordHash still accepts %s', (_label, N, r, p) => {
    expect(parsePasswordHash(storedScrypt(N, r, p))?.kind).toBe('scrypt')
  })

  it.each([
    [
      { N: 131_072, r: 16, p: 16 },
      /scrypt\.N × r needs 128 × N × r = 256 MiB per check, more than the 128 MiB allowed/,
    ],
    [{ N: 131_072, r: 8, p: 10 }, /scrypt\.N × r × p must be at most 10,000,000 .*got 10485760/],
  ])('hashPassword refuses %j with a ConfigError before hashing', async (cost, message) => {
    const failure = hashPassword('pw', { algorithm: 'scrypt', scrypt: cost })
    await expect(failure).rejects.toBeInstanceOf(ConfigError)
    await expect(failure).rejects.toThrow(message)
    expect(scrypt).not.toHaveBeenCalled()
  })

  it("a stored hash over the bounds never becomes basicAuth's decoy", async () => {
    const stored = storedScrypt(131_072, 16, 16)
    const auth = basicAuth({
      credentialsRepository: {
        getCredentials: (username) =>
          username === 'svc' ? { username, passwordHash: stored } : undefined,
      },
      logger: false,
    })
    await expect(auth.authenticate('svc', 'guess')).rejects.toMatchObject({ status: 401 })
    await expect(auth.authenticate('nobody', 'guess')).rejects.toMatchObject({ status: 401 })
    // Both paid the default decoy (PBKDF2), never the 10-second scrypt.
    expect(scrypt).not.toHaveBeenCalled()
    expect(pbkdf2).toHaveBeenCalledTimes(2)
  })

  it("a legacy SHA-256 user's login never sets the decoy: the next salted login still does", async () => {
    // With the legacy digest taken as a cost, the decoy would stay at the 600,000-iteration
    // default after it, and unknown names would answer 600 times slower than bob's wrong password.
    const legacy = crypto.createHash('sha256').update('old-secret').digest('hex')
    const bobHash = await hashPassword('secret', { iterations: 1_000 })
    const stored: Record<string, string> = { ann: legacy, bob: bobHash }
    const auth = basicAuth({
      credentialsRepository: {
        getCredentials: (username) =>
          stored[username] === undefined ? undefined : { username, passwordHash: stored[username] },
      },
      allowLegacySha256: true,
      verifiedCache: false,
      logger: false,
    })
    await expect(auth.authenticate('ann', 'old-secret')).resolves.toMatchObject({ id: 'ann' })
    await expect(auth.authenticate('bob', 'secret')).resolves.toMatchObject({ id: 'bob' })
    pbkdf2.mockClear()
    await expect(auth.authenticate('nobody', 'guess')).rejects.toMatchObject({ status: 401 })
    expect(pbkdf2).toHaveBeenCalledTimes(1)
    expect(pbkdf2.mock.calls[0]![2]).toBe(1_000)
  })
})

describe('concurrent checks of the same credentials share one hash', () => {
  let aliceHash: string
  beforeAll(async () => {
    aliceHash = await hashPassword('secret', { iterations: 1_000 })
  })
  const repository = (): CredentialsRepository => ({
    getCredentials: (username) =>
      username === 'alice' ? { username, passwordHash: aliceHash } : undefined,
  })
  const burst = (run: () => Promise<unknown>, times = 8) =>
    Promise.allSettled(Array.from({ length: times }, run))

  it('a right password: one PBKDF2 run for the burst, none after it (remembered)', async () => {
    const auth = basicAuth({ credentialsRepository: repository(), logger: false })
    pbkdf2.mockClear()
    const answers = await burst(() => auth.authenticate('alice', 'secret'))
    expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill('fulfilled'))
    expect(pbkdf2).toHaveBeenCalledTimes(1)
    await auth.authenticate('alice', 'secret')
    expect(pbkdf2).toHaveBeenCalledTimes(1)
  })

  it('a wrong password: one run for the burst, all refused, and the next request runs again', async () => {
    const auth = basicAuth({ credentialsRepository: repository(), logger: false })
    pbkdf2.mockClear()
    const answers = await burst(() => auth.authenticate('alice', 'wrong'))
    expect(answers.every((answer) => answer.status === 'rejected')).toBe(true)
    expect(pbkdf2).toHaveBeenCalledTimes(1)
    await expect(auth.authenticate('alice', 'wrong')).rejects.toMatchObject({ status: 401 })
    expect(pbkdf2).toHaveBeenCalledTimes(2)
    // The right password is not answered by the wrong one's check, in flight or after.
    await expect(auth.authenticate('alice', 'secret')).resolves.toMatchObject({ id: 'alice' })
  })

  it('a right and a wrong password at once are checked apart', async () => {
    const auth = basicAuth({ credentialsRepository: repository(), logger: false })
    pbkdf2.mockClear()
    const [right, wrong] = await Promise.allSettled([
      auth.authenticate('alice', 'secret'),
      auth.authenticate('alice', 'wrong'),
    ])
    expect(right?.status).toBe('fulfilled')
    expect(wrong?.status).toBe('rejected')
    expect(pbkdf2).toHaveBeenCalledTimes(2)
  })

  it("an unknown user's decoy is shared the same way: a burst does not tell it from a known one", async () => {
    const auth = basicAuth({ credentialsRepository: repository(), logger: false })
    pbkdf2.mockClear()
    const answers = await burst(() => auth.authenticate('mallory', 'guess'))
    expect(answers.every((answer) => answer.status === 'rejected')).toBe(true)
    expect(pbkdf2).toHaveBeenCalledTimes(1)
  })

  it('verifiedCache: false turns the sharing off too: each request runs its own check', async () => {
    const auth = basicAuth({
      credentialsRepository: repository(),
      verifiedCache: false,
      logger: false,
    })
    pbkdf2.mockClear()
    await burst(() => auth.authenticate('alice', 'secret'), 4)
    expect(pbkdf2).toHaveBeenCalledTimes(4)
  })
})

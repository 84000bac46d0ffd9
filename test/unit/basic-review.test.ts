// Review fixes of Basic auth and API keys, without sockets: SQL nulls are absent fields, scrypt
// costs OpenSSL refuses are refused at parse time (and a refusal is a wrong password, never a 500),
// configured keys refuse unknown fields, verifiedCache.ttlMs is whole, Basic always has a realm,
// and the docs' shell recipe and rate-limit example.

import { execFile } from 'node:child_process'
import * as crypto from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { apiKeyAuth, hashApiKey } from '../../src/api-key-auth.js'
import { basicAuth } from '../../src/basic-auth.js'
import { checkedRecord } from '../../src/credentials.js'
import { basicChallenge, ConfigError, schemeChallenge } from '../../src/errors.js'
import {
  hashPassword,
  parsePasswordHash,
  verifyParsedHash,
  verifyPassword,
  HashRefusedError,
} from '../../src/passwords.js'

// Wrap the real scrypt so a test can make the crypto library refuse a hash the parser accepts.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof crypto>()
  return { ...real, scrypt: vi.fn(real.scrypt) }
})
const scrypt = vi.mocked(crypto.scrypt)
const realScrypt = (await vi.importActual<typeof crypto>('node:crypto')).scrypt

afterEach(() => {
  scrypt.mockReset()
  scrypt.mockImplementation(realScrypt)
})

const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'basic-auth.md'), 'utf8')
const hex = (bytes: number) => crypto.randomBytes(bytes).toString('hex')
const noCredentials = { getCredentials: () => undefined }

describe('checkedRecord: a SQL null is an absent field', () => {
  const passwordHash = 'pbkdf2_sha256$1000$00112233445566778899aabbccddeeff$' + '0'.repeat(64)

  it.each(['id', 'username', 'name', 'email', 'groups', 'roles', 'permissions', 'scopes'])(
    'null %s is accepted and read as undefined',
    (field) => {
      const record = checkedRecord({ username: 'alice', passwordHash, [field]: null })
      expect(record).toBeDefined()
      expect(field in record!).toBe(false)
      expect(record!.passwordHash).toBe(passwordHash)
    },
  )

  it('keeps the fields that are there, and drops columns it does not know', () => {
    const row = { username: 'alice', passwordHash, name: null, groups: ['ops'], created_at: 1 }
    expect(checkedRecord(row)).toEqual({ username: 'alice', passwordHash, groups: ['ops'] })
  })

  it.each([
    ['a number name', { name: 1 }],
    ['a string for groups', { groups: 'ops' }],
    ['a list with null', { roles: [null] }],
    ['no passwordHash', { passwordHash: null }],
  ])('still refuses %s (503)', (_label, fields) => {
    expect(() => checkedRecord({ username: 'alice', passwordHash, ...fields })).toThrow(
      expect.objectContaining({ status: 503 }),
    )
  })
})

describe('scrypt costs OpenSSL refuses (N ≥ 2^(16·r))', () => {
  const stored = (N: number, r: number) => `scrypt$${N}$${r}$1$${hex(16)}$${hex(32)}`

  it.each([
    [65_536, 1],
    [1_048_576, 1],
  ])('parsePasswordHash refuses N=%i with r=%i', (N, r) => {
    expect(parsePasswordHash(stored(N, r))).toBeUndefined()
  })

  it.each([
    [32_768, 1],
    [65_536, 2],
    [524_288, 2],
  ])('parsePasswordHash still accepts N=%i with r=%i', (N, r) => {
    expect(parsePasswordHash(stored(N, r))?.kind).toBe('scrypt')
  })

  it('hashPassword refuses them with a ConfigError naming the limit, not a RangeError', async () => {
    const refused = hashPassword('pw', { algorithm: 'scrypt', scrypt: { N: 65_536, r: 1, p: 1 } })
    await expect(refused).rejects.toBeInstanceOf(ConfigError)
    await expect(refused).rejects.toThrow(/scrypt\.N must be below 2\^\(16·r\)/)
  })

  it('hashPassword still makes N=2^15, r=1 hashes that verify', async () => {
    const hash = await hashPassword('pw', {
      algorithm: 'scrypt',
      scrypt: { N: 32_768, r: 1, p: 1 },
    })
    expect(await verifyPassword('pw', hash)).toBe(true)
  })
})

describe('a hash the crypto library refuses', () => {
  const refuse = () =>
    scrypt.mockImplementation(((...args: unknown[]) => {
      const callback = args.at(-1) as (error: Error | null, key: Buffer) => void
      const error = Object.assign(new RangeError('Invalid scrypt params'), {
        code: 'ERR_CRYPTO_INVALID_SCRYPT_PARAMS',
      })
      callback(error, Buffer.alloc(0))
    }) as unknown as typeof crypto.scrypt)
  const stored = `scrypt$1024$1$1$${hex(16)}$${hex(32)}`

  it('verifyParsedHash throws a HashRefusedError carrying the cause', async () => {
    refuse()
    const refused = verifyParsedHash('pw', parsePasswordHash(stored)!)
    await expect(refused).rejects.toBeInstanceOf(HashRefusedError)
    await expect(refused).rejects.toHaveProperty('cause.code', 'ERR_CRYPTO_INVALID_SCRYPT_PARAMS')
  })

  it('verifyPassword fails closed: false, never a throw', async () => {
    refuse()
    expect(await verifyPassword('pw', stored)).toBe(false)
  })

  it('a password that is not valid Unicode is still a TypeError', async () => {
    await expect(verifyPassword('\ud800', stored)).rejects.toBeInstanceOf(TypeError)
  })
})

describe('apiKeyAuth: configured keys refuse unknown fields, repository rows do not', () => {
  const hash = hashApiKey('k1')

  it('a typo such as scope for scopes is a ConfigError naming the key and the field', () => {
    const keys = [{ id: 'billing', hash, scope: ['invoices.write'] }]
    expect(() => apiKeyAuth({ keys: keys as never, logger: false })).toThrow(
      /keys\[0\] has an unknown field "scope" \(known: id, hash, name, groups, roles, permissions, scopes, expiresAt\)/,
    )
  })

  it('null optional fields of a configured key are absent', async () => {
    const keys = [{ id: 'billing', hash, name: null, groups: null }]
    const auth = apiKeyAuth({ keys: keys as never, logger: false })
    const user = await auth.authenticate('k1')
    expect(user.id).toBe('billing')
    expect(user.name).toBeUndefined()
    expect(await user.groups).toEqual([])
  })

  it('a repository row may carry columns of its own, and nulls', async () => {
    const row = { id: 'svc', hash, name: null, groups: null, scopes: ['a'], created_at: 'x' }
    const auth = apiKeyAuth({ repository: { getApiKey: () => row as never }, logger: false })
    const user = await auth.authenticate('k1')
    expect(user.id).toBe('svc')
    expect(user.name).toBeUndefined()
    expect(user.scopes).toEqual(['a'])
    expect(await user.groups).toEqual([])
  })
})

describe('basicAuth verifiedCache.ttlMs', () => {
  it.each([1.5, 0, 2 ** 31])('%s is a ConfigError naming the option', (ttlMs) => {
    expect(() =>
      basicAuth({ credentialsRepository: noCredentials, verifiedCache: { ttlMs }, logger: false }),
    ).toThrow(/verifiedCache\.ttlMs must be a whole number from 1 to 2147483647/)
  })

  it('a whole number of milliseconds is accepted', () => {
    expect(() =>
      basicAuth({
        credentialsRepository: noCredentials,
        verifiedCache: { ttlMs: 60_000 },
        logger: false,
      }),
    ).not.toThrow()
  })
})

describe('the Basic challenge always has a realm (RFC 7617 §2)', () => {
  it('api when none is configured', () => {
    expect(schemeChallenge(basicChallenge(undefined))).toBe('Basic realm="api", charset="UTF-8"')
  })

  it('the configured one otherwise, the empty realm included', () => {
    expect(schemeChallenge(basicChallenge('orders'))).toBe('Basic realm="orders", charset="UTF-8"')
    expect(schemeChallenge(basicChallenge(''))).toBe('Basic realm="", charset="UTF-8"')
  })
})

describe('docs/basic-auth.md', () => {
  it('the shell recipe keeps leading and trailing spaces of the password (IFS=)', async () => {
    const line = /^(.*read -rs PASSWORD.*\| python3 -c .*)$/m.exec(doc)![1]!
    const password = '  correct horse  '
    const hash = await new Promise<string>((resolve, reject) => {
      const child = execFile('bash', ['-c', line], (error, stdout) =>
        error ? reject(error) : resolve(stdout.trim()),
      )
      child.stdin!.end(`${password}\n`)
    })
    expect(await verifyPassword(password, hash)).toBe(true)
  })

  it('every read of a password in a recipe clears IFS', () => {
    const reads = doc.match(/^.*read -rs PASSWORD.*$/gm) ?? []
    expect(reads.length).toBeGreaterThan(0)
    for (const line of reads) expect(line).toMatch(/^IFS= read -rs PASSWORD /)
  })

  it('the rate-limit example counts failures only, keyed by address and username', () => {
    const block =
      /import \{ ipKeyGenerator, rateLimit \} from 'express-rate-limit'[\s\S]*?```/.exec(doc)![0]
    expect(block).toMatch(/skipSuccessfulRequests: true/)
    expect(block).toMatch(/keyGenerator: \(req\) =>/)
    expect(block).toMatch(/ipKeyGenerator\(req\.ip/)
    expect(block).toMatch(/usernameOf\(req\.headers\.authorization\)/)
  })
})

// Password hashes: compatibility with the Python seed both ways, strict parsing, fail-closed checks.

import { execFile } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import {
  decoyHash,
  DEFAULT_PBKDF2_ITERATIONS,
  hashPassword,
  parsePasswordHash,
  sameCost,
  verifyPassword,
  VerifiedPasswordCache,
} from '../../src/passwords.js'

// Made by `hashlib.pbkdf2_hmac('sha256', password.encode(), bytes.fromhex(salt), 600000)`, the
// seed's algorithm (auth_middleware/password_hasher.py) with fixed salts, in Python 3.11.
const SEED_VECTORS = [
  {
    password: 'correct horse battery staple',
    hash: 'pbkdf2_sha256$600000$5c0ffee0c0ffee0c0ffee0c0ffee0c0f$98f65e832bbb7fae902721d66f85f5f7b295b5fc609f6e5fc685f67044142003',
  },
  {
    password: 'pässwörd:with:colons ✓',
    hash: 'pbkdf2_sha256$600000$00112233445566778899aabbccddeeff$304fd13542f5d2cfe8f0889a35f91a072f90335a8e2f04545f717a6b8a705fc5',
  },
]
// hashlib.scrypt(b'correct horse battery staple', salt=bytes.fromhex('5c0f…'), n=2**15, r=8, p=3, dklen=32)
const SCRYPT_VECTOR =
  'scrypt$32768$8$3$5c0ffee0c0ffee0c0ffee0c0ffee0c0f$9dadee3e317eb6332196fe780a753fc115c924fae8c59bdf60c6abea7eba6716'
// hashlib.sha256(b'legacy-password').hexdigest(): the seed's 0.4.x unsalted format.
const LEGACY = '6bed82f7da9a703f86f1d89288910edc2681b26d010db89c3666807d364e68a6'

// The seed's verify_password, re-implemented in Python: reads [password, stored] pairs as JSON on
// stdin and prints one true/false per pair.
const PYTHON_VERIFY = `
import hashlib, hmac, json, sys
def verify(password, stored):
    algorithm, rest = stored.split('$', 1)
    if algorithm == 'pbkdf2_sha256':
        iterations, salt_hex, hash_hex = rest.split('$')
        derived = hashlib.pbkdf2_hmac('sha256', password.encode(), bytes.fromhex(salt_hex), int(iterations))
    else:
        n, r, p, salt_hex, hash_hex = rest.split('$')
        derived = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r),
                                 p=int(p), dklen=32, maxmem=256 * 1024 * 1024)
    return hmac.compare_digest(derived.hex(), hash_hex)
print(json.dumps([verify(p, s) for p, s in json.load(sys.stdin)]))
`

function pythonVerify(pairs: [string, string][]): Promise<boolean[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('python3', ['-c', PYTHON_VERIFY], (error, stdout, stderr) => {
      if (error) reject(new Error(`python3 failed: ${stderr}`))
      else resolve(JSON.parse(stdout) as boolean[])
    })
    child.stdin!.end(JSON.stringify(pairs))
  })
}

describe('compatibility with the Python seed', () => {
  it.each(SEED_VECTORS)(
    'verifies a hash the seed made for $password',
    async ({ password, hash }) => {
      expect(await verifyPassword(password, hash)).toBe(true)
      expect(await verifyPassword(`${password}x`, hash)).toBe(false)
    },
  )

  it('verifies a scrypt hash made by Python hashlib', async () => {
    expect(await verifyPassword('correct horse battery staple', SCRYPT_VECTOR)).toBe(true)
    expect(await verifyPassword('correct horse battery stapl', SCRYPT_VECTOR)).toBe(false)
  })

  it("makes hashes the seed's algorithm verifies (python3, PBKDF2 at 600,000 and scrypt)", async () => {
    const password = 'pässwörd:with:colons ✓'
    const pbkdf2 = await hashPassword(password)
    const scrypt = await hashPassword(password, { algorithm: 'scrypt' })
    expect(pbkdf2).toMatch(/^pbkdf2_sha256\$600000\$[0-9a-f]{32}\$[0-9a-f]{64}$/)
    expect(scrypt).toMatch(/^scrypt\$32768\$8\$3\$[0-9a-f]{32}\$[0-9a-f]{64}$/)
    expect(
      await pythonVerify([
        [password, pbkdf2],
        [password, scrypt],
        ['wrong', pbkdf2],
        ['wrong', scrypt],
      ]),
    ).toEqual([true, true, false, false])
  })
})

describe('hashPassword', () => {
  it('uses PBKDF2-SHA256 at 600,000 iterations with a fresh 16-byte salt each time', async () => {
    expect(DEFAULT_PBKDF2_ITERATIONS).toBe(600_000)
    const [a, b] = await Promise.all([
      hashPassword('same', { iterations: 1_000 }),
      hashPassword('same', { iterations: 1_000 }),
    ])
    expect(a).not.toBe(b)
    expect(a.split('$')[2]).toHaveLength(32)
    expect(await verifyPassword('same', a)).toBe(true)
  })

  it.each([
    ['a non-string', 42, TypeError],
    ['an empty password', '', TypeError],
    ['a lone surrogate (not UTF-8 encodable)', 'a\ud800b', TypeError],
  ])('refuses %s', async (_case, password, type) => {
    await expect(hashPassword(password as string)).rejects.toThrow(type)
  })

  it.each([
    [{ iterations: 999 }, /iterations/],
    [{ iterations: 10_000_001 }, /iterations/],
    [{ iterations: 1_000.5 }, /iterations/],
    [{ algorithm: 'md5' }, /algorithm/],
    [{ algorithm: 'scrypt', scrypt: { N: 1_000 } }, /power of two/],
    [{ algorithm: 'scrypt', scrypt: { N: 1_048_576, r: 8 } }, /128 MiB allowed/],
    [{ algorithm: 'scrypt', scrypt: { p: 0 } }, /p must/],
  ])('refuses the options %j with a ConfigError', async (options, message) => {
    const failure = hashPassword('x', options as never)
    await expect(failure).rejects.toThrow(ConfigError)
    await expect(failure).rejects.toThrow(message)
  })
})

describe('verifyPassword', () => {
  it('accepts legacy unsalted SHA-256 digests only when opted in', async () => {
    expect(await verifyPassword('legacy-password', LEGACY)).toBe(false)
    expect(await verifyPassword('legacy-password', LEGACY, { allowLegacySha256: true })).toBe(true)
    expect(await verifyPassword('other', LEGACY, { allowLegacySha256: true })).toBe(false)
  })

  it('fails closed on a stored hash it cannot parse, without throwing', async () => {
    expect(await verifyPassword('x', 'pbkdf2_sha256$abc$00$00')).toBe(false)
    expect(await verifyPassword('x', '')).toBe(false)
  })

  it.each([
    [{ allowLegacySHA256: true }, 'did you mean allowLegacySha256?'],
    [{ allowLegacySha256: 'yes' }, 'allowLegacySha256 must be true or false'],
    ['allow', 'verifyPassword options must be an object'],
  ])(
    'refuses the options %j, which would refuse every legacy hash unsaid',
    async (options, message) => {
      const check = verifyPassword('legacy-password', LEGACY, options as never)
      await expect(check).rejects.toThrow(ConfigError)
      await expect(check).rejects.toThrow(message)
    },
  )
})

describe('parsePasswordHash is strict', () => {
  const salt = '00112233445566778899aabbccddeeff'
  const hash = 'ab'.repeat(32)
  it.each([
    ['pbkdf2_sha256', `pbkdf2_sha256$600000$${salt}$${hash}`],
    ['scrypt', `scrypt$16384$8$1$${salt}$${hash}`],
    ['sha256_legacy', hash],
  ])('reads %s', (kind, stored) => {
    expect(parsePasswordHash(stored)?.kind).toBe(kind)
  })

  it.each([
    ['iterations 0', `pbkdf2_sha256$0$${salt}$${hash}`],
    ['iterations below 1,000', `pbkdf2_sha256$999$${salt}$${hash}`],
    ['iterations above 10,000,000', `pbkdf2_sha256$10000001$${salt}$${hash}`],
    ['a signed count', `pbkdf2_sha256$+600000$${salt}$${hash}`],
    ['a zero-padded count', `pbkdf2_sha256$0600000$${salt}$${hash}`],
    ['an underscored count', `pbkdf2_sha256$600_000$${salt}$${hash}`],
    ['upper-case hex', `pbkdf2_sha256$600000$${salt.toUpperCase()}$${hash}`],
    ['an odd-length salt', `pbkdf2_sha256$600000$${salt}0$${hash}`],
    ['a salt under 8 bytes', `pbkdf2_sha256$600000$00112233445566$${hash}`],
    ['a 31-byte digest', `pbkdf2_sha256$600000$${salt}$${hash.slice(2)}`],
    ['a 64-byte digest', `pbkdf2_sha256$600000$${salt}$${hash}${hash}`],
    ['an extra field', `pbkdf2_sha256$600000$${salt}$${hash}$x`],
    ['another algorithm', `pbkdf2_sha1$600000$${salt}$${hash}`],
    ['a Django hash (base64 digest)', 'pbkdf2_sha256$600000$abcdefgh$q83vEjRWeJA=q83vEjRWeJA='],
    ['bcrypt', '$2b$12$abcdefghijklmnopqrstuuKQ0pw9l3fH8xg0zJmEXJgGv8r6pdU6u'],
    ['scrypt with N not a power of two', `scrypt$16000$8$1$${salt}$${hash}`],
    ['scrypt with r = 0', `scrypt$16384$0$1$${salt}$${hash}`],
    ['scrypt needing over 128 MiB', `scrypt$1048576$8$1$${salt}$${hash}`],
    ['a 63-digit legacy digest', hash.slice(1)],
    ['an empty string', ''],
    ['a huge string', 'a'.repeat(100_000)],
    ['a number', 600000],
    ['null', null],
  ])('refuses %s', (_case, stored) => {
    expect(parsePasswordHash(stored)).toBeUndefined()
  })
})

describe('decoy hashes', () => {
  it('cost what the hash they imitate costs, and match no password', async () => {
    const pbkdf2 = parsePasswordHash(SEED_VECTORS[0]!.hash)!
    const scrypt = parsePasswordHash(SCRYPT_VECTOR)!
    expect(sameCost(decoyHash(pbkdf2), pbkdf2)).toBe(true)
    expect(sameCost(decoyHash(scrypt), scrypt)).toBe(true)
    expect(sameCost(decoyHash(), pbkdf2)).toBe(true) // the default is 600,000 iterations
    expect(sameCost(decoyHash(scrypt), pbkdf2)).toBe(false)
    expect(decoyHash(pbkdf2).salt).not.toEqual(decoyHash(pbkdf2).salt)
  })
})

describe('VerifiedPasswordCache', () => {
  it('keys on username, stored hash and password without letting the parts run together', () => {
    const cache = new VerifiedPasswordCache()
    const key = cache.key('ab', 'h', 'c')
    expect(key).not.toBe(cache.key('a', 'h', 'bc'))
    expect(key).not.toBe(cache.key('ab', 'h2', 'c'))
    expect(key).toBe(cache.key('ab', 'h', 'c'))
    expect(cache.has(key)).toBe(false)
    cache.add(key)
    expect(cache.has(key)).toBe(true)
  })

  it('uses a fresh secret per instance: keys cannot be recomputed elsewhere', () => {
    expect(new VerifiedPasswordCache().key('a', 'h', 'p')).not.toBe(
      new VerifiedPasswordCache().key('a', 'h', 'p'),
    )
  })

  it('forgets the least recently used entries past max', () => {
    const cache = new VerifiedPasswordCache({ max: 1 })
    cache.add(cache.key('a', 'h', 'p'))
    cache.add(cache.key('b', 'h', 'p'))
    expect(cache.has(cache.key('a', 'h', 'p'))).toBe(false)
  })
})

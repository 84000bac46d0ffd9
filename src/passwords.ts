// Password hashes: PBKDF2-SHA256 in the seed's format, scrypt, strict parsing, constant-time checks.

import {
  createHash,
  createHmac,
  pbkdf2,
  randomBytes,
  scrypt,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { checkNumber, checkOptionNames, Problems, type OptionFlags } from './options.js'

/** The hash algorithms {@link hashPassword} can produce. */
export type PasswordHashAlgorithm = 'pbkdf2_sha256' | 'scrypt'

/** Options of {@link hashPassword}. */
export interface HashPasswordOptions {
  /** Default `'pbkdf2_sha256'` (the format the Python package `auth-middleware` reads and writes). */
  algorithm?: PasswordHashAlgorithm
  /** PBKDF2 iterations, from 1,000 to 10,000,000. Default 600,000 (OWASP 2023 for PBKDF2-SHA256). */
  iterations?: number
  /**
   * scrypt cost: `N` (a power of two), `r`, `p`, with `N × r × p` at most 10,000,000 and
   * `128 × N × r` bytes at most 128 MiB. Default `{ N: 32768, r: 8, p: 3 }` (OWASP, 32 MiB).
   */
  scrypt?: { N?: number; r?: number; p?: number }
}

// Every option of hashPassword and of its scrypt cost: a misspelt one (`iteration`) must not
// quietly fall back to a default the caller did not choose.
const HASH_PASSWORD_OPTIONS = Object.keys({
  algorithm: true,
  iterations: true,
  scrypt: true,
} as const satisfies OptionFlags<HashPasswordOptions>)
const VERIFY_PASSWORD_OPTIONS = Object.keys({
  allowLegacySha256: true,
} as const satisfies OptionFlags<VerifyPasswordOptions>)
const SCRYPT_COST_OPTIONS = Object.keys({
  N: true,
  r: true,
  p: true,
} as const satisfies OptionFlags<NonNullable<HashPasswordOptions['scrypt']>>)

/** Options of {@link verifyPassword}. */
export interface VerifyPasswordOptions {
  /**
   * Also accept the seed's legacy unsalted SHA-256 hex digests. Off by default.
   *
   * **Warning:** an unsalted SHA-256 is cracked at billions of guesses per second on one GPU and
   * shares one hash per password across users. Accept it only to migrate: rehash each password with
   * {@link hashPassword} at the user's next successful login, then turn this off.
   */
  allowLegacySha256?: boolean
}

/** A stored hash, parsed and checked: what a verification needs, and nothing else. */
export type ParsedPasswordHash =
  | {
      readonly kind: 'pbkdf2_sha256'
      readonly iterations: number
      readonly salt: Buffer
      readonly hash: Buffer
    }
  | {
      readonly kind: 'scrypt'
      readonly N: number
      readonly r: number
      readonly p: number
      readonly salt: Buffer
      readonly hash: Buffer
    }
  | { readonly kind: 'sha256_legacy'; readonly hash: Buffer }

/** A parsed hash with a salt and a cost: anything but the legacy digest. */
export type SaltedPasswordHash = Exclude<ParsedPasswordHash, { kind: 'sha256_legacy' }>

/** Default PBKDF2 iterations, the seed's `DEFAULT_ITERATIONS` (OWASP's 2023 figure for SHA-256). */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000
const DEFAULT_SCRYPT = { N: 32_768, r: 8, p: 3 } as const
// Bounds on stored costs: below them a hash is too cheap to be worth its name; above them one
// login would hold a thread-pool thread for many seconds (a stored hash should never be a DoS).
// The basic-auth decoy makes every unknown user pay the costliest known hash, so the bounds are
// what any request with a made-up username may cost.
const MIN_ITERATIONS = 1_000
const MAX_ITERATIONS = 10_000_000
// scrypt's work is bounded as PBKDF2's: hashWork() counts N × r × p as it counts iterations (a unit
// of either is a fraction of a microsecond), so no scrypt hash costs more than the costliest
// PBKDF2 hash accepted, a few seconds of one thread.
const MAX_SCRYPT_WORK = MAX_ITERATIONS
// 128 × N × r bytes per check, held for its whole duration by each busy pool thread (4 by default):
// 128 MiB admits OWASP's strongest scrypt setting (N = 2^17, r = 8, p = 1) and no more.
const MAX_SCRYPT_MEMORY = 128 * 1024 * 1024
// The seed salts with 16 random bytes and keeps PBKDF2's default 32-byte output (dklen for SHA-256).
const SALT_BYTES = 16
const HASH_BYTES = 32
// Lower-case hex only: what Python's bytes.hex() writes. Anything else is hand-edited or foreign.
const HEX_SALT = /^(?:[0-9a-f]{2}){8,64}$/
const HEX_HASH = /^[0-9a-f]{64}$/
// Canonical decimal: Python's int() would also take '+600000', ' 600000' or '600_000'; we do not.
const DECIMAL = /^[1-9][0-9]{0,8}$/
// A lone surrogate cannot be UTF-8 encoded: Node would silently hash U+FFFD, Python would refuse.
const LONE_SURROGATE = /\p{Cs}/u

function pbkdf2Async(password: Buffer, salt: Buffer, iterations: number): Promise<Buffer> {
  // The async form runs on libuv's thread pool: 600,000 iterations must not block the event loop.
  return new Promise((resolve, reject) =>
    pbkdf2(password, salt, iterations, HASH_BYTES, 'sha256', (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  )
}

function scryptMemory(N: number, r: number): number {
  return 128 * N * r
}

function scryptAsync(
  password: Buffer,
  salt: Buffer,
  cost: { N: number; r: number; p: number },
): Promise<Buffer> {
  // Node refuses parameters needing more than maxmem (32 MiB by default); allow what they need.
  const options: ScryptOptions = { ...cost, maxmem: 2 * scryptMemory(cost.N, cost.r) }
  return new Promise((resolve, reject) =>
    scrypt(password, salt, HASH_BYTES, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  )
}

/** Whether `value` is a string UTF-8 can encode as it is: one without a lone surrogate. */
export function isUnicodeText(value: unknown): value is string {
  return typeof value === 'string' && !LONE_SURROGATE.test(value)
}

function encodePassword(password: string): Buffer {
  if (typeof password !== 'string') throw new TypeError('password must be a string')
  if (!isUnicodeText(password)) {
    throw new TypeError('password is not valid Unicode (it has a lone surrogate)')
  }
  // The seed hashes password.encode(): UTF-8 as typed, with no Unicode normalisation.
  return Buffer.from(password, 'utf8')
}

function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 1 && (value & (value - 1)) === 0
}

function scryptCostProblem(N: number, r: number, p: number): string | undefined {
  if (!isPowerOfTwo(N) || N < 1_024 || N > 1_048_576)
    return 'N must be a power of two from 2^10 to 2^20'
  if (!Number.isInteger(r) || r < 1 || r > 32) return 'r must be a whole number from 1 to 32'
  if (!Number.isInteger(p) || p < 1 || p > 16) return 'p must be a whole number from 1 to 16'
  // OpenSSL refuses N ≥ 2^(16·r) (RFC 7914 §2: N < 2^(128·r/8)); 2 ** (16 * r) is a finite double
  // for every r allowed above, so the comparison needs no guard. Only r = 1 meets it (N ≤ 2^15).
  if (N >= 2 ** (16 * r)) return 'N must be below 2^(16·r): with r = 1, N at most 2^15'
  if (scryptMemory(N, r) > MAX_SCRYPT_MEMORY) {
    const mib = scryptMemory(N, r) / 2 ** 20
    return `N × r needs 128 × N × r = ${mib} MiB per check, more than the 128 MiB allowed (OWASP: N = 2^17, r = 8, p = 1 needs 128 MiB)`
  }
  if (N * r * p > MAX_SCRYPT_WORK) {
    return `N × r × p must be at most 10,000,000 (the work of the most PBKDF2 iterations allowed), got ${N * r * p}`
  }
  return undefined
}

/**
 * The crypto library refused to derive a key from a stored hash that parsed (a limit of OpenSSL's
 * that the parser does not know): the hash is unusable, which is no reason to answer 500.
 */
export class HashRefusedError extends Error {
  constructor(cause: unknown) {
    super('the crypto library refused the stored hash', { cause })
    this.name = 'HashRefusedError'
  }
}

/**
 * Parses a stored password hash strictly: the seed's `pbkdf2_sha256$<iterations>$<salt_hex>$<hash_hex>`,
 * `scrypt$<N>$<r>$<p>$<salt_hex>$<hash_hex>`, or a bare 64-digit SHA-256 hex digest (the seed's
 * legacy format). Costs are bounded, hex is lower-case with the lengths the formats use.
 *
 * @returns the parsed hash, or `undefined` when `stored` is none of these (never a guess).
 * @example parsePasswordHash('pbkdf2_sha256$600000$5c0f…$98f6…')?.kind // 'pbkdf2_sha256'
 */
export function parsePasswordHash(stored: unknown): ParsedPasswordHash | undefined {
  if (typeof stored !== 'string' || stored.length > 400) return undefined
  if (HEX_HASH.test(stored)) return { kind: 'sha256_legacy', hash: Buffer.from(stored, 'hex') }
  const parts = stored.split('$')
  if (parts[0] === 'pbkdf2_sha256' && parts.length === 4) {
    const [, iterationsText = '', saltHex = '', hashHex = ''] = parts
    if (!DECIMAL.test(iterationsText) || !HEX_SALT.test(saltHex) || !HEX_HASH.test(hashHex)) {
      return undefined
    }
    const iterations = Number(iterationsText)
    if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) return undefined
    const salt = Buffer.from(saltHex, 'hex')
    return { kind: 'pbkdf2_sha256', iterations, salt, hash: Buffer.from(hashHex, 'hex') }
  }
  if (parts[0] === 'scrypt' && parts.length === 6) {
    const [, nText = '', rText = '', pText = '', saltHex = '', hashHex = ''] = parts
    const numbers = [nText, rText, pText]
    if (!numbers.every((text) => DECIMAL.test(text))) return undefined
    if (!HEX_SALT.test(saltHex) || !HEX_HASH.test(hashHex)) return undefined
    const [N, r, p] = numbers.map(Number) as [number, number, number]
    if (scryptCostProblem(N, r, p) !== undefined) return undefined
    const salt = Buffer.from(saltHex, 'hex')
    return { kind: 'scrypt', N, r, p, salt, hash: Buffer.from(hashHex, 'hex') }
  }
  return undefined
}

/**
 * Why a stored hash of a known format is refused for its cost (iterations, or scrypt's N, r, p
 * out of bounds), or undefined. Says only the cost parameters, never the salt or hash, so that an
 * operator told "not a recognised hash" can see which bound it broke.
 */
export function hashCostProblem(stored: unknown): string | undefined {
  if (typeof stored !== 'string') return undefined
  const parts = stored.split('$')
  if (parts[0] === 'pbkdf2_sha256' && parts.length === 4 && DECIMAL.test(parts[1] ?? '')) {
    const iterations = Number(parts[1])
    if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
      return `its iterations, ${iterations}, are outside ${MIN_ITERATIONS}..${MAX_ITERATIONS}`
    }
  }
  if (parts[0] === 'scrypt' && parts.length === 6) {
    const numbers = parts.slice(1, 4)
    if (numbers.every((text) => DECIMAL.test(text))) {
      const [N, r, p] = numbers.map(Number) as [number, number, number]
      return scryptCostProblem(N, r, p)
    }
  }
  return undefined
}

/**
 * Checks `password` against a parsed hash in constant time (`crypto.timingSafeEqual` on equal
 * lengths). The cost is the stored hash's, whatever the password: a wrong password takes as long
 * as a right one.
 *
 * @throws {TypeError} when `password` is not a string of valid Unicode.
 * @throws {HashRefusedError} when the crypto library refuses the hash's parameters.
 */
export async function verifyParsedHash(
  password: string,
  parsed: ParsedPasswordHash,
): Promise<boolean> {
  const secret = encodePassword(password)
  let derived: Buffer
  try {
    derived = await derive(secret, parsed)
  } catch (error) {
    throw new HashRefusedError(error)
  }
  return derived.length === parsed.hash.length && timingSafeEqual(derived, parsed.hash)
}

function derive(secret: Buffer, parsed: ParsedPasswordHash): Promise<Buffer> | Buffer {
  if (parsed.kind === 'pbkdf2_sha256') return pbkdf2Async(secret, parsed.salt, parsed.iterations)
  if (parsed.kind === 'scrypt') return scryptAsync(secret, parsed.salt, parsed)
  return createHash('sha256').update(secret).digest()
}

/**
 * A hash with the same algorithm and cost as `like` but a random salt and digest, which no password
 * matches: verifying against it costs an unknown user the same work as a known one, so response
 * times do not tell which usernames exist.
 */
export function decoyHash(like?: ParsedPasswordHash): SaltedPasswordHash {
  const salt = randomBytes(SALT_BYTES)
  const hash = randomBytes(HASH_BYTES)
  if (like?.kind === 'scrypt')
    return { kind: 'scrypt', N: like.N, r: like.r, p: like.p, salt, hash }
  const iterations = like?.kind === 'pbkdf2_sha256' ? like.iterations : DEFAULT_PBKDF2_ITERATIONS
  return { kind: 'pbkdf2_sha256', iterations, salt, hash }
}

/**
 * A rough measure of the work verifying a hash takes, to tell which of two hashes costs more, even
 * across algorithms: PBKDF2's iterations, scrypt's N × r × p (a unit of either is of the same order
 * of CPU time), nothing for the legacy digest.
 */
export function hashWork(parsed: ParsedPasswordHash): number {
  if (parsed.kind === 'pbkdf2_sha256') return parsed.iterations
  if (parsed.kind === 'scrypt') return parsed.N * parsed.r * parsed.p
  return 0
}

/** Whether two parsed hashes cost the same to verify. */
export function sameCost(a: ParsedPasswordHash, b: ParsedPasswordHash): boolean {
  if (a.kind === 'pbkdf2_sha256' && b.kind === 'pbkdf2_sha256') return a.iterations === b.iterations
  if (a.kind === 'scrypt' && b.kind === 'scrypt') return a.N === b.N && a.r === b.r && a.p === b.p
  return a.kind === b.kind
}

function isOptionsObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function resolveHashOptions(options: HashPasswordOptions): {
  algorithm: PasswordHashAlgorithm
  iterations: number
  cost: { N: number; r: number; p: number }
} {
  const problems = new Problems()
  if (!isOptionsObject(options)) {
    // hashPassword(pw, 'scrypt') would otherwise hash with the default, PBKDF2, without a word.
    const hint =
      typeof options === 'string'
        ? ` (for ${JSON.stringify(options)}: { algorithm: ${JSON.stringify(options)} })`
        : ''
    problems.add(`hashPassword options must be an object, such as { algorithm: 'scrypt' }${hint}`)
    problems.throwIfAny()
  }
  checkOptionNames(problems, 'hashPassword', options, HASH_PASSWORD_OPTIONS)
  if (options.scrypt !== undefined && !isOptionsObject(options.scrypt)) {
    problems.add('scrypt must be an object { N, r, p }')
  }
  checkOptionNames(problems, 'hashPassword scrypt', options.scrypt, SCRYPT_COST_OPTIONS)
  const { algorithm = 'pbkdf2_sha256', iterations = DEFAULT_PBKDF2_ITERATIONS } = options
  if (algorithm !== 'pbkdf2_sha256' && algorithm !== 'scrypt') {
    problems.add(`algorithm must be 'pbkdf2_sha256' or 'scrypt'`)
  }
  // Options of the other algorithm would be dropped without a word: scrypt's cost with PBKDF2 (the
  // default algorithm) is the likely slip.
  if (options.scrypt !== undefined && algorithm !== 'scrypt') {
    problems.add("scrypt is read only with algorithm: 'scrypt'; add it, or drop scrypt")
  }
  if (options.iterations !== undefined && algorithm === 'scrypt') {
    problems.add("iterations is PBKDF2's: with algorithm: 'scrypt' give scrypt: { N, r, p }")
  }
  checkNumber(problems, 'iterations', iterations, MIN_ITERATIONS, {
    max: MAX_ITERATIONS,
    integer: true,
  })
  const cost = { ...DEFAULT_SCRYPT, ...options.scrypt }
  const costProblem = scryptCostProblem(cost.N, cost.r, cost.p)
  if (costProblem !== undefined) problems.add(`scrypt.${costProblem}`)
  problems.throwIfAny()
  return { algorithm, iterations, cost }
}

/**
 * Hashes a password for storage (a `passwordHash` of {@link CredentialsRepository} records), with
 * 16 random salt bytes. The default output, `pbkdf2_sha256$600000$<salt_hex>$<hash_hex>`, is the
 * format of the Python package `auth-middleware`: its `verify_password` accepts these hashes, and
 * {@link verifyPassword} accepts its. Runs on the thread pool, not the event loop.
 *
 * @example
 * await hashPassword('s3cret') // 'pbkdf2_sha256$600000$9f1c…$4be2…'
 * await hashPassword('s3cret', { algorithm: 'scrypt' }) // 'scrypt$32768$8$3$…$…'
 *
 * @throws {TypeError} when `password` is not a non-empty string of valid Unicode.
 * @throws {ConfigError} `ERR_AUTH_CONFIG` for options that are not an object (`'scrypt'` for
 *   `{ algorithm: 'scrypt' }`), an unknown algorithm, an option name it does not know
 *   (`iteration`), or a cost out of bounds.
 */
export async function hashPassword(
  password: string,
  options: HashPasswordOptions = {},
): Promise<string> {
  const secret = encodePassword(password)
  if (secret.length === 0) throw new TypeError('password must not be empty')
  const { algorithm, iterations, cost } = resolveHashOptions(options)
  const salt = randomBytes(SALT_BYTES)
  if (algorithm === 'scrypt') {
    const hash = await scryptAsync(secret, salt, cost)
    return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('hex')}$${hash.toString('hex')}`
  }
  const hash = await pbkdf2Async(secret, salt, iterations)
  return `pbkdf2_sha256$${iterations}$${salt.toString('hex')}$${hash.toString('hex')}`
}

/**
 * Checks a password against a stored hash (see {@link hashPassword}) in constant time.
 *
 * @returns `false` for a wrong password, and also for a stored hash that does not parse, one the
 *   crypto library refuses, or a legacy SHA-256 digest without `allowLegacySha256`: it fails
 *   closed, never throws for them.
 * @throws {TypeError} when `password` is not a string of valid Unicode.
 * @throws {ConfigError} `ERR_AUTH_CONFIG` for an option name it does not know, or a flag that is
 *   not a boolean: a misspelt `allowLegacySHA256: true` would otherwise refuse every legacy hash
 *   without a word, and every such user's login with it.
 * @example if (await verifyPassword(given, user.passwordHash)) { … }
 */
export async function verifyPassword(
  password: string,
  stored: string,
  options: VerifyPasswordOptions = {},
): Promise<boolean> {
  checkVerifyOptions(options)
  const parsed = parsePasswordHash(stored)
  if (parsed === undefined) return false
  if (parsed.kind === 'sha256_legacy' && options.allowLegacySha256 !== true) return false
  try {
    return await verifyParsedHash(password, parsed)
  } catch (error) {
    if (error instanceof HashRefusedError) return false
    throw error
  }
}

function checkVerifyOptions(options: VerifyPasswordOptions): void {
  const problems = new Problems()
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    problems.add('verifyPassword options must be an object ({ allowLegacySha256 })')
  }
  checkOptionNames(problems, 'verifyPassword', options, VERIFY_PASSWORD_OPTIONS)
  const allow = (options as VerifyPasswordOptions | null)?.allowLegacySha256
  if (allow !== undefined && typeof allow !== 'boolean') {
    problems.add('verifyPassword: allowLegacySha256 must be true or false')
  }
  problems.throwIfAny()
}

/** Options of the cache of recent successful password checks. */
export interface VerifiedPasswordCacheOptions {
  /** How long a successful check is remembered, in milliseconds. Default 300 000 (5 minutes). */
  ttlMs?: number
  /** Most entries kept. Default 1 000. */
  max?: number
}

/**
 * Remembers recent successful checks so a client sending Basic credentials on every request pays
 * the hash once, not per request. Entries are keyed by an HMAC (under a random per-process key) of
 * username, stored hash and password: the password itself is never kept, the key cannot be
 * recomputed offline, and a changed stored hash misses at once. Failures are never remembered.
 */
export class VerifiedPasswordCache {
  readonly #secret = randomBytes(32)
  readonly #entries: LRUCache<string, true>

  constructor(options: VerifiedPasswordCacheOptions = {}) {
    this.#entries = new LRUCache<string, true>({
      max: options.max ?? 1_000,
      ttl: options.ttlMs ?? 300_000,
      updateAgeOnGet: false,
    })
  }

  /** The entry key of one check; each part is length-prefixed so no two triples collide. */
  key(username: string, stored: string, password: string): string {
    const hmac = createHmac('sha256', this.#secret)
    for (const part of [username, stored, password]) {
      const bytes = Buffer.from(part, 'utf8')
      const length = Buffer.alloc(4)
      length.writeUInt32BE(bytes.length)
      hmac.update(length).update(bytes)
    }
    return hmac.digest('base64')
  }

  has(key: string): boolean {
    return this.#entries.get(key) === true
  }

  add(key: string): void {
    this.#entries.set(key, true)
  }
}

// The test kit's options checked: each fake issuer's factory and method refuses a misspelt or
// mistyped option with a TypeError naming it, so a test never checks something it did not ask for.

import { KeyObject } from 'node:crypto'
import { ConfigError } from './errors.js'
import { isProduction } from './options.js'
import { ASYMMETRIC_ALGORITHMS, isJwsAlgorithm } from './jwt.js'
import type { MintOptions, TestAlgorithm, TestIssuerOptions } from './test-issuer.js'

/** `value` as a message shows it: strings quoted, objects as JSON. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value !== 'object' || value === null) return String(value)
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}

/** The TypeError of an option `createTestIssuer` cannot use, naming it and what it must be. */
export function optionError(name: string, expected: string, value: unknown): TypeError {
  return new TypeError(`createTestIssuer: ${name} must be ${expected}, got ${show(value)}`)
}

/** What a member of a method's options must be: a test, and the words a message says. */
type MemberRule = readonly [(value: unknown) => boolean, string]
/** The rule of each member of a method's options. */
export type MemberRules = Readonly<Record<string, MemberRule>>

/** A member rule's test for members checked elsewhere, or that may be anything. */
export const anything = (): boolean => true
export const isBoolean = (value: unknown): boolean => typeof value === 'boolean'
export const isRecord = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Refuses `options` of `method` unless each member is one of `rules` and passes it: a TypeError
 * naming the member and the allowed ones. Ignored, a misspelt `statusCode`, `expiresIn` or
 * `keepold` left the test checking a normal answer, a one-hour token or dropped keys.
 */
export function checkMembers(method: string, options: unknown, rules: MemberRules): void {
  if (options === undefined) return
  if (!isRecord(options)) {
    throw new TypeError(`${method}: options must be an object, got ${show(options)}`)
  }
  const names = Object.keys(rules).join(', ')
  for (const [name, value] of Object.entries(options as Record<string, unknown>)) {
    // An undefined member means "not given", as createTestIssuer reads its own options.
    if (value === undefined) continue
    const rule = Object.hasOwn(rules, name) ? rules[name] : undefined
    if (rule === undefined) {
      throw new TypeError(`${method}: ${name} is not an option (its options: ${names})`)
    }
    if (!rule[0](value)) {
      throw new TypeError(`${method}: ${name} must be ${rule[1]}, got ${show(value)}`)
    }
  }
}

// One rule per member of MintOptions, no more, no less: the compiler keeps MINT_OPTION_NAMES true.
// tamper names its modes itself, when it damages the token.
export const MINT_RULES: { readonly [Name in keyof MintOptions]-?: MemberRule } = {
  alg: [(value) => typeof value === 'string', "an algorithm name such as 'RS256'"],
  kid: [(value) => typeof value === 'string' || value === null, 'a string, or null to omit it'],
  header: [isRecord, 'an object of header members'],
  expiresInSec: [Number.isFinite, 'a number of seconds (negative: already expired)'],
  rawPayload: [(value) => typeof value === 'string', 'a string'],
  key: [(value) => value instanceof KeyObject, 'a KeyObject (a private key)'],
  hmacSecret: [
    (value) => typeof value === 'string' || value instanceof Uint8Array,
    'a string or a Buffer',
  ],
  tamper: [anything, 'a tamper mode'],
}
export const ROTATE_RULES: MemberRules = { keepOld: [isBoolean, 'true or false'] }
/** The names of {@link MintOptions}. */
export const MINT_OPTION_NAMES: readonly string[] = Object.keys(MINT_RULES)

/**
 * `value`'s JSON, or a TypeError naming `what` when JSON cannot encode it (a BigInt, a cycle):
 * thrown when served instead, it failed every fetch of the route as an outage would.
 */
export function toJson(what: string, expected: string, value: unknown): string | undefined {
  try {
    return JSON.stringify(value)
  } catch (error) {
    throw new TypeError(
      `${what} must be ${expected}, got one JSON cannot encode (${(error as Error).message})`,
    )
  }
}

/** Claims a vendor kit's token method puts on its own: any, but none named as one of its options. */
export type ClaimOverrides<OptionName extends string> = Record<string, unknown> & {
  readonly [Name in OptionName]?: undefined
}

/** An object of members, as a literal, JSON.parse or a spread make one (no class instance). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  const proto: unknown = isRecord(value) ? Object.getPrototypeOf(value) : undefined
  return proto === Object.prototype || proto === null
}

/**
 * Refuses claims (`what`: `claims` of mint, `overrides` of a token method) other than a plain
 * object or undefined. Spread as they were, 'abc' minted {"0":"a",…}, null the default token, and
 * null beside rawPayload threw "Cannot convert undefined or null to object".
 */
export function checkClaims(
  method: string,
  claims: unknown,
  what = 'claims',
): asserts claims is Record<string, unknown> | undefined {
  if (claims === undefined || isPlainObject(claims)) return
  throw new TypeError(
    `${method}: ${what} must be an object of claims, or undefined (the defaults), got ${show(claims)}`,
  )
}

/**
 * The claims' JSON, or a TypeError naming `method` and the claim JSON cannot encode: a BigInt
 * threw JSON.stringify's "Do not know how to serialize a BigInt", naming neither, and a function
 * or a Symbol vanished from the token without a word.
 */
export function encodeClaims(method: string, claims: Record<string, unknown>): string {
  let claim = ''
  let got: string | undefined
  try {
    return JSON.stringify(claims, function (this: unknown, name: string, value: unknown) {
      if (this === claims) claim = name
      const type = typeof value
      if (type !== 'bigint' && type !== 'function' && type !== 'symbol') return value
      got = `a ${type}`
      throw new TypeError(got)
    })
  } catch (error) {
    got ??= `one JSON cannot encode (${(error as Error).message})`
    throw new TypeError(`${method}: claim ${show(claim)} must be a JSON value, got ${got}`)
  }
}

/**
 * Refuses `overrides`, the claims a vendor kit's token method (`access()`, `v2()`) puts on its
 * own, that name one of its options (`optionNames`) or mint's `preset`. Taken as claims,
 * `{ issuerForm: 'global' }`, `{ expiresInSec: -60 }` or `{ tamper: 'signature' }` minted a
 * normal token, so a test of global, expired or forged tokens passed without one. No vendor's
 * token has such a claim; `mint(claims, { preset })` still signs one.
 */
export function refuseOptionsAsClaims(
  method: string,
  overrides: unknown,
  optionNames: readonly string[],
): void {
  checkClaims(method, overrides, 'overrides')
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (value === undefined) continue
    if (optionNames.includes(name)) {
      throw new TypeError(
        `${method}: ${name} is a mint option, not a claim: pass it in the options, the third argument of ${method}, not in the overrides`,
      )
    }
    if (name === 'preset') {
      throw new TypeError(
        `${method}: preset is an option of mint, not a claim: ${method} mints its own token shape; for another, mint(claims, { preset })`,
      )
    }
  }
}

/**
 * Refuses `mint` options that another one would silently drop: `key` beside `hmacSecret` (the
 * foreign key went unused, so a negative test passed with an HS256 token), and `claims` or
 * `expiresInSec` beside `rawPayload`, which is signed instead of them (an "expired" token had no
 * `exp`).
 */
export function checkMintConflicts(claims: Record<string, unknown>, options: MintOptions): void {
  if (options.key !== undefined && options.hmacSecret !== undefined) {
    throw new TypeError(
      'mint: give key or hmacSecret, not both: key signs with a private key, hmacSecret with HMAC',
    )
  }
  if (options.rawPayload === undefined) return
  if (Object.keys(claims).length > 0) {
    throw new TypeError(
      `mint: claims (${Object.keys(claims).join(', ')}) are given with rawPayload, which is signed instead of them; put them in rawPayload, or drop it`,
    )
  }
  if (options.expiresInSec !== undefined) {
    throw new TypeError(
      'mint: expiresInSec is given with rawPayload, which is signed as is (no exp is added); put exp in rawPayload, or drop expiresInSec',
    )
  }
}

/**
 * Refuses `rawPayload` where `what` (a preset, a token method of a vendor kit) builds the claims
 * it would replace.
 */
export function refuseRawPayload(what: string, options: unknown): void {
  if (isRecord(options) && (options as MintOptions).rawPayload !== undefined) {
    throw new TypeError(
      `${what} builds the token's claims, which rawPayload would replace; sign a raw payload with mint({}, { rawPayload })`,
    )
  }
}

/**
 * `setDiscovery`'s overrides checked: a plain object of members, or undefined. Spread as they
 * were, a string served its characters as members ('xyz' as {"0":"x",…}) and null meant none.
 */
export function checkDiscoveryOverrides(overrides: unknown): Record<string, unknown> | undefined {
  if (overrides === undefined) return undefined
  if (!isPlainObject(overrides)) {
    throw new TypeError(
      `setDiscovery: overrides must be an object of discovery members, or undefined to drop all overrides, got ${show(overrides)}`,
    )
  }
  toJson('setDiscovery: overrides', 'JSON values', overrides)
  return { ...overrides }
}

/** The generic issuer's options checked (a TypeError naming the first bad one); its algorithms. */
export function checkIssuerOptions(options: TestIssuerOptions): readonly TestAlgorithm[] {
  const { issuer, audience, algorithms = ['RS256'], listen, port } = options
  if (issuer !== undefined && (typeof issuer !== 'string' || issuer === '')) {
    throw optionError('issuer', 'a non-empty string', issuer)
  }
  if (audience !== undefined && typeof audience !== 'string') {
    throw optionError('audience', 'a string', audience)
  }
  if (listen !== undefined && typeof listen !== 'boolean') {
    throw optionError('listen', 'true or false', listen)
  }
  if (port !== undefined) {
    if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      throw optionError('port', 'an integer from 0 to 65535 (0: a free one)', port)
    }
    // Ignoring it would leave a test expecting that port talking to nothing.
    if (listen === false) {
      throw new TypeError(
        'createTestIssuer: port is given with listen: false, which starts no server to put on it; drop port, or listen',
      )
    }
  }
  if (!Array.isArray(algorithms)) {
    throw optionError('algorithms', "an array such as ['RS256', 'ES256']", algorithms)
  }
  return checkAlgorithms(algorithms)
}

/**
 * The algorithms asked for, each once; a TypeError quoting the unknown ones (null and '' said
 * nothing after "unsupported alg"), or for none.
 */
function checkAlgorithms(algorithms: readonly unknown[]): readonly TestAlgorithm[] {
  const unknown = algorithms.filter((alg) => !isJwsAlgorithm(alg))
  if (unknown.length > 0) {
    throw new TypeError(
      `createTestIssuer: algorithms must be among ${ASYMMETRIC_ALGORITHMS.join(', ')} (no HMAC or none: a JWKS cannot publish them), got ${unknown.map(show).join(', ')}`,
    )
  }
  if (algorithms.length === 0) throw new TypeError('createTestIssuer: algorithms is empty')
  return [...new Set(algorithms as readonly TestAlgorithm[])]
}

/**
 * A test issuer signs whatever it is asked to, with keys it makes up: an API trusting it lets in
 * tokens no real identity provider issued. Where NODE_ENV says production that takes
 * `allowInProduction: true`, as a disabled middleware takes `allowDisabledInProduction`.
 */
export function refuseInProduction(allow: unknown): void {
  if (allow !== undefined && typeof allow !== 'boolean') {
    throw optionError('allowInProduction', 'true or false', allow)
  }
  if (allow === true || !isProduction()) return
  throw new ConfigError([
    'createTestIssuer refuses to start while NODE_ENV=production: its tokens are signed with keys it makes up, so an API trusting it lets in tokens no real identity provider issued; pass allowInProduction: true if this is really meant',
  ])
}

// The test kit's options checked: each fake issuer's factory and method refuses a misspelt or
// mistyped option with a TypeError naming it, so a test never checks something it did not ask for.

import { KeyObject } from 'node:crypto'
import { validateHeaderName, validateHeaderValue } from 'node:http'
import { ConfigError } from './errors.js'
import { isProduction } from './options.js'
import type {
  MintOptions,
  RouteBehaviour,
  TestAlgorithm,
  TestIssuerOptions,
} from './test-issuer.js'
import { checkAlgorithms } from './test-keys.js'

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

/** What each member of a method's options must be: a test, and the words a message says. */
export type MemberRules = Readonly<Record<string, readonly [(value: unknown) => boolean, string]>>

/** A member rule's test for members checked elsewhere, or that may be anything. */
export const anything = (): boolean => true
export const isBoolean = (value: unknown): boolean => typeof value === 'boolean'
const isRecord = (value: unknown): boolean =>
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

// status and delayMs have their own range checks (a RangeError); tamper names its modes itself.
export const BEHAVIOUR_RULES: MemberRules = {
  status: [anything, 'an integer from 200 to 599'],
  body: [anything, 'a string or a JSON value'],
  headers: [
    (value) =>
      isRecord(value) && Object.values(value as object).every((v) => typeof v === 'string'),
    'an object of header names to string values',
  ],
  delayMs: [anything, 'a number of milliseconds'],
  hang: [isBoolean, 'true or false'],
}
export const MINT_RULES: MemberRules = {
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

/** The longest delay a Node timer holds (2^31 - 1 ms); a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * `behaviour` checked and made ready to serve: its headers valid, its body encoded once. Accepted
 * and sent later, a bad header name or a BigInt body failed every fetch of the route, which the
 * provider under test took for an outage (so a test expecting a 503 passed for the wrong reason).
 */
export function checkBehaviour(behaviour: RouteBehaviour | undefined): RouteBehaviour | undefined {
  checkMembers('respondWith', behaviour, BEHAVIOUR_RULES)
  if (behaviour === undefined) return undefined
  const { status, delayMs, headers, body } = behaviour
  if (status !== undefined && !(Number.isInteger(status) && status >= 200 && status <= 599)) {
    throw new RangeError(`respondWith: status must be an integer from 200 to 599, got ${status}`)
  }
  // Node fires a longer timer after 1 ms: the "slow" answer would come at once.
  if (
    delayMs !== undefined &&
    !(typeof delayMs === 'number' && delayMs >= 0 && delayMs <= MAX_TIMER_MS)
  ) {
    throw new RangeError(
      `respondWith: delayMs must be a number of milliseconds from 0 to ${MAX_TIMER_MS} (the longest a timer holds), got ${show(delayMs)}; hang: true never answers`,
    )
  }
  for (const [name, value] of Object.entries(headers ?? {})) {
    try {
      validateHeaderName(name)
      validateHeaderValue(name, value)
    } catch (error) {
      throw new TypeError(
        `respondWith: headers must be sendable HTTP headers, got ${show(name)}: ${show(value)} (${(error as Error).message})`,
      )
    }
  }
  return body === undefined ? { ...behaviour } : { ...behaviour, body: encodeBody(body) }
}

/** A body as it is sent: a string as is, any other value as its JSON (a TypeError if it has none). */
function encodeBody(body: unknown): string {
  if (typeof body === 'string') return body
  const text = toJson('respondWith: body', 'a string or a JSON value', body)
  if (text === undefined) {
    throw new TypeError(`respondWith: body must be a string or a JSON value, got ${String(body)}`)
  }
  return text
}

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
  const proto: unknown = isRecord(overrides) ? Object.getPrototypeOf(overrides) : undefined
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(
      `setDiscovery: overrides must be an object of discovery members, or undefined to drop all overrides, got ${show(overrides)}`,
    )
  }
  toJson('setDiscovery: overrides', 'JSON values', overrides)
  return { ...(overrides as Record<string, unknown>) }
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

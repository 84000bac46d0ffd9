// The test kit's options checked: each fake issuer's factory and method refuses a misspelt or
// mistyped option with a TypeError naming it, so a test never checks something it did not ask for.

import { KeyObject } from 'node:crypto'
import { ConfigError } from './errors.js'
import { isProduction } from './options.js'
import type { TestAlgorithm, TestIssuerOptions } from './test-issuer.js'
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

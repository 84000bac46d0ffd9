// Differential test: our pipeline (parseJwt → checkHeader → selectKey → signatureIsValid →
// validateClaims) and jose's jwtVerify must agree on accept/reject for every generated token, valid,
// tampered or hostile. Where we are stricter by design, the difference is listed in
// `designDifference` and in the table at the end: we must refuse such tokens whatever jose says.
//
// npm test runs ~2,700 cases under a fixed seed; FUZZ_RUNS=<n> (npm run fuzz) runs n, FUZZ_SEED another seed.
import { generateKeyPair, sign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { createLocalJWKSet, errors, jwtVerify } from 'jose'
import type { JWTVerifyGetKey } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { validateClaims } from '../../src/claims.js'
import type { ClaimsPolicy } from '../../src/claims.js'
import { InvalidTokenError } from '../../src/errors.js'
import {
  ASYMMETRIC_ALGORITHMS,
  DEFAULT_MAX_TOKEN_LENGTH,
  checkHeader,
  parseJwt,
  signatureIsValid,
  signatureIsValidOffThread,
} from '../../src/jwt.js'
import type { HeaderPolicy, VerificationKey } from '../../src/jwt.js'
import { importKeySet, selectKey } from '../../src/key-set.js'

const NOW = 1_700_000_000
const ISSUER = 'https://issuer.example.com'
const AUDIENCE = 'api://orders'
const KID = { rs: 'rs-1', es: 'es-1', enc: 'enc-1' } as const

const TOTAL_RUNS = Number(process.env['FUZZ_RUNS'] ?? '') || 2_700
const SEED = Number(process.env['FUZZ_SEED'] ?? '') || 42
const TIMEOUT_MS = Math.max(20_000, TOTAL_RUNS * 10)
const runs = (share: number): number => Math.max(1, Math.round(TOTAL_RUNS * share))

const HEADER_POLICY: HeaderPolicy = { algorithms: new Set(ASYMMETRIC_ALGORITHMS), typ: undefined }
const CLAIMS_POLICY: ClaimsPolicy = {
  issuer: ISSUER,
  audience: [AUDIENCE],
  clockToleranceSec: 0,
  maxTokenAgeSec: undefined,
  requiredClaims: ['sub'],
}
const JOSE_OPTIONS = {
  issuer: ISSUER,
  audience: AUDIENCE,
  algorithms: [...ASYMMETRIC_ALGORITHMS],
  clockTolerance: 0,
  requiredClaims: ['exp', 'sub'],
  currentDate: new Date(NOW * 1000),
}

type Signer = 'rs' | 'es' | 'attacker-rs' | 'attacker-es'
type Verdict = 'accepted' | string

interface Fixture {
  readonly privateKeys: Record<Signer, KeyObject>
  readonly jwks: { keys: Record<string, unknown>[] }
  readonly ourKeys: readonly VerificationKey[]
  readonly joseKeys: JWTVerifyGetKey
  readonly attackerJwk: Record<string, unknown>
}

let fx: Fixture

beforeAll(async () => {
  const generate = promisify(generateKeyPair)
  const [rs, es, attackerRs, attackerEs] = await Promise.all([
    generate('rsa', { modulusLength: 2048 }),
    generate('ec', { namedCurve: 'P-256' }),
    generate('rsa', { modulusLength: 2048 }),
    generate('ec', { namedCurve: 'P-256' }),
  ])
  const jwk = (key: KeyObject) => key.export({ format: 'jwk' }) as Record<string, unknown>
  // The attacker's RSA key is also published, but as an encryption key: never usable to verify.
  const jwks = {
    keys: [
      { ...jwk(rs.publicKey), kid: KID.rs, alg: 'RS256', use: 'sig' },
      { ...jwk(es.publicKey), kid: KID.es, alg: 'ES256', use: 'sig' },
      { ...jwk(attackerRs.publicKey), kid: KID.enc, alg: 'RSA-OAEP-256', use: 'enc' },
    ],
  }
  const imported = importKeySet(jwks)
  expect(imported.skipped.map((key) => key.kid)).toEqual([KID.enc])
  fx = {
    privateKeys: {
      rs: rs.privateKey,
      es: es.privateKey,
      'attacker-rs': attackerRs.privateKey,
      'attacker-es': attackerEs.privateKey,
    },
    jwks,
    ourKeys: imported.keys,
    joseKeys: createLocalJWKSet(jwks),
    attackerJwk: { ...jwk(attackerEs.publicKey), kid: KID.es },
  }
})

// ---------------------------------------------------------------------------------------------
// The two verifiers and the documented differences

async function ourVerdict(
  token: string,
  keys: readonly VerificationKey[] = fx.ourKeys,
): Promise<Verdict> {
  try {
    const parsed = parseJwt(token)
    const { alg, kid } = checkHeader(parsed.header, HEADER_POLICY)
    // `undefined` (unknown kid) makes the cache refetch once, then refuse: a refusal here.
    const key = selectKey(keys, alg, kid)
    if (key === undefined) return 'ERR_AUTH_KEY_NOT_FOUND'
    // Both ways of checking a signature (inline, and on the thread pool) must give one answer.
    const valid = signatureIsValid(parsed, alg, key)
    if ((await signatureIsValidOffThread(parsed, alg, key)) !== valid) {
      throw new Error(`the thread-pool signature check disagrees (inline: ${valid})`)
    }
    if (!valid) return 'ERR_AUTH_SIGNATURE_INVALID'
    validateClaims(parsed.payload, CLAIMS_POLICY, NOW)
    return 'accepted'
  } catch (error) {
    // Anything but an InvalidTokenError escaping the pipeline is a bug.
    if (error instanceof InvalidTokenError) return error.code
    throw error
  }
}

async function joseVerdict(token: string, keys: JWTVerifyGetKey = fx.joseKeys): Promise<Verdict> {
  try {
    await jwtVerify(token, keys, JOSE_OPTIONS)
    return 'accepted'
  } catch (error) {
    if (error instanceof errors.JOSEError) return error.code
    throw error
  }
}

const STRICT_BASE64URL = /^[A-Za-z0-9_-]*$/
const STRING_CLAIMS = ['jti', 'client_id', 'azp', 'sid', 'typ']

function decodeJson(segment: string): unknown {
  try {
    const bytes = Buffer.from(segment, 'base64url')
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return undefined
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Why we refuse `token` where jose may accept it, by design; undefined when the two must agree.
 * Each rule is one of ours that jose does not have (or applies more leniently).
 */
function isCanonical(segment: string): boolean {
  return Buffer.from(segment, 'base64url').toString('base64url') === segment
}

function designDifference(token: string): string | undefined {
  // Our cap on token length (jose has none).
  if (token.length > DEFAULT_MAX_TOKEN_LENGTH) return 'token longer than the 16 KiB cap'
  const segments = token.split('.')
  if (segments.length !== 3) return undefined
  // jose leniency: its atob-based decoder accepts `=` padding and ASCII whitespace (RFC 7515 §2
  // says base64url without padding, no other characters).
  if (segments.some((segment) => !STRICT_BASE64URL.test(segment))) return 'not strict base64url'
  // jose leniency: spare bits in a segment's last character are ignored, so several texts carry
  // one signature; we accept only the canonical one (RFC 4648 §3.5).
  if (segments.some((segment) => !isCanonical(segment))) return 'non-canonical base64url'
  const header = decodeJson(segments[0] ?? '')
  const payload = decodeJson(segments[1] ?? '')
  if (!isObject(header) || !isObject(payload)) return undefined
  // RFC 7515 §4.1.11: we understand no extension; jose understands b64.
  if (header['crit'] !== undefined) return 'crit present'
  // RFC 8725 §3.11: tokens typed as logout, security event, DPoP proof or ID token are never
  // accepted as access tokens; jose checks typ only when asked to.
  const typ = header['typ']
  if (typeof typ === 'string') {
    const type = typ.toLowerCase().replace(/^application\//, '')
    if (['logout+jwt', 'secevent+jwt', 'dpop+jwt', 'id_token+jwt'].includes(type)) {
      return 'typ of a token that is not an access token'
    }
  }
  // A security event token (events claim) is never an access token.
  if (payload['events'] !== undefined) return 'events claim (a security event token)'
  const kid = header['kid']
  if (kid !== undefined && (typeof kid !== 'string' || kid === '' || kid.length > 1024)) {
    return 'kid not a string of 1 to 1024 characters'
  }
  // jose leniency: it takes 1e400 (Infinity) and -1e400 as numbers.
  for (const name of ['exp', 'nbf', 'iat']) {
    const value = payload[name]
    if (typeof value === 'number' && !Number.isFinite(value)) return `non-finite ${name}`
  }
  // jose checks iat only with maxTokenAge; a token from the future is never valid here.
  if (typeof payload['iat'] === 'number' && payload['iat'] > NOW) return 'iat in the future'
  if (payload['cnf'] !== undefined) return 'cnf present (sender-constrained)'
  for (const name of STRING_CLAIMS) {
    if (payload[name] !== undefined && typeof payload[name] !== 'string') {
      return `non-string ${name}`
    }
  }
  for (const name of ['scope', 'scp']) {
    const value = payload[name]
    const stringList = Array.isArray(value) && value.every((item) => typeof item === 'string')
    if (value !== undefined && typeof value !== 'string' && !stringList) {
      return `${name} of wrong type`
    }
  }
  // jose leniency: it only looks for our audience in the list, whatever else the list holds.
  const aud = payload['aud']
  if (aud === '' || (Array.isArray(aud) && aud.some((item) => typeof item !== 'string' || !item))) {
    return 'aud empty or with non-string members'
  }
  // jose checks only the presence of a required sub, not its type.
  const sub = payload['sub']
  if (sub !== undefined && (typeof sub !== 'string' || sub === '')) {
    return 'sub not a non-empty string'
  }
  return undefined
}

/** Counts outcomes so each property can prove it was not vacuous. */
class Tally {
  readonly counts = new Map<string, number>()
  add(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1)
  }
  get(name: string): number {
    return this.counts.get(name) ?? 0
  }
}

async function expectAgreement(token: string, tally: Tally): Promise<void> {
  const ours = await ourVerdict(token)
  const theirs = await joseVerdict(token)
  const reason = designDifference(token)
  const shown = token.length > 600 ? `${token.slice(0, 300)}…(${token.length})` : token
  const context = `ours=${ours} jose=${theirs} design=${reason ?? '-'} token=${JSON.stringify(shown)}`
  if (reason === undefined) {
    expect(ours === 'accepted', context).toBe(theirs === 'accepted')
    tally.add(ours === 'accepted' ? 'both accept' : 'both refuse')
  } else {
    expect(ours, context).not.toBe('accepted')
    tally.add(theirs === 'accepted' ? `design: ${reason}` : 'both refuse')
  }
}

async function check(arbitrary: fc.Arbitrary<string>, numRuns: number): Promise<Tally> {
  const tally = new Tally()
  await fc.assert(
    fc.asyncProperty(arbitrary, (token) => expectAgreement(token, tally)),
    { seed: SEED, numRuns },
  )
  if (process.env['FUZZ_RUNS'] !== undefined) console.info(Object.fromEntries(tally.counts))
  return tally
}

// ---------------------------------------------------------------------------------------------
// Token building

const text = (value: unknown): string => JSON.stringify(value)
const b64url = (data: string | Uint8Array): string => Buffer.from(data).toString('base64url')

/** A JSON object text from member texts; undefined members are left out, duplicates kept. */
function objectText(members: ReadonlyArray<readonly [string, string | undefined]>): string {
  const present = members.filter(([, value]) => value !== undefined)
  return `{${present.map(([name, value]) => `${text(name)}:${value}`).join(',')}}`
}

function signature(input: string, signer: Signer): string {
  const key = fx.privateKeys[signer]
  const data = Buffer.from(input)
  const bytes = signer.endsWith('es')
    ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
    : sign('sha256', data, key)
  return bytes.toString('base64url')
}

function compact(headerSegment: string, payloadSegment: string, signer: Signer): string {
  const input = `${headerSegment}.${payloadSegment}`
  return `${input}.${signature(input, signer)}`
}

const ownAlg = (signer: Signer): 'RS256' | 'ES256' => (signer.endsWith('rs') ? 'RS256' : 'ES256')
const ownKid = (signer: Signer): string => (signer.endsWith('rs') ? KID.rs : KID.es)

const VALID_PAYLOAD = text({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: 'user-1',
  iat: NOW - 60,
  exp: NOW + 3600,
  jti: 'j-1',
})

// ---------------------------------------------------------------------------------------------
// Arbitraries (JSON texts, so that 1e400, duplicate members and exact bytes can be expressed)

function sometimes<T>(arbitrary: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { arbitrary, weight: percent },
    { arbitrary: fc.constant(undefined), weight: 100 - percent },
  )
}

const loneSurrogates = fc.constantFrom('\ud800', 'x\udc00', '\udbff\u0041')
const anyString = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', maxLength: 12 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }), weight: 2 },
  { arbitrary: loneSurrogates, weight: 1 },
)
const at = (offset: number): string => String(NOW + offset)
const future = fc.integer({ min: 1, max: 10_000_000 }).map(at)
const nearFuture = fc.integer({ min: 1, max: 600 }).map(at)
const past = fc.integer({ min: 0, max: 10_000_000 }).map((offset) => at(-offset))
const fractional = fc.double({ min: -100_000, max: 100_000, noNaN: true }).map(at)
const numericEdges = fc.constantFrom(
  '1e400',
  '-1e400',
  '1e300',
  '-1e300',
  '0',
  '-0',
  '5e-324',
  '1.7976931348623157e308',
  '9007199254740993',
  at(0),
  at(1),
  at(-1),
  `${NOW}.5`,
  `${NOW - 1}.5`,
  `${NOW / 1000}e3`,
  `${NOW}.0`,
)
const notNumbers = fc.constantFrom(
  '"1700003600"',
  'null',
  'true',
  '[]',
  '{}',
  `[${NOW + 60}]`,
  '""',
)
/** A NumericDate text; the weights are those of far future, near future and past values. */
const numericDate = (weights: [number, number, number]) =>
  fc.oneof(
    { arbitrary: future, weight: weights[0] },
    { arbitrary: nearFuture, weight: weights[1] },
    { arbitrary: past, weight: weights[2] },
    { arbitrary: fractional, weight: 1 },
    { arbitrary: numericEdges, weight: 2 },
    { arbitrary: notNumbers, weight: 1 },
  )

const issuerText = fc.oneof(
  { arbitrary: fc.constant(text(ISSUER)), weight: 40 },
  {
    arbitrary: fc
      .constantFrom(`${ISSUER}/`, 'http://issuer.example.com', ISSUER.toUpperCase(), ` ${ISSUER}`)
      .map(text),
    weight: 2,
  },
  { arbitrary: anyString.map(text), weight: 1 },
  { arbitrary: fc.constantFrom('1', 'null', text([ISSUER]), '{}'), weight: 1 },
)
const audienceText = fc.oneof(
  { arbitrary: fc.constant(text(AUDIENCE)), weight: 24 },
  {
    arbitrary: fc
      .constantFrom([AUDIENCE], ['api://other', AUDIENCE], [AUDIENCE, AUDIENCE])
      .map(text),
    weight: 3,
  },
  {
    arbitrary: fc
      .constantFrom('api://other', AUDIENCE.toUpperCase(), `${AUDIENCE}/`, ['x'])
      .map(text),
    weight: 1,
  },
  {
    arbitrary: fc
      .constantFrom<unknown>(
        '',
        [],
        [AUDIENCE, ''],
        [AUDIENCE, 1],
        [AUDIENCE, null],
        [123],
        null,
        1,
        {
          0: AUDIENCE,
        },
      )
      .map(text),
    weight: 2,
  },
)
const subjectText = fc.oneof(
  { arbitrary: anyString.filter((value) => value !== '').map(text), weight: 20 },
  { arbitrary: fc.constantFrom('""', '42', 'null', '["user-1"]', '{}', 'true'), weight: 1 },
)
const stringClaimText = fc.oneof(
  { arbitrary: anyString.map(text), weight: 4 },
  { arbitrary: fc.constantFrom('7', '{}', '["a"]', 'null', 'true', '1e400'), weight: 1 },
)
const scopeText = fc.oneof(
  {
    arbitrary: fc.constantFrom<unknown>('read write', '', ['read', 'write'], []).map(text),
    weight: 4,
  },
  { arbitrary: fc.array(anyString, { maxLength: 3 }).map(text), weight: 1 },
  { arbitrary: fc.constantFrom('42', '{}', '[1,2]', '["a",1]', 'null'), weight: 1 },
)
const cnfText = fc.constantFrom(
  '{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}',
  'null',
  '{}',
)
const anyJsonText = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map(text), weight: 4 },
  { arbitrary: anyString.map(text), weight: 2 },
  {
    arbitrary: fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '1e-400', '-0'),
    weight: 1,
  },
)
const claimName = fc.oneof(
  { arbitrary: anyString, weight: 4 },
  {
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'tid',
      'roles',
    ),
    weight: 2,
  },
  // Duplicates of registered claims: the last member wins, in JSON.parse for both verifiers.
  {
    arbitrary: fc.constantFrom('exp', 'iss', 'aud', 'sub', 'iat', 'nbf', 'jti', 'scope'),
    weight: 1,
  },
)
const extraMembers = (maxLength: number) =>
  fc.array(fc.tuple(claimName, anyJsonText), { maxLength })

/** A claim set as JSON text: mostly valid claims, with every registered claim varied. */
const claimsText = (extras: number) =>
  fc
    .tuple(
      fc.record({
        iss: sometimes(issuerText, 97),
        aud: sometimes(audienceText, 96),
        sub: sometimes(subjectText, 96),
        exp: sometimes(numericDate([30, 2, 3]), 97),
        nbf: sometimes(numericDate([1, 2, 16]), 25),
        iat: sometimes(numericDate([0, 1, 20]), 70),
        jti: sometimes(stringClaimText, 40),
        client_id: sometimes(stringClaimText, 15),
        azp: sometimes(stringClaimText, 10),
        sid: sometimes(stringClaimText, 8),
        typ: sometimes(stringClaimText, 8),
        scope: sometimes(scopeText, 30),
        scp: sometimes(scopeText, 12),
        cnf: sometimes(cnfText, 3),
      }),
      extraMembers(extras),
    )
    .map(([claims, extra]) => objectText([...Object.entries(claims), ...extra]))

const ownSigner = fc.constantFrom<'rs' | 'es'>('rs', 'es')

// ---------------------------------------------------------------------------------------------
// Tampering

interface Base {
  readonly signer: 'rs' | 'es'
  readonly header: string
  readonly payload: string
  readonly signature: string
}

const tamperBase: fc.Arbitrary<Base> = fc
  .record({ signer: ownSigner, jti: anyString, kid: fc.boolean() })
  .map(({ signer, jti, kid }) => {
    const header = b64url(text({ alg: ownAlg(signer), ...(kid ? { kid: ownKid(signer) } : {}) }))
    const payload = b64url(VALID_PAYLOAD.replace('"j-1"', text(jti)))
    const token = compact(header, payload, signer)
    return { signer, header, payload, signature: token.slice(token.lastIndexOf('.') + 1) }
  })

const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')

function toDer(signature: Buffer): Buffer {
  const integer = (value: Buffer): Buffer => {
    let start = 0
    while (start < value.length - 1 && value[start] === 0) start += 1
    let bytes = value.subarray(start)
    if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.alloc(1), bytes])
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes])
  }
  const body = Buffer.concat([integer(signature.subarray(0, 32)), integer(signature.subarray(32))])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

/** ECDSA malleability: (r, s) and (r, n − s) are both valid signatures. */
function highS(signature: Buffer): Buffer {
  const s = BigInt(`0x${signature.subarray(32).toString('hex')}`)
  const flipped = Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex')
  return Buffer.concat([signature.subarray(0, 32), flipped])
}

const mutations = fc.oneof(
  fc.record({
    kind: fc.constant('char' as const),
    at: fc.nat(),
    // Ł is U+0141: Node's decoder would read it as A, its low byte.
    char: fc.constantFrom(...'AQgw019_-+/=. \n~éŁ'),
  }),
  fc.record({
    kind: fc.constant('bit' as const),
    segment: fc.constantFrom(0, 1, 2),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant('permute' as const),
    order: fc.constantFrom([1, 0, 2], [0, 2, 1], [2, 1, 0], [1, 2, 0], [0, 1, 1], [0, 0, 2]),
  }),
  fc.record({
    kind: fc.constant('splice' as const),
    part: fc.constantFrom('header', 'payload', 'signature'),
  }),
  fc.record({
    kind: fc.constant('reencode' as const),
    segment: fc.constantFrom(0, 1),
    style: fc.constantFrom('padded', 'standard', 'space', 'newline'),
    resign: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('signature-text' as const),
    style: fc.constantFrom(
      'padded',
      'one-pad',
      'standard',
      'space',
      'tab',
      'newline',
      'extra-char',
    ),
  }),
  fc.record({
    kind: fc.constant('signature-bytes' as const),
    style: fc.constantFrom(
      'der',
      'zeros',
      'short',
      'long',
      'leading-zero',
      'high-s',
      'other-key',
      'empty',
    ),
  }),
  fc.record({
    kind: fc.constant('dots' as const),
    style: fc.constantFrom('append', 'prepend', 'drop-signature', 'extra-segment', 'double'),
  }),
  fc.record({
    kind: fc.constant('wrap' as const),
    prefix: fc.constantFrom('', ' ', '\t', 'Bearer '),
    suffix: fc.constantFrom('', ' ', '\n', '\r\n'),
  }),
  // Tokens around the 16 KiB cap (an Entra token with many groups): ours refuses above it.
  fc.record({ kind: fc.constant('grow' as const), size: fc.integer({ min: 11_700, max: 12_500 }) }),
)

type Mutation = typeof mutations extends fc.Arbitrary<infer M> ? M : never

function reencode(segment: string, style: string): string {
  switch (style) {
    case 'padded':
      return segment + '='.repeat((4 - (segment.length % 4)) % 4)
    case 'standard':
      return segment.replace(/-/g, '+').replace(/_/g, '/')
    case 'space':
      return `${segment.slice(0, 8)} ${segment.slice(8)}`
    case 'newline':
      return `${segment}\n`
    case 'one-pad':
      return `${segment}=`
    case 'tab':
      return `${segment.slice(0, 8)}\t${segment.slice(8)}`
    default:
      return `${segment}A`
  }
}

function signatureBytes(base: Base, style: string): Buffer {
  const bytes = Buffer.from(base.signature, 'base64url')
  const ec = base.signer === 'es'
  switch (style) {
    case 'der':
      return ec ? toDer(bytes) : Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x00]), bytes])
    case 'zeros':
      return Buffer.alloc(bytes.length)
    case 'short':
      return bytes.subarray(0, bytes.length - 1)
    case 'long':
      return Buffer.concat([bytes, Buffer.alloc(1)])
    case 'leading-zero':
      return Buffer.concat([Buffer.alloc(1), bytes])
    case 'high-s':
      return ec ? highS(bytes) : bytes
    case 'other-key': {
      const input = `${base.header}.${base.payload}`
      return Buffer.from(signature(input, ec ? 'attacker-es' : 'attacker-rs'), 'base64url')
    }
    default:
      return Buffer.alloc(0)
  }
}

function mutate(base: Base, other: Base, mutation: Mutation): string {
  const token = `${base.header}.${base.payload}.${base.signature}`
  const parts = [base.header, base.payload, base.signature]
  switch (mutation.kind) {
    case 'char': {
      const index = mutation.at % token.length
      return token.slice(0, index) + mutation.char + token.slice(index + 1)
    }
    case 'bit': {
      const bytes = Buffer.from(parts[mutation.segment] ?? '', 'base64url')
      const index = mutation.at % bytes.length
      bytes.writeUInt8(bytes.readUInt8(index) ^ (1 << mutation.bit), index)
      parts[mutation.segment] = bytes.toString('base64url')
      return parts.join('.')
    }
    case 'truncate':
      return token.slice(0, mutation.keep % token.length)
    case 'permute':
      return mutation.order.map((index) => parts[index]).join('.')
    case 'splice': {
      const index = { header: 0, payload: 1, signature: 2 }[mutation.part]
      parts[index] = [other.header, other.payload, other.signature][index] ?? ''
      return parts.join('.')
    }
    case 'reencode': {
      parts[mutation.segment] = reencode(parts[mutation.segment] ?? '', mutation.style)
      if (mutation.resign) return compact(parts[0] ?? '', parts[1] ?? '', base.signer)
      return parts.join('.')
    }
    case 'signature-text':
      return `${base.header}.${base.payload}.${reencode(base.signature, mutation.style)}`
    case 'signature-bytes':
      return `${base.header}.${base.payload}.${b64url(signatureBytes(base, mutation.style))}`
    case 'dots':
      switch (mutation.style) {
        case 'append':
          return `${token}.`
        case 'prepend':
          return `.${token}`
        case 'drop-signature':
          return `${base.header}.${base.payload}`
        case 'extra-segment':
          return `${token}.${base.signature}`
        default:
          return `${base.header}..${base.payload}.${base.signature}`
      }
    case 'wrap':
      return `${mutation.prefix}${token}${mutation.suffix}`
    case 'grow': {
      const payload = VALID_PAYLOAD.replace('{', `{"groups":${text('g'.repeat(mutation.size))},`)
      return compact(base.header, b64url(payload), base.signer)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Properties

describe('differential: our pipeline and jose agree on every token', () => {
  it(
    'DIFF valid tokens with random claim sets (RS256 and ES256)',
    async () => {
      const tokens = fc
        .record({
          signer: ownSigner,
          kid: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, fc.constant(false)),
          typ: fc.constantFrom(undefined, 'JWT', 'at+jwt'),
          payload: claimsText(2),
        })
        .map(({ signer, kid, typ, payload }) => {
          const header = { alg: ownAlg(signer), ...(kid ? { kid: ownKid(signer) } : {}), typ }
          return compact(b64url(text(header)), b64url(payload), signer)
        })
      const tally = await check(tokens, runs(0.26))
      // Not vacuous: a good share of the generated tokens is valid, and many are refused.
      expect(tally.get('both accept')).toBeGreaterThan(runs(0.26) * 0.2)
      expect(tally.get('both refuse')).toBeGreaterThan(runs(0.26) * 0.1)
    },
    TIMEOUT_MS,
  )

  it(
    'DIFF random headers (alg, kid, crit, b64, typ, jku, jwk, x5c) over a valid payload',
    async () => {
      const algText = fc.oneof(
        { arbitrary: fc.constant('own'), weight: 6 },
        {
          arbitrary: fc
            .constantFrom(...ASYMMETRIC_ALGORITHMS, 'none', 'None', 'HS256', 'rs256', '', 'Ed25519')
            .map(text),
          weight: 3,
        },
        { arbitrary: fc.constantFrom('123', 'null', '["RS256"]', 'true', '{}'), weight: 1 },
        { arbitrary: anyString.map(text), weight: 1 },
      )
      const kidText = fc.oneof(
        { arbitrary: fc.constant('own'), weight: 5 },
        { arbitrary: fc.constant(undefined), weight: 2 },
        {
          arbitrary: fc
            .constantFrom(
              KID.rs,
              KID.es,
              KID.enc,
              'unknown',
              '',
              'k'.repeat(1024),
              'k'.repeat(1025),
            )
            .map(text),
          weight: 3,
        },
        { arbitrary: fc.constantFrom('123', 'null', '[]', '{}', 'true'), weight: 1 },
        { arbitrary: anyString.map(text), weight: 1 },
      )
      const b64Text = fc.constantFrom('true', 'false', '"false"')
      const tokens = fc
        .record({
          signer: fc.oneof(
            { arbitrary: ownSigner, weight: 5 },
            fc.constantFrom<Signer>('attacker-rs', 'attacker-es'),
          ),
          alg: algText,
          kid: kidText,
          critAndB64: fc.oneof(
            // crit ["b64"] with b64: true is the one crit jose accepts: generated often on purpose.
            { arbitrary: fc.constant({ crit: '["b64"]', b64: 'true' }), weight: 6 },
            {
              arbitrary: fc.record({
                crit: fc.constantFrom(
                  '["b64"]',
                  '[]',
                  '"b64"',
                  '["exp"]',
                  '["foo"]',
                  'null',
                  '[""]',
                ),
                b64: sometimes(b64Text, 40),
              }),
              weight: 9,
            },
            {
              arbitrary: fc.record({ crit: fc.constant(undefined), b64: sometimes(b64Text, 15) }),
              weight: 85,
            },
          ),
          typ: sometimes(
            fc.oneof(
              fc.constantFrom('JWT', 'at+jwt', 'application/at+jwt', 'logout+jwt', '').map(text),
              fc.constantFrom('1', 'null'),
            ),
            40,
          ),
          jku: sometimes(fc.constant(text('https://attacker.example/jwks.json')), 10),
          x5u: sometimes(fc.constant(text('https://attacker.example/cert.pem')), 5),
          jwk: sometimes(fc.constant('attacker'), 10),
          x5c: sometimes(fc.constant(text(['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'])), 5),
          extra: extraMembers(2),
          spaced: fc.boolean(),
        })
        .map(({ signer, alg, kid, critAndB64, jwk, extra, spaced, ...members }) => {
          const header = objectText([
            ['alg', alg === 'own' ? text(ownAlg(signer)) : alg],
            ['kid', kid === 'own' ? text(ownKid(signer)) : kid],
            ...Object.entries(critAndB64),
            ...Object.entries(members),
            ['jwk', jwk === undefined ? undefined : text(fx.attackerJwk)],
            ...extra,
          ])
          const spacedHeader = spaced ? ` ${header.replace(/,"/g, ', "')}\n` : header
          return compact(b64url(spacedHeader), b64url(VALID_PAYLOAD), signer)
        })
      const tally = await check(tokens, runs(0.2))
      expect(tally.get('both accept')).toBeGreaterThan(0)
      expect(tally.get('design: crit present')).toBeGreaterThan(0)
    },
    TIMEOUT_MS,
  )

  it(
    'DIFF random payloads: any JSON, huge numbers, unicode, BOM, invalid UTF-8',
    async () => {
      const invalidUtf8 = fc
        .tuple(claimsText(0), fc.uint8Array({ minLength: 1, maxLength: 4 }))
        .map(([claims, bytes]) => {
          const rest = claims.slice(1, -1)
          const tail = rest === '' ? '}' : `,${rest}}`
          return Buffer.concat([
            Buffer.from('{"x":"'),
            Buffer.from(bytes.map((byte) => byte | 0x80)),
            Buffer.from(`"${tail}`),
          ])
        })
      const payloads = fc.oneof(
        { arbitrary: claimsText(6), weight: 10 },
        { arbitrary: fc.json({ maxDepth: 3 }), weight: 1 },
        {
          arbitrary: fc.constantFrom('null', '[1]', '"str"', '123', '', ' ', '{}', '{"iss":'),
          weight: 1,
        },
        { arbitrary: claimsText(2).map((claims) => `\uFEFF${claims}`), weight: 1 },
        { arbitrary: claimsText(2).map((claims) => ` \n\t${claims}\r\n`), weight: 1 },
        { arbitrary: invalidUtf8, weight: 2 },
      )
      const tokens = fc
        .record({ signer: ownSigner, payload: payloads })
        .map(({ signer, payload }) => {
          const header = text({ alg: ownAlg(signer), kid: ownKid(signer) })
          return compact(b64url(header), b64url(payload), signer)
        })
      const tally = await check(tokens, runs(0.22))
      expect(tally.get('both accept')).toBeGreaterThan(runs(0.22) * 0.1)
    },
    TIMEOUT_MS,
  )

  it(
    'DIFF tampered tokens: bit flips, truncations, swaps, splices, re-encodings, odd signatures',
    async () => {
      const tokens = fc
        .record({ base: tamperBase, other: tamperBase, mutation: mutations })
        .map(({ base, other, mutation }) => mutate(base, other, mutation))
      const tally = await check(tokens, runs(0.32))
      expect(tally.get('both accept')).toBeGreaterThan(0)
      expect(tally.get('both refuse')).toBeGreaterThan(runs(0.32) * 0.3)
      expect(tally.get('design: not strict base64url')).toBeGreaterThan(0)
    },
    TIMEOUT_MS,
  )
})

// ---------------------------------------------------------------------------------------------
// The documented differences, one token each: jose accepts it, we refuse it with this code.

describe('documented differences: jose accepts, we refuse by design', () => {
  const ES_HEADER = { alg: 'ES256', kid: KID.es }
  const CLAIMS = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: NOW - 60, exp: NOW + 3600 }

  function token(header: Record<string, unknown>, payload: string | Record<string, unknown>) {
    const payloadText = typeof payload === 'string' ? payload : text({ ...CLAIMS, ...payload })
    return compact(b64url(text(header)), b64url(payloadText), 'es')
  }

  const withClaims = (members: string) => `${text(CLAIMS).slice(0, -1)},${members}}`

  const ROWS: ReadonlyArray<{
    rule: string
    build: () => string
    code: string
    kid?: string
  }> = [
    {
      rule: 'crit ["b64"] with b64: true (jose understands b64; we understand no extension)',
      build: () => token({ ...ES_HEADER, crit: ['b64'], b64: true }, {}),
      code: 'ERR_AUTH_HEADER_INVALID',
    },
    {
      rule: 'typ logout+jwt, a back-channel logout token (RFC 8725 §3.11; jose checks typ only when asked)',
      build: () => token({ ...ES_HEADER, typ: 'logout+jwt' }, {}),
      code: 'ERR_AUTH_TOKEN_TYPE_INVALID',
    },
    {
      rule: 'an events claim, a security event token (jose does not look)',
      build: () =>
        token(ES_HEADER, { events: { 'http://schemas.openid.net/event/backchannel-logout': {} } }),
      code: 'ERR_AUTH_TOKEN_TYPE_INVALID',
    },
    {
      rule: 'iat in the future (jose checks iat only with maxTokenAge)',
      build: () => token(ES_HEADER, { iat: NOW + 60 }),
      code: 'ERR_AUTH_TOKEN_NOT_YET_VALID',
    },
    {
      rule: 'exp 1e400, a non-finite exp (jose leniency)',
      build: () => token(ES_HEADER, withClaims('"exp":1e400')),
      code: 'ERR_AUTH_CLAIM_INVALID',
    },
    {
      rule: 'nbf -1e400, a non-finite nbf (jose leniency)',
      build: () => token(ES_HEADER, withClaims('"nbf":-1e400')),
      code: 'ERR_AUTH_CLAIM_INVALID',
    },
    {
      rule: 'iat -1e400, a non-finite iat (jose leniency)',
      build: () => token(ES_HEADER, withClaims('"iat":-1e400')),
      code: 'ERR_AUTH_CLAIM_INVALID',
    },
    {
      rule: 'cnf present: a sender-constrained token sent as bearer',
      build: () => token(ES_HEADER, { cnf: { jkt: 'abc' } }),
      code: 'ERR_AUTH_TOKEN_REJECTED',
    },
    ...[{ jti: 7 }, { client_id: ['a'] }, { azp: 1 }, { sid: {} }, { typ: false }].map((claim) => ({
      rule: `non-string ${text(claim)}`,
      build: () => token(ES_HEADER, claim),
      code: 'ERR_AUTH_CLAIM_INVALID',
    })),
    ...[{ scope: 42 }, { scp: [1, 2] }, { scope: ['a', 1] }].map((claim) => ({
      rule: `scope of the wrong type ${text(claim)}`,
      build: () => token(ES_HEADER, claim),
      code: 'ERR_AUTH_CLAIM_INVALID',
    })),
    ...[
      [AUDIENCE, ''],
      [AUDIENCE, 123],
      [AUDIENCE, null],
    ].map((aud) => ({
      rule: `aud ${text(aud)}: an empty or non-string member beside ours (jose leniency)`,
      build: () => token(ES_HEADER, { aud }),
      code: 'ERR_AUTH_CLAIM_INVALID',
    })),
    ...['', 42, null].map((sub) => ({
      rule: `sub ${text(sub)} (jose checks only that sub is present)`,
      build: () => token(ES_HEADER, { sub }),
      code: 'ERR_AUTH_CLAIM_INVALID',
    })),
    {
      rule: 'an empty kid, even when the key set has a key with kid ""',
      build: () => token({ alg: 'ES256', kid: '' }, {}),
      kid: '',
      code: 'ERR_AUTH_HEADER_INVALID',
    },
    {
      rule: 'a kid longer than 1024 characters, even when the key set has it',
      build: () => token({ alg: 'ES256', kid: 'k'.repeat(1025) }, {}),
      kid: 'k'.repeat(1025),
      code: 'ERR_AUTH_HEADER_INVALID',
    },
    {
      rule: 'a signature with = padding (jose leniency: atob)',
      build: () => `${token(ES_HEADER, {})}==`,
      code: 'ERR_AUTH_TOKEN_MALFORMED',
    },
    {
      rule: 'a signature whose last character has spare bits set (jose leniency: non-canonical base64url)',
      build: () => {
        const valid = token(ES_HEADER, {})
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
        const last = alphabet.indexOf(valid.charAt(valid.length - 1))
        // ES256 signatures are 64 bytes: 86 characters, the last with 4 spare bits.
        return valid.slice(0, -1) + alphabet.charAt(last ^ 1)
      },
      code: 'ERR_AUTH_TOKEN_MALFORMED',
    },
    {
      rule: 'a space inside the signature (jose leniency: atob skips whitespace)',
      build: () => token(ES_HEADER, {}).replace(/(.{10})$/, ' $1'),
      code: 'ERR_AUTH_TOKEN_MALFORMED',
    },
    {
      rule: 'a trailing newline (jose leniency: atob skips whitespace)',
      build: () => `${token(ES_HEADER, {})}\n`,
      code: 'ERR_AUTH_TOKEN_MALFORMED',
    },
    {
      rule: 'a padded header segment, signed as is (jose leniency: atob)',
      build: () => {
        const header = b64url(text({ ...ES_HEADER, x: 1 }))
        const padded = header + '='.repeat((4 - (header.length % 4)) % 4)
        expect(padded).not.toBe(header)
        return compact(padded, b64url(text(CLAIMS)), 'es')
      },
      code: 'ERR_AUTH_TOKEN_MALFORMED',
    },
    {
      rule: 'a token longer than 16 KiB (our cap; jose has none)',
      build: () => token(ES_HEADER, { groups: 'g'.repeat(DEFAULT_MAX_TOKEN_LENGTH) }),
      code: 'ERR_AUTH_TOKEN_TOO_LARGE',
    },
  ]

  it.each(ROWS.map((row) => [`${row.rule} → ${row.code}`, row] as const))(
    'DIFF %s',
    async (_, { build, code, kid }) => {
      const built = build()
      let ourKeys = fx.ourKeys
      let joseKeys = fx.joseKeys
      if (kid !== undefined) {
        // The same public key published under the unusual kid, for both verifiers.
        const jwks = {
          keys: fx.jwks.keys.map((key) => (key['kid'] === KID.es ? { ...key, kid } : key)),
        }
        ourKeys = importKeySet(jwks).keys
        joseKeys = createLocalJWKSet(jwks)
      }
      expect(await joseVerdict(built, joseKeys)).toBe('accepted')
      expect(await ourVerdict(built, ourKeys)).toBe(code)
      expect(designDifference(built)).toBeDefined()
    },
  )

  it('DIFF agrees on the unchanged token of the table', async () => {
    const valid = token(ES_HEADER, {})
    expect(await joseVerdict(valid)).toBe('accepted')
    expect(await ourVerdict(valid)).toBe('accepted')
    expect(designDifference(valid)).toBeUndefined()
  })
})

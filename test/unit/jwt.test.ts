// Proves the compact JWS layer: strict parsing, the header rules, key suitability and signatures.
import { constants, generateKeyPair, sign, verify as cryptoVerify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { InvalidTokenError } from '../../src/errors.js'
import {
  ASYMMETRIC_ALGORITHMS,
  DEFAULT_MAX_TOKEN_LENGTH,
  checkHeader,
  freezeVerified,
  isJwsAlgorithm,
  keySuitsAlgorithm,
  normaliseTyp,
  parseJwt,
  headerMemoSize,
  signatureIsValid as inlineSignatureIsValid,
  signatureIsValidOffThread,
} from '../../src/jwt.js'
import type {
  HeaderPolicy,
  JwsAlgorithm,
  JwtHeader,
  ParsedJwt,
  VerificationKey,
} from '../../src/jwt.js'
import { importKeySet } from '../../src/key-set.js'
import { createTestIssuer } from '../../src/testing.js'
import type { TestIssuer } from '../../src/testing.js'

/** Runs `run` and answers 'accepted', or the code of the InvalidTokenError it threw (any other error fails). */
function outcomeOf(run: () => unknown): string {
  try {
    run()
    return 'accepted'
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTokenError)
    return (error as InvalidTokenError).code
  }
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url')
}

/** A JSON text padded with trailing spaces so that its base64url form has `length % 4 === mod`. */
function jsonSegment(json: string, mod: 0 | 2 | 3): string {
  const bytesMod3 = { 0: 0, 2: 1, 3: 2 }[mod]
  let text = json
  while (Buffer.byteLength(text) % 3 !== bytesMod3) text += ' '
  return b64url(text)
}

// `???>>>` encodes to `Pz8_Pj4-`: segments with `-` and `_` whose standard-base64 twins decode to
// the same bytes, so only the alphabet rule can refuse them.
const HEADER_JSON = '{"alg":"RS256","kid":"k1","x":"???>>>"}'
const PAYLOAD_JSON = '{"sub":"user-1","x":"???>>>"}'
const HEADER = jsonSegment(HEADER_JSON, 3)
const PAYLOAD = jsonSegment(PAYLOAD_JSON, 2)
const SIGNATURE = b64url(Buffer.alloc(64, 0xfb)) // 86 characters, with `-` and `_`
const TOKEN = `${HEADER}.${PAYLOAD}.${SIGNATURE}`

function tokenWith(segments: { header?: string; payload?: string; signature?: string }): string {
  return [
    segments.header ?? HEADER,
    segments.payload ?? PAYLOAD,
    segments.signature ?? SIGNATURE,
  ].join('.')
}

// RFC 7516 Appendix A.1: a compact JWE has five segments.
const JWE =
  'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.' +
  'OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg.' +
  '48V1_ALb6US04U3b.' +
  '5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.' +
  'XFBoMYUZodetZdvTiFvSkQ'

describe('parseJwt', () => {
  it('splits and decodes a well-formed token', () => {
    const parsed = parseJwt(TOKEN)
    expect(parsed.header).toEqual({ alg: 'RS256', kid: 'k1', x: '???>>>' })
    expect(parsed.payload).toEqual({ sub: 'user-1', x: '???>>>' })
    expect(parsed.signingInput).toBe(`${HEADER}.${PAYLOAD}`)
    expect(parsed.signature).toEqual(Buffer.alloc(64, 0xfb))
    // The fixtures really carry the characters the alphabet tests replace.
    expect(`${HEADER}${PAYLOAD}${SIGNATURE}`).toMatch(/-/)
    expect(`${HEADER}${PAYLOAD}${SIGNATURE}`).toMatch(/_/)
  })

  it('PARSE refuses a token over the default cap with ERR_AUTH_TOKEN_TOO_LARGE before decoding', () => {
    // Garbage that decoding would call malformed: only a length check made first says "too large".
    const garbage = '!'.repeat(DEFAULT_MAX_TOKEN_LENGTH + 1)
    expect(outcomeOf(() => parseJwt(garbage))).toBe('ERR_AUTH_TOKEN_TOO_LARGE')
    expect(outcomeOf(() => parseJwt('!'.repeat(DEFAULT_MAX_TOKEN_LENGTH)))).toBe(
      'ERR_AUTH_TOKEN_MALFORMED',
    )
  })

  it('PARSE applies the cap at exactly maxLength characters', () => {
    const prefix = `${jsonSegment(HEADER_JSON, 0)}.${jsonSegment(PAYLOAD_JSON, 0)}.`
    const atCap = prefix + 'A'.repeat(DEFAULT_MAX_TOKEN_LENGTH - prefix.length)
    expect(atCap.length).toBe(DEFAULT_MAX_TOKEN_LENGTH)
    expect(outcomeOf(() => parseJwt(atCap))).toBe('accepted')
    expect(outcomeOf(() => parseJwt(`${atCap}A`))).toBe('ERR_AUTH_TOKEN_TOO_LARGE')
    expect(outcomeOf(() => parseJwt(TOKEN, TOKEN.length))).toBe('accepted')
    expect(outcomeOf(() => parseJwt(TOKEN, TOKEN.length - 1))).toBe('ERR_AUTH_TOKEN_TOO_LARGE')
  })

  it.each([
    ['one segment', 'abc'],
    ['two segments', 'a.b'],
    ['four segments', 'a.b.c.d'],
    ['only dots', '....'],
    ['two dots', '..'],
    ['a five-segment JWE', JWE],
    ['an empty header segment', `.${PAYLOAD}.${SIGNATURE}`],
    ['an empty payload segment', `${HEADER}..${SIGNATURE}`],
    ['a fourth segment after a valid token', `${TOKEN}.${SIGNATURE}`],
    ['an empty string', ''],
  ])('PARSE refuses %s as ERR_AUTH_TOKEN_MALFORMED', (_, token) => {
    expect(outcomeOf(() => parseJwt(token))).toBe('ERR_AUTH_TOKEN_MALFORMED')
  })

  it('PARSE refuses a segment whose last character carries non-zero spare bits (non-canonical base64url)', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const variant = (segment: string): string => {
      const last = alphabet.indexOf(segment.charAt(segment.length - 1))
      return segment.slice(0, -1) + alphabet.charAt(last ^ 1) // same decoded bytes, other text
    }
    for (const part of ['header', 'payload', 'signature'] as const) {
      const segment = { header: HEADER, payload: PAYLOAD, signature: SIGNATURE }[part]
      expect(segment.length % 4).not.toBe(0) // a spare-bit character exists
      expect(Buffer.from(variant(segment), 'base64url')).toEqual(Buffer.from(segment, 'base64url'))
      expect(() => parseJwt(tokenWith({ [part]: variant(segment) }))).toThrow(
        expect.objectContaining({ code: 'ERR_AUTH_TOKEN_MALFORMED' }),
      )
    }
    expect(parseJwt(TOKEN).signature.length).toBeGreaterThan(0)
  })

  it('PARSE refuses an empty signature (h.p.) as ERR_AUTH_TOKEN_MALFORMED', () => {
    expect(outcomeOf(() => parseJwt(`${HEADER}.${PAYLOAD}.`))).toBe('ERR_AUTH_TOKEN_MALFORMED')
  })

  // Node's base64url decoder is lenient: it reads `+` `/`, skips `=`, spaces and Latin-1 letters,
  // and reads a character past U+00FF as its low byte. Each variant below decodes to the same bytes
  // there, so only the strict alphabet check refuses it.
  const pastLatin1 = (s: string): string => {
    const at = s.search(/[A-Za-z0-9]/)
    return s.slice(0, at) + String.fromCharCode(0x100 + s.charCodeAt(at)) + s.slice(at + 1)
  }
  const NON_BASE64URL: ReadonlyArray<[string, (segment: string) => string]> = [
    ['standard-alphabet + for -', (s) => s.replace(/-/g, '+')],
    ['standard-alphabet / for _', (s) => s.replace(/_/g, '/')],
    ['a character past U+00FF, read as its low byte', pastLatin1],
    ['a Latin-1 letter inside', (s) => `${s.slice(0, 4)}é${s.slice(4)}`],
    ['a NUL inside', (s) => `${s.slice(0, 4)}\0${s.slice(4)}`],
    ['= padding', (s) => s + '='.repeat((4 - (s.length % 4)) % 4 || 4)],
    ['a space inside', (s) => `${s.slice(0, 4)} ${s.slice(4)}`],
    ['a trailing newline', (s) => `${s}\n`],
    ['a leading space', (s) => ` ${s}`],
  ]
  describe.each(['header', 'payload', 'signature'] as const)('in the %s segment', (part) => {
    const original = { header: HEADER, payload: PAYLOAD, signature: SIGNATURE }[part]
    it.each(NON_BASE64URL)('PARSE refuses %s as ERR_AUTH_TOKEN_MALFORMED', (_, alter) => {
      const altered = alter(original)
      expect(altered).not.toBe(original)
      expect(Buffer.from(altered, 'base64')).toEqual(Buffer.from(original, 'base64url'))
      expect(outcomeOf(() => parseJwt(tokenWith({ [part]: altered })))).toBe(
        'ERR_AUTH_TOKEN_MALFORMED',
      )
    })

    it('PARSE refuses a segment of length 4n+1 as ERR_AUTH_TOKEN_MALFORMED', () => {
      const aligned = {
        header: jsonSegment(HEADER_JSON, 0),
        payload: jsonSegment(PAYLOAD_JSON, 0),
        signature: b64url(Buffer.alloc(63, 7)),
      }[part]
      expect(aligned.length % 4).toBe(0)
      expect(outcomeOf(() => parseJwt(tokenWith({ [part]: aligned })))).toBe('accepted')
      // A lenient decoder drops the lone sixth character and would decode the same bytes.
      expect(outcomeOf(() => parseJwt(tokenWith({ [part]: `${aligned}Q` })))).toBe(
        'ERR_AUTH_TOKEN_MALFORMED',
      )
    })
  })

  const NOT_AN_OBJECT = ['null', '[1]', '"str"', '123', '!!!', ' ', 'true', '{"alg":"RS256"']
  it.each(NOT_AN_OBJECT)('PARSE refuses the header %j (not a JSON object)', (json) => {
    expect(outcomeOf(() => parseJwt(tokenWith({ header: b64url(json) })))).toBe(
      'ERR_AUTH_TOKEN_MALFORMED',
    )
  })

  it.each(NOT_AN_OBJECT)('PARSE refuses the payload %j (not a JSON object)', (json) => {
    expect(outcomeOf(() => parseJwt(tokenWith({ payload: b64url(json) })))).toBe(
      'ERR_AUTH_TOKEN_MALFORMED',
    )
  })

  const INVALID_UTF8: ReadonlyArray<[string, number[]]> = [
    ['bytes FF FE', [0xff, 0xfe]],
    ['an overlong "/" (C0 AF)', [0xc0, 0xaf]],
    ['a UTF-16 surrogate (ED A0 80)', [0xed, 0xa0, 0x80]],
    ['a truncated sequence (E2 82)', [0xe2, 0x82]],
    ['a code point above U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
    ['a lone continuation byte (80)', [0x80]],
  ]
  it.each(INVALID_UTF8)('PARSE refuses invalid UTF-8 in the header: %s', (_, bytes) => {
    const json = Buffer.concat([
      Buffer.from('{"alg":"RS256","x":"'),
      Buffer.from(bytes),
      Buffer.from('"}'),
    ])
    expect(outcomeOf(() => parseJwt(tokenWith({ header: b64url(json) })))).toBe(
      'ERR_AUTH_TOKEN_MALFORMED',
    )
  })

  it.each(INVALID_UTF8)('PARSE refuses invalid UTF-8 in the payload: %s', (_, bytes) => {
    const json = Buffer.concat([Buffer.from('{"sub":"'), Buffer.from(bytes), Buffer.from('"}')])
    expect(outcomeOf(() => parseJwt(tokenWith({ payload: b64url(json) })))).toBe(
      'ERR_AUTH_TOKEN_MALFORMED',
    )
  })

  it.each(['header', 'payload'] as const)(
    'PARSE skips a byte order mark before the %s, as TextDecoder and jose do',
    (part) => {
      const json = part === 'header' ? '{"alg":"RS256","typ":"bom"}' : '{"sub":"bom"}'
      const segment = b64url(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]))
      const parsed = parseJwt(tokenWith({ [part]: segment }))
      expect(part === 'header' ? parsed.header.typ : parsed.payload.sub).toBe('bom')
    },
  )

  it('PARSE decodes each header text once: the same object, frozen by the first verified token', () => {
    const header = b64url('{"alg":"RS256","kid":"memo","x":{"y":[1]}}')
    const first = parseJwt(tokenWith({ header }))
    const second = parseJwt(tokenWith({ header }))
    expect(second.header).toBe(first.header)
    freezeVerified(first)
    expect(Object.isFrozen(second.header)).toBe(true)
    expect(Object.isFrozen(second.header['x'])).toBe(true)
    expect(Object.isFrozen((second.header['x'] as { y: unknown }).y)).toBe(true)
    expect(() => {
      ;(first.header as Record<string, unknown>)['alg'] = 'none'
    }).toThrow(TypeError)
    expect(parseJwt(tokenWith({ header })).header.alg).toBe('RS256')
  })

  it('PARSE keeps at most 64 decoded headers, however many distinct ones arrive', () => {
    for (let index = 0; index < 1_000; index += 1) {
      parseJwt(tokenWith({ header: b64url(`{"alg":"RS256","kid":"flood-${index}"}`) }))
      expect(headerMemoSize()).toBeLessThanOrEqual(64)
    }
    const kept = parseJwt(tokenWith({ header: b64url('{"alg":"ES256","kid":"after"}') }))
    expect(kept.header).toEqual({ alg: 'ES256', kid: 'after' })
  })

  it('PARSE answers a header of 100,000 nested arrays within the cap with InvalidTokenError only', () => {
    const nested = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    const topLevel = tokenWith({ header: b64url(nested) })
    expect(outcomeOf(() => parseJwt(topLevel, topLevel.length))).toBe('ERR_AUTH_TOKEN_MALFORMED')

    const inMember = tokenWith({ header: b64url(`{"alg":"RS256","x":${nested}}`) })
    const outcome = outcomeOf(() => parseJwt(inMember, inMember.length))
    expect(['accepted', 'ERR_AUTH_TOKEN_MALFORMED']).toContain(outcome)
  })

  it('PARSE leaves the payload and a long header unfrozen: a forged token gets no freezing done for it', () => {
    const longHeader = b64url(`{"alg":"RS256","kid":"${'k'.repeat(600)}","x":[{}]}`)
    const parsed = parseJwt(tokenWith({ header: longHeader, payload: b64url('{"x":[{},{}]}') }))
    expect(Object.isFrozen(parsed.payload)).toBe(false)
    expect(Object.isFrozen(parsed.header)).toBe(false)
  })

  it('VERIFIED freezes the header and the payload all the way down, a long header too', () => {
    const payload = '{"sub":"u","roles":["reader",{"tenant":{"id":"t"}}],"cnf":{"jkt":"x"}}'
    const longHeader = `{"alg":"RS256","kid":"${'k'.repeat(600)}","x":[{"y":[1]}]}`
    for (const header of ['{"alg":"RS256","x":[{"y":[1]}]}', longHeader]) {
      const parsed = parseJwt(tokenWith({ header: b64url(header), payload: b64url(payload) }))
      freezeVerified(parsed)
      const claims = parsed.payload as {
        roles: [string, { tenant: { id: string } }]
        cnf: { jkt: string }
      }
      for (const part of [
        claims,
        claims.roles,
        claims.roles[1],
        claims.roles[1].tenant,
        claims.cnf,
      ]) {
        expect(Object.isFrozen(part)).toBe(true)
      }
      const x = parsed.header['x'] as [{ y: number[] }]
      for (const part of [parsed.header, x, x[0], x[0].y]) expect(Object.isFrozen(part)).toBe(true)
    }
  })

  it('VERIFIED freezes only the token: an enumerable member put on Object.prototype is left alone', () => {
    const planted = { value: 1 }
    Object.defineProperty(Object.prototype, 'plantedForTest', {
      value: planted,
      enumerable: true,
      configurable: true,
      writable: true,
    })
    try {
      const parsed = parseJwt(tokenWith({ payload: b64url('{"sub":"u","list":[{}]}') }))
      freezeVerified(parsed)
      expect(Object.isFrozen(parsed.payload)).toBe(true)
      expect(Object.isFrozen(planted)).toBe(false)
    } finally {
      delete (Object.prototype as Record<string, unknown>)['plantedForTest']
    }
  })

  it('VERIFIED freezes a payload of 100,000 nested arrays within the cap without running out of stack', () => {
    const nested = `${'['.repeat(100_000)}1${']'.repeat(100_000)}`
    const token = tokenWith({ payload: b64url(`{"sub":"u","x":${nested}}`) })
    const parsed = parseJwt(token, token.length)
    freezeVerified(parsed)
    let inner: unknown = parsed.payload['x']
    for (let depth = 0; depth < 100_000; depth += 1) {
      expect(Object.isFrozen(inner)).toBe(true)
      inner = (inner as unknown[])[0]
    }
    expect(inner).toBe(1)
  })

  it('PARSE-10 keeps __proto__ in the payload a plain own data property', () => {
    const payload = '{"sub":"user-1","__proto__":{"polluted":true,"cnf":{"jkt":"x"},"sub":"admin"}}'
    const header = '{"alg":"RS256","__proto__":{"alg":"none","polluted":true}}'
    const parsed = parseJwt(tokenWith({ header: b64url(header), payload: b64url(payload) }))

    expect(Object.getPrototypeOf(parsed.payload)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(parsed.payload, '__proto__')).toEqual({
      value: { polluted: true, cnf: { jkt: 'x' }, sub: 'admin' },
      writable: true,
      enumerable: true,
      configurable: true,
    })
    expect(parsed.payload['polluted']).toBeUndefined()
    expect(parsed.payload['cnf']).toBeUndefined()
    expect(parsed.payload.sub).toBe('user-1')
    expect(Object.getPrototypeOf(parsed.header)).toBe(Object.prototype)
    expect(parsed.header.alg).toBe('RS256')
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('polluted')
  })
})

describe('isJwsAlgorithm', () => {
  it.each(ASYMMETRIC_ALGORITHMS)('ALG knows %s', (alg) => {
    expect(isJwsAlgorithm(alg)).toBe(true)
  })

  it.each(['HS256', 'none', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 42, null])(
    'ALG does not know %j (own members only, never the prototype chain)',
    (alg) => {
      expect(isJwsAlgorithm(alg)).toBe(false)
    },
  )
})

describe('checkHeader', () => {
  const ALL: HeaderPolicy = { algorithms: new Set(ASYMMETRIC_ALGORITHMS), typ: undefined }
  const check = (header: JwtHeader, policy: HeaderPolicy = ALL) =>
    outcomeOf(() => checkHeader(header, policy))

  it.each(ASYMMETRIC_ALGORITHMS)('accepts the allowed algorithm %s', (alg) => {
    expect(checkHeader({ alg, kid: 'k1' }, ALL)).toEqual({ alg, kid: 'k1' })
  })

  it.each([
    'none',
    'None',
    'NONE',
    'HS256',
    'HS384',
    'HS512',
    '',
    123,
    ['RS256'],
    'rs256',
    'RS256 ',
    'Ed25519',
    'ES256K',
    null,
    undefined,
    'toString',
    '__proto__',
    'constructor',
  ])('ALG refuses alg %j as ERR_AUTH_ALG_NOT_ALLOWED', (alg) => {
    const header: JwtHeader = alg === undefined ? { kid: 'k1' } : { alg, kid: 'k1' }
    expect(check(header)).toBe('ERR_AUTH_ALG_NOT_ALLOWED')
  })

  it('ALG refuses an algorithm outside a configured allow-list (RS384 when only RS256)', () => {
    const onlyRs256: HeaderPolicy = { algorithms: new Set<JwsAlgorithm>(['RS256']), typ: undefined }
    expect(check({ alg: 'RS384' }, onlyRs256)).toBe('ERR_AUTH_ALG_NOT_ALLOWED')
    expect(check({ alg: 'ES256' }, onlyRs256)).toBe('ERR_AUTH_ALG_NOT_ALLOWED')
    expect(check({ alg: 'RS256' }, onlyRs256)).toBe('accepted')
  })

  it.each([
    { crit: ['foo'], foo: 1 },
    { crit: [] },
    { crit: 'b64', b64: false },
    { crit: ['exp'], exp: 1 },
    { crit: ['b64'], b64: true },
    { crit: null },
  ])('CRIT refuses any crit %j as ERR_AUTH_HEADER_INVALID', (members) => {
    expect(check({ alg: 'RS256', ...members })).toBe('ERR_AUTH_HEADER_INVALID')
  })

  it('CRIT ignores b64: false without crit', () => {
    expect(checkHeader({ alg: 'RS256', kid: 'k1', b64: false }, ALL)).toEqual({
      alg: 'RS256',
      kid: 'k1',
    })
  })

  it.each([123, [], {}, null, true, '', 'k'.repeat(1025)])(
    'KID refuses kid %j as ERR_AUTH_HEADER_INVALID',
    (kid) => {
      expect(check({ alg: 'RS256', kid })).toBe('ERR_AUTH_HEADER_INVALID')
    },
  )

  it('KID accepts a kid of exactly 1024 characters, and no kid', () => {
    const kid = 'k'.repeat(1024)
    expect(checkHeader({ alg: 'RS256', kid }, ALL)).toEqual({ alg: 'RS256', kid })
    expect(checkHeader({ alg: 'RS256' }, ALL)).toEqual({ alg: 'RS256', kid: undefined })
  })

  describe('TYP with at+jwt required (RFC 9068)', () => {
    const AT_JWT: HeaderPolicy = { ...ALL, typ: normaliseTyp('at+jwt') }

    it.each([undefined, 'JWT', 'logout+jwt', 'dpop+jwt', 'at+jwt ', 'application/jwt', 'at', 42])(
      'TYP refuses typ %j as ERR_AUTH_HEADER_INVALID',
      (typ) => {
        const header: JwtHeader = typ === undefined ? { alg: 'RS256' } : { alg: 'RS256', typ }
        expect(check(header, AT_JWT)).toBe('ERR_AUTH_HEADER_INVALID')
      },
    )

    it.each(['at+jwt', 'application/at+jwt', 'application/AT+JWT', 'AT+JWT'])(
      'TYP accepts typ %j',
      (typ) => {
        expect(check({ alg: 'RS256', typ }, AT_JWT)).toBe('accepted')
      },
    )

    it('TYP: when no typ is required, any typ passes except the types of non-access tokens', () => {
      expect(check({ alg: 'RS256', typ: 'JWT' })).toBe('accepted')
      expect(check({ alg: 'RS256', typ: 42 })).toBe('accepted')
      for (const typ of ['logout+jwt', 'application/secevent+jwt', 'DPOP+JWT', 'id_token+jwt']) {
        expect(check({ alg: 'RS256', typ })).toBe('ERR_AUTH_TOKEN_TYPE_INVALID')
      }
    })
  })

  it('KEYS ignores jku, x5u, jwk and x5c: the returned alg and kid are the header’s', () => {
    const header = {
      alg: 'ES256',
      kid: 'issuer-key',
      jku: 'https://attacker.example/jwks.json',
      x5u: 'https://attacker.example/cert.pem',
      jwk: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', kid: 'attacker' },
      x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'],
    }
    expect(checkHeader(header, ALL)).toEqual({ alg: 'ES256', kid: 'issuer-key' })
  })
})

describe('keySuitsAlgorithm and signatureIsValid', () => {
  let idp: TestIssuer
  let attacker: TestIssuer
  let keys: readonly VerificationKey[]

  beforeAll(async () => {
    const options = { algorithms: ASYMMETRIC_ALGORITHMS, listen: false }
    ;[idp, attacker] = await Promise.all([createTestIssuer(options), createTestIssuer(options)])
    keys = importKeySet(idp.jwks()).keys
    expect(keys).toHaveLength(ASYMMETRIC_ALGORITHMS.length)
  })

  // Every question asked of the inline check is also asked of the thread-pool check (used when
  // the process has more than one core); afterEach fails the test if the two answers differ.
  const pooled: Promise<void>[] = []
  function signatureIsValid(parsed: ParsedJwt, alg: JwsAlgorithm, key: VerificationKey): boolean {
    const inline = inlineSignatureIsValid(parsed, alg, key)
    const offThread = signatureIsValidOffThread(parsed, alg, key)
    pooled.push(offThread.then((answer) => expect(answer, 'thread pool').toBe(inline)))
    return inline
  }
  afterEach(async () => {
    await Promise.all(pooled.splice(0))
  })

  function keyFor(alg: string): VerificationKey {
    const key = keys.find((candidate) => candidate.alg === alg)
    if (key === undefined) throw new Error(`no ${alg} key`)
    return key
  }

  function kidOf(alg: string): string {
    return keyFor(alg).kid ?? ''
  }

  /** A key of the issuer imported again with its JWK changed. */
  function importedWith(alg: string, change: Record<string, unknown>): VerificationKey {
    const jwk = idp.jwks().keys.find((candidate) => candidate['alg'] === alg)
    const { keys: [key] = [] } = importKeySet({ keys: [{ ...jwk, ...change }] })
    if (key === undefined) throw new Error('the changed key was skipped')
    return key
  }

  function flipBit(segment: string): string {
    const bytes = Buffer.from(segment, 'base64url')
    const at = bytes.length >> 1
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at)
    return bytes.toString('base64url')
  }

  it.each(ASYMMETRIC_ALGORITHMS)('SIG accepts a valid %s signature', (alg) => {
    const parsed = parseJwt(idp.mint({}, { alg }))
    expect(parsed.header.alg).toBe(alg)
    expect(signatureIsValid(parsed, alg, keyFor(alg))).toBe(true)
  })

  it('SIG refuses a valid signature when the key does not suit the algorithm (JWK alg RS384, token RS256)', () => {
    const parsed = parseJwt(idp.mint({}, { alg: 'RS256' }))
    expect(signatureIsValid(parsed, 'RS256', keyFor('RS256'))).toBe(true)
    expect(signatureIsValid(parsed, 'RS256', { ...keyFor('RS256'), alg: 'RS384' })).toBe(false)
    expect(signatureIsValid(parsed, 'RS256', { ...keyFor('RS256'), kty: 'EC' })).toBe(false)
  })

  describe.each(ASYMMETRIC_ALGORITHMS)('%s', (alg) => {
    it('SIG refuses one flipped bit in the signature', () => {
      const parsed = parseJwt(idp.mint({}, { alg }))
      const signature = Buffer.from(parsed.signature)
      signature.writeUInt8(signature.readUInt8(0) ^ 0x80, 0)
      expect(signatureIsValid({ ...parsed, signature }, alg, keyFor(alg))).toBe(false)
      const last = Buffer.from(parsed.signature)
      last.writeUInt8(last.readUInt8(last.length - 1) ^ 0x01, last.length - 1)
      expect(signatureIsValid({ ...parsed, signature: last }, alg, keyFor(alg))).toBe(false)
    })

    it.each(['header', 'payload'] as const)('SIG refuses one flipped bit in the %s', (part) => {
      const parsed = parseJwt(idp.mint({}, { alg }))
      const [header = '', payload = ''] = parsed.signingInput.split('.')
      const signingInput =
        part === 'header' ? `${flipBit(header)}.${payload}` : `${header}.${flipBit(payload)}`
      const tampered: ParsedJwt = { ...parsed, signingInput }
      expect(signatureIsValid(tampered, alg, keyFor(alg))).toBe(false)
    })

    it('SIG refuses a token signed by another key under the same kid', () => {
      const forged = parseJwt(attacker.mint({}, { alg, kid: kidOf(alg) }))
      expect(forged.header.kid).toBe(kidOf(alg))
      expect(signatureIsValid(forged, alg, keyFor(alg))).toBe(false)
    })
  })

  it('SIG refuses a token signed with the key its own jwk/jku header points to', () => {
    const attackerJwk = attacker.jwks().keys.find((key) => key['alg'] === 'RS256')
    const token = attacker.mint(
      {},
      {
        alg: 'RS256',
        kid: kidOf('RS256'),
        header: { jwk: attackerJwk, jku: 'https://attacker.example/jwks.json' },
      },
    )
    const parsed = parseJwt(token)
    const { alg, kid } = checkHeader(parsed.header, {
      algorithms: new Set(ASYMMETRIC_ALGORITHMS),
      typ: undefined,
    })
    expect(kid).toBe(kidOf('RS256'))
    expect(signatureIsValid(parsed, alg, keyFor('RS256'))).toBe(false)
  })

  describe('ES256 signatures of the wrong form', () => {
    // The order n of P-256: r or s outside [1, n-1] is never valid.
    const P256_ORDER = Buffer.from(
      'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551',
      'hex',
    )

    function derInteger(value: Buffer): Buffer {
      let start = 0
      while (start < value.length - 1 && value[start] === 0) start += 1
      let bytes = value.subarray(start)
      if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes])
      return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes])
    }

    function toDer(signature: Buffer): Buffer {
      const body = Buffer.concat([
        derInteger(signature.subarray(0, 32)),
        derInteger(signature.subarray(32)),
      ])
      return Buffer.concat([Buffer.from([0x30, body.length]), body])
    }

    const VARIANTS: ReadonlyArray<[string, (signature: Buffer) => Buffer]> = [
      ['63 bytes (truncated)', (s) => s.subarray(0, 63)],
      ['65 bytes (a zero appended)', (s) => Buffer.concat([s, Buffer.alloc(1)])],
      ['65 bytes (a zero prepended)', (s) => Buffer.concat([Buffer.alloc(1), s])],
      ['96 bytes (ES384 length)', (s) => Buffer.concat([s, Buffer.alloc(32)])],
      ['21000 bytes', (s) => Buffer.concat([s, Buffer.alloc(21_000 - s.length, 1)])],
      ['all zero (r = s = 0)', () => Buffer.alloc(64)],
      ['r = 0', (s) => Buffer.concat([Buffer.alloc(32), s.subarray(32)])],
      ['s = 0', (s) => Buffer.concat([s.subarray(0, 32), Buffer.alloc(32)])],
      ['r = s = n (the curve order)', () => Buffer.concat([P256_ORDER, P256_ORDER])],
      ['DER re-encoded', toDer],
      ['empty', () => Buffer.alloc(0)],
    ]

    it.each(VARIANTS)('SIG answers false, without throwing, for %s', (_, variant) => {
      const parsed = parseJwt(idp.mint({}, { alg: 'ES256' }))
      expect(signatureIsValid(parsed, 'ES256', keyFor('ES256'))).toBe(true)
      const signature = variant(parsed.signature)
      expect(signature.equals(parsed.signature)).toBe(false)
      let valid: boolean | undefined
      expect(() => {
        valid = signatureIsValid({ ...parsed, signature }, 'ES256', keyFor('ES256'))
      }).not.toThrow()
      expect(valid).toBe(false)
    })

    it('SIG answers false for a DER signature that the DER encoding would accept', () => {
      // Guard for the test above: the DER form is the genuine signature, only in the wrong encoding.
      const parsed = parseJwt(idp.mint({}, { alg: 'ES256' }))
      const der = toDer(parsed.signature)
      const data = Buffer.from(parsed.signingInput)
      expect(cryptoVerify('sha256', data, keyFor('ES256').keyObject, der)).toBe(true)
      expect(signatureIsValid({ ...parsed, signature: der }, 'ES256', keyFor('ES256'))).toBe(false)
    })
  })

  it.each([
    ['RS256', 'EdDSA'],
    ['ES256', 'EdDSA'],
    ['PS256', 'ES256'],
    ['EdDSA', 'RS256'],
    ['ES256', 'RS256'],
    ['RS256', 'ES256'],
  ] as const)(
    'SIG answers false, without throwing, for %s with a %s key (a key that does not suit)',
    (alg, keyAlg) => {
      const parsed = parseJwt(idp.mint({}, { alg: keyAlg }))
      expect(keySuitsAlgorithm(keyFor(keyAlg), alg)).toBe(false)
      let valid: boolean | undefined
      expect(() => {
        valid = signatureIsValid(parsed, alg, keyFor(keyAlg))
      }).not.toThrow()
      expect(valid).toBe(false)
    },
  )

  describe('RSASSA-PSS salt length (RFC 7518 §3.5: the salt is as long as the hash)', () => {
    let pss: { privateKey: KeyObject; key: VerificationKey }

    beforeAll(async () => {
      const pair = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 })
      const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid: 'pss' }
      const { keys: [key] = [] } = importKeySet({ keys: [jwk] })
      if (key === undefined) throw new Error('the PSS key was skipped')
      pss = { privateKey: pair.privateKey, key }
    })

    const ROWS = (['PS256', 'PS384', 'PS512'] as const).flatMap((alg) => {
      const hashBytes = Number(alg.slice(2)) / 8
      const row = (salt: number, size: string, valid: boolean) => ({
        name: `${alg} with a salt of ${size}: ${valid ? 'valid' : 'refused'}`,
        alg,
        salt,
        valid,
      })
      return [
        row(hashBytes, `${hashBytes} bytes (the hash length)`, true),
        row(0, '0 bytes', false),
        row(hashBytes - 1, `${hashBytes - 1} bytes`, false),
        row(hashBytes + 1, `${hashBytes + 1} bytes`, false),
        row(constants.RSA_PSS_SALTLEN_MAX_SIGN, 'the maximum length', false),
      ]
    })

    it.each(ROWS.map((row) => [row.name, row] as const))('SIG %s', (_, { alg, salt, valid }) => {
      const header = b64url(JSON.stringify({ alg, kid: 'pss' }))
      const signingInput = `${header}.${b64url('{"sub":"user-1"}')}`
      const signature = sign(`sha${alg.slice(2)}`, Buffer.from(signingInput), {
        key: pss.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: salt,
      })
      const parsed = parseJwt(`${signingInput}.${b64url(signature)}`)
      expect(signatureIsValid(parsed, alg, pss.key)).toBe(valid)
    })
  })

  describe('keySuitsAlgorithm', () => {
    const ROWS: ReadonlyArray<{
      rule: string
      key: () => VerificationKey
      alg: JwsAlgorithm
      suits: boolean
    }> = [
      { rule: 'ES256 vs a P-384 key', key: () => keyFor('ES384'), alg: 'ES256', suits: false },
      { rule: 'ES512 vs a P-256 key', key: () => keyFor('ES256'), alg: 'ES512', suits: false },
      { rule: 'ES384 vs a P-384 key', key: () => keyFor('ES384'), alg: 'ES384', suits: true },
      { rule: 'an RSA key vs ES256', key: () => keyFor('RS256'), alg: 'ES256', suits: false },
      { rule: 'an EC key vs RS256', key: () => keyFor('ES256'), alg: 'RS256', suits: false },
      { rule: 'an Ed25519 key vs EdDSA', key: () => keyFor('EdDSA'), alg: 'EdDSA', suits: true },
      { rule: 'an Ed25519 key vs ES256', key: () => keyFor('EdDSA'), alg: 'ES256', suits: false },
      { rule: 'a P-256 key vs EdDSA', key: () => keyFor('ES256'), alg: 'EdDSA', suits: false },
      {
        rule: 'JWK alg RS384 vs token RS256',
        key: () => importedWith('RS256', { alg: 'RS384' }),
        alg: 'RS256',
        suits: false,
      },
      {
        rule: 'JWK alg PS256 vs token RS256',
        key: () => keyFor('PS256'),
        alg: 'RS256',
        suits: false,
      },
      {
        rule: 'JWK alg RS256 vs token PS256',
        key: () => keyFor('RS256'),
        alg: 'PS256',
        suits: false,
      },
      {
        rule: 'an RSA key without alg vs RS256',
        key: () => importedWith('RS256', { alg: undefined }),
        alg: 'RS256',
        suits: true,
      },
      {
        rule: 'an RSA key without alg vs PS512',
        key: () => importedWith('RS256', { alg: undefined }),
        alg: 'PS512',
        suits: true,
      },
      {
        rule: 'an RSA key without alg vs ES256',
        key: () => importedWith('RS256', { alg: undefined }),
        alg: 'ES256',
        suits: false,
      },
      {
        rule: 'a P-256 key without alg vs ES256',
        key: () => importedWith('ES256', { alg: undefined }),
        alg: 'ES256',
        suits: true,
      },
      {
        rule: 'a P-256 key without alg vs ES384',
        key: () => importedWith('ES256', { alg: undefined }),
        alg: 'ES384',
        suits: false,
      },
    ]

    it.each(
      ROWS.map((row) => [`${row.rule}: ${row.suits ? 'suits' : 'does not suit'}`, row] as const),
    )('KEY %s', (_, { key, alg, suits }) => {
      expect(keySuitsAlgorithm(key(), alg)).toBe(suits)
    })
  })
})

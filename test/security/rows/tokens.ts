// Catalog rows PARSE-01..11, SIG-01..16 (and this repository's SIG-18) and HDR-01..09: token
// structure, signatures, JOSE header.

import { createPublicKey, randomBytes, type JsonWebKey } from 'node:crypto'
import { vi } from 'vitest'
import { refreshToken } from '../../fake-idp/cognito.js'
import {
  ACCEPT,
  b64,
  bearer,
  HELD_KID,
  IR,
  IT,
  NOW,
  NOW_MS,
  segments,
  signHeld,
  withSignature,
  defaultMembers,
  type Catalog,
  type Probe,
  type Row,
} from '../harness.js'
import { selfSignedCertificate } from '../x509.js'

const MALFORMED = 'malformed token'
const NOT_SIGNED = 'token is not signed'
const ALG = 'signing algorithm not allowed'
const BAD_SIGNATURE = 'signature verification failed'
const TOO_LARGE = 'token too large'
const CRIT = 'unsupported critical header parameter'
const BAD_KID = 'invalid kid header parameter'
const TYP = 'unexpected token type (typ)'
const NO_SUITABLE_KEY = 'no suitable signing key for the token'
const NO_KEY = 'no signing key matches the token'

// Group orders n of the NIST curves (SEC 2): r = s = n is the other "psychic" signature.
const CURVE_ORDERS = {
  ES256: 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551',
  ES384:
    'ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973',
  ES512:
    '01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409',
} as const
const COORDINATE_BYTES = { ES256: 32, ES384: 48, ES512: 66 } as const

/** Each probe sends `token` as a bearer token. */
const tokens = (...list: [string, string][]): Probe[] =>
  list.map(([label, token]) => ({ label, authorization: bearer(token) }))

/** Same as {@link tokens}, marked as needing no network at all. */
const offline = (...list: [string, string][]): Probe[] =>
  tokens(...list).map((probe) => ({ ...probe, offline: true }))

function publicKeyOf(c: Catalog, alg: string) {
  const jwk = c.idp.jwks().keys.find((key) => key['kid'] === c.kidOf(alg)) as JsonWebKey
  return { jwk, key: createPublicKey({ key: jwk, format: 'jwk' }) }
}

// The catalog's clock stands still, so a kid the key cache has not seen waits out the 30 s
// cooldown for ever. A probe that publishes keys of its own sets the clock before the last fetch
// (a clock that went back counts as a cooldown elapsed: one refetch) and puts it back after, which
// leaves the cache as if it had fetched a moment ago.
let rewoundMs = 0

/** The probe, sent while the catalog issuer serves `extra` beside its keys (and the held one). */
function publishing(extra: readonly Record<string, unknown>[], probe: Probe): Probe {
  const served = (c: Catalog) => [...c.idp.jwks().keys, c.held.jwk]
  return {
    ...probe,
    before: (c) => {
      c.idp.setJwks({ keys: [...served(c), ...extra] })
      rewoundMs += 1
      vi.setSystemTime(NOW_MS - rewoundMs)
    },
    after: (c) => {
      c.idp.setJwks({ keys: served(c) })
      vi.setSystemTime(NOW_MS)
    },
  }
}

/** The issuer's public key for `alg`, under another kid and without `alg` (as Entra's keys are). */
function withoutAlg(c: Catalog, alg: string, kid: string): Record<string, unknown> {
  const { alg: _alg, ...jwk } = publicKeyOf(c, alg).jwk as Record<string, unknown>
  return { ...jwk, kid }
}

/** An Ed25519 public key of this 32-byte encoding (y little-endian, x's sign in the top bit). */
const ed25519 = (hex: string, kid: string) => ({
  kty: 'OKP',
  crv: 'Ed25519',
  x: Buffer.from(hex, 'hex').toString('base64url'),
  kid,
})
// R = the identity point (canonical) and S = 0: valid under any key whose point is the identity.
const IDENTITY_SIGNATURE = Buffer.concat([Buffer.from('01', 'hex'), Buffer.alloc(63)])

/** An ES256 signature re-encoded as ASN.1 DER (the form RFC 7518 §3.4 forbids). */
function toDer(signature: Buffer): Buffer {
  const integer = (bytes: Buffer): Buffer => {
    let start = 0
    while (start < bytes.length - 1 && bytes[start] === 0) start += 1
    let value = bytes.subarray(start)
    if ((value[0] ?? 0) & 0x80) value = Buffer.concat([Buffer.from([0]), value])
    return Buffer.concat([Buffer.from([0x02, value.length]), value])
  }
  const half = signature.length / 2
  const body = Buffer.concat([
    integer(signature.subarray(0, half)),
    integer(signature.subarray(half)),
  ])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

export const PARSE_ROWS: readonly Row[] = [
  {
    id: 'PARSE-01',
    what: 'a wrong number of segments',
    expect: IT(MALFORMED),
    probes: () =>
      offline(
        ['abc', 'abc'],
        ['a.b', 'a.b'],
        ['a.b.c.d', 'a.b.c.d'],
        ['....', '....'],
        ['..', '..'],
      ),
  },
  {
    id: 'PARSE-02',
    what: 'a JWE is refused before any decryption, inflation or key fetch',
    expect: IT(MALFORMED),
    probes: () => {
      const jwe = (header: Record<string, unknown>): string =>
        [
          b64(header),
          ...Array.from({ length: 4 }, () => randomBytes(32).toString('base64url')),
        ].join('.')
      return offline(
        ['Cognito refresh token', refreshToken()],
        [
          'PBES2 with p2c 2^31-1',
          jwe({ alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', p2c: 2_147_483_647, p2s: 'c2FsdA' }),
        ],
        ['zip: DEF', jwe({ alg: 'dir', enc: 'A256GCM', zip: 'DEF' })],
      )
    },
  },
  {
    id: 'PARSE-03',
    what: 'JSON serialisations and polyglots: compact serialisation only',
    expect: IT(MALFORMED),
    probes: (c) => {
      const [header, payload, signature] = segments(c.idp.mint())
      const flattened = { protected: header, payload, signature }
      const general = { payload, signatures: [{ protected: header, signature }] }
      return [
        {
          label: 'raw flattened JSON',
          authorization: bearer(JSON.stringify(flattened)),
          expect: IR(),
        },
        ...offline(
          ['base64url flattened JSON', b64(flattened)],
          ['base64url general JSON', b64(general)],
          [
            'compact with a JSON segment appended',
            `${header}.${payload}.${signature}.${b64(flattened)}`,
          ],
        ),
        {
          label: 'compact with raw JSON appended',
          authorization: bearer(`${header}.${payload}.${signature}{"payload":"x"}`),
          expect: IR(),
        },
      ]
    },
  },
  {
    id: 'PARSE-04',
    what: 'a header that is not a JSON object',
    expect: IT(MALFORMED),
    probes: (c) => {
      const [, payload, signature] = segments(c.idp.mint())
      const texts = ['!!!', 'null', '[1]', '"str"', '123', 'true', '{"alg":"RS256"']
      return [
        ...offline(
          ...texts.map((text): [string, string] => [text, `${b64(text)}.${payload}.${signature}`]),
        ),
        ...offline(['empty header segment', `.${payload}.${signature}`]),
        { label: 'raw !!!', authorization: bearer(`!!!.${payload}.${signature}`), expect: IR() },
      ]
    },
  },
  {
    id: 'PARSE-05',
    what: 'a validly signed claims set that is not a JSON object, or a nested JWT',
    expect: IT(MALFORMED),
    probes: (c) => {
      const inner = c.idp.mint({ sub: 'nested' })
      const signed = (rawPayload: string, header?: Record<string, unknown>): string =>
        c.idp.mint({}, { rawPayload, ...(header === undefined ? {} : { header }) })
      return offline(
        ['[]', signed('[]')],
        ['"str"', signed('"str"')],
        ['123', signed('123')],
        ['null', signed('null')],
        ['nested JWT as a JSON string, cty JWT', signed(JSON.stringify(inner), { cty: 'JWT' })],
        ['nested JWT as the payload, cty JWT', signed(inner, { cty: 'JWT' })],
      )
    },
  },
  {
    id: 'PARSE-06',
    what: 'non-base64url segments (+, /, padding, spaces)',
    expect: IT(MALFORMED),
    probes: (c) => {
      const [header, payload, signature] = segments(c.idp.mint())
      return [
        ...offline(
          ['+ in the payload', `${header}.+${payload.slice(1)}.${signature}`],
          ['/ in the header', `${header.slice(0, -1)}/.${payload}.${signature}`],
          ['padded signature', `${header}.${payload}.${signature}==`],
        ),
        {
          label: '= inside a segment',
          authorization: bearer(`${header}=.${payload}.${signature}`),
          expect: IR(),
        },
        {
          label: 'embedded space',
          authorization: bearer(`${header}. ${payload}.${signature}`),
          expect: IR(),
        },
      ]
    },
  },
  {
    id: 'PARSE-07',
    what: 'invalid UTF-8 in a signed header or payload (FF FE, a lone surrogate)',
    expect: IT(MALFORMED),
    probes: (c) => {
      const header = (bytes: number[]) =>
        Buffer.concat([
          Buffer.from(`{"alg":"RS256","kid":"${HELD_KID}","x":"`),
          Buffer.from(bytes),
          Buffer.from('"}'),
        ])
      const payload = (bytes: number[]) =>
        Buffer.concat([
          Buffer.from(`{${defaultMembers(c)},"sub":"`),
          Buffer.from(bytes),
          Buffer.from('"}'),
        ])
      const good = `{"alg":"RS256","kid":"${HELD_KID}"}`
      return offline(
        [
          'FF FE in the header',
          signHeld(c, header([0xff, 0xfe]), `{${defaultMembers(c)},"sub":"a"}`),
        ],
        ['FF FE in the payload', signHeld(c, good, payload([0xff, 0xfe]))],
        [
          'lone surrogate (ED A0 80) in the payload',
          signHeld(c, good, payload([0xed, 0xa0, 0x80])),
        ],
      )
    },
  },
  {
    id: 'PARSE-08',
    what: 'duplicate members are read last-wins by every check and by req.currentUser',
    expect: ACCEPT('admin', (body) => {
      if (body['claimSub'] !== 'admin') throw new Error('claims and identity disagree on sub')
    }),
    probes: (c) => [
      {
        label: 'payload {"sub":"alice","sub":"admin"}',
        authorization: bearer(
          signHeld(
            c,
            `{"alg":"RS256","kid":"${HELD_KID}"}`,
            `{${defaultMembers(c)},"sub":"alice","sub":"admin"}`,
          ),
        ),
      },
      {
        label: 'header {"alg":"none","alg":"RS256"}',
        authorization: bearer(
          signHeld(
            c,
            `{"alg":"none","alg":"RS256","kid":"${HELD_KID}"}`,
            `{${defaultMembers(c)},"sub":"admin"}`,
          ),
        ),
      },
      {
        label: 'header {"alg":"RS256","alg":"none"}',
        authorization: bearer(
          signHeld(
            c,
            `{"alg":"RS256","kid":"${HELD_KID}","alg":"none"}`,
            `{${defaultMembers(c)},"sub":"admin"}`,
          ),
        ),
        expect: IT(ALG),
        offline: true,
      },
    ],
  },
  {
    id: 'PARSE-09',
    what: 'pathological JSON sizes: bounded before decoding, never a stack overflow',
    expect: IT(TOO_LARGE),
    probes: (c) => {
      const [, payload, signature] = segments(c.idp.mint())
      const nested = (depth: number) => b64(`${'['.repeat(depth)}${']'.repeat(depth)}`)
      return [
        ...offline(
          ['100,000 nested arrays in the header', `${nested(100_000)}.${payload}.${signature}`],
          ['a validly signed 2 MB payload', c.idp.mint({ pad: 'x'.repeat(2_000_000) })],
        ),
        {
          label: '5,000 nested arrays within the cap',
          authorization: bearer(`${nested(5_000)}.${payload}.${signature}`),
          expect: IT(MALFORMED),
          offline: true,
        },
      ]
    },
  },
  {
    id: 'PARSE-10',
    what: '__proto__ and constructor claims stay plain data; no guard reads inherited members',
    expect: ACCEPT('proto-user', (body) => {
      if (body['claimAdmin'] !== null || body['inheritedAdmin'] !== null)
        throw new Error('admin leaked')
      if (body['prototypePolluted'] !== false) throw new Error('Object.prototype was polluted')
    }),
    probes: (c) => {
      const polluted = `{${defaultMembers(c)},"sub":"proto-user","__proto__":{"admin":true,"groups":["admin"]},"constructor":{"prototype":{"admin":true}}}`
      const token = c.idp.mint({}, { rawPayload: polluted })
      return [
        { path: '/api/proto', authorization: bearer(token) },
        {
          label: 'group guard',
          path: '/api/grouped',
          authorization: bearer(token),
          expect: { outcome: 'FB' },
        },
      ]
    },
  },
  {
    id: 'PARSE-11',
    what: 'an opaque (non-JWT) token',
    expect: IT(MALFORMED),
    probes: () => offline(['opaque', '2YotnFZFEjr1zCsicMWpAA']),
  },
]

export const SIG_ROWS: readonly Row[] = [
  {
    id: 'SIG-01',
    what: 'alg none in every spelling, with and without a signature',
    expect: IT(NOT_SIGNED),
    probes: (c) => {
      const [, payload] = segments(c.idp.mint())
      const none = (alg: string) => `${b64({ alg, typ: 'JWT' })}.${payload}`
      return [
        ...offline(
          ['none', `${none('none')}.`],
          ['None', `${none('None')}.`],
          ['NONE', `${none('NONE')}.`],
          ['nOnE', `${none('nOnE')}.`],
        ),
        {
          label: 'no trailing dot',
          authorization: bearer(none('none')),
          expect: IT(MALFORMED),
          offline: true,
        },
        {
          label: 'with a signature',
          authorization: bearer(`${none('none')}.c2lnbmF0dXJl`),
          expect: IT(ALG),
          offline: true,
        },
      ]
    },
  },
  {
    id: 'SIG-02',
    what: 'RSA-to-HMAC key confusion: HS* keyed with the public key in every form',
    expect: IT(ALG),
    probes: (c) => {
      const { jwk, key } = publicKeyOf(c, 'RS256')
      const secrets: [string, string | Buffer][] = [
        ['PEM', key.export({ type: 'spki', format: 'pem' }).toString()],
        ['DER', key.export({ type: 'spki', format: 'der' })],
        ['JWK JSON', JSON.stringify(jwk)],
        ['raw n', String(jwk.n)],
        ['n bytes', Buffer.from(String(jwk.n), 'base64url')],
      ]
      return secrets.flatMap(([form, hmacSecret]) =>
        (['HS256', 'HS384', 'HS512'] as const).map((alg) => ({
          label: `${alg} / ${form}`,
          authorization: bearer(c.idp.mint({}, { alg, hmacSecret, kid: c.kidOf('RS256') })),
          offline: true,
        })),
      )
    },
  },
  {
    id: 'SIG-03',
    what: 'EC-to-HMAC key confusion',
    expect: IT(ALG),
    probes: (c) => {
      const { jwk, key } = publicKeyOf(c, 'ES256')
      const point = Buffer.concat([
        Buffer.from([4]),
        Buffer.from(String(jwk.x), 'base64url'),
        Buffer.from(String(jwk.y), 'base64url'),
      ])
      const secrets: [string, string | Buffer][] = [
        ['SPKI PEM', key.export({ type: 'spki', format: 'pem' }).toString()],
        ['raw x||y', point],
        ['JWK JSON', JSON.stringify(jwk)],
      ]
      return secrets.map(([form, hmacSecret]) => ({
        label: form,
        authorization: bearer(c.idp.mint({}, { alg: 'HS256', hmacSecret, kid: c.kidOf('ES256') })),
        offline: true,
      }))
    },
  },
  {
    id: 'SIG-04',
    what: 'an issuer-signed algorithm outside the allow-list',
    expect: IT(ALG),
    probes: (c) => {
      const strict = (alg: string) => ({
        label: `${alg} where only RS256 is allowed`,
        path: '/strict/guarded',
        authorization: bearer(c.idp.mint({}, { alg, header: { typ: 'at+jwt' } })),
        offline: true,
      })
      return [
        strict('RS384'),
        strict('RS512'),
        strict('PS256'),
        {
          label: 'RS256 where only ES256 is allowed',
          path: '/es/guarded',
          authorization: bearer(c.idp.mint()),
          offline: true,
        },
        {
          label: 'PS256 where only ES256 is allowed',
          path: '/es/guarded',
          authorization: bearer(c.idp.mint({}, { alg: 'PS256' })),
          offline: true,
        },
      ]
    },
  },
  {
    id: 'SIG-05',
    what: 'a missing or malformed alg',
    expect: IT(ALG),
    probes: (c) =>
      [undefined, '', 123, ['RS256'], 'rs256', null].map((alg) => ({
        label: JSON.stringify(alg) ?? 'absent',
        authorization: bearer(c.idp.mint({}, { header: { alg } })),
        offline: true,
      })),
  },
  {
    id: 'SIG-06',
    what: 'a bad RS256 signature',
    expect: IT(BAD_SIGNATURE),
    probes: (c) => {
      // A valid signature whose first byte is zero: the same number in one byte fewer, or with a
      // zero more in front, is still the signed number, but not a signature of the key's length.
      let token = c.idp.mint({})
      while (Buffer.from(segments(token)[2], 'base64url')[0] !== 0) token = c.idp.mint({})
      const signature = Buffer.from(segments(token)[2], 'base64url')
      return tokens(
        ['one bit flipped', c.idp.mint({}, { tamper: 'signature' })],
        ['another key under the issuer kid', c.idp.mint({}, { key: c.attackerKey.privateKey })],
        [
          'a valid signature, its leading zero byte dropped',
          withSignature(token, signature.subarray(1)),
        ],
        [
          'a valid signature, a zero byte put in front',
          withSignature(token, Buffer.concat([Buffer.alloc(1), signature])),
        ],
      )
    },
  },
  {
    id: 'SIG-07',
    what: 'a bad ES256 signature',
    expect: IT(BAD_SIGNATURE),
    probes: (c) =>
      tokens(['one bit flipped', c.idp.mint({}, { alg: 'ES256', tamper: 'signature' })]),
  },
  {
    id: 'SIG-08',
    what: 'a stripped signature',
    expect: IT(NOT_SIGNED),
    probes: (c) => [
      ...offline(['header.payload.', c.idp.mint({}, { tamper: 'strip-signature' })]),
      {
        label: 'header.payload',
        authorization: bearer(c.idp.mint({}, { tamper: 'drop-signature-segment' })),
        expect: IT(MALFORMED),
        offline: true,
      },
    ],
  },
  {
    id: 'SIG-09',
    what: 'tampered claims under the original signature',
    expect: IT(BAD_SIGNATURE),
    probes: (c) => {
      const token = c.idp.mint({ sub: 'alice' })
      const [header, payload, signature] = segments(token)
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
        string,
        unknown
      >
      const edit = (changes: Record<string, unknown>) =>
        `${header}.${b64({ ...claims, ...changes })}.${signature}`
      return tokens(
        ['sub changed', edit({ sub: 'admin' })],
        ['role added', edit({ roles: ['admin'] })],
        ['exp pushed forward', edit({ exp: NOW + 86_400 * 365 })],
      )
    },
  },
  {
    id: 'SIG-10',
    what: 'a tampered header under the original signature',
    expect: IT(),
    probes: (c) => {
      const token = c.idp.mint()
      const [header, payload, signature] = segments(token)
      const parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<
        string,
        unknown
      >
      return tokens(
        [
          'kid switched to the issuer’s other RS256 key',
          `${b64({ ...parsed, kid: HELD_KID })}.${payload}.${signature}`,
        ],
        ['alg RS256 → RS512', `${b64({ ...parsed, alg: 'RS512' })}.${payload}.${signature}`],
      )
    },
  },
  {
    id: 'SIG-11',
    what: '"psychic" ECDSA signatures: all zero, and r = s = n',
    expect: IT(BAD_SIGNATURE),
    probes: (c) =>
      (['ES256', 'ES384', 'ES512'] as const).flatMap((alg) => {
        const token = c.idp.mint({}, { alg })
        const size = COORDINATE_BYTES[alg]
        const order = Buffer.from(CURVE_ORDERS[alg].padStart(size * 2, '0'), 'hex')
        return tokens(
          [`${alg} zero`, withSignature(token, Buffer.alloc(size * 2))],
          [`${alg} r = s = n`, withSignature(token, Buffer.concat([order, order]))],
        )
      }),
  },
  {
    id: 'SIG-12',
    what: 'a DER-encoded ECDSA signature',
    expect: IT(BAD_SIGNATURE),
    probes: (c) => {
      const token = c.idp.mint({}, { alg: 'ES256' })
      const der = toDer(Buffer.from(segments(token)[2], 'base64url'))
      return tokens(['DER', withSignature(token, der)])
    },
  },
  {
    id: 'SIG-13',
    what: 'ECDSA signatures of the wrong length',
    expect: IT(BAD_SIGNATURE),
    probes: (c) => {
      const token = c.idp.mint({}, { alg: 'ES256' })
      return [
        ...[63, 65, 96].map((size): Probe => ({
          label: `${size} bytes`,
          authorization: bearer(withSignature(token, randomBytes(size))),
        })),
        {
          label: '21,000 bytes',
          authorization: bearer(withSignature(token, randomBytes(21_000))),
          expect: IT(TOO_LARGE),
          offline: true,
        },
      ]
    },
  },
  {
    id: 'SIG-14',
    what: 'the curve of the named key does not match the alg',
    // The key is refused before its signature is checked. The issuer's keys carry alg, which
    // refuses them already; the alg-less copies (as Entra publishes keys) leave the curve alone.
    expect: IT(NO_SUITABLE_KEY),
    probes: (c) => [
      ...tokens(
        ['ES256 header, P-384 kid', c.idp.mint({}, { alg: 'ES256', kid: c.kidOf('ES384') })],
        ['ES512 header, P-256 kid', c.idp.mint({}, { alg: 'ES512', kid: c.kidOf('ES256') })],
      ),
      publishing([withoutAlg(c, 'ES384', 'p384-no-alg')], {
        label: 'ES256 header, kid of a P-384 key without alg',
        authorization: bearer(c.idp.mint({}, { alg: 'ES256', kid: 'p384-no-alg' })),
      }),
      publishing([withoutAlg(c, 'ES256', 'p256-no-alg')], {
        label: 'ES512 header, kid of a P-256 key without alg',
        authorization: bearer(c.idp.mint({}, { alg: 'ES512', kid: 'p256-no-alg' })),
      }),
    ],
  },
  // SIG-15, weak RSA keys, is a test of its own (jwks.test.ts). SIG-18 is its Ed25519 counterpart,
  // a row of this repository beyond the shared catalog: Node takes such keys, and with them a
  // token "signed" with R = identity and S = 0, no private key needed.
  {
    id: 'SIG-18',
    what: 'a small-order or non-canonical Ed25519 key in the set is never used (R = identity, S = 0)',
    expect: IT(NO_KEY),
    probes: (c) =>
      (
        [
          ['identity (order 1)', `01${'00'.repeat(31)}`, 'ed-order-1'],
          ['identity with the sign bit (x = 0)', `01${'00'.repeat(30)}80`, 'ed-order-1-signed'],
          ['y = p + 1, the identity written non-canonically', `ee${'ff'.repeat(30)}7f`, 'ed-p1'],
        ] as const
      ).map(([label, hex, kid]) =>
        publishing([ed25519(hex, kid)], {
          label,
          authorization: bearer(
            withSignature(
              c.idp.mint({ sub: 'admin', roles: ['admin'] }, { alg: 'EdDSA', kid }),
              IDENTITY_SIGNATURE,
            ),
          ),
        }),
      ),
  },
  {
    id: 'SIG-16',
    what: 'HS256 with an empty or weak secret',
    expect: IT(ALG),
    probes: (c) =>
      offline(
        ['empty secret', c.idp.mint({}, { hmacSecret: '' })],
        ['"secret"', c.idp.mint({}, { hmacSecret: 'secret' })],
      ),
  },
]

export const HDR_ROWS: readonly Row[] = [
  {
    id: 'HDR-01',
    what: 'an embedded jwk is never used',
    expect: IT(),
    probes: (c) => {
      const jwk = c.attackerKey.publicKey.export({ format: 'jwk' })
      return tokens(
        [
          'jwk without kid',
          c.idp.mint({ sub: 'admin' }, { key: c.attackerKey.privateKey, header: { jwk } }),
        ],
        [
          'jwk with its own kid',
          c.idp.mint(
            { sub: 'admin' },
            {
              key: c.attackerKey.privateKey,
              kid: 'attacker',
              header: { jwk: { ...jwk, kid: 'attacker' } },
            },
          ),
        ],
      )
    },
  },
  {
    id: 'HDR-02',
    what: 'a jku pointing at the attacker is never fetched',
    expect: IT(),
    probes: (c) =>
      tokens([
        'jku',
        c.idp.mint(
          { sub: 'admin' },
          {
            key: c.attackerKey.privateKey,
            kid: 'attacker-jku',
            header: { jku: `${c.attacker.url}/jwks.json` },
          },
        ),
      ]),
  },
  {
    id: 'HDR-03',
    what: 'an x5u pointing at the attacker is never fetched',
    expect: IT(),
    probes: (c) =>
      tokens(
        [
          'x5u, issuer kid',
          c.idp.mint(
            { sub: 'admin' },
            { key: c.attackerKey.privateKey, header: { x5u: `${c.attacker.url}/cert.pem` } },
          ),
        ],
        [
          'x5u, no kid',
          c.idp.mint(
            { sub: 'admin' },
            {
              key: c.attackerKey.privateKey,
              kid: null,
              header: { x5u: `${c.attacker.url}/cert.pem` },
            },
          ),
        ],
      ),
  },
  {
    id: 'HDR-04',
    what: 'a self-signed x5c certificate is ignored',
    expect: IT(),
    probes: (c) => {
      const x5c = [selfSignedCertificate(c.attackerKey, 'idp.catalog.test')]
      return tokens(
        [
          'x5c, issuer kid',
          c.idp.mint({ sub: 'admin' }, { key: c.attackerKey.privateKey, header: { x5c } }),
        ],
        [
          'x5c, no kid',
          c.idp.mint(
            { sub: 'admin' },
            { key: c.attackerKey.privateKey, kid: null, header: { x5c } },
          ),
        ],
      )
    },
  },
  {
    id: 'HDR-05',
    what: 'kid injection strings are only compared, never used as a path, query or URL',
    expect: IT(),
    probes: (c) => [
      ...[
        '../../../../dev/null',
        "' OR '1'='1",
        'http://169.254.169.254/',
        `${c.attacker.url}/kid`,
        '${jndi:ldap://x}',
        'a\r\nb',
      ].map((kid): Probe => ({
        label: JSON.stringify(kid),
        authorization: bearer(c.idp.mint({}, { kid, key: c.attackerKey.privateKey })),
      })),
      {
        label: '10 KB kid',
        authorization: bearer(c.idp.mint({}, { kid: 'k'.repeat(10_000) })),
        expect: IT(BAD_KID),
        offline: true,
      },
    ],
  },
  {
    id: 'HDR-06',
    what: 'a kid that is not a string never falls back to any key',
    expect: IT(BAD_KID),
    probes: (c) =>
      [123, [], ['k1'], {}, null, true].map((kid): Probe => ({
        label: JSON.stringify(kid),
        authorization: bearer(c.idp.mint({}, { header: { kid } })),
        offline: true,
      })),
  },
  {
    id: 'HDR-07',
    what: 'crit abuse',
    expect: IT(CRIT),
    probes: (c) =>
      [
        { crit: ['foo'], foo: 1 },
        { crit: [] },
        { crit: 'b64' },
        { crit: ['absent'] },
        { crit: ['exp'] },
      ].map((header): Probe => ({
        label: JSON.stringify(header),
        authorization: bearer(c.idp.mint({}, { header })),
        offline: true,
      })),
  },
  {
    id: 'HDR-08',
    what: 'an unencoded payload (b64: false) under crit; b64 without crit is ignored',
    expect: IT(CRIT),
    probes: (c) => [
      {
        label: 'b64 false, crit b64',
        authorization: bearer(c.idp.mint({}, { header: { b64: false, crit: ['b64'] } })),
        offline: true,
      },
      {
        label: 'b64 false without crit',
        authorization: bearer(c.idp.mint({ sub: 'b64' }, { header: { b64: false } })),
        expect: ACCEPT('b64'),
      },
    ],
  },
  {
    id: 'HDR-09',
    what: 'a provider that requires typ at+jwt (RFC 9068)',
    expect: IT(TYP),
    probes: (c) => {
      const strict = (typ: string | undefined): Probe => ({
        label: `typ ${String(typ)}`,
        path: '/strict/guarded',
        authorization: bearer(c.idp.mint({ sub: 'typed' }, { header: { typ } })),
        offline: true,
      })
      return [
        ...[undefined, 'JWT', 'logout+jwt', 'dpop+jwt', 'secevent+jwt'].map(strict),
        ...['at+jwt', 'application/at+jwt', 'application/AT+JWT'].map((typ) => ({
          ...strict(typ),
          offline: false,
          expect: ACCEPT('typed'),
        })),
      ]
    },
  },
]

/** Every row of this module (SIG-15 and SIG-17 are tests of their own). */
export const TOKEN_ROWS: readonly Row[] = [...PARSE_ROWS, ...SIG_ROWS, ...HDR_ROWS]

// Catalog rows CLM-01..28 and TYP-01..04: registered claims and token-type confusion.

import { refreshToken } from '../../fake-idp/cognito.js'
import {
  ACCEPT,
  AUDIENCE,
  bearer,
  ISSUER,
  IT,
  LEEWAY_SEC,
  NOW,
  type Catalog,
  type Probe,
  type Row,
} from '../harness.js'

const EXPIRED = 'token expired'
const NOT_YET = 'token not yet valid'
const UNTRUSTED = 'token issuer is not trusted'
const AUDIENCE_MISMATCH = 'audience mismatch'
const DAY = 86_400

/** One probe per claim set, each minted by the main issuer and sent to `path`. */
function claimSets(
  c: Catalog,
  sets: readonly [string, Record<string, unknown>][],
  extra: Partial<Probe> = {},
): Probe[] {
  return sets.map(([label, claims]) => ({
    label,
    authorization: bearer(c.idp.mint(claims)),
    ...extra,
  }))
}

/** A probe to the RFC 9068 route: typ at+jwt, RS256, iat required, 1 day maximum age. */
function strict(
  c: Catalog,
  label: string,
  claims: Record<string, unknown>,
  rest: Partial<Probe> = {},
  typ = 'at+jwt',
): Probe {
  return {
    label: `${label} (strict route)`,
    path: '/strict/guarded',
    authorization: bearer(c.idp.mint(claims, { header: { typ } })),
    ...rest,
  }
}

export const CLM_ROWS: readonly Row[] = [
  {
    id: 'CLM-01',
    what: 'expired: exp = now − L − 1',
    expect: IT(EXPIRED),
    probes: (c) => claimSets(c, [['exp = now − L − 1', { exp: NOW - LEEWAY_SEC - 1 }]]),
  },
  {
    id: 'CLM-02',
    what: 'no exp',
    expect: IT('missing exp claim'),
    probes: (c) => claimSets(c, [['no exp', { exp: undefined }]]),
  },
  {
    id: 'CLM-03',
    what: 'exp of the wrong type',
    expect: IT('invalid exp claim'),
    probes: (c) =>
      claimSets(
        c,
        ['9999999999', null, true, [], {}].map((exp): [string, Record<string, unknown>] => [
          JSON.stringify(exp),
          { exp },
        ]),
      ),
  },
  {
    id: 'CLM-04',
    what: 'a non-finite exp (1e400 parses to Infinity)',
    expect: IT('invalid exp claim'),
    probes: (c) => [
      {
        authorization: bearer(
          c.idp.mint(
            {},
            {
              rawPayload: `{"iss":"${ISSUER}","aud":"${AUDIENCE}","sub":"u","iat":${NOW},"exp":1e400}`,
            },
          ),
        ),
      },
    ],
  },
  {
    id: 'CLM-05',
    what: 'a fractional exp',
    expect: ACCEPT('fraction'),
    probes: (c) => [
      ...claimSets(c, [['now + 3600.5', { sub: 'fraction', exp: NOW + 3600.5 }]]),
      ...claimSets(c, [['now − 3600.5', { exp: NOW - 3600.5 }]], { expect: IT(EXPIRED) }),
    ],
  },
  {
    id: 'CLM-06',
    what: 'the leeway boundary on exp',
    expect: ACCEPT('leeway'),
    probes: (c) => [
      ...claimSets(c, [['exp = now − L + 2', { sub: 'leeway', exp: NOW - LEEWAY_SEC + 2 }]]),
      ...claimSets(c, [['exp = now − L − 2', { exp: NOW - LEEWAY_SEC - 2 }]], {
        expect: IT(EXPIRED),
      }),
    ],
  },
  {
    id: 'CLM-07',
    what: 'a far-future exp is accepted by default; refused under maxTokenLifetimeSec',
    expect: ACCEPT('forever'),
    probes: (c) =>
      claimSets(c, [['exp = year 9999', { sub: 'forever', iat: NOW, exp: 253_402_300_799 }]]),
  },
  {
    id: 'CLM-08',
    what: 'nbf in the future or malformed',
    expect: IT(NOT_YET),
    probes: (c) => [
      ...claimSets(c, [['nbf = now + L + 60', { nbf: NOW + LEEWAY_SEC + 60 }]]),
      ...claimSets(c, [['nbf = "x"', { nbf: 'x' }]], { expect: IT('invalid nbf claim') }),
    ],
  },
  {
    id: 'CLM-09',
    what: 'iat in the future',
    expect: IT('token issued in the future'),
    probes: (c) => claimSets(c, [['iat = now + L + 60', { iat: NOW + LEEWAY_SEC + 60 }]]),
  },
  {
    id: 'CLM-10',
    what: 'iat of the wrong type',
    expect: IT('invalid iat claim'),
    probes: (c) =>
      claimSets(c, [
        ['"yesterday"', { iat: 'yesterday' }],
        ['[]', { iat: [] }],
      ]),
  },
  {
    id: 'CLM-11',
    what: 'no iat: accepted by default, refused in RFC 9068 mode',
    expect: ACCEPT('no-iat'),
    probes: (c) => [
      ...claimSets(c, [['default route', { sub: 'no-iat', iat: undefined }]]),
      strict(c, 'no iat', { iat: undefined }, { expect: IT('missing iat claim') }),
    ],
  },
  {
    id: 'CLM-12',
    what: 'an old iat with a valid exp: accepted by default, refused under maxTokenAgeSec',
    expect: ACCEPT('old'),
    probes: (c) => {
      const old = { sub: 'old', iat: NOW - 7 * DAY, exp: NOW + 3600 }
      return [
        ...claimSets(c, [['default route', old]]),
        strict(c, 'maxTokenAgeSec 1 day', old, { expect: IT('token too old') }),
      ]
    },
  },
  {
    id: 'CLM-13',
    what: 'another issuer, signed by a key of our JWKS',
    expect: IT(),
    probes: (c) => [
      ...claimSets(c, [['an issuer nobody configured', { iss: 'https://elsewhere.example' }]], {
        expect: IT(UNTRUSTED),
        offline: true,
      }),
      ...claimSets(c, [['the other configured issuer', { iss: c.other.issuer }]]),
    ],
  },
  {
    id: 'CLM-14',
    what: 'no issuer',
    expect: IT('missing iss claim'),
    probes: (c) => claimSets(c, [['no iss', { iss: undefined }]], { offline: true }),
  },
  {
    id: 'CLM-15',
    what: 'issuer near-misses are compared exactly',
    expect: IT(UNTRUSTED),
    probes: (c) =>
      claimSets(
        c,
        [
          `${ISSUER}/`,
          'http://idp.catalog.test',
          'https://IDP.catalog.test',
          'https://idp.catalog.test:443',
          ` ${ISSUER}`,
          'https://іdp.catalog.test',
          `${ISSUER}?x`,
          `${ISSUER}/./`,
        ].map((iss): [string, Record<string, unknown>] => [JSON.stringify(iss), { iss }]),
        { offline: true },
      ),
  },
  {
    id: 'CLM-16',
    what: 'iss of the wrong type',
    expect: IT('invalid iss claim'),
    probes: (c) =>
      claimSets(
        c,
        [
          ['["…"]', { iss: [ISSUER] }],
          ['1', { iss: 1 }],
        ],
        { offline: true },
      ),
  },
  {
    id: 'CLM-17',
    what: 'an issuer no provider claims: no URL is ever derived from iss',
    expect: IT(UNTRUSTED),
    probes: (c) => [
      {
        label: 'attacker-signed, iss = the attacker server',
        authorization: bearer(
          c.idp.mint(
            { iss: c.attacker.url, sub: 'admin' },
            { key: c.attackerKey.privateKey, kid: 'attacker' },
          ),
        ),
        offline: true,
      },
    ],
  },
  {
    id: 'CLM-18',
    what: 'a wrong audience',
    expect: IT(AUDIENCE_MISMATCH),
    probes: (c) => claimSets(c, [['another API', { aud: 'https://other-api.example' }]]),
  },
  {
    id: 'CLM-19',
    what: 'no audience',
    expect: IT('missing aud claim'),
    probes: (c) => claimSets(c, [['no aud', { aud: undefined }]]),
  },
  {
    id: 'CLM-20',
    what: 'an audience array containing ours',
    expect: ACCEPT('array'),
    probes: (c) => claimSets(c, [['["other", ours]', { sub: 'array', aud: ['other', AUDIENCE] }]]),
  },
  {
    id: 'CLM-21',
    what: 'an extra untrusted audience on an access token is accepted',
    expect: ACCEPT('extra'),
    probes: (c) =>
      claimSets(c, [['[ours, "evil-client"]', { sub: 'extra', aud: [AUDIENCE, 'evil-client'] }]]),
  },
  {
    id: 'CLM-22',
    what: 'a malformed audience',
    expect: IT('invalid aud claim'),
    probes: (c) =>
      claimSets(
        c,
        [[], '', [123], [null], { 0: AUDIENCE }].map((aud): [string, Record<string, unknown>] => [
          JSON.stringify(aud),
          { aud },
        ]),
      ),
  },
  {
    id: 'CLM-23',
    what: 'audience near-misses are compared exactly and case-sensitively',
    expect: IT(AUDIENCE_MISMATCH),
    probes: (c) =>
      claimSets(
        c,
        ['api://catalog-evil', 'API://CATALOG', 'api://catalog/', 'api://catalo'].map(
          (aud): [string, Record<string, unknown>] => [aud, { aud }],
        ),
      ),
  },
  {
    id: 'CLM-24',
    what: 'a missing, empty or non-string sub',
    expect: IT('invalid sub claim'),
    probes: (c) => [
      ...claimSets(c, [['no sub', { sub: undefined }]], { expect: IT('missing sub claim') }),
      ...claimSets(c, [
        ['""', { sub: '' }],
        ['42', { sub: 42 }],
      ]),
    ],
  },
  {
    id: 'CLM-25',
    what: 'malformed scope and scp claims; strings and string lists are valid',
    expect: IT('invalid scope claim'),
    probes: (c) => [
      ...claimSets(c, [
        ['scope 42', { scope: 42 }],
        ['scope {}', { scope: {} }],
        ['scope [1, 2]', { scope: [1, 2] }],
      ]),
      ...claimSets(c, [['scp 42', { scp: 42 }]], { expect: IT('invalid scp claim') }),
      ...claimSets(
        c,
        [
          ['scope "a b"', { sub: 'scoped', scope: 'a b' }],
          ['scp ["a", "b"]', { sub: 'scoped', scp: ['a', 'b'] }],
        ],
        {
          expect: ACCEPT('scoped'),
        },
      ),
    ],
  },
  {
    id: 'CLM-26',
    what: 'jti of the wrong type',
    expect: IT('invalid jti claim'),
    probes: (c) =>
      claimSets(c, [
        ['7', { jti: 7 }],
        ['{}', { jti: {} }],
      ]),
  },
  {
    id: 'CLM-27',
    what: 'client_id of the wrong type',
    expect: IT('invalid client_id claim'),
    probes: (c) => claimSets(c, [['["a"]', { client_id: ['a'] }]]),
  },
  {
    id: 'CLM-28',
    what: 'a token for a sibling API of the same issuer (confused deputy)',
    expect: IT(AUDIENCE_MISMATCH),
    probes: (c) => claimSets(c, [['aud = api://billing', { aud: 'api://billing' }]]),
  },
]

const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

/** A back-channel logout token (OIDC Back-Channel Logout §2.4) for the catalog's audience. */
export function logoutToken(c: Catalog, typ = 'logout+jwt'): string {
  return c.idp.mint(
    { sub: 'logged-out', sid: 'session-1', events: { [LOGOUT_EVENT]: {} } },
    { header: { typ } },
  )
}

export const TYP_ROWS: readonly Row[] = [
  {
    id: 'TYP-01',
    what: 'an ID token is refused where typ at+jwt is required; nothing else tells them apart',
    expect: IT('unexpected token type (typ)'),
    probes: (c) => {
      const idToken = {
        sub: 'id-token',
        nonce: 'n-0S6_WzA2Mj',
        at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
        auth_time: NOW,
      }
      return [
        strict(c, 'ID token, typ JWT', idToken, { offline: true }, 'JWT'),
        ...claimSets(c, [['ID token on the default route', idToken]], {
          expect: ACCEPT('id-token'),
        }),
      ]
    },
  },
  {
    id: 'TYP-02',
    what: 'a logout token is refused where typ at+jwt is required',
    expect: IT('unexpected token type (typ)'),
    probes: (c) => [
      { path: '/strict/guarded', authorization: bearer(logoutToken(c)), offline: true },
    ],
  },
  {
    id: 'TYP-03',
    what: 'a DPoP proof (client-signed, jwk header) used as an access token',
    expect: IT(),
    probes: (c) => {
      const jwk = c.attackerKey.publicKey.export({ format: 'jwk' })
      const proof = (claims: Record<string, unknown>) =>
        c.idp.mint(
          {
            htm: 'GET',
            htu: 'https://api.example/orders',
            iat: NOW,
            aud: undefined,
            exp: undefined,
            ...claims,
          },
          { key: c.attackerKey.privateKey, kid: null, header: { typ: 'dpop+jwt', jwk } },
        )
      return [
        {
          label: 'no iss',
          authorization: bearer(proof({ iss: undefined, sub: undefined })),
          expect: IT('missing iss claim'),
          offline: true,
        },
        { label: 'with our iss', authorization: bearer(proof({ exp: NOW + 60 })) },
      ]
    },
  },
  {
    id: 'TYP-04',
    what: 'a refresh token used as an access token',
    expect: IT(),
    probes: (c) => [
      {
        label: 'Cognito refresh token (JWE)',
        authorization: bearer(refreshToken()),
        expect: IT('malformed token'),
        offline: true,
      },
      {
        label: 'HMAC-signed typ Refresh',
        authorization: bearer(
          c.idp.mint(
            { typ: 'Refresh' },
            { hmacSecret: 'keycloak-realm-secret', header: { typ: 'Refresh' } },
          ),
        ),
        expect: IT('signing algorithm not allowed'),
        offline: true,
      },
    ],
  },
]

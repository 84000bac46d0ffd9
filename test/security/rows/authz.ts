// Catalog rows AUTHZ-01..15 and OPS-03, OPS-05 as HTTP probes: guards, lazy sources, cheap refusals.

import {
  ACCEPT,
  b64,
  bearer,
  COLD_ISSUER,
  FB,
  IS,
  IT,
  NC,
  segments,
  TU,
  type Catalog,
  type Probe,
  type Row,
} from '../harness.js'

/** A probe of `path` with a token of the main issuer carrying `claims`. */
function as(
  c: Catalog,
  path: string,
  claims: Record<string, unknown>,
  rest: Partial<Probe> = {},
): Probe {
  return {
    label: `${path} ${JSON.stringify(claims)}`,
    path,
    authorization: bearer(c.idp.mint(claims)),
    ...rest,
  }
}

export const AUTHZ_ROWS: readonly Row[] = [
  {
    id: 'AUTHZ-01',
    what: 'the anonymous user on a guarded route gets 401, not 403',
    expect: NC,
    probes: () =>
      ['/api/guarded', '/api/scoped', '/api/grouped', '/api/roled', '/api/permitted'].map(
        (path) => ({ label: path, path }),
      ),
  },
  {
    id: 'AUTHZ-02',
    what: 'a missing scope, or no scope claim at all',
    expect: IS('orders.read'),
    probes: (c) => [as(c, '/api/scoped', { scope: 'profile email' }), as(c, '/api/scoped', {})],
  },
  {
    id: 'AUTHZ-03',
    what: 'scope matching tricks: split on spaces, exact, case-sensitive',
    expect: IS('orders.read'),
    probes: (c) => [
      ...[
        'x:orders.read-all',
        'orders.readx',
        'ORDERS.READ',
        'orders.read\u200b',
        'read,orders.read',
      ].map((scope) => as(c, '/api/scoped', { scope })),
      as(c, '/api/scoped-all', { scope: 'read' }, { expect: IS('read write') }),
      as(c, '/api/scoped-all', { sub: 'both', scope: 'write read' }, { expect: ACCEPT('both') }),
    ],
  },
  {
    id: 'AUTHZ-04',
    what: 'group names are never matched as substrings',
    expect: FB,
    probes: (c) => [
      as(c, '/api/grouped', { groups: ['superadmin', 'admins', 'ad', 'administrators'] }),
    ],
  },
  {
    id: 'AUTHZ-06',
    what: 'claim type confusion: a string is one name; lists with non-strings fail closed (503)',
    expect: ACCEPT('typed'),
    probes: (c) => [
      as(c, '/api/grouped', { sub: 'typed', groups: 'admin' }),
      as(c, '/api/grouped', { sub: 'typed', groups: ['admin', 'admin'] }),
      as(c, '/api/grouped', { groups: 'administrators' }, { expect: FB }),
      as(c, '/api/grouped', { groups: 'nimda' }, { expect: FB }),
      as(c, '/api/grouped', { groups: { 0: 'admin' } }, { expect: TU }),
      as(c, '/api/grouped', { groups: ['admin', 1, null, { x: 1 }] }, { expect: TU }),
      as(c, '/api/roled', { sub: 'typed', roles: ['admin', 1, null, { x: 1 }] }),
    ],
  },
  {
    id: 'AUTHZ-07',
    what: 'case and look-alike names',
    expect: FB,
    probes: (c) =>
      ['Admin', 'аdmin', 'admin ', 'ADMIN'].map((group) =>
        as(c, '/api/grouped', { groups: [group] }),
      ),
  },
  {
    id: 'AUTHZ-08',
    what: 'a failing source: 503 where it is needed, unguarded routes still served',
    expect: TU,
    probes: (c) => {
      const failing = {
        before: (cat: Catalog) => (cat.roles.mode = 'throw'),
        after: (cat: Catalog) => (cat.roles.mode = 'claims'),
      }
      return [
        as(c, '/api/roled', { roles: ['admin'] }, failing),
        as(
          c,
          '/api/guarded',
          { sub: 'lazy', roles: ['admin'] },
          { ...failing, expect: ACCEPT('lazy') },
        ),
      ]
    },
  },
  {
    id: 'AUTHZ-09',
    what: 'a hanging source answers 503 after the source time-out',
    expect: TU,
    probes: (c) => [
      as(
        c,
        '/api/roled',
        { roles: ['admin'] },
        {
          before: (cat) => (cat.roles.mode = 'hang'),
          after: (cat) => (cat.roles.mode = 'claims'),
        },
      ),
    ],
  },
  {
    id: 'AUTHZ-11',
    what: 'a failure is not remembered as an answer: the next request asks again',
    expect: TU,
    probes: (c) => [
      as(
        c,
        '/api/roled',
        { sub: 'again', roles: ['admin'] },
        {
          before: (cat) => (cat.roles.mode = 'throw'),
          after: (cat) => (cat.roles.mode = 'claims'),
        },
      ),
      as(c, '/api/roled', { sub: 'again', roles: ['admin'] }, { expect: ACCEPT('again') }),
    ],
  },
  {
    id: 'AUTHZ-15',
    what: 'a machine-to-machine principal on a group or role route',
    expect: FB,
    probes: (c) => [
      as(c, '/api/grouped', { sub: 'svc-client', client_id: 'svc-client', scope: 'orders.read' }),
      as(c, '/api/roled', { sub: 'svc-client', client_id: 'svc-client' }),
      as(
        c,
        '/api/scoped',
        { sub: 'svc-client', client_id: 'svc-client', scope: 'orders.read' },
        { expect: ACCEPT('svc-client') },
      ),
    ],
  },
]

export const OPS_ROWS: readonly Row[] = [
  {
    id: 'OPS-03',
    what: 'signature and key-lookup failures answer fixed texts: no kid list, no expected signature',
    expect: IT(),
    probes: (c) => [
      {
        label: 'bad signature',
        authorization: bearer(c.idp.mint({}, { tamper: 'signature' })),
        expect: IT('signature verification failed'),
      },
      {
        label: 'unknown kid',
        authorization: bearer(c.idp.mint({}, { kid: 'no-such-kid' })),
        expect: IT('no signing key matches the token'),
      },
      {
        label: 'kid of the wrong type of key',
        authorization: bearer(c.idp.mint({}, { alg: 'ES256', kid: c.kidOf('RS256') })),
        expect: IT('no suitable signing key for the token'),
      },
    ],
  },
  {
    id: 'OPS-05',
    what: 'structure, alg and iss failures are refused before any crypto or network work',
    expect: IT(),
    probes: (c) => {
      const cold = c.cold.mint({ sub: 'admin' })
      const [header, payload] = segments(cold)
      return [
        {
          label: 'malformed',
          authorization: bearer(`${header}.${payload}`),
          expect: IT('malformed token'),
        },
        {
          label: 'alg none',
          authorization: bearer(`${b64({ alg: 'none' })}.${payload}.`),
          expect: IT('token is not signed'),
        },
        {
          label: 'HS256',
          authorization: bearer(c.cold.mint({}, { hmacSecret: 'x' })),
          expect: IT('signing algorithm not allowed'),
        },
        {
          label: 'crit',
          authorization: bearer(c.cold.mint({}, { header: { crit: ['x'] } })),
          expect: IT('unsupported critical header parameter'),
        },
        {
          label: 'unknown iss',
          authorization: bearer(c.cold.mint({ iss: `${COLD_ISSUER}/` })),
          expect: IT('token issuer is not trusted'),
        },
      ].map((probe) => ({ ...probe, offline: true }))
    },
  },
]

// Catalog rows HTTP-01..18: bearer extraction and the error responses (RFC 6750 §2, §3).

import { randomUUID } from 'node:crypto'
import { ACCEPT, ANON, bearer, IR, IT, NC, type Catalog, type Row } from '../harness.js'

const MALFORMED = 'malformed Authorization header'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const JSON_BODY = { 'content-type': 'application/json' }

/** A valid token of the main issuer for `sub`. */
const valid = (c: Catalog, sub = 'user-1'): string => c.idp.mint({ sub })

/** A token with `text` spliced into the middle of its payload segment. */
function spliced(c: Catalog, text: string): string {
  const token = valid(c)
  const at = token.indexOf('.') + 10
  return `${token.slice(0, at)}${text}${token.slice(at)}`
}

export const HTTP_ROWS: readonly Row[] = [
  {
    id: 'HTTP-01',
    what: 'no Authorization header: 401 bare challenge when guarded, anonymous when not',
    expect: NC,
    probes: () => [{ label: 'guarded' }, { label: 'open', path: '/api/open', expect: ANON }],
  },
  {
    id: 'HTTP-02',
    what: 'another scheme is no bearer credentials; a JWT under a made-up scheme is 400 by design',
    expect: NC,
    probes: (c) => [
      { authorization: 'Basic dXNlcjpwdw==' },
      { authorization: `DPoP ${valid(c)}` },
      { label: 'open route', path: '/api/open', authorization: 'Basic dXNlcjpwdw==', expect: ANON },
      {
        authorization: `Token ${valid(c)}`,
        expect: IR('the Authorization header must use the Bearer scheme'),
      },
      {
        authorization: `JWT ${valid(c)}`,
        expect: IR('the Authorization header must use the Bearer scheme'),
      },
    ],
  },
  {
    id: 'HTTP-03',
    what: 'the scheme is case-insensitive',
    expect: ACCEPT('case'),
    probes: (c) =>
      ['bearer', 'BEARER', 'BeArEr'].map((scheme) => ({
        label: scheme,
        authorization: `${scheme} ${valid(c, 'case')}`,
      })),
  },
  {
    id: 'HTTP-04',
    what: 'several spaces after the scheme never become part of the token',
    expect: ACCEPT('spaces'),
    probes: (c) => [{ authorization: `Bearer   ${valid(c, 'spaces')}` }],
  },
  {
    id: 'HTTP-05',
    what: 'whitespace around the header value is optional whitespace',
    expect: ACCEPT('trimmed'),
    probes: (c) => [{ authorization: `   Bearer ${valid(c, 'trimmed')}   ` }],
  },
  {
    id: 'HTTP-06',
    what: 'a tab, colon, comma or equals sign after the scheme is malformed',
    expect: IR(MALFORMED),
    probes: (c) =>
      ['\t', ':', ',', '='].map((separator) => ({
        label: JSON.stringify(separator),
        authorization: `Bearer${separator}${valid(c)}`,
      })),
  },
  {
    id: 'HTTP-07',
    what: 'the Bearer scheme with no token',
    expect: IR(MALFORMED),
    probes: () => [
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: 'Bearer ""' },
    ],
  },
  {
    id: 'HTTP-08',
    what: 'an empty Authorization value is no credentials at all',
    expect: NC,
    probes: () => [{ authorization: '' }],
  },
  {
    id: 'HTTP-09',
    what: 'two Authorization headers, valid and forged, in both orders',
    expect: IR('more than one Authorization header'),
    probes: (c) => {
      const good = bearer(valid(c))
      const forged = bearer(c.idp.mint({ sub: 'admin' }, { key: c.attackerKey.privateKey }))
      return [
        { label: 'valid first', authorization: [good, forged] },
        { label: 'forged first', authorization: [forged, good] },
      ]
    },
  },
  {
    id: 'HTTP-10',
    what: 'several credentials in one header',
    expect: IR(MALFORMED),
    probes: (c) => [
      { authorization: `Bearer ${valid(c)}, Bearer ${valid(c, 'other')}` },
      { authorization: `Bearer ${valid(c)}, Basic eA==` },
    ],
  },
  {
    id: 'HTTP-11',
    what: 'characters outside b64token get a fixed description',
    expect: IR(MALFORMED),
    probes: (c) => [
      ...[' ', '"', '\\', '<', '%', ',', ';', 'tökén'].map((text) => ({
        label: JSON.stringify(text),
        authorization: bearer(spliced(c, text)),
      })),
      { label: 'quoted', authorization: `Bearer "${valid(c)}"` },
    ],
  },
  {
    id: 'HTTP-12',
    what: 'a query-string token is ignored unless the query transport is enabled',
    expect: NC,
    probes: (c) => [
      { path: `/api/guarded?access_token=${valid(c)}` },
      {
        label: 'query transport on',
        path: `/transports/guarded?access_token=${valid(c, 'query')}`,
        expect: ACCEPT('query'),
      },
    ],
  },
  {
    id: 'HTTP-13',
    what: 'a header token plus a query or form-body token',
    expect: IR('more than one method used to send a token'),
    probes: (c) => [
      {
        path: `/transports/guarded?access_token=${valid(c, 'b')}`,
        authorization: bearer(valid(c)),
      },
      {
        method: 'POST',
        path: '/transports/guarded',
        headers: FORM,
        body: `access_token=${valid(c, 'b')}`,
        authorization: bearer(valid(c)),
      },
    ],
  },
  {
    id: 'HTTP-14',
    what: 'a form-body token only when enabled; a JSON body never',
    expect: NC,
    probes: (c) => [
      { method: 'POST', headers: FORM, body: `access_token=${valid(c)}` },
      {
        label: 'form transport on',
        method: 'POST',
        path: '/transports/guarded',
        headers: FORM,
        body: `access_token=${valid(c, 'form')}`,
        expect: ACCEPT('form'),
      },
      {
        label: 'JSON body',
        method: 'POST',
        path: '/transports/guarded',
        headers: JSON_BODY,
        body: JSON.stringify({ access_token: valid(c) }),
      },
    ],
  },
  {
    id: 'HTTP-15',
    what: 'oversized tokens: Node answers 431 over 16 KiB, the cap answers 401, 200 Entra groups pass',
    expect: IT('token too large'),
    probes: (c) => {
      const groups = Array.from({ length: 200 }, () => randomUUID())
      const entraSized = c.idp.mint({ sub: 'many-groups', groups })
      if (entraSized.length < 10_000) throw new Error('the group-heavy token is too small')
      return [
        {
          label: '20 KB of A',
          defaultServer: true,
          authorization: `Bearer ${'A'.repeat(20_000)}`,
          expect: { outcome: 'NODE', status: 431 },
        },
        {
          label: '15 KB over an 8 KiB cap',
          path: '/small/guarded',
          authorization: bearer(c.idp.mint({ pad: 'x'.repeat(11_000) })),
          offline: true,
        },
        {
          label: `${entraSized.length} characters under the default cap`,
          authorization: bearer(entraSized),
          expect: ACCEPT('many-groups'),
        },
      ]
    },
  },
  {
    id: 'HTTP-16',
    what: 'tokens in other headers and cookies are ignored',
    expect: NC,
    probes: (c) => [
      { headers: { 'proxy-authorization': bearer(valid(c)) } },
      { headers: { 'x-access-token': valid(c) } },
      { headers: { cookie: `access_token=${valid(c)}` } },
    ],
  },
  {
    id: 'HTTP-17',
    what: 'a sender-constrained token (cnf) sent as a bearer token',
    expect: IT('sender-constrained token sent as bearer'),
    probes: (c) => [
      { label: 'DPoP-bound', authorization: bearer(c.idp.mint({ cnf: { jkt: 'Njc0ZTUx' } })) },
      {
        label: 'mTLS-bound',
        authorization: bearer(c.idp.mint({ cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5' } })),
      },
    ],
  },
  {
    id: 'HTTP-18',
    what: 'hostile kid, iss and aud values never reach the challenge',
    expect: IT(),
    probes: (c) => {
      const hostile = 'a"b\\c\r\nSet-Cookie: pwned=1\r\n\u00e9\u2028<x>'
      return [
        { label: 'kid', authorization: bearer(c.idp.mint({}, { kid: hostile })) },
        {
          label: 'iss',
          authorization: bearer(c.idp.mint({ iss: hostile })),
          expect: IT('token issuer is not trusted'),
        },
        {
          label: 'aud',
          authorization: bearer(c.idp.mint({ aud: hostile })),
          expect: IT('audience mismatch'),
        },
        {
          label: 'sub',
          authorization: bearer(c.idp.mint({ sub: hostile, exp: 1 })),
          expect: IT('token expired'),
        },
      ]
    },
  },
]

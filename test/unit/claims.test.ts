// Proves the registered-claim rules (RFC 7519 §4.1, RFC 9068 §2.2) row by row at a fixed clock.
import { describe, expect, it, vi } from 'vitest'
import { scopesOf, validateClaims } from '../../src/claims.js'
import type { ClaimsPolicy } from '../../src/claims.js'
import { InvalidTokenError } from '../../src/errors.js'
import type { InvalidTokenCode } from '../../src/errors.js'
import type { JwtClaims } from '../../src/jwt.js'

const NOW = 1_700_000_000
const L = 5
const ISSUER = 'https://issuer.example.com'
const AUDIENCE = 'api://orders'
const POLICY: ClaimsPolicy = {
  issuer: ISSUER,
  audience: [AUDIENCE],
  clockToleranceSec: L,
  maxTokenAgeSec: undefined,
  requiredClaims: [],
}
const VALID = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: NOW - 60, exp: NOW + 3600 }

type Outcome = 'accepted' | InvalidTokenCode

/** The valid claims with `changes` applied; an undefined member removes the claim. */
function claimsWith(changes: Record<string, unknown>): JwtClaims {
  const claims: Record<string, unknown> = { ...VALID }
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete claims[name]
    else claims[name] = value
  }
  return claims
}

/** 'accepted', or the code of the InvalidTokenError thrown (any other error fails the test). */
function outcomeOf(claims: JwtClaims, policy: ClaimsPolicy = POLICY, now = NOW): Outcome {
  try {
    validateClaims(claims, policy, now)
    return 'accepted'
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTokenError)
    return (error as InvalidTokenError).code
  }
}

interface Row {
  name: string
  claims: Record<string, unknown>
  policy?: Partial<ClaimsPolicy>
  expected: Outcome
}

function accepts(name: string, claims: Record<string, unknown>, policy = {}): Row {
  return { name: `${name} → accepted`, claims, policy, expected: 'accepted' }
}

function refuses(
  name: string,
  claims: Record<string, unknown>,
  expected: InvalidTokenCode,
  policy: Partial<ClaimsPolicy> = {},
): Row {
  return { name: `${name} → ${expected}`, claims, policy, expected }
}

/** A claim value as JSON, except the non-finite numbers JSON cannot show. */
const show = (value: unknown): string =>
  typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value)

const INFINITY: unknown = (JSON.parse('{"exp":1e400}') as { exp: unknown }).exp
const MINUS_INFINITY: unknown = (JSON.parse('{"exp":-1e400}') as { exp: unknown }).exp
const WITH_MAX_AGE = { maxTokenAgeSec: 3600 }
const INVALID: InvalidTokenCode = 'ERR_AUTH_CLAIM_INVALID'

const ROWS: readonly Row[] = [
  accepts('BASE the valid claim set', {}),

  refuses('CLM-01 refuses exp = now − L − 1', { exp: NOW - L - 1 }, 'ERR_AUTH_TOKEN_EXPIRED'),
  refuses('CLM-02 refuses a token without exp', { exp: undefined }, INVALID),
  ...['9999999999', null, true, [], {}, '', [NOW + 3600]].map((exp) =>
    refuses(`CLM-03 refuses exp ${JSON.stringify(exp)}`, { exp }, INVALID),
  ),
  refuses('CLM-04 refuses a non-finite exp (1e400)', { exp: INFINITY }, INVALID),
  refuses('CLM-04 refuses a non-finite exp (-1e400)', { exp: MINUS_INFINITY }, INVALID),
  accepts('CLM-05 accepts a fractional exp now + 3600.5', { exp: NOW + 3600.5 }),
  refuses(
    'CLM-05 refuses a fractional exp now − 3600.5',
    { exp: NOW - 3600.5 },
    'ERR_AUTH_TOKEN_EXPIRED',
  ),
  accepts('CLM-06 accepts exp = now − L + 2 (within tolerance)', { exp: NOW - L + 2 }),
  accepts('CLM-06 accepts exp = now − L + 1', { exp: NOW - L + 1 }),
  refuses(
    'CLM-06 refuses exp = now − L (the boundary)',
    { exp: NOW - L },
    'ERR_AUTH_TOKEN_EXPIRED',
  ),
  refuses('CLM-06 refuses exp = now − L − 2', { exp: NOW - L - 2 }, 'ERR_AUTH_TOKEN_EXPIRED'),
  accepts('CLM-07 accepts a far-future exp', { exp: NOW + 10 * 365 * 86400, iat: NOW - 2 * 86400 }),
  refuses(
    'CLM-07 refuses a far-future exp issued long ago with maxTokenAgeSec',
    { exp: NOW + 10 * 365 * 86400, iat: NOW - 2 * 86400 },
    'ERR_AUTH_TOKEN_TOO_OLD',
    WITH_MAX_AGE,
  ),

  refuses('CLM-08 refuses nbf = now + L + 1', { nbf: NOW + L + 1 }, 'ERR_AUTH_TOKEN_NOT_YET_VALID'),
  accepts('CLM-08 accepts nbf = now + L (within tolerance)', { nbf: NOW + L }),
  accepts('CLM-08 accepts a past nbf', { nbf: NOW - 60 }),
  ...['x', null, [], {}, String(NOW), INFINITY, MINUS_INFINITY].map((nbf) =>
    refuses(`CLM-08 refuses nbf ${show(nbf)}`, { nbf }, INVALID),
  ),
  refuses(
    'CLM-09 refuses iat in the future (now + L + 1)',
    { iat: NOW + L + 1 },
    'ERR_AUTH_TOKEN_NOT_YET_VALID',
  ),
  accepts('CLM-09 accepts iat = now + L (within tolerance)', { iat: NOW + L }),
  ...['yesterday', [], null, {}, INFINITY, MINUS_INFINITY].map((iat) =>
    refuses(`CLM-10 refuses iat ${show(iat)}`, { iat }, INVALID),
  ),
  accepts('CLM-11 accepts a token without iat by default', { iat: undefined }),
  refuses(
    'CLM-11 refuses a token without iat with maxTokenAgeSec',
    { iat: undefined },
    INVALID,
    WITH_MAX_AGE,
  ),
  accepts('CLM-12 accepts an old iat by default', { iat: NOW - 86400 }),
  refuses(
    'CLM-12 refuses an iat older than maxTokenAgeSec',
    { iat: NOW - 86400 },
    'ERR_AUTH_TOKEN_TOO_OLD',
    WITH_MAX_AGE,
  ),
  accepts(
    'CLM-12 accepts an age of exactly maxTokenAgeSec + L',
    { iat: NOW - 3600 - L },
    WITH_MAX_AGE,
  ),
  refuses(
    'CLM-12 refuses an age of maxTokenAgeSec + L + 1',
    { iat: NOW - 3600 - L - 1 },
    'ERR_AUTH_TOKEN_TOO_OLD',
    WITH_MAX_AGE,
  ),

  refuses(
    'CLM-13 refuses a wrong iss',
    { iss: 'https://evil.example.com' },
    'ERR_AUTH_ISSUER_MISMATCH',
  ),
  refuses('CLM-14 refuses a token without iss', { iss: undefined }, INVALID),
  ...[
    `${ISSUER}/`,
    ISSUER.replace('https:', 'http:'),
    'https://ISSUER.EXAMPLE.COM',
    'https://issuer.example.com:443',
    ` ${ISSUER}`,
    `${ISSUER} `,
    `${ISSUER}?x`,
    `${ISSUER}#`,
    ISSUER.slice(0, -1),
    '',
  ].map((iss) =>
    refuses(
      `CLM-15 refuses the issuer near-miss ${JSON.stringify(iss)}`,
      { iss },
      'ERR_AUTH_ISSUER_MISMATCH',
    ),
  ),
  ...[['x'], [ISSUER], 1, null, { iss: ISSUER }].map((iss) =>
    refuses(`CLM-16 refuses iss ${JSON.stringify(iss)}`, { iss }, INVALID),
  ),

  refuses('CLM-18 refuses a wrong aud', { aud: 'api://other' }, 'ERR_AUTH_AUDIENCE_MISMATCH'),
  refuses(
    'CLM-18 refuses a list of wrong auds',
    { aud: ['api://other', 'api://else'] },
    'ERR_AUTH_AUDIENCE_MISMATCH',
  ),
  refuses('CLM-19 refuses a token without aud', { aud: undefined }, INVALID),
  accepts(
    'CLM-19 accepts a token without aud when the policy audience is null',
    { aud: undefined },
    { audience: null },
  ),
  accepts(
    'CLM-19 accepts any aud when the policy audience is null',
    { aud: 'api://other' },
    { audience: null },
  ),
  refuses(
    'CLM-19 still refuses a malformed aud when the policy audience is null',
    { aud: 123 },
    INVALID,
    {
      audience: null,
    },
  ),
  accepts('CLM-20 accepts an aud list containing ours', { aud: ['api://other', AUDIENCE] }),
  accepts(
    'CLM-20 accepts an aud matching any one of several accepted audiences',
    { aud: AUDIENCE },
    {
      audience: ['api://other', AUDIENCE],
    },
  ),
  ...[
    [],
    '',
    [123],
    [null],
    { 0: AUDIENCE },
    [AUDIENCE, ''],
    [AUDIENCE, 123],
    [[AUDIENCE]],
    null,
    1,
  ].map((aud) => refuses(`CLM-22 refuses aud ${JSON.stringify(aud)}`, { aud }, INVALID)),
  ...[
    `${AUDIENCE}/`,
    AUDIENCE.toUpperCase(),
    ` ${AUDIENCE}`,
    `${AUDIENCE} `,
    'api://order',
    `${AUDIENCE} api://other`,
    [`${AUDIENCE}/`],
  ].map((aud) =>
    refuses(
      `CLM-23 refuses the audience near-miss ${JSON.stringify(aud)}`,
      { aud },
      'ERR_AUTH_AUDIENCE_MISMATCH',
    ),
  ),

  ...['', 42, null, ['user-1'], {}].map((sub) =>
    refuses(`CLM-24 refuses sub ${JSON.stringify(sub)}`, { sub }, INVALID),
  ),
  accepts('CLM-24 accepts a token without sub by default', { sub: undefined }),
  refuses('CLM-24 refuses a token without sub when sub is required', { sub: undefined }, INVALID, {
    requiredClaims: ['sub'],
  }),
  ...['scope', 'scp'].flatMap((name) => [
    ...[42, {}, [1, 2], ['a', 1], null, true].map((value) =>
      refuses(`CLM-25 refuses ${name} ${JSON.stringify(value)}`, { [name]: value }, INVALID),
    ),
    ...['read write', '', ['read', 'write'], []].map((value) =>
      accepts(`CLM-25 accepts ${name} ${JSON.stringify(value)}`, { [name]: value }),
    ),
  ]),
  ...[7, {}, null, ['a']].map((jti) =>
    refuses(`CLM-26 refuses jti ${JSON.stringify(jti)}`, { jti }, INVALID),
  ),
  accepts('CLM-26 accepts a string jti', { jti: 'a1b2' }),
  refuses('CLM-27 refuses client_id ["a"]', { client_id: ['a'] }, INVALID),
  refuses('CLM-27 refuses azp 1', { azp: 1 }, INVALID),
  refuses('CLM-27 refuses sid {}', { sid: {} }, INVALID),
  refuses('CLM-27 refuses a typ claim false', { typ: false }, INVALID),
  accepts('CLM-27 accepts string client_id, azp, sid and typ', {
    client_id: 'app',
    azp: 'app',
    sid: 's1',
    typ: 'Bearer',
  }),

  refuses(
    'HTTP-17 refuses a DPoP-bound token (cnf.jkt)',
    { cnf: { jkt: 'abc' } },
    'ERR_AUTH_TOKEN_REJECTED',
  ),
  refuses(
    'HTTP-17 refuses a certificate-bound token (cnf.x5t#S256)',
    { cnf: { 'x5t#S256': 'abc' } },
    'ERR_AUTH_TOKEN_REJECTED',
  ),
  refuses('HTTP-17 refuses any cnf value, even null', { cnf: null }, 'ERR_AUTH_TOKEN_REJECTED'),
  refuses('REQ refuses a missing required claim', {}, INVALID, { requiredClaims: ['tenant'] }),
  accepts('REQ accepts a present required claim', { tenant: 't1' }, { requiredClaims: ['tenant'] }),
  refuses('REQ refuses one missing claim of several required', { tenant: 't1' }, INVALID, {
    requiredClaims: ['tenant', 'roles'],
  }),
]

describe('validateClaims (fixed now, tolerance L = 5 s)', () => {
  it.each(ROWS.map((row) => [row.name, row] as const))('%s', (_, { claims, policy, expected }) => {
    expect(outcomeOf(claimsWith(claims), { ...POLICY, ...policy })).toBe(expected)
  })

  it('PARSE-10 does not see claims inherited through an own __proto__ member', () => {
    const claims = JSON.parse(
      JSON.stringify(VALID).replace('{', '{"__proto__":{"cnf":{"jkt":"x"},"jti":7,"tenant":"t"},'),
    ) as JwtClaims
    expect(Object.hasOwn(claims, '__proto__')).toBe(true)
    expect(outcomeOf(claims)).toBe('accepted')
    expect(outcomeOf(claims, { ...POLICY, requiredClaims: ['tenant'] })).toBe(INVALID)
  })
})

describe('issuer rule as a function (templated issuers)', () => {
  const TENANT = '7c6f7e5a-0000-4000-8000-000000000001'
  const rule = vi.fn(
    (iss: string, claims: JwtClaims) =>
      iss === `https://login.example.com/${String(claims['tid'])}/v2.0`,
  )
  const policy: ClaimsPolicy = { ...POLICY, issuer: rule }
  const claims = claimsWith({ iss: `https://login.example.com/${TENANT}/v2.0`, tid: TENANT })

  it('ISS accepts when the rule answers true, and passes it iss and the claims', () => {
    rule.mockClear()
    expect(outcomeOf(claims, policy)).toBe('accepted')
    expect(rule).toHaveBeenCalledWith(claims['iss'], claims)
  })

  it('ISS refuses with ERR_AUTH_ISSUER_MISMATCH when the rule answers false', () => {
    expect(outcomeOf({ ...claims, tid: 'other-tenant' }, policy)).toBe('ERR_AUTH_ISSUER_MISMATCH')
  })

  it('ISS never calls the rule with a non-string iss', () => {
    rule.mockClear()
    expect(outcomeOf(claimsWith({ ...claims, iss: [claims['iss']] }), policy)).toBe(INVALID)
    expect(outcomeOf(claimsWith({ ...claims, iss: undefined }), policy)).toBe(INVALID)
    expect(rule).not.toHaveBeenCalled()
  })
})

describe('scopesOf', () => {
  it.each<[string, JwtClaims, readonly string[]]>([
    ['a space-delimited scope with a double space', { scope: 'a b  c' }, ['a', 'b', 'c']],
    ['a scope list', { scope: ['a', 'b'] }, ['a', 'b']],
    ['a scp string', { scp: 'x y' }, ['x', 'y']],
    ['a scp list (Okta)', { scp: ['x', 'y'] }, ['x', 'y']],
    ['scope before scp', { scope: 'a', scp: 'b' }, ['a']],
    ['an empty scope', { scope: '' }, []],
    ['no scope', {}, []],
  ])('SCOPE reads %s', (_, claims, scopes) => {
    expect(scopesOf(claims)).toEqual(scopes)
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bearerCandidate, createTokenExtractor, parseAuthorization } from '../../src/bearer.js'
import { InvalidRequestError } from '../../src/errors.js'

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln'

describe('parseAuthorization (RFC 6750 §2.1)', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['BeArEr abc', 'abc'],
    ['Bearer   abc', 'abc'],
    ['  Bearer abc  ', 'abc'],
    [`Bearer ${JWT}`, JWT],
    ['Bearer a-b.c_d~e+f/g==', 'a-b.c_d~e+f/g=='],
  ])('accepts %j', (header, token) => {
    expect(parseAuthorization(header)).toBe(token)
  })

  it.each(['', '   '])('treats an empty header %j as no credentials', (header) => {
    expect(parseAuthorization(header)).toBeUndefined()
  })

  it.each([
    'Basic dXNlcjpwdw==',
    'Digest username="a"',
    // A quoted parameter is text of that scheme, not a second scheme.
    'Digest username="acme, bearer dept", realm="api", nonce="abc"',
    'Digest username="a \\", bearer b", realm="api"',
    `DPoP ${JWT}`,
    'Negotiate abc',
    'Token abc',
    'Custom',
  ])('treats another authentication method %j as no bearer credentials', (header) => {
    expect(parseAuthorization(header)).toBeUndefined()
  })

  it.each([
    'Bearer',
    'Bearer ',
    'Bearer ""',
    'Bearer\tabc',
    'Bearer:abc',
    'Bearer,abc',
    'Bearer=abc',
    'Bearer abc def',
    'Bearer abc, Bearer def',
    `Bearer ${JWT}, Basic eA==`,
    `Basic eA==, Bearer ${JWT}`,
    `Token abc, Bearer ${JWT}`,
    `Basic eA==,bearer ${JWT}`,
    `Digest realm="a, b", Bearer ${JWT}`,
    'Bearer "abc"',
    'Bearer a=b',
    'Bearer tökén',
    'Bearer a<b',
    'Bearer a%20b',
    'Bearer a;b',
    'Bearer a\\b',
    '"Bearer" abc',
    JWT,
    `JWT ${JWT}`,
    `Token ${JWT}`,
  ])('refuses %j as invalid_request', (header) => {
    expect(() => parseAuthorization(header)).toThrow(InvalidRequestError)
  })
})

describe('createTokenExtractor', () => {
  it('reads only the Authorization header by default', () => {
    const extract = createTokenExtractor()
    expect(extract({ authorization: ['Bearer abc'] })).toBe('abc')
    expect(
      extract({
        authorization: undefined,
        query: { access_token: 'abc' },
        cookieHeader: 'access_token=abc',
      }),
    ).toBeUndefined()
  })

  it('refuses two Authorization headers, whatever their order', () => {
    const extract = createTokenExtractor()
    expect(() => extract({ authorization: ['Bearer abc', 'Bearer def'] })).toThrow(
      InvalidRequestError,
    )
    expect(() => extract({ authorization: ['Bearer def', 'Bearer abc'] })).toThrow(
      /more than one Authorization/,
    )
  })

  it('reads the query only when enabled, and refuses a token in two places', () => {
    const extract = createTokenExtractor({ query: true })
    expect(extract({ authorization: undefined, query: { access_token: 'abc' } })).toBe('abc')
    expect(() =>
      extract({ authorization: ['Bearer abc'], query: { access_token: 'def' } }),
    ).toThrow(/more than one method/)
    expect(() =>
      extract({ authorization: undefined, query: { access_token: ['a', 'b'] } }),
    ).toThrow(InvalidRequestError)
    expect(
      createTokenExtractor({ query: 'token' })({ authorization: undefined, query: { token: 'x' } }),
    ).toBe('x')
  })

  it('reads a form body only when enabled', () => {
    const extract = createTokenExtractor({ formBody: true })
    expect(extract({ authorization: undefined, formBody: { access_token: 'abc' } })).toBe('abc')
    expect(() =>
      extract({ authorization: ['Bearer abc'], formBody: { access_token: 'abc' } }),
    ).toThrow(InvalidRequestError)
    expect(
      createTokenExtractor()({ authorization: undefined, formBody: { access_token: 'abc' } }),
    ).toBeUndefined()
  })

  it('reads a named cookie only when enabled', () => {
    const extract = createTokenExtractor({ cookie: 'session_token' })
    expect(extract({ authorization: undefined, cookieHeader: 'a=1; session_token=abc; b=2' })).toBe(
      'abc',
    )
    expect(extract({ authorization: undefined, cookieHeader: 'a=1' })).toBeUndefined()
    expect(() =>
      extract({ authorization: undefined, cookieHeader: 'session_token=a; session_token=b' }),
    ).toThrow(InvalidRequestError)
    expect(() =>
      extract({ authorization: ['Bearer x'], cookieHeader: 'session_token=abc' }),
    ).toThrow(InvalidRequestError)
  })

  it('treats an empty cookie or parameter as no token, as an empty header is', () => {
    const extract = createTokenExtractor({ query: true, formBody: true, cookie: 'token' })
    for (const carrier of [
      { authorization: undefined, cookieHeader: 'token=; theme=dark' },
      { authorization: undefined, cookieHeader: 'token= ' },
      { authorization: undefined, query: { access_token: '' } },
      { authorization: undefined, formBody: { access_token: ' ' } },
    ]) {
      expect(extract(carrier)).toBeUndefined()
    }
    // Still one token, wherever the empty one is; a malformed non-empty one is still refused.
    expect(extract({ authorization: ['Bearer abc'], cookieHeader: 'token=' })).toBe('abc')
    expect(extract({ authorization: undefined, cookieHeader: 'token=; token=abc' })).toBe('abc')
    for (const carrier of [
      { authorization: undefined, cookieHeader: 'token="a b"' },
      { authorization: undefined, query: { access_token: 'a b' } },
      { authorization: undefined, query: { access_token: ['', ''] } },
      { authorization: undefined, formBody: { access_token: 'a=b' } },
    ]) {
      expect(() => extract(carrier)).toThrow(InvalidRequestError)
    }
  })

  it('does not read inherited properties as parameters', () => {
    const extract = createTokenExtractor({ query: 'constructor' })
    expect(extract({ authorization: undefined, query: {} })).toBeUndefined()
  })
})

describe('bearerCandidate (a remembered token looked up before parsing)', () => {
  it.each([
    [`Bearer ${JWT}`, JWT],
    ['Bearer a b', 'a b'],
    ['Bearer abc ', 'abc '],
  ])('takes what follows "Bearer " in %j, unchecked', (header, candidate) => {
    expect(bearerCandidate(header)).toBe(candidate)
  })

  it.each(['Bearer ', 'Bearer  abc', 'bearer abc', 'Bearer\tabc', ' Bearer abc', 'Basic abc', ''])(
    'has none for %j (the full parse decides)',
    (header) => {
      expect(bearerCandidate(header)).toBeUndefined()
    },
  )

  it('gives, for every token a verifier could have accepted, what parseAuthorization gives', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/)
    const token = fc.tuple(segment, segment, segment).map((parts) => parts.join('.'))
    fc.assert(
      fc.property(token, (jwt) => {
        const header = `Bearer ${jwt}`
        expect(bearerCandidate(header)).toBe(jwt)
        expect(parseAuthorization(header)).toBe(jwt)
      }),
      { numRuns: 2_000 },
    )
  })
})

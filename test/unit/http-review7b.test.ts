// Review 7 of the HTTP contract, units: token cookies (two of them, quoted), where a token was
// found, Retry-After bounds, a provider whose health() throws, resourceDocumentation's URL checks.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTokenExtractor, type TokenCarrier } from '../../src/bearer.js'
import {
  ConfigError,
  createVerifier,
  InvalidRequestError,
  protectedResourceMetadata,
  UnavailableError,
} from '../../src/index.js'
import { assumingProduction } from '../../src/options.js'
import type { TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer

beforeAll(async () => {
  ;({ idp } = await localIssuerAndProvider('https://http-review7b.example'))
})

afterAll(() => idp.close())

/** The error `extract` throws for `carrier`, or undefined. */
function thrownBy(extract: (carrier: TokenCarrier) => unknown, carrier: TokenCarrier): unknown {
  try {
    extract(carrier)
  } catch (error) {
    return error
  }
  return undefined
}

describe('token cookies', () => {
  const extract = createTokenExtractor({ cookie: 'token' })

  it('two cookies of the token’s name are told apart from a malformed one', () => {
    const error = thrownBy(extract, { authorization: undefined, cookieHeader: 'token=a; token=b' })
    expect(error).toBeInstanceOf(InvalidRequestError)
    expect((error as InvalidRequestError).description).toBe('more than one token cookie')
    // A malformed one is still said to be malformed, before or after a good one.
    for (const cookieHeader of ['token=a b', 'token=a; token=a b', 'token=a b; token=a']) {
      const malformed = thrownBy(extract, { authorization: undefined, cookieHeader })
      expect((malformed as InvalidRequestError).description).toMatch(/token cookie/)
    }
    expect(
      (thrownBy(extract, { authorization: undefined, cookieHeader: 'token=a b' }) as Error).message,
    ).toBe('malformed token cookie')
  })

  it.each([
    ['token="abc.def.ghi"', 'abc.def.ghi'],
    ['theme=dark; token="abc"; lang=en', 'abc'],
    ['token=""', undefined],
  ])('reads a cookie value in double quotes (RFC 6265 §4.1.1): %s', (cookieHeader, token) => {
    expect(extract({ authorization: undefined, cookieHeader })).toBe(token)
  })

  it.each(['token="abc', 'token=abc"', 'token="', 'token="a b"', 'token=""abc""'])(
    'still refuses a malformed quoted value: %s',
    (cookieHeader) => {
      expect(() => extract({ authorization: undefined, cookieHeader })).toThrow(
        'malformed token cookie',
      )
    },
  )
})

describe('the extractor says where a token was found', () => {
  const extract = createTokenExtractor({ query: true, formBody: true, cookie: 'token' })

  it.each([
    [{ authorization: ['Bearer abc'] }, undefined],
    [{ authorization: undefined }, undefined],
    [{ authorization: undefined, query: { access_token: 'abc' } }, 'query'],
    [{ authorization: undefined, formBody: { access_token: 'abc' } }, 'formBody'],
    [{ authorization: undefined, cookieHeader: 'token=abc' }, 'cookie'],
  ] as const)('%j: %s', (given, foundIn) => {
    const carrier: TokenCarrier = { ...given }
    extract(carrier)
    expect(carrier.foundIn).toBe(foundIn)
  })
})

describe('Retry-After is whole seconds from 1 to a day', () => {
  it.each([
    [1e21, '86400'],
    [86_401, '86400'],
    [Number.MAX_VALUE, '86400'],
    [86_400, '86400'],
    [0, '1'],
    [-3, '1'],
    [0.2, '1'],
    [7, '7'],
  ])('%s gives %s', (retryAfterSec, header) => {
    const error = new UnavailableError('ERR_AUTH_SOURCE_UNAVAILABLE', 'x', { retryAfterSec })
    expect(error.headers['Retry-After']).toBe(header)
    expect(error.retryAfterSec).toBe(Number(header))
  })
})

describe('a provider whose health() throws is reported as not ok', () => {
  const password = 'hunter2'
  const failures: [string, () => unknown][] = [
    [
      'throws',
      () => {
        throw new Error(`cannot reach https://user:${password}@keys.example.com`)
      },
    ],
    ['rejects', () => Promise.reject(new Error(`https://user:${password}@keys.example.com down`))],
  ]

  it.each(failures)('health() %s', async (_kind, health) => {
    const failing = new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: idp.audience,
      fetch: idp.fetch,
    })
    Object.defineProperty(failing, 'health', { value: health })
    const verify = createVerifier({ provider: failing, logger: false })
    const report = await verify.health()
    expect(report.ok).toBe(false)
    expect(report.providers).toHaveLength(1)
    expect(report.providers[0]).toMatchObject({ ok: false, keyCount: 0 })
    expect(report.providers[0]!.lastError).toMatch(/keys\.example\.com/)
    expect(JSON.stringify(report)).not.toContain(password)
  })
})

describe('resourceDocumentation is a page people read', () => {
  const options = (resourceDocumentation: string) => ({
    resource: 'https://api.example.com',
    authorizationServers: [idp.issuer],
    resourceDocumentation,
  })

  it.each([
    'https://docs.example.com/api#auth',
    'https://docs.example.com/api?lang=en',
    'https://docs.example.com/api?lang=en#auth',
  ])('accepts a query or a fragment: %s', (url) => {
    const metadata = assumingProduction(true, () => protectedResourceMetadata(options(url)))
    expect(metadata.document['resource_documentation']).toBe(url)
  })

  it.each([
    ['https://user:pass@docs.example.com/api#auth', /must not carry credentials/],
    ['http://docs.example.com/api#auth', /must use https/],
    ['/api#auth', /must be an absolute https URL/],
    ['#auth', /must be an absolute https URL/],
    ['https://docs.example.com/api#a b', /must not contain spaces or control characters/],
  ])('still refuses %s', (url, message) => {
    const build = () => assumingProduction(true, () => protectedResourceMetadata(options(url)))
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(message)
    expect(build).not.toThrow('pass@')
  })
})

// inScheme and copyError: per-request copies of errors, the originals untouched; hashWork orders costs.

import { describe, expect, it } from 'vitest'
import {
  copyError,
  CredentialsInvalidError,
  CredentialsRequiredError,
  ForbiddenError,
  inScheme,
  InsufficientScopeError,
  InvalidRequestError,
  UnavailableError,
} from '../../src/errors.js'
import { hashWork, parsePasswordHash } from '../../src/passwords.js'

const BASIC = { scheme: 'Basic', realm: 'api' }

describe('inScheme', () => {
  it.each([
    ['401 CredentialsRequiredError', new CredentialsRequiredError(), 'Basic realm="api"'],
    ['400 InvalidRequestError', new InvalidRequestError('malformed'), undefined],
    ['403 InsufficientScopeError', new InsufficientScopeError(['a']), undefined],
    ['403 ForbiddenError', new ForbiddenError(), undefined],
  ])(
    '%s: a copy answered in the scheme, the original still Bearer',
    (_case, original, challenge) => {
      const bearer = original.headers['WWW-Authenticate']
      const copy = inScheme(original, BASIC)
      expect(copy).not.toBe(original)
      expect(copy).toBeInstanceOf(original.constructor)
      expect([copy.code, copy.status, copy.message]).toEqual([
        original.code,
        original.status,
        original.message,
      ])
      expect(copy.toJSON()).toEqual(original.toJSON())
      expect(copy.headers['WWW-Authenticate']).toBe(challenge)
      expect(copy.headers['Cache-Control']).toBe('no-store')
      expect(original.headers['WWW-Authenticate']).toBe(bearer)
    },
  )

  it('an error already in a scheme is kept as it is', () => {
    const invalid = new CredentialsInvalidError({ scheme: 'ApiKey' })
    expect(inScheme(invalid, BASIC)).toBe(invalid)
    const copy = inScheme(new CredentialsRequiredError(), BASIC)
    expect(inScheme(copy, { scheme: 'Other' })).toBe(copy)
  })

  it('a 503 keeps Retry-After and gets no challenge', () => {
    const copy = inScheme(
      new UnavailableError('ERR_AUTH_SOURCE_UNAVAILABLE', 'down', { retryAfterSec: 7 }),
      BASIC,
    )
    expect(copy.headers).toEqual({ 'Cache-Control': 'no-store', 'Retry-After': '7' })
  })
})

describe('copyError', () => {
  it('keeps the class, own fields and cause', () => {
    const cause = new Error('socket hang up')
    const original = new UnavailableError('ERR_AUTH_SOURCE_UNAVAILABLE', 'down', { cause })
    const copy = copyError(original)
    expect(copy).toBeInstanceOf(UnavailableError)
    expect(copy.cause).toBe(cause)
    expect(copy.retryAfterSec).toBe(original.retryAfterSec)
    expect(copy.name).toBe('UnavailableError')
    expect(typeof copy.stack).toBe('string')
    expect(new InsufficientScopeError(['x', 'y']).scopes).toEqual(
      copyError(new InsufficientScopeError(['x', 'y'])).scopes,
    )
  })
})

describe('hashWork', () => {
  it('orders costs within and across algorithms', () => {
    const salt = '00'.repeat(16)
    const digest = '0'.repeat(64)
    const work = (stored: string) => hashWork(parsePasswordHash(stored)!)
    expect(work(`pbkdf2_sha256$600000$${salt}$${digest}`)).toBe(600_000)
    expect(work(`pbkdf2_sha256$1000$${salt}$${digest}`)).toBe(1_000)
    expect(work(`scrypt$32768$8$3$${salt}$${digest}`)).toBe(32_768 * 8 * 3)
    expect(work(digest)).toBe(0)
  })
})

import { describe, expect, it } from 'vitest'
import {
  ConfigError,
  CredentialsRequiredError,
  ForbiddenError,
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  isAuthError,
  UnavailableError,
} from '../../src/index.js'
import { bearerChallenge, responseHeaders } from '../../src/errors.js'

describe('AuthError hierarchy', () => {
  it.each([
    [
      new InvalidRequestError('bad'),
      400,
      'invalid_request',
      'ERR_AUTH_INVALID_REQUEST',
      'Bearer error="invalid_request", error_description="bad"',
    ],
    [
      new CredentialsRequiredError(),
      401,
      'unauthorized',
      'ERR_AUTH_CREDENTIALS_REQUIRED',
      'Bearer',
    ],
    [
      new InvalidTokenError('ERR_AUTH_TOKEN_EXPIRED', 'token expired'),
      401,
      'invalid_token',
      'ERR_AUTH_TOKEN_EXPIRED',
      'Bearer error="invalid_token", error_description="token expired"',
    ],
    [
      new InsufficientScopeError(['a', 'b']),
      403,
      'insufficient_scope',
      'ERR_AUTH_INSUFFICIENT_SCOPE',
      'Bearer error="insufficient_scope", error_description="the token lacks a required scope", scope="a b"',
    ],
    [new ForbiddenError(), 403, 'forbidden', 'ERR_AUTH_FORBIDDEN', undefined],
    [
      new UnavailableError('ERR_AUTH_KEYS_UNAVAILABLE', 'down'),
      503,
      'temporarily_unavailable',
      'ERR_AUTH_KEYS_UNAVAILABLE',
      undefined,
    ],
  ])('%s answers %i %s with its challenge', (error, status, name, code, challenge) => {
    expect(isAuthError(error)).toBe(true)
    expect([error.status, error.error, error.code]).toEqual([status, name, code])
    expect(error.headers['WWW-Authenticate']).toBe(challenge)
    expect(error.toJSON()).toEqual({ error: name, error_description: error.description })
  })

  it('a 503 carries Retry-After so even a default error handler answers it', () => {
    expect(
      new UnavailableError('ERR_AUTH_SOURCE_UNAVAILABLE', 'x', { retryAfterSec: 7 }).headers,
    ).toEqual({ 'Cache-Control': 'no-store', 'Retry-After': '7' })
  })

  it.each([
    [1.5, '2'],
    [-3, '1'],
    [Number.NaN, '5'],
    [Number.POSITIVE_INFINITY, '5'],
  ])('Retry-After is a whole number of seconds: %s gives %s', (retryAfterSec, header) => {
    const error = new UnavailableError('ERR_AUTH_SOURCE_UNAVAILABLE', 'x', { retryAfterSec })
    expect(error.headers['Retry-After']).toBe(header)
  })

  it('every answer about credentials is no-store, challenged or not', () => {
    expect(new InvalidTokenError('ERR_AUTH_TOKEN_EXPIRED', 'token expired').headers).toMatchObject({
      'Cache-Control': 'no-store',
    })
    expect(responseHeaders(new ForbiddenError(), undefined)).toEqual({
      'Cache-Control': 'no-store',
    })
  })

  it('strips characters RFC 6750 does not allow in challenge values (HTTP-18)', () => {
    const error = new InvalidTokenError('ERR_AUTH_CLAIM_INVALID', 'bad "x"\r\nSet-Cookie: a=b\\ é')
    const challenge = bearerChallenge(error, 'r"ealm')
    expect(challenge).toBe(
      'Bearer realm="realm", error="invalid_token", error_description="bad xSet-Cookie: a=b "',
    )
    expect(challenge).toMatch(/^[\x20-\x7e]+$/)
  })

  it('ConfigError lists every problem', () => {
    expect(new ConfigError(['a is wrong']).message).toBe('oidc-guard: a is wrong')
    expect(new ConfigError(['a', 'b']).message).toBe(
      'oidc-guard: 2 configuration problems:\n- a\n- b',
    )
    expect(new ConfigError(['a']).name).toBe('ConfigError')
  })
})

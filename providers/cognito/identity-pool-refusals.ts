// What the identity pool provider answers when a token is not one it can exchange, or AWS refuses
// it: the 401s about the token, the pool's own configuration told apart, and the operator's hints.

import { InvalidTokenError, safeError } from '../../src/spi.js'
import { loginKeyOf } from './user-pool.js'

export function wrongToken(): InvalidTokenError {
  return new InvalidTokenError(
    'ERR_AUTH_TOKEN_TYPE_INVALID',
    "AWS credentials need an ID token of the identity pool's user pool",
  )
}

/** The 401 of a token the identity pool refused (invalid, expired…). */
export function refusedToken(cause: unknown): InvalidTokenError {
  return new InvalidTokenError('ERR_AUTH_TOKEN_REJECTED', 'AWS refused the token for credentials', {
    cause,
  })
}

/**
 * `NotAuthorizedException` messages that name the identity pool's configuration, not the token:
 * the pool does not list this user pool (or its app client) as a provider, or names it otherwise.
 * Every user gets them, and a 401 would only have each client sign in again in a loop.
 */
const POOL_CONFIGURATION_REFUSALS = [
  /not from a supported provider of this identity pool/i,
  /issuer (?:doesn't|does not) match/i,
]

export function namesPoolConfiguration(error: unknown): boolean {
  const message = error instanceof Error ? error.message : ''
  return POOL_CONFIGURATION_REFUSALS.some((pattern) => pattern.test(message))
}

/**
 * What tells one refusal from another in the logs: its message without the numbers and quoted
 * values (times, identity ids) that would make each user's refusal a kind of its own.
 */
export function refusalKind(error: unknown): string {
  return safeError(error)
    .message.replace(/'[^']*'|"[^"]*"/g, '…')
    .replace(/\d+/g, '#')
    .slice(0, 200)
}

/**
 * What to tell the operator of a Cognito token whose issuer the login key does not name: the same
 * pool in its other issuer form, or another pool (a mistyped `userPoolId`, or users of another
 * pool of the app, who rightly get no credentials here).
 */
export function mismatchHint(iss: string, loginKey: string): string {
  const tokenKey = loginKeyOf(iss)
  const samePool =
    tokenKey.slice(tokenKey.lastIndexOf('/')) === loginKey.slice(loginKey.lastIndexOf('/'))
  return samePool
    ? `the token carries the pool's other issuer form: if the identity pool names the pool so, give loginKey ${JSON.stringify(tokenKey)} (or a userPoolProvider with the same issuerForm)`
    : 'the token is of another user pool: if its users should get credentials, fix userPoolId, loginKey or userPoolProvider'
}

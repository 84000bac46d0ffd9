// The identity pool provider's options that need more than a type check: which user pool it names
// (exactly one way, as the pool's own provider name) and how early it refreshes credentials.

import { checkNumber, checkString, type Problems } from '../../src/spi.js'
import { loginKeyOf, userPoolIssuer, userPoolRegion } from './user-pool.js'
import type { CognitoIdentityPoolProviderOptions } from './identity-pool-provider.js'

// Half the hour identity-pool credentials last: a margin of an hour or more (300 000, meant as
// milliseconds) would find every cached credentials due and exchange on each call, into throttling.
const MAX_REFRESH_BEFORE_SEC = 1800

/** The `Logins` key the identity pool knows the user pool by, from the one way it is named. */
export function resolveLoginKey(
  problems: Problems,
  options: CognitoIdentityPoolProviderOptions,
): string {
  const { userPoolProvider, userPoolId, loginKey } = options
  const given = [userPoolProvider, userPoolId, loginKey].filter((value) => value !== undefined)
  if (given.length !== 1) {
    problems.add(
      'CognitoIdentityPoolProvider: name the user pool in exactly one way: userPoolProvider, userPoolId or loginKey',
    )
    return ''
  }
  if (userPoolProvider !== undefined) {
    checkString(problems, 'userPoolProvider.issuer', userPoolProvider?.issuer)
    // A provider verifying access tokens only refuses every ID token before it gets here: each
    // request would be a 401 that says nothing of the cause.
    if (userPoolProvider?.tokenUse === 'access') {
      problems.add(
        "CognitoIdentityPoolProvider: userPoolProvider verifies access tokens only (tokenUse: 'access', the default), and identity pools take ID tokens: build it with tokenUse: 'id' (or 'any') and send the ID token",
      )
    }
    return loginKeyOf(String(userPoolProvider?.issuer))
  }
  if (userPoolId !== undefined) {
    return loginKeyOf(userPoolIssuer(userPoolRegion(problems, userPoolId, undefined), userPoolId))
  }
  checkLoginKey(problems, loginKey)
  return String(loginKey)
}

// A scheme with its slash, `https:/` included: the key is the issuer without one.
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\//
// A user pool's provider name in either issuer form; the host names the pool's own region.
const COGNITO_LOGIN_KEY =
  /^(?:issuer-)?cognito-idp\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com\/\1_[0-9A-Za-z]+$/
const LOOKS_COGNITO = /^(?:issuer-)?cognito-idp\./i

/**
 * Checks a `loginKey` given as it is. It must equal a token's issuer without its scheme, or every
 * user gets a 401 whose hint points elsewhere: a copied value's trailing newline or slash, or a
 * half-removed scheme, would never match.
 */
function checkLoginKey(problems: Problems, loginKey: unknown): void {
  const expected =
    'the provider name of the identity pool, without a scheme: cognito-idp.{region}.amazonaws.com/{userPoolId}'
  if (
    typeof loginKey !== 'string' ||
    loginKey === '' ||
    loginKey.includes('://') ||
    SCHEME.test(loginKey)
  ) {
    problems.add(`loginKey must be ${expected}`)
    return
  }
  if (/\s/.test(loginKey)) {
    problems.add(
      `loginKey must not contain whitespace (a copied value's trailing newline?), got ${JSON.stringify(loginKey)}`,
    )
  } else if (loginKey.endsWith('/')) {
    problems.add(
      `loginKey must not end with "/": a token's issuer never does, got ${JSON.stringify(loginKey)}`,
    )
  } else if (LOOKS_COGNITO.test(loginKey) && !COGNITO_LOGIN_KEY.test(loginKey)) {
    problems.add(
      `loginKey must be ${expected} (or issuer-cognito-idp.… for the global issuer), the host naming the pool's region, got ${JSON.stringify(loginKey)}`,
    )
  }
}

/** Adds a problem unless `value` is undefined or a margin the hour-long credentials leave room for. */
export function checkRefreshBefore(problems: Problems, value: unknown): void {
  checkNumber(problems, 'refreshBeforeSec', value, 0)
  if (typeof value === 'number' && Number.isFinite(value) && value > MAX_REFRESH_BEFORE_SEC) {
    problems.add(
      `refreshBeforeSec must be at most ${MAX_REFRESH_BEFORE_SEC} (in seconds, not milliseconds), got ${value}: identity-pool credentials last an hour, so a margin that long would fetch new ones on every call`,
    )
  }
}

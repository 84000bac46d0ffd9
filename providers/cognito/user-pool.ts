// Cognito identifiers: user pool and identity pool ids, their regions, issuer and login key.

import type { Problems } from '../../src/spi.js'

// AWS region names: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-5`.
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/
// A user pool id is `<region>_<id>` (AWS: `[\w-]+_[0-9a-zA-Z]+`, at most 55 characters).
const USER_POOL_ID = /^([a-z]{2}(?:-[a-z]+)+-\d+)_([0-9A-Za-z]+)$/
// An identity pool id is `<region>:<uuid>` (AWS: `[\w-]+:[0-9a-f-]+`, at most 55 characters).
const IDENTITY_POOL_ID = /^([a-z]{2}(?:-[a-z]+)+-\d+):[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/
const MAX_POOL_ID_LENGTH = 55

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

/** Whether `value` looks like an AWS region name. */
export function isRegion(value: unknown): value is string {
  return typeof value === 'string' && REGION.test(value)
}

/**
 * The region of a pool id, checked against an explicit `region` when both are given (a
 * contradiction is a configuration error, never a silent pick). Adds problems naming `label`.
 */
function poolRegion(
  problems: Problems,
  label: { id: string; region: string },
  pattern: RegExp,
  example: string,
  id: unknown,
  region: unknown,
): string {
  if (region !== undefined && !isRegion(region)) {
    problems.add(`${label.region} must be an AWS region such as "eu-west-1", got ${show(region)}`)
  }
  const match = typeof id === 'string' && id.length <= MAX_POOL_ID_LENGTH ? pattern.exec(id) : null
  if (match === null) {
    problems.add(
      id === undefined
        ? `${label.id} is required, e.g. ${JSON.stringify(example)}`
        : `${label.id} must look like ${JSON.stringify(example)}, got ${show(id)}`,
    )
    return isRegion(region) ? region : ''
  }
  const derived = match[1]!
  if (isRegion(region) && region !== derived) {
    problems.add(
      `${label.region} ${JSON.stringify(region)} contradicts ${label.id} ${JSON.stringify(id)}, whose region is ${JSON.stringify(derived)}: drop ${label.region} or fix one of them`,
    )
  }
  return derived
}

/**
 * Validates a user pool id (`<region>_<id>`) and returns its region. `region`, when given, must
 * be the same one.
 */
export function userPoolRegion(problems: Problems, userPoolId: unknown, region: unknown): string {
  const label = { id: 'userPoolId (USER_POOL_ID)', region: 'region (USER_POOL_REGION)' }
  return poolRegion(problems, label, USER_POOL_ID, 'eu-west-1_AbCdE1234', userPoolId, region)
}

/**
 * Validates an identity pool id (`<region>:<uuid>`) and returns its region. `region`, when
 * given, must be the same one.
 */
export function identityPoolRegion(
  problems: Problems,
  identityPoolId: unknown,
  region: unknown,
): string {
  const label = { id: 'identityPoolId (IDENTITY_POOL_ID)', region: 'region (IDENTITY_POOL_REGION)' }
  const example = 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'
  return poolRegion(problems, label, IDENTITY_POOL_ID, example, identityPoolId, region)
}

/**
 * The two forms of a user pool's `iss`, each with its keys at `{issuer}/.well-known/jwks.json`:
 * - `regional`: `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`, what every pool issued
 *   until AWS added the second form, and what identity pools name as the provider;
 * - `global`: `https://issuer-cognito-idp.{region}.amazonaws.com/{userPoolId}`, the "updated"
 *   issuer of pools configured for multi-Region replication.
 */
export type CognitoIssuerForm = 'regional' | 'global'

const ISSUER_HOST_PREFIX: Readonly<Record<CognitoIssuerForm, string>> = {
  regional: 'cognito-idp',
  global: 'issuer-cognito-idp',
}

/** The `iss` of a user pool's tokens in one form (default `regional`). */
export function userPoolIssuer(
  region: string,
  userPoolId: string,
  form: CognitoIssuerForm = 'regional',
): string {
  return `https://${ISSUER_HOST_PREFIX[form]}.${region}.amazonaws.com/${userPoolId}`
}

/** Both issuers of a user pool, regional first. */
export function userPoolIssuers(region: string, userPoolId: string): readonly string[] {
  return [
    userPoolIssuer(region, userPoolId, 'regional'),
    userPoolIssuer(region, userPoolId, 'global'),
  ]
}

/**
 * The key of a user pool in an identity pool's `Logins` map: the issuer without its scheme,
 * `cognito-idp.{region}.amazonaws.com/{userPoolId}`.
 */
export function loginKeyOf(issuer: string): string {
  return issuer.replace(/^https:\/\//, '')
}

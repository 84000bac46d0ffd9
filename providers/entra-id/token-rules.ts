// Entra's rules on a verified token: tenant, issuer form and version, kind, client app, guests.

import { InvalidTokenError, stringClaim, type JwtClaims, type UserIdentity } from '../../src/spi.js'
import { CONSUMER_TENANT_ID, isTenantId, type TokenVersion } from './authority.js'
import type { EntraConfig } from './config.js'

function refuse(
  code: 'ERR_AUTH_CLAIM_INVALID' | 'ERR_AUTH_ISSUER_MISMATCH' | 'ERR_AUTH_TOKEN_TYPE_INVALID',
  description: string,
): InvalidTokenError {
  return new InvalidTokenError(code, description)
}

function rejected(description: string): InvalidTokenError {
  return new InvalidTokenError('ERR_AUTH_TOKEN_REJECTED', description)
}

/** The 401 of a tenant the configuration does not accept. */
export function tenantNotAllowed(): InvalidTokenError {
  return refuse('ERR_AUTH_ISSUER_MISMATCH', 'tenant is not allowed')
}

/** The 401 of a token minted for Microsoft Graph. */
export function graphToken(): InvalidTokenError {
  return new InvalidTokenError(
    'ERR_AUTH_AUDIENCE_MISMATCH',
    'token was issued for Microsoft Graph, not this API',
  )
}

/** The 401 of a token in a version (issuer form) the configuration does not accept. */
export function versionRefused(version: TokenVersion): InvalidTokenError {
  return refuse(
    'ERR_AUTH_TOKEN_TYPE_INVALID',
    version === '1.0' ? 'v1.0 tokens are not accepted' : 'v2.0 tokens are not accepted',
  )
}

/**
 * The token's tenant, after the checks Microsoft's "Secure applications and APIs by validating
 * claims" asks for: `tid` is a tenant id, and `iss` is exactly the issuer template with that `tid`
 * (ENT-03, ENT-04), in a version the configuration accepts whose `ver` agrees.
 */
function checkTenantAndIssuer(
  claims: JwtClaims,
  config: EntraConfig,
  version: TokenVersion,
): string {
  const tid = claims['tid']
  if (tid === undefined) throw refuse('ERR_AUTH_CLAIM_INVALID', 'missing tid claim')
  if (!isTenantId(tid)) throw refuse('ERR_AUTH_CLAIM_INVALID', 'invalid tid claim')
  if (claims.iss !== config.authority.issuer(version, tid)) {
    throw refuse('ERR_AUTH_ISSUER_MISMATCH', "issuer does not match the token's tenant (tid)")
  }
  if (!config.versions.has(version)) throw versionRefused(version)
  if (claims['ver'] !== version) {
    throw refuse('ERR_AUTH_CLAIM_INVALID', 'ver claim does not match the issuer')
  }
  return tid
}

/** Whether the configuration accepts `tid` (the predicate case is asked for afterwards). */
function checkTenantAllowed(tid: string, config: EntraConfig): void {
  const rule = config.tenants
  if (rule.kind === 'one') {
    if (tid !== rule.tid) throw tenantNotAllowed()
    return
  }
  if (tid === CONSUMER_TENANT_ID && !rule.personal) {
    throw refuse('ERR_AUTH_ISSUER_MISMATCH', 'personal Microsoft accounts are not accepted')
  }
  if (rule.kind === 'list' && !rule.tids.has(tid)) throw tenantNotAllowed()
}

/** B2C: the exact user-flow issuer, and a `tfp` (or `acr`) naming an accepted policy. */
function checkB2c(claims: JwtClaims, config: EntraConfig, policies: ReadonlyMap<string, string>) {
  if (claims.iss !== config.authority.b2cIssuer(config.tenant)) {
    throw refuse('ERR_AUTH_ISSUER_MISMATCH', 'issuer mismatch')
  }
  const tid = claims['tid']
  if (tid !== undefined && tid !== config.tenant) throw tenantNotAllowed()
  const policy = policyOf(claims)
  if (policy === undefined) throw refuse('ERR_AUTH_CLAIM_INVALID', 'missing tfp or acr claim')
  if (!policies.has(policy.toLowerCase())) throw rejected('user flow (policy) is not accepted')
}

/** The B2C user flow a token names: `tfp`, or `acr` in tenants configured that way. */
export function policyOf(claims: JwtClaims): string | undefined {
  return stringClaim(claims, 'tfp') ?? stringClaim(claims, 'acr')
}

/** A guest (B2B) user: `acct` 1, or an `idp` naming another tenant than the token's. */
export function isGuest(claims: JwtClaims, tid: string): boolean {
  const acct = claims['acct']
  if (acct === 1 || acct === '1') return true
  const idp = claims['idp']
  if (typeof idp !== 'string' || idp === claims.iss) return false
  return !idp.includes(tid)
}

/**
 * An app-only (client credentials) token: `idtyp: app`, or, outside B2C, no `scp` and the subject
 * is `oid` (Entra ID's app tokens without the optional `idtyp`). In B2C a user's `sub` is their
 * object id, and a token requested with the client id as its scope carries no `scp`: there the
 * fallback would make users M2M, so only `idtyp` counts.
 */
export function isAppOnly(claims: JwtClaims, b2c: boolean): boolean {
  if (claims['idtyp'] === 'app') return true
  if (b2c) return false
  return (
    claims.scp === undefined && typeof claims['oid'] === 'string' && claims['oid'] === claims.sub
  )
}

/** The calling client application: `azp` (v2) or `appid` (v1). */
export function clientAppOf(claims: JwtClaims): string | undefined {
  return stringClaim(claims, 'azp') ?? stringClaim(claims, 'appid')
}

/** Rules that hold whatever the issuer form: token kind, client app, guests, the id claim. */
function checkUse(claims: JwtClaims, config: EntraConfig, tid: string): void {
  // Microsoft.Identity.Web IDW10201: an access token for an API has delegated scopes or app roles.
  if (config.requireScopeOrRole && claims.scp === undefined && claims['roles'] === undefined) {
    throw refuse(
      'ERR_AUTH_TOKEN_TYPE_INVALID',
      'token has neither scp nor roles: not an access token for this API',
    )
  }
  if (config.allowedClientApps !== undefined) {
    const client = clientAppOf(claims)
    if (client === undefined || !config.allowedClientApps.has(client)) {
      throw rejected('client application is not allowed')
    }
  }
  if (!config.allowGuestUsers && config.policies === undefined && isGuest(claims, tid)) {
    throw rejected('guest users are not allowed')
  }
  const id = claims[config.idClaim]
  if (typeof id !== 'string' || id === '') {
    throw refuse(
      'ERR_AUTH_CLAIM_INVALID',
      `${id === undefined ? 'missing' : 'invalid'} ${config.idClaim} claim`,
    )
  }
}

/**
 * Every Entra rule on a token whose signature, times, issuer shape and audience the core checked.
 *
 * @returns the token's tenant id (B2C: the configured tenant, whose issuer the token names).
 * @throws {InvalidTokenError} naming the rule that failed.
 */
export function checkEntraClaims(
  claims: JwtClaims,
  config: EntraConfig,
  version: TokenVersion | undefined,
): string {
  let tid: string
  if (config.policies !== undefined) {
    checkB2c(claims, config, config.policies)
    tid = config.tenant
  } else {
    if (version === undefined) throw refuse('ERR_AUTH_ISSUER_MISMATCH', 'issuer mismatch')
    tid = checkTenantAndIssuer(claims, config, version)
    checkTenantAllowed(tid, config)
  }
  checkUse(claims, config, tid)
  return tid
}

/** The user's identity as Entra's claims describe it; `email` is never an identifier (nOAuth). */
export function entraIdentity(claims: JwtClaims, config: EntraConfig): UserIdentity {
  const username = stringClaim(claims, 'preferred_username') ?? stringClaim(claims, 'upn')
  const scp = claims.scp
  return {
    id: stringClaim(claims, config.idClaim) ?? '',
    name: stringClaim(claims, 'name') ?? username ?? stringClaim(claims, 'unique_name'),
    email: stringClaim(claims, 'email') ?? (username?.includes('@') ? username : undefined),
    scopes: typeof scp === 'string' ? scp.split(' ').filter((scope) => scope !== '') : (scp ?? []),
    clientId: clientAppOf(claims),
    isM2M: isAppOnly(claims, config.policies !== undefined),
  }
}

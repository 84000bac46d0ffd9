// Entra-shaped claims for tests: v1/v2 access tokens, app-only tokens, group overage, B2C, and
// Entra's key set shape.

import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { anything, checkMembers, isBoolean, type MemberRules } from './test-kit-options.js'

/** The tenant of personal Microsoft accounts. */
export const CONSUMER_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad'
/** Microsoft Graph's application id, the `aud` of Graph tokens. */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000'
/** The test API's registration: tenant, client id, App ID URI, and a client app calling it. */
export const TENANT = 'f8cdef31-a31e-4b4a-93e4-5f571e91255a'
export const OTHER_TENANT = '3c2b1a09-8f7e-4d6c-b5a4-93827160f5e4'
export const CLIENT_ID = '6e74172b-be56-4843-9ff4-e66a39bb12e3'
export const APP_ID_URI = 'api://orders'
export const CLIENT_APP = '2a7e9d1c-4b3f-4e8a-9c6d-1f0e2d3c4b5a'
export const AUTHORITY = 'login.microsoftonline.com'
/** The user flow of a B2C stand-in's tokens (`tfp`), and the one its `providerOptions` accept. */
export const B2C_POLICY = 'B2C_1_signupsignin'

/** A user as Entra's tokens describe them. */
export interface EntraTestUser {
  readonly oid: string
  /**
   * `sub`: Entra's pairwise subject, fixed per user and app. Default: derived from `oid`, the
   * context's `appId` (else `audience`) and `tid`, 43 characters as Entra's, so the same user gets
   * the same `sub` from every token for the same API (`idClaim: 'sub'` sees one user).
   */
  readonly sub?: string
  readonly name: string
  /** UPN-shaped sign-in name (`preferred_username` in v2, `upn`/`unique_name` in v1). */
  readonly username: string
  readonly email?: string
  /** `groups` (object ids); anything, to forge malformed claims. Omitted when undefined. */
  readonly groups?: unknown
  readonly roles?: unknown
}

/** Everything a claims builder needs besides the user. */
export interface EntraTokenContext {
  readonly tid: string
  /** `aud`: the client id (v2) or App ID URI (v1) by default. */
  readonly audience: string
  /**
   * The API's application (client) id, the app a user's pairwise `sub` belongs to, whichever form
   * `aud` takes. Default `audience`.
   */
  readonly appId?: string
  /** The calling client application (`azp` / `appid`). */
  readonly clientApp: string
  /** Seconds since the epoch. */
  readonly now: number
  readonly host?: string
  readonly lifetimeSec?: number
}

/** `https://login.microsoftonline.com/{tid}/v2.0` (External ID: `https://{tid}.ciamlogin.com/{tid}/v2.0`) */
export const v2Issuer = (tid: string, host = AUTHORITY) =>
  host.endsWith('.ciamlogin.com')
    ? `https://${tid}.ciamlogin.com/${tid}/v2.0`
    : `https://${host}/${tid}/v2.0`
// v1 tokens keep their cloud's old STS host whatever the authority (as EntraIdProvider reads them).
const V1_ISSUER_HOSTS: Readonly<Record<string, string>> = {
  'login.partner.microsoftonline.cn': 'sts.chinacloudapi.cn',
  'login.chinacloudapi.cn': 'sts.chinacloudapi.cn',
}
/** `https://sts.windows.net/{tid}/` (China: `https://sts.chinacloudapi.cn/{tid}/`) */
export const v1Issuer = (tid: string, host = AUTHORITY) =>
  `https://${V1_ISSUER_HOSTS[host] ?? 'sts.windows.net'}/${tid}/`
/** Azure AD B2C: `https://{host}/{tid}/v2.0/` */
export const b2cIssuer = (host: string, tid: string) => `https://${host}/${tid}/v2.0/`

const opaque = (bytes: number) => randomBytes(bytes).toString('base64url')

/**
 * The user's `sub`: as given, else a stand-in for Entra's pairwise one (the same for one user, app
 * and tenant; a random one per token made `idClaim: 'sub'` see a new user on every request).
 */
function subjectOf(context: EntraTokenContext, user: EntraTestUser): string {
  if (user.sub !== undefined) return user.sub
  const app = context.appId ?? context.audience
  return createHash('sha256').update(`${user.oid}|${app}|${context.tid}`).digest('base64url')
}

function times(context: EntraTokenContext): Record<string, number> {
  const { now, lifetimeSec = 3900 } = context
  return { iat: now, nbf: now, exp: now + lifetimeSec }
}

function facets(user: EntraTestUser): Record<string, unknown> {
  return {
    ...(user.groups === undefined ? {} : { groups: user.groups }),
    ...(user.roles === undefined ? {} : { roles: user.roles }),
  }
}

/** A user's v2.0 access token for the API, claims in Entra's order. */
export function v2AccessTokenClaims(
  context: EntraTokenContext,
  user: EntraTestUser,
  scp = 'Orders.Read',
): Record<string, unknown> {
  return {
    aud: context.audience,
    iss: v2Issuer(context.tid, context.host),
    ...times(context),
    aio: opaque(48),
    azp: context.clientApp,
    azpacr: '0',
    ...facets(user),
    name: user.name,
    oid: user.oid,
    preferred_username: user.username,
    rh: `0.${opaque(32)}.`,
    scp,
    sub: subjectOf(context, user),
    tid: context.tid,
    uti: opaque(16),
    ver: '2.0',
    ...(user.email === undefined ? {} : { email: user.email }),
  }
}

/** A user's v1.0 access token (`accessTokenAcceptedVersion` null or 1): App ID URI audience, `appid`, `upn`. */
export function v1AccessTokenClaims(
  context: EntraTokenContext,
  user: EntraTestUser,
  scp = 'Orders.Read',
): Record<string, unknown> {
  return {
    aud: context.audience,
    iss: v1Issuer(context.tid, context.host),
    ...times(context),
    acr: '1',
    aio: opaque(48),
    amr: ['pwd'],
    appid: context.clientApp,
    appidacr: '0',
    ...facets(user),
    ipaddr: '203.0.113.7',
    name: user.name,
    oid: user.oid,
    rh: `0.${opaque(32)}.`,
    scp,
    sub: subjectOf(context, user),
    tid: context.tid,
    unique_name: user.username,
    upn: user.username,
    uti: opaque(16),
    ver: '1.0',
  }
}

const APP_RULES: MemberRules = {
  oid: [(value) => typeof value === 'string', 'a string (the service principal’s object id)'],
  roles: [anything, 'anything'],
  version: [(value) => value === '1.0' || value === '2.0', "'1.0' or '2.0'"],
  idtyp: [isBoolean, 'true or false'],
}

/**
 * A client-credentials (app-only) token: `roles`, no `scp`, `sub` = `oid` = the service principal.
 * A misspelt option (`role`) or a wrong one (`version: '2'`) is a TypeError naming it.
 */
export function appOnlyTokenClaims(
  context: EntraTokenContext,
  options: { oid?: string; roles?: unknown; version?: '1.0' | '2.0'; idtyp?: boolean } = {},
): Record<string, unknown> {
  checkMembers('appOnlyTokenClaims', options, APP_RULES)
  const { oid = randomUUID(), roles = ['Orders.Export'], version = '2.0', idtyp = true } = options
  const common = {
    ...times(context),
    aio: opaque(48),
    oid,
    rh: `0.${opaque(32)}.`,
    roles,
    sub: oid,
  }
  if (version === '1.0') {
    const iss = v1Issuer(context.tid, context.host)
    return {
      aud: context.audience,
      iss,
      ...common,
      appid: context.clientApp,
      appidacr: '1',
      idp: iss,
      ...(idtyp ? { idtyp: 'app' } : {}),
      tid: context.tid,
      uti: opaque(16),
      ver: '1.0',
    }
  }
  return {
    aud: context.audience,
    iss: v2Issuer(context.tid, context.host),
    ...common,
    azp: context.clientApp,
    azpacr: '1',
    ...(idtyp ? { idtyp: 'app' } : {}),
    tid: context.tid,
    uti: opaque(16),
    ver: '2.0',
  }
}

/**
 * The same claims with the groups overflowed: no `groups`, and Entra's distributed-claims marker
 * (`_claim_names` / `_claim_sources`, whose endpoint a verifier must never call), or the
 * implicit flow's `hasgroups: true`.
 */
export function withGroupOverage(
  claims: Record<string, unknown>,
  marker: 'claim_names' | 'hasgroups' = 'claim_names',
  endpoint = `https://graph.windows.net/${String(claims['tid'])}/users/${String(claims['oid'])}/getMemberObjects`,
): Record<string, unknown> {
  const { groups: _groups, ...rest } = claims
  if (marker === 'hasgroups') return { ...rest, hasgroups: true }
  return { ...rest, _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint } } }
}

/**
 * A B2C user-flow access token: `tfp` names the flow, `ver` is 1.0 on the v2.0 endpoint, `sub` is
 * the user's `sub` if given, else their object id (B2C's default).
 */
export function b2cAccessTokenClaims(
  context: EntraTokenContext & { host: string },
  user: EntraTestUser,
  policy: string,
  scp = 'orders.read',
): Record<string, unknown> {
  return {
    iss: b2cIssuer(context.host, context.tid),
    ...times(context),
    aud: context.audience,
    oid: user.oid,
    sub: user.sub ?? user.oid,
    name: user.name,
    emails: [user.email ?? user.username],
    tfp: policy,
    scp,
    azp: context.clientApp,
    ver: '1.0',
  }
}

/** Entra's JWKS shape: no `alg`, `x5t`, and (on the v2 keys endpoint) an `issuer`. */
export function entraJwks(
  keys: readonly Record<string, unknown>[],
  issuer: string | undefined,
): { keys: Record<string, unknown>[] } {
  return {
    keys: keys.map(({ alg: _alg, ...key }) => ({
      ...key,
      use: 'sig',
      x5t: key['kid'],
      cloud_instance_name: 'microsoftonline.com',
      ...(issuer === undefined ? {} : { issuer }),
    })),
  }
}

/** Jane, a member of the test tenant. */
export const JANE: EntraTestUser = {
  oid: '00a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b',
  name: 'Jane Doe',
  username: 'jane@contoso.example',
  groups: ['0b5d4a3e-1111-4c2b-9a8f-7e6d5c4b3a21', '1c6e5b4f-2222-4d3c-8b9a-8f7e6d5c4b32'],
  roles: ['Orders.Approver'],
}

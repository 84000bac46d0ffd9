// Entra-shaped tokens for tests: v1/v2 access tokens, app-only tokens, overage, B2C, and Entra's URLs in memory.

import { randomBytes, randomUUID } from 'node:crypto'
import { createTestIssuer, type MintOptions, type TestIssuer } from './testing.js'

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

/** A user as Entra's tokens describe them. */
export interface EntraTestUser {
  readonly oid: string
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
/** `https://sts.windows.net/{tid}/` */
export const v1Issuer = (tid: string) => `https://sts.windows.net/${tid}/`
/** Azure AD B2C: `https://{host}/{tid}/v2.0/` */
export const b2cIssuer = (host: string, tid: string) => `https://${host}/${tid}/v2.0/`

const opaque = (bytes: number) => randomBytes(bytes).toString('base64url')

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
    sub: opaque(32),
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
    iss: v1Issuer(context.tid),
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
    sub: opaque(32),
    tid: context.tid,
    unique_name: user.username,
    upn: user.username,
    uti: opaque(16),
    ver: '1.0',
  }
}

/** A client-credentials (app-only) token: `roles`, no `scp`, `sub` = `oid` = the service principal. */
export function appOnlyTokenClaims(
  context: EntraTokenContext,
  options: { oid?: string; roles?: unknown; version?: '1.0' | '2.0'; idtyp?: boolean } = {},
): Record<string, unknown> {
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
    const iss = v1Issuer(context.tid)
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

/** A B2C user-flow access token: `tfp` names the flow, `ver` is 1.0 on the v2.0 endpoint. */
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
    sub: user.oid,
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

/** Options of an Entra stand-in's `mint`: the test issuer's, plus a token shape. */
export interface EntraMintOptions extends MintOptions {
  preset?: 'v2' | 'v1' | 'app'
}

/** An Entra stand-in: tokens of any tenant, discovery and keys at Entra's URLs, in memory. */
export interface EntraTestIssuer {
  /** The underlying issuer (signing keys, `respondWith`, `counts`, `rotateKeys`). */
  readonly idp: TestIssuer
  readonly tid: string
  /** Answers Entra's discovery and keys URLs on `host`, and `idp`'s own URLs. */
  readonly fetch: typeof fetch
  /** Every URL fetched, in order. */
  readonly requested: readonly string[]
  v2(user?: EntraTestUser, overrides?: Record<string, unknown>, options?: MintOptions): string
  v1(user?: EntraTestUser, overrides?: Record<string, unknown>, options?: MintOptions): string
  app(
    options?: Parameters<typeof appOnlyTokenClaims>[1],
    overrides?: Record<string, unknown>,
    mint?: MintOptions,
  ): string
  /**
   * Signs claims with Entra's header (`typ`, `alg`, `kid`; `x5t` too). With `preset`, they go on
   * top of a complete token: Jane's v2.0 or v1.0 access token, or an app-only token.
   */
  mint(claims?: Record<string, unknown>, options?: EntraMintOptions): string
  /** What `new EntraIdProvider(...)` needs to verify this tenant's tokens in memory. */
  readonly providerOptions: { tenantId: string; audience: readonly string[]; fetch: typeof fetch }
  /** The context of a token of `tid` (default the issuer's). */
  context(tid?: string, audience?: string): EntraTokenContext
  /** The `issuer` the keys endpoints publish: `undefined` derives it, `null` omits it. */
  setKeyIssuer(issuer: string | null | undefined): void
  /** Serves an app's own key set at `…/keys?appid={appId}`. */
  setAppKeys(appId: string, jwks: { keys: Record<string, unknown>[] }): void
  close(): Promise<void>
}

/**
 * Starts an Entra stand-in for tenant `tid` at `host`. Its `fetch` answers
 * `https://{host}/{tenant}/v2.0/.well-known/openid-configuration` for any tenant (`organizations`
 * and `common` name `{tenantid}` as their issuer, as Entra's do), B2C user-flow discovery, and
 * `…/discovery/v2.0/keys` with alg-less keys carrying an `issuer`. `idp.respondWith` applies to
 * them (discovery and jwks), and `idp.counts` counts them.
 *
 * @example
 * const entra = await createEntraIssuer()
 * const provider = new EntraIdProvider({ tenantId: TENANT, audience: CLIENT_ID, fetch: entra.fetch })
 */
export async function createEntraIssuer(
  options: { tid?: string; host?: string; b2cTenantName?: string } = {},
): Promise<EntraTestIssuer> {
  const { tid = TENANT, host = AUTHORITY, b2cTenantName } = options
  const idp = await createTestIssuer({
    issuer: v2Issuer(tid, host),
    audience: CLIENT_ID,
    algorithms: ['RS256'],
    listen: false,
  })
  const requested: string[] = []
  const appKeys = new Map<string, { keys: Record<string, unknown>[] }>()
  let keyIssuer: string | null | undefined
  const refreshJwks = () =>
    idp.setJwks(entraJwks(idp.jwks().keys, `https://${host}/{tenantid}/v2.0`))
  refreshJwks()

  const context = (tenant = tid, audience = CLIENT_ID): EntraTokenContext => ({
    tid: tenant,
    audience,
    clientApp: CLIENT_APP,
    now: Math.floor(Date.now() / 1000),
    host,
  })
  const presets = {
    v2: () => v2AccessTokenClaims(context(), JANE),
    v1: () => v1AccessTokenClaims(context(tid, APP_ID_URI), JANE),
    app: () => appOnlyTokenClaims(context()),
  }
  const mint = (claims: Record<string, unknown> = {}, mintOptions: EntraMintOptions = {}) => {
    const { preset, ...rest } = mintOptions
    return raw({ ...(preset === undefined ? {} : presets[preset]()), ...claims }, rest)
  }
  const raw = (claims: Record<string, unknown>, mintOptions: MintOptions = {}): string => {
    const kid = idp.jwks().keys[0]?.['kid']
    return idp.mint(
      { jti: undefined, ...claims },
      { ...mintOptions, header: { x5t: kid, ...mintOptions.header } },
    )
  }
  const json = (body: unknown) =>
    new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } })

  const answer = async (url: URL, init: RequestInit | undefined): Promise<Response> => {
    const b2c =
      b2cTenantName === undefined
        ? null
        : new RegExp(
            `^/${b2cTenantName}\\.onmicrosoft\\.com/([A-Za-z0-9_-]+)/(v2\\.0/\\.well-known/openid-configuration|discovery/v2\\.0/keys)$`,
          ).exec(url.pathname)
    if (b2c !== null) {
      const [, policy, what] = b2c
      const base = `https://${host}/${b2cTenantName}.onmicrosoft.com/${policy}`
      if (what!.startsWith('v2.0')) {
        const upstream = await idp.fetch(idp.discoveryUri, init)
        if (upstream.status !== 200) return upstream
        return json({ issuer: b2cIssuer(host, tid), jwks_uri: `${base}/discovery/v2.0/keys` })
      }
      const upstream = await idp.fetch(idp.jwksUri, init)
      return upstream.status === 200 ? json(entraJwks(idp.jwks().keys, undefined)) : upstream
    }
    const match =
      /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|discovery\/v2\.0\/keys)$/.exec(
        url.pathname,
      )
    if (match === null) return idp.fetch(url.href, init)
    const [, tenant, what] = match
    const multi = tenant === 'organizations' || tenant === 'common'
    const issuer = multi
      ? `https://${host}/{tenantid}/v2.0`
      : v2Issuer(tenant === 'consumers' ? CONSUMER_TENANT : tenant!, host)
    if (what!.startsWith('v2.0')) {
      const upstream = await idp.fetch(idp.discoveryUri, init)
      if (upstream.status !== 200) return upstream
      return json({
        issuer,
        jwks_uri: `https://${host}/${tenant}/discovery/v2.0/keys`,
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        subject_types_supported: ['pairwise'],
        tenant_region_scope: multi ? null : 'EU',
        cloud_instance_name: 'microsoftonline.com',
      })
    }
    const upstream = await idp.fetch(idp.jwksUri, init)
    if (upstream.status !== 200) return upstream
    const appId = url.searchParams.get('appid')
    if (appId !== null) return json(appKeys.get(appId) ?? entraJwks(idp.jwks().keys, issuer))
    return json(
      entraJwks(idp.jwks().keys, keyIssuer === undefined ? issuer : (keyIssuer ?? undefined)),
    )
  }

  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input)
    requested.push(url.href)
    if (url.host !== host) return idp.fetch(url.href, init)
    init?.signal?.throwIfAborted()
    return answer(url, init)
  }

  return {
    idp,
    tid,
    fetch,
    requested,
    context,
    mint,
    // Both audience forms: v2 tokens carry the client id, v1 tokens the App ID URI.
    providerOptions: { tenantId: tid, audience: [CLIENT_ID, APP_ID_URI], fetch },
    v2: (user = JANE, overrides = {}, mintOptions) =>
      mint({ ...v2AccessTokenClaims(context(), user), ...overrides }, mintOptions),
    v1: (user = JANE, overrides = {}, mintOptions) =>
      mint({ ...v1AccessTokenClaims(context(tid, APP_ID_URI), user), ...overrides }, mintOptions),
    app: (appOptions, overrides = {}, mintOptions) =>
      mint({ ...appOnlyTokenClaims(context(), appOptions), ...overrides }, mintOptions),
    setKeyIssuer: (issuer) => {
      keyIssuer = issuer
    },
    setAppKeys: (appId, jwks) => {
      appKeys.set(appId, jwks)
    },
    close: () => idp.close(),
  }
}

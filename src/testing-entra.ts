// An Entra ID stand-in for tests: Entra-shaped tokens of any tenant, and Entra's discovery and key
// URLs answered in memory.

import { createOidcIssuer, type MintOptions, type TestIssuer } from './test-issuer.js'
import {
  APP_ID_URI,
  AUTHORITY,
  CLIENT_APP,
  CLIENT_ID,
  CONSUMER_TENANT,
  JANE,
  TENANT,
  appOnlyTokenClaims,
  b2cIssuer,
  entraJwks,
  v1AccessTokenClaims,
  v2AccessTokenClaims,
  v2Issuer,
  type EntraTestUser,
  type EntraTokenContext,
} from './testing-entra-claims.js'

export * from './testing-entra-claims.js'

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
  const idp = await createOidcIssuer({
    issuer: v2Issuer(tid, host),
    audience: CLIENT_ID,
    algorithms: ['RS256'],
    listen: false,
  })
  idp.setJwks(entraJwks(idp.jwks().keys, `https://${host}/{tenantid}/v2.0`))
  const site: EntraSite = {
    idp,
    tid,
    host,
    b2cPath: b2cTenantName === undefined ? null : b2cPathOf(b2cTenantName),
    b2cTenantName,
    appKeys: new Map(),
    keyIssuer: undefined,
  }
  const requested: string[] = []

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

  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input)
    requested.push(url.href)
    if (url.host !== host) return idp.fetch(url.href, init)
    init?.signal?.throwIfAborted()
    return answerEntraUrl(site, url, init)
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
      site.keyIssuer = issuer
    },
    setAppKeys: (appId, jwks) => {
      site.appKeys.set(appId, jwks)
    },
    close: () => idp.close(),
  }
}

/** What Entra's URLs answer from; `keyIssuer` and `appKeys` change through the stand-in's setters. */
interface EntraSite {
  readonly idp: TestIssuer
  readonly tid: string
  readonly host: string
  readonly b2cPath: RegExp | null
  readonly b2cTenantName: string | undefined
  readonly appKeys: Map<string, { keys: Record<string, unknown>[] }>
  keyIssuer: string | null | undefined
}

const TENANT_PATH =
  /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|discovery\/v2\.0\/keys)$/

function b2cPathOf(tenantName: string): RegExp {
  return new RegExp(
    `^/${tenantName}\\.onmicrosoft\\.com/([A-Za-z0-9_-]+)/(v2\\.0/\\.well-known/openid-configuration|discovery/v2\\.0/keys)$`,
  )
}

const json = (body: unknown): Response =>
  new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } })

/**
 * A URL of Entra's host: a tenant's discovery or keys (the issuer's own routes answer first, so
 * `respondWith` and `counts` apply), B2C user flows, or the issuer's other routes.
 */
async function answerEntraUrl(
  site: EntraSite,
  url: URL,
  init: RequestInit | undefined,
): Promise<Response> {
  const { idp, host } = site
  const b2c = site.b2cPath?.exec(url.pathname) ?? null
  if (b2c !== null) return answerB2cUrl(site, b2c[1]!, b2c[2]!, init)
  const match = TENANT_PATH.exec(url.pathname)
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
  if (appId !== null) return json(site.appKeys.get(appId) ?? entraJwks(idp.jwks().keys, issuer))
  const { keyIssuer } = site
  return json(
    entraJwks(idp.jwks().keys, keyIssuer === undefined ? issuer : (keyIssuer ?? undefined)),
  )
}

/** A B2C user flow's discovery (its issuer has a trailing slash) or keys (no `issuer` member). */
async function answerB2cUrl(
  site: EntraSite,
  policy: string,
  what: string,
  init: RequestInit | undefined,
): Promise<Response> {
  const { idp, host, tid } = site
  const base = `https://${host}/${site.b2cTenantName}.onmicrosoft.com/${policy}`
  if (what.startsWith('v2.0')) {
    const upstream = await idp.fetch(idp.discoveryUri, init)
    if (upstream.status !== 200) return upstream
    return json({ issuer: b2cIssuer(host, tid), jwks_uri: `${base}/discovery/v2.0/keys` })
  }
  const upstream = await idp.fetch(idp.jwksUri, init)
  return upstream.status === 200 ? json(entraJwks(idp.jwks().keys, undefined)) : upstream
}

// An Entra ID stand-in for tests: Entra-shaped tokens of any tenant, and Entra's discovery and key
// URLs answered in memory.

import {
  createOidcIssuer,
  optionError,
  serveAs,
  show,
  type MintOptions,
  type TestIssuer,
} from './test-issuer.js'
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

// A tenant id as Entra stamps it in `tid` and `iss`: a lower-case GUID.
const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
// B2C tenant names are letters and digits; the name goes into a pattern of URL paths.
const B2C_TENANT_NAME = /^[A-Za-z0-9]+$/
// A host name as EntraIdProvider's authorityHost reads one (checked lower-cased), port allowed.
const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/

/** Options of an Entra stand-in's `mint`: the test issuer's, plus a token shape. */
export interface EntraMintOptions extends MintOptions {
  preset?: 'v2' | 'v1' | 'app'
}

/** An Entra stand-in: tokens of any tenant, discovery and keys at Entra's URLs, in memory. */
export interface EntraTestIssuer {
  /**
   * The underlying issuer (signing keys, `counts`, `rotateKeys`). Its `respondWith`, `setJwks`
   * and `setDiscovery` apply to Entra's URLs too, served as given.
   */
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
  /**
   * What `new EntraIdProvider(...)` needs to verify this tenant's v2.0 tokens in memory (the `v2`
   * and `app` presets); with `authorityHost` when the stand-in's host is not the public cloud's.
   * v1.0 tokens (the `v1` preset) take `{ ...tenant.providerOptions, acceptV1: true }`: the
   * provider refuses them by default. `audience` already names both forms, the client id (v2.0)
   * and the App ID URI (v1.0), as an API accepting both configures it.
   */
  readonly providerOptions: {
    tenantId: string
    audience: readonly string[]
    fetch: typeof fetch
    authorityHost?: string
  }
  /** The context of a token of `tid` (default the issuer's). */
  context(tid?: string, audience?: string): EntraTokenContext
  /** The `issuer` the keys endpoints publish: `undefined` derives it, `null` omits it. */
  setKeyIssuer(issuer: string | null | undefined): void
  /** Serves an app's own key set at `…/keys?appid={appId}` (unless `idp.setJwks` replaces it). */
  setAppKeys(appId: string, jwks: { keys: Record<string, unknown>[] }): void
  close(): Promise<void>
}

/**
 * Starts an Entra stand-in for tenant `tid` (a lower-case GUID; anything else is a TypeError) at
 * `host`, read as the provider reads `authorityHost`: a host name or an https origin, lower-cased,
 * without a default port (default `login.microsoftonline.com`, or `{b2cTenantName}.b2clogin.com`
 * with `b2cTenantName`); under NODE_ENV=production it takes `allowInProduction`. Its `fetch` answers
 * `https://{host}/{tenant}/v2.0/.well-known/openid-configuration` for any tenant (`organizations`
 * and `common` name `{tenantid}` as their issuer, as Entra's do), B2C user-flow discovery, and
 * `…/discovery/v2.0/keys` with alg-less keys carrying an `issuer`. `idp.respondWith`,
 * `idp.setJwks` and `idp.setDiscovery` apply to them, as to `idp`'s own routes, and `idp.counts`
 * counts them. `expiresInSec` sets the presets' `exp` (`iat` and `nbf` stay now).
 *
 * @example
 * const entra = await createEntraIssuer()
 * const provider = new EntraIdProvider({ tenantId: TENANT, audience: CLIENT_ID, fetch: entra.fetch })
 */
export async function createEntraIssuer(
  options: {
    tid?: string
    host?: string
    b2cTenantName?: string
    allowInProduction?: boolean
  } = {},
): Promise<EntraTestIssuer> {
  const { tid = TENANT, b2cTenantName, allowInProduction } = options
  if (typeof tid !== 'string' || !TENANT_ID.test(tid)) {
    throw optionError(
      'tenantId',
      'a tenant id as Entra writes it, a lower-case GUID such as "72f988bf-86f1-41af-91ab-2d7cd011db47"',
      tid,
    )
  }
  if (
    b2cTenantName !== undefined &&
    (typeof b2cTenantName !== 'string' || !B2C_TENANT_NAME.test(b2cTenantName))
  ) {
    throw optionError('b2cTenantName', 'a B2C tenant name, letters and digits', b2cTenantName)
  }
  // A B2C tenant's user flows live on its own b2clogin.com host, as the provider derives it.
  const host = authorityHostOf(
    options.host ?? (b2cTenantName === undefined ? AUTHORITY : `${b2cTenantName}.b2clogin.com`),
  )
  const idp = await createOidcIssuer({
    issuer: v2Issuer(tid, host),
    audience: CLIENT_ID,
    algorithms: ['RS256'],
    listen: false,
    ...(allowInProduction === undefined ? {} : { allowInProduction }),
  })
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

  // A preset's lifetime is the mint's expiresInSec when given, else Entra's (times()).
  const context = (
    tenant = tid,
    audience = CLIENT_ID,
    lifetimeSec?: number,
  ): EntraTokenContext => ({
    tid: tenant,
    audience,
    clientApp: CLIENT_APP,
    now: Math.floor(Date.now() / 1000),
    host,
    ...(lifetimeSec === undefined ? {} : { lifetimeSec }),
  })
  const presets = {
    v2: (life?: number) => v2AccessTokenClaims(context(tid, CLIENT_ID, life), JANE),
    v1: (life?: number) => v1AccessTokenClaims(context(tid, APP_ID_URI, life), JANE),
    app: (life?: number) => appOnlyTokenClaims(context(tid, CLIENT_ID, life)),
  }
  const mint = (claims: Record<string, unknown> = {}, mintOptions: EntraMintOptions = {}) => {
    const { preset, ...rest } = mintOptions
    if (preset !== undefined && !Object.hasOwn(presets, preset)) {
      throw new TypeError(`mint: preset must be 'v2', 'v1' or 'app', got ${show(preset)}`)
    }
    const base = preset === undefined ? {} : presets[preset](rest.expiresInSec)
    return raw({ ...base, ...claims }, rest)
  }
  const raw = (claims: Record<string, unknown>, mintOptions: MintOptions = {}): string => {
    const kid = idp.jwks().keys[0]?.['kid']
    return idp.mint(
      { jti: undefined, ...claims },
      { ...mintOptions, header: { x5t: kid, ...mintOptions.header } },
    )
  }

  // The issuer's own key URLs serve Entra's key shape too, under the multi-tenant template.
  const ownKeys = new Set([idp.jwksUri, `${idp.issuer}/.well-known/jwks.json`])
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const request = input instanceof Request ? input : undefined
    const url = new URL(input instanceof Request ? input.url : input)
    requested.push(url.href)
    // A Request's own signal counts, as with the global fetch (an init's wins); other URLs get
    // the Request itself, method and headers included.
    const signal = init?.signal ?? request?.signal
    signal?.throwIfAborted()
    const answerInit = signal === undefined ? init : { ...init, signal }
    const passOn = (): Promise<Response> => idp.fetch(request ?? url.href, init)
    if (ownKeys.has(url.href)) {
      const keys = entraJwks(idp.jwks().keys, `https://${host}/{tenantid}/v2.0`)
      return serveAs(idp, 'jwks', url, answerInit, keys)
    }
    if (url.host !== host) return passOn()
    return answerEntraUrl(site, url, answerInit, passOn)
  }

  return {
    idp,
    tid,
    fetch,
    requested,
    context,
    mint,
    // Both audience forms, as an API accepting v1.0 and v2.0 tokens names them: v2 tokens carry
    // the client id, v1 tokens the App ID URI. Harmless without acceptV1, which stays the
    // caller's choice (the provider's default refuses every v1.0 token, whatever its aud): all it
    // adds is that a v2.0 token for the App ID URI passes, as with a real API configured so.
    providerOptions: {
      tenantId: tid,
      audience: [CLIENT_ID, APP_ID_URI],
      fetch,
      ...(host === AUTHORITY ? {} : { authorityHost: host }),
    },
    v2: (user = JANE, overrides = {}, mintOptions = {}) => {
      const claims = v2AccessTokenClaims(context(tid, CLIENT_ID, mintOptions.expiresInSec), user)
      return mint({ ...claims, ...overrides }, mintOptions)
    },
    v1: (user = JANE, overrides = {}, mintOptions = {}) => {
      const claims = v1AccessTokenClaims(context(tid, APP_ID_URI, mintOptions.expiresInSec), user)
      return mint({ ...claims, ...overrides }, mintOptions)
    },
    app: (appOptions, overrides = {}, mintOptions = {}) => {
      const claims = appOnlyTokenClaims(
        context(tid, CLIENT_ID, mintOptions.expiresInSec),
        appOptions,
      )
      return mint({ ...claims, ...overrides }, mintOptions)
    },
    setKeyIssuer: (issuer) => {
      site.keyIssuer = issuer
    },
    setAppKeys: (appId, jwks) => {
      site.appKeys.set(appId, jwks)
    },
    close: () => idp.close(),
  }
}

/**
 * `value` as EntraIdProvider's `authorityHost` reads it, a host name or an https origin without a
 * path, in the form its URLs and `iss` take: lower case, no default port. Kept as given, an
 * `https://` origin became `https://https://…` in every `iss`, and `LOGIN.microsoftonline.us` or
 * `…:443` minted issuers the provider (which normalises) refuses.
 */
function authorityHostOf(value: unknown): string {
  try {
    if (typeof value === 'string') {
      const url = new URL(HOST_NAME.test(value.toLowerCase()) ? `https://${value}` : value)
      const bare = url.username === '' && url.password === '' && url.pathname === '/'
      if (url.protocol === 'https:' && bare && url.search === '' && url.hash === '') return url.host
    }
  } catch {
    // Not a URL: refused below.
  }
  throw optionError(
    'host',
    'a host name such as "login.microsoftonline.us", or an https origin without a path',
    value,
  )
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

/**
 * A URL of Entra's host: a tenant's discovery or keys, B2C user flows, or the issuer's other
 * routes. Discovery and keys are answered as the issuer's own routes (`counts`, `respondWith`,
 * `setJwks`, `setDiscovery`), with Entra's documents where nothing overrides them.
 */
async function answerEntraUrl(
  site: EntraSite,
  url: URL,
  init: RequestInit | undefined,
  passOn: () => Promise<Response>,
): Promise<Response> {
  const { idp, host } = site
  const b2c = site.b2cPath?.exec(url.pathname) ?? null
  if (b2c !== null) return answerB2cUrl(site, url, b2c[1]!, b2c[2]!, init)
  const match = TENANT_PATH.exec(url.pathname)
  if (match === null) return passOn()
  const [, tenant, what] = match
  const multi = tenant === 'organizations' || tenant === 'common'
  const issuer = multi
    ? `https://${host}/{tenantid}/v2.0`
    : v2Issuer(tenant === 'consumers' ? CONSUMER_TENANT : tenant!, host)
  if (what!.startsWith('v2.0')) {
    return serveAs(idp, 'discovery', url, init, {
      issuer,
      jwks_uri: `https://${host}/${tenant}/discovery/v2.0/keys`,
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      subject_types_supported: ['pairwise'],
      tenant_region_scope: multi ? null : 'EU',
      cloud_instance_name: 'microsoftonline.com',
    })
  }
  const appId = url.searchParams.get('appid')
  const { keyIssuer } = site
  const keys =
    appId === null
      ? entraJwks(idp.jwks().keys, keyIssuer === undefined ? issuer : (keyIssuer ?? undefined))
      : (site.appKeys.get(appId) ?? entraJwks(idp.jwks().keys, issuer))
  return serveAs(idp, 'jwks', url, init, keys)
}

/** A B2C user flow's discovery (its issuer has a trailing slash) or keys (no `issuer` member). */
async function answerB2cUrl(
  site: EntraSite,
  url: URL,
  policy: string,
  what: string,
  init: RequestInit | undefined,
): Promise<Response> {
  const { idp, host, tid } = site
  const base = `https://${host}/${site.b2cTenantName}.onmicrosoft.com/${policy}`
  if (what.startsWith('v2.0')) {
    const discovery = { issuer: b2cIssuer(host, tid), jwks_uri: `${base}/discovery/v2.0/keys` }
    return serveAs(idp, 'discovery', url, init, discovery)
  }
  return serveAs(idp, 'jwks', url, init, entraJwks(idp.jwks().keys, undefined))
}

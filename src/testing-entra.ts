// An Entra ID stand-in for tests: Entra-shaped tokens of any tenant, and Entra's discovery and key
// URLs answered in memory.

import { createOidcIssuer, serveAs, type MintOptions, type TestIssuer } from './test-issuer.js'
import {
  anything,
  checkClaims,
  checkMembers,
  isRecord,
  MINT_OPTION_NAMES,
  optionError,
  refuseOptionsAsClaims,
  refuseRawPayload,
  show,
  toJson,
  type ClaimOverrides,
  type MemberRules,
} from './test-kit-options.js'
import {
  APP_ID_URI,
  AUTHORITY,
  B2C_POLICY,
  CLIENT_APP,
  CLIENT_ID,
  CONSUMER_TENANT,
  JANE,
  TENANT,
  appOnlyTokenClaims,
  b2cAccessTokenClaims,
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

/**
 * Options of an Entra stand-in's `mint`: the test issuer's, plus a token shape: `'b2c'` on a B2C
 * stand-in (`b2cTenantName`), the others on any other.
 */
export interface EntraMintOptions extends MintOptions {
  preset?: 'v2' | 'v1' | 'app' | 'b2c'
}

/**
 * Claims a token method of the stand-in puts on its token's: any but an option's name
 * (`expiresInSec`, `tamper`, `preset` …), which is a TypeError saying to pass it as the options.
 */
export type EntraClaimOverrides = ClaimOverrides<keyof EntraMintOptions>

/** Options of {@link createEntraIssuer}. */
export interface EntraIssuerInit {
  /** The tenant id, a lower-case GUID. Default {@link TENANT}. */
  tid?: string
  /** The same, as `createTestIssuer` and `EntraIdProvider` name it; give one of the two. */
  tenantId?: string
  host?: string
  b2cTenantName?: string
  allowInProduction?: boolean
}

// Names only: each value is checked on its own below, with a message of its own.
const INIT_RULES: MemberRules = {
  tid: [anything, ''],
  tenantId: [anything, ''],
  host: [anything, ''],
  b2cTenantName: [anything, ''],
  allowInProduction: [anything, ''],
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
  /**
   * Jane's (or `user`'s) v2.0 access token; `overrides` change claims (undefined removes one). An
   * override named as an option (`{ expiresInSec: -60 }`, `tamper` …) is a TypeError: options go
   * in the third argument, `v2(JANE, {}, { expiresInSec: -60 })`. Entra ID's presets (`v2`, `v1`,
   * `app`) are a TypeError on a B2C stand-in: use `b2c`.
   */
  v2(user?: EntraTestUser, overrides?: EntraClaimOverrides, options?: MintOptions): string
  /** A v1.0 access token; `overrides` as for {@link EntraTestIssuer.v2}. */
  v1(user?: EntraTestUser, overrides?: EntraClaimOverrides, options?: MintOptions): string
  /** An app-only token; `overrides` as for {@link EntraTestIssuer.v2}. */
  app(
    options?: Parameters<typeof appOnlyTokenClaims>[1],
    overrides?: EntraClaimOverrides,
    mint?: MintOptions,
  ): string
  /** A B2C stand-in's user-flow token ({@link B2C_POLICY}; `{ tfp }` in `overrides` names another). */
  b2c(user?: EntraTestUser, overrides?: EntraClaimOverrides, options?: MintOptions): string
  /**
   * Signs claims with Entra's header: `typ`, `alg`, `kid`, and in v1.0 tokens (`ver: '1.0'`, not
   * B2C's) the legacy `x5t`, the header's `kid` again (none when `kid: null` omits it). With
   * `preset`, they go on top of a complete token: Jane's v2.0 or v1.0 access token, an app-only
   * token, or (on a B2C stand-in, which refuses the others) Jane's user-flow token. A misspelt
   * preset, or a preset with `rawPayload` (which would replace its claims), is a TypeError.
   */
  mint(claims?: Record<string, unknown>, options?: EntraMintOptions): string
  /**
   * What `new EntraIdProvider(...)` needs to verify this tenant's v2.0 tokens in memory (the `v2`
   * and `app` presets); with `authorityHost` when the stand-in's host is not the public cloud's.
   * v1.0 tokens (the `v1` preset) take `{ ...tenant.providerOptions, acceptV1: true }`: the
   * provider refuses them by default. `audience` already names both forms, the client id (v2.0)
   * and the App ID URI (v1.0), as an API accepting both configures it. A B2C stand-in's also
   * carry `b2c: { tenantName, policies: [B2C_POLICY] }`: a B2C provider, for the `b2c` preset.
   */
  readonly providerOptions: {
    tenantId: string
    audience: readonly string[]
    fetch: typeof fetch
    authorityHost?: string
    b2c?: { tenantName: string; policies: readonly string[] }
  }
  /** The context of a token of `tid` (default the issuer's). */
  context(tid?: string, audience?: string): EntraTokenContext
  /** The `issuer` the keys endpoints publish: `undefined` derives it, `null` omits it. */
  setKeyIssuer(issuer: string | null | undefined): void
  /**
   * Serves an app's own key set at `…/keys?appid={appId}` (unless `idp.setJwks` replaces it), as
   * it is when given; undefined serves the tenant's keys there again. Anything but a key set
   * (`{ keys: [...] }` of objects JSON can encode) is a TypeError, null included: a malformed set
   * is `idp.setJwks`'s to serve.
   */
  setAppKeys(appId: string, jwks: { keys: Record<string, unknown>[] } | undefined): void
  close(): Promise<void>
}

/**
 * Starts an Entra stand-in for tenant `tid` (or `tenantId`: a lower-case GUID; anything else, or
 * an option of another name, is a TypeError naming it) at `host`, read as the provider reads
 * `authorityHost`: a host name or an https origin, lower-cased, without a default port (default `login.microsoftonline.com`, or `{b2cTenantName}.b2clogin.com`
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
export async function createEntraIssuer(options: EntraIssuerInit = {}): Promise<EntraTestIssuer> {
  checkMembers('createEntraIssuer', options, INIT_RULES)
  const { b2cTenantName, allowInProduction } = options
  const tid = tenantOf(options)
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
    // A B2C stand-in's tokens carry its user flows' issuer, trailing slash included.
    issuer: b2cTenantName === undefined ? v2Issuer(tid, host) : b2cIssuer(host, tid),
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
    // The API's both forms are one app, whose users keep one pairwise sub.
    ...(audience === CLIENT_ID || audience === APP_ID_URI ? { appId: CLIENT_ID } : {}),
    clientApp: CLIENT_APP,
    now: Math.floor(Date.now() / 1000),
    host,
    ...(lifetimeSec === undefined ? {} : { lifetimeSec }),
  })
  const b2cContext = (life?: number) => ({ ...context(tid, CLIENT_ID, life), host })
  const presets = {
    v2: (life?: number) => v2AccessTokenClaims(context(tid, CLIENT_ID, life), JANE),
    v1: (life?: number) => v1AccessTokenClaims(context(tid, APP_ID_URI, life), JANE),
    app: (life?: number) => appOnlyTokenClaims(context(tid, CLIENT_ID, life)),
    b2c: (life?: number) => b2cAccessTokenClaims(b2cContext(life), JANE, B2C_POLICY),
  }
  const mint = (claims: Record<string, unknown> = {}, mintOptions: EntraMintOptions = {}) => {
    checkClaims('mint', claims)
    const { preset, ...rest } = mintOptions
    if (preset !== undefined && !Object.hasOwn(presets, preset)) {
      const shapes = b2cTenantName === undefined ? "'v2', 'v1' or 'app'" : "'b2c' (a B2C stand-in)"
      throw new TypeError(`mint: preset must be ${shapes}, got ${show(preset)}`)
    }
    if (preset !== undefined) {
      checkShape(`mint: preset ${show(preset)}`, preset === 'b2c')
      refuseRawPayload(`mint: preset ${show(preset)}`, rest)
    }
    const base = preset === undefined ? {} : presets[preset](rest.expiresInSec)
    return raw({ ...base, ...claims }, rest)
  }
  // Entra's header repeats the kid as x5t in v1.0 tokens only, a legacy of v1.0; B2C's say ver
  // 1.0 but have none either. A raw payload replaces the claims, the jti removal included.
  const raw = (claims: Record<string, unknown>, mintOptions: MintOptions = {}): string => {
    const legacy = claims['ver'] === '1.0' && b2cTenantName === undefined
    const kid = legacy ? headerKid(mintOptions, idp.jwks().keys[0]?.['kid']) : undefined
    const x5t = kid === undefined || kid === null ? {} : { x5t: kid }
    const signed = mintOptions.rawPayload === undefined ? { jti: undefined, ...claims } : claims
    return idp.mint(signed, { ...mintOptions, header: { ...x5t, ...mintOptions.header } })
  }
  // A B2C tenant issues user-flow tokens only, and only a B2C tenant issues them.
  const checkShape = (what: string, b2c: boolean): void => {
    if (b2cTenantName !== undefined && !b2c) {
      throw new TypeError(
        `${what} mints an Entra ID token, which no B2C tenant issues (nor its provider accepts); a B2C stand-in mints user-flow tokens: preset 'b2c' or b2c()`,
      )
    }
    if (b2cTenantName === undefined && b2c) {
      throw new TypeError(
        `${what} mints a B2C user-flow token, which needs a B2C stand-in: give b2cTenantName`,
      )
    }
  }

  // The issuer's own key URLs serve Entra's key shape too, under the multi-tenant template.
  const ownKeys = new Set([idp.jwksUri, `${idp.issuer.replace(/\/$/, '')}/.well-known/jwks.json`])
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
      ...(b2cTenantName === undefined
        ? {}
        : { b2c: { tenantName: b2cTenantName, policies: [B2C_POLICY] } }),
    },
    // Each builds the claims, which a raw payload would replace unseen.
    v2: (user = JANE, overrides = {}, mintOptions = {}) => {
      checkShape('v2()', false)
      refuseRawPayload('v2()', mintOptions)
      refuseOptionsAsClaims('v2()', overrides, MINT_OPTION_NAMES)
      const claims = v2AccessTokenClaims(context(tid, CLIENT_ID, mintOptions.expiresInSec), user)
      return mint({ ...claims, ...overrides }, mintOptions)
    },
    v1: (user = JANE, overrides = {}, mintOptions = {}) => {
      checkShape('v1()', false)
      refuseRawPayload('v1()', mintOptions)
      refuseOptionsAsClaims('v1()', overrides, MINT_OPTION_NAMES)
      const claims = v1AccessTokenClaims(context(tid, APP_ID_URI, mintOptions.expiresInSec), user)
      return mint({ ...claims, ...overrides }, mintOptions)
    },
    app: (appOptions, overrides = {}, mintOptions = {}) => {
      checkShape('app()', false)
      refuseRawPayload('app()', mintOptions)
      refuseOptionsAsClaims('app()', overrides, MINT_OPTION_NAMES)
      const claims = appOnlyTokenClaims(
        context(tid, CLIENT_ID, mintOptions.expiresInSec),
        appOptions,
      )
      return mint({ ...claims, ...overrides }, mintOptions)
    },
    b2c: (user = JANE, overrides = {}, mintOptions = {}) => {
      checkShape('b2c()', true)
      refuseRawPayload('b2c()', mintOptions)
      refuseOptionsAsClaims('b2c()', overrides, MINT_OPTION_NAMES)
      const claims = b2cAccessTokenClaims(b2cContext(mintOptions.expiresInSec), user, B2C_POLICY)
      return mint({ ...claims, ...overrides }, mintOptions)
    },
    setKeyIssuer: (issuer) => {
      site.keyIssuer = issuer
    },
    setAppKeys: (appId, jwks) => {
      const keys = checkAppKeys(appId, jwks)
      if (keys === undefined) site.appKeys.delete(appId)
      else site.appKeys.set(appId, keys)
    },
    close: () => idp.close(),
  }
}

/**
 * The `kid` a token's header ends up with, which Entra's v1.0 `x5t` repeats: `header.kid` when
 * given (undefined removes it), else the `kid` option (null omits it), else the current key's.
 * Taken from the current key alone, a kid override gave a header real Entra never issues.
 */
function headerKid(options: MintOptions, current: unknown): unknown {
  const { header } = options
  // Not an object: the issuer's mint refuses it, with its own message.
  if (typeof header === 'object' && header !== null && Object.hasOwn(header, 'kid')) {
    return header['kid']
  }
  return options.kid === undefined ? current : options.kid
}

/**
 * `setAppKeys`'s arguments checked: an app id, and a key set (its JSON read back, so what is served
 * is what was checked) or undefined. Kept as given, a BigInt in a key failed every later fetch of
 * the app's keys as an outage would, and null served the tenant's keys.
 */
function checkAppKeys(
  appId: unknown,
  jwks: unknown,
): { keys: Record<string, unknown>[] } | undefined {
  if (typeof appId !== 'string' || appId === '') {
    throw new TypeError(`setAppKeys: appId must be a non-empty string, got ${show(appId)}`)
  }
  if (jwks === undefined) return undefined
  const keys: unknown = isRecord(jwks) ? (jwks as { keys?: unknown }).keys : undefined
  if (!Array.isArray(keys) || !keys.every(isRecord)) {
    throw new TypeError(
      `setAppKeys: jwks must be a key set, { keys: [...] } of JWK objects, or undefined (the tenant's keys again), got ${show(jwks)}`,
    )
  }
  const text = toJson('setAppKeys: jwks', 'a key set JSON can encode', jwks)
  if (text === undefined) throw new TypeError('setAppKeys: jwks has no JSON (its toJSON said so)')
  return JSON.parse(text) as { keys: Record<string, unknown>[] }
}

/** The tenant id given as `tid` or `tenantId` (default {@link TENANT}), checked under that name. */
function tenantOf(options: EntraIssuerInit): string {
  const { tid, tenantId } = options
  if (tid !== undefined && tenantId !== undefined) {
    throw new TypeError('createEntraIssuer: give the tenant as tid or as tenantId, not both')
  }
  const name = tenantId === undefined ? 'tid' : 'tenantId'
  const value: unknown = tenantId ?? tid ?? TENANT
  if (typeof value === 'string' && TENANT_ID.test(value)) return value
  throw optionError(
    name,
    'a tenant id as Entra writes it, a lower-case GUID such as "72f988bf-86f1-41af-91ab-2d7cd011db47"',
    value,
  )
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

// EntraIdProvider's options resolved into one frozen configuration, or every problem found.

import {
  checkLogger,
  checkOptionNames,
  checkTimeout,
  showUrl,
  type OptionFlags,
  type Problems,
} from '../../src/spi.js'
import {
  Authority,
  CONSUMER_TENANT_ID,
  isTenantId,
  issuerHostOf,
  namesGraph,
  PUBLIC_AUTHORITY_HOST,
  type MultiTenant,
  type TokenVersion,
} from './authority.js'
import { checkOverageResolver } from './groups.js'
import type { B2cOptions, EntraIdProviderOptions, TenantPredicate } from './options.js'

/** Which tenants a provider accepts, resolved. */
export type TenantRule =
  | { readonly kind: 'one'; readonly tid: string }
  | { readonly kind: 'list'; readonly tids: ReadonlySet<string>; readonly personal: boolean }
  | { readonly kind: 'any'; readonly personal: boolean }
  | { readonly kind: 'predicate'; readonly allows: TenantPredicate; readonly personal: boolean }

/** Everything an `EntraIdProvider` checks, resolved once. */
export interface EntraConfig {
  readonly authority: Authority
  /** The tenant as discovery URLs name it: a GUID or a pseudo-tenant. */
  readonly tenant: string
  readonly tenants: TenantRule
  readonly versions: ReadonlySet<TokenVersion>
  readonly audience: readonly string[]
  readonly allowGuestUsers: boolean
  readonly allowedClientApps: ReadonlySet<string> | undefined
  readonly requireScopeOrRole: boolean
  readonly idClaim: 'oid' | 'sub'
  readonly appId: string | undefined
  /** B2C: policies by their lower-case name. */
  readonly policies: ReadonlyMap<string, string> | undefined
  readonly b2cTenantName: string | undefined
  readonly tenantCheckTimeoutMs: number
}

const ENV = 'AUTH_PROVIDER_AZURE_ENTRA_ID'

// Every option, checked by name: a misspelt one is quietly left at its default, often the open
// one (`allowedClientApp` would accept every client application).
const OPTION_NAMES = Object.keys({
  // Entra's own.
  tenantId: true,
  audience: true,
  allowedTenants: true,
  tenantCheckTimeoutMs: true,
  authorityHost: true,
  acceptV1: true,
  acceptV2: true,
  jwksUri: true,
  appSigningKeys: true,
  allowGuestUsers: true,
  allowedClientApps: true,
  requireScopeOrRole: true,
  idClaim: true,
  groupOverageResolver: true,
  b2c: true,
  discoveryTimeoutMs: true,
  logger: true,
  // Those of every key-set provider, but `typ`, which Entra's options leave out.
  algorithms: true,
  clockToleranceSec: true,
  maxTokenAgeSec: true,
  maxTokenLifetimeSec: true,
  requiredClaims: true,
  maxTokenLength: true,
  jwksCache: true,
  fetch: true,
  name: true,
} as const satisfies OptionFlags<EntraIdProviderOptions>)
const B2C_OPTION_NAMES = Object.keys({
  tenantName: true,
  policies: true,
} as const satisfies OptionFlags<B2cOptions>)
const MULTI: readonly string[] = ['organizations', 'common'] satisfies MultiTenant[]
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])
const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/

/** An option's value as a message shows it; never throws (a BigInt, a cycle). */
export function show(value: unknown): string {
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'bigint') return `${value}n`
  try {
    return String(JSON.stringify(value))
  } catch {
    return `a ${typeof value}`
  }
}

/** An authority host as a message shows it: quoted, any user information, query or fragment hidden. */
function showHost(value: unknown): string {
  return typeof value === 'string' ? showUrl(value) : show(value)
}

/**
 * The origin an authority host names (a host name, or an https origin without a path), or what is
 * wrong with it: the words that follow the setting's name in a `ConfigError`. `buildsIssuers` says
 * whether v2 issuers or discovery are built from the host, which a public-cloud alias cannot serve.
 */
export function parseAuthorityHost(
  value: unknown,
  buildsIssuers: boolean,
): { readonly origin: string } | { readonly problem: string } {
  let url: URL | undefined
  try {
    if (typeof value === 'string') {
      url = new URL(HOST.test(value.toLowerCase()) ? `https://${value}` : value)
    }
  } catch {
    url = undefined
  }
  // Said without the value: it holds a password, and ConfigErrors end up in logs.
  if (url !== undefined && (url.username !== '' || url.password !== '')) {
    return { problem: 'must not carry credentials' }
  }
  // Plain http only on loopback, for local stand-ins; a real authority is always https.
  const secure =
    url?.protocol === 'https:' || (url?.protocol === 'http:' && LOOPBACK.has(url.hostname))
  const bare = url?.pathname === '/' && url.search === '' && url.hash === ''
  if (url === undefined || !secure || !bare) {
    return {
      problem: `must be a host name such as login.microsoftonline.us (or an https origin, without a path), got ${showHost(value)}`,
    }
  }
  // Refused rather than mapped: mapping would fetch discovery from a host the user did not name.
  // v1 issuers name sts.windows.net whatever the host, so a v1-only provider with its own jwksUri
  // builds nothing from it, and may keep the alias it has always used.
  const issuerHost = issuerHostOf(url.hostname)
  if (issuerHost !== undefined && buildsIssuers) {
    return {
      problem: `must not be ${url.hostname}, an alias of ${issuerHost}: Entra's tokens and discovery documents name ${issuerHost} whatever host the client used, so v2 issuers and discovery built from the alias would match no token; use ${issuerHost}`,
    }
  }
  return { origin: url.origin }
}

function resolveAuthority(problems: Problems, value: unknown, buildsIssuers: boolean): Authority {
  const parsed = parseAuthorityHost(value ?? PUBLIC_AUTHORITY_HOST, buildsIssuers)
  if ('origin' in parsed) return new Authority(parsed.origin)
  problems.add(`authorityHost (${ENV}_AUTHORITY_HOST) ${parsed.problem}`)
  return new Authority(`https://${PUBLIC_AUTHORITY_HOST}`)
}

/**
 * External ID (`*.ciamlogin.com`) tenants are single-tenant: their apps take only their own
 * directory's accounts, and their issuer names the tenant in its host, which no multi-tenant key
 * set or discovery document can match. `organizations` or `common` there would refuse every token.
 */
function checkSingleTenantAuthority(problems: Problems, authority: Authority, tenant: string) {
  if (!authority.ciam || !MULTI.includes(tenant)) return
  problems.add(
    `tenantId (${ENV}_TENANT_ID) ${tenant} cannot be used with the External ID authority ${authority.host}: External ID tenants are single-tenant, so give the tenant's own id (a GUID)`,
  )
}

function resolveTenant(problems: Problems, value: unknown): string {
  const tenant = typeof value === 'string' ? value.trim().toLowerCase() : ''
  if (tenant === 'consumers') return CONSUMER_TENANT_ID
  if (isTenantId(tenant) || MULTI.includes(tenant)) return tenant
  problems.add(
    `tenantId (${ENV}_TENANT_ID) must be the directory (tenant) ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47, or organizations, common or consumers for a multi-tenant app; got ${show(value)}`,
  )
  return '00000000-0000-0000-0000-000000000000'
}

function resolveTenants(problems: Problems, tenant: string, value: unknown): TenantRule {
  const name = `allowedTenants (${ENV}_ALLOWED_TENANTS)`
  if (!MULTI.includes(tenant)) {
    if (value !== undefined) {
      problems.add(
        `${name} is for multi-tenant apps (tenantId organizations or common): a tenant id as tenantId accepts that tenant only`,
      )
    }
    return { kind: 'one', tid: tenant }
  }
  // `organizations` never accepts personal accounts, whatever the list says (ENT-15).
  const personal = tenant === 'common'
  if (value === '*') return { kind: 'any', personal }
  if (typeof value === 'function') {
    return { kind: 'predicate', allows: value as TenantPredicate, personal }
  }
  if (Array.isArray(value) && value.length > 0 && value.every(isTenantIdLoose)) {
    const tids = new Set(value.map((tid: string) => tid.toLowerCase()))
    if (!personal && tids.has(CONSUMER_TENANT_ID)) {
      problems.add(
        `${name} lists the personal-accounts tenant, which tenantId organizations never accepts: use common`,
      )
    }
    return { kind: 'list', tids, personal }
  }
  problems.add(
    value === undefined
      ? `${name} is required with tenantId ${tenant}: the tenant ids whose tokens are accepted, an async predicate, or '*' for every tenant (deliberately)`
      : `${name} must be a non-empty list of tenant ids (GUIDs), a function, or '*'; got ${show(value)}`,
  )
  return { kind: 'list', tids: new Set(), personal }
}

function isTenantIdLoose(value: unknown): boolean {
  return typeof value === 'string' && isTenantId(value.toLowerCase())
}

/**
 * A GUID (client id, app id) in the lower case Entra writes in `aud`, `azp` and `appid`: GUIDs
 * are case-insensitive, token claims are compared exactly, and the portal lets one copy a client
 * id in either case. Anything else (an App ID URI) is kept as given: its case is the registration's.
 */
function normaliseGuid<T>(value: T): T {
  if (typeof value !== 'string') return value // Reported by the option's own check.
  const lower = value.toLowerCase()
  return (isTenantId(lower) ? lower : value) as T
}

/**
 * The items of a list of identifiers (audiences, client ids), trimmed, GUIDs in lower case; or
 * `undefined` when it is empty or an item is not a string, is blank or holds white space. Tokens
 * carry identifiers exactly: a space pasted with a client id would refuse every token.
 */
function identifiers(list: unknown): string[] | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined
  const items = list.map((item: unknown) => (typeof item === 'string' ? item.trim() : ''))
  if (!items.every((item) => item !== '' && !/\s/.test(item))) return undefined
  return items.map(normaliseGuid)
}

function resolveAudiences(problems: Problems, value: unknown): readonly string[] {
  const name = `audience (${ENV}_AUDIENCE_ID)`
  // `null` opts out of the audience check elsewhere; here it is refused, and said so once.
  if (value === null) {
    problems.add(
      `${name} cannot be null for Entra ID: it would accept tokens minted for any app of the tenant`,
    )
    return []
  }
  const list = identifiers(typeof value === 'string' ? [value] : value)
  if (list === undefined) {
    problems.add(
      value === undefined
        ? `${name} is required: the API's application (client) ID and/or App ID URI (api://…) as the tokens' aud carries them`
        : `${name} must be a non-empty string or list of strings (client ids or App ID URIs, without spaces), got ${show(value)}`,
    )
    return []
  }
  const audiences = new Set<string>(list)
  if (namesGraph([...audiences])) {
    problems.add(
      `${name} names Microsoft Graph: Graph tokens are for Graph, never for your API; give your API's client id or App ID URI`,
    )
  }
  // A client id alone also stands for its default App ID URI, which v1 tokens carry.
  for (const item of [...audiences]) {
    if (isTenantId(item)) audiences.add(`api://${item}`)
  }
  return Object.freeze([...audiences])
}

function resolveVersions(problems: Problems, options: EntraIdProviderOptions): Set<TokenVersion> {
  const versions = new Set<TokenVersion>()
  for (const [name, version, fallback] of [
    ['acceptV1', '1.0', false],
    ['acceptV2', '2.0', true],
  ] as const) {
    const value = options[name]
    if (value !== undefined && typeof value !== 'boolean') {
      problems.add(`${name} must be true or false, got ${show(value)}`)
    }
    if (value ?? fallback) versions.add(version)
  }
  if (versions.size === 0) {
    problems.add(
      `acceptV1 and acceptV2 are both false (${ENV}_TOKEN_VERSIONS): no token could pass`,
    )
  }
  return versions
}

function resolveB2c(
  problems: Problems,
  b2c: B2cOptions | undefined,
  tenant: string,
): ReadonlyMap<string, string> | undefined {
  if (b2c === undefined) return undefined
  checkOptionNames(problems, 'b2c', b2c, B2C_OPTION_NAMES)
  if (typeof b2c?.tenantName !== 'string' || !/^[a-z0-9-]+$/i.test(b2c.tenantName)) {
    problems.add(
      `b2c.tenantName (${ENV}_B2C_TENANT_NAME) must be the B2C tenant's name, e.g. contoso for contoso.onmicrosoft.com`,
    )
  }
  const policies = b2c?.policies
  if (
    !Array.isArray(policies) ||
    policies.length === 0 ||
    !policies.every((p) => typeof p === 'string' && /^[A-Za-z0-9_-]+$/.test(p))
  ) {
    problems.add(
      `b2c.policies (${ENV}_B2C_POLICIES) must list the user flows or custom policies accepted, e.g. B2C_1_signupsignin`,
    )
  }
  if (!isTenantId(tenant)) {
    problems.add(`tenantId (${ENV}_TENANT_ID) must be the B2C tenant's id (a GUID) with b2c`)
  }
  return new Map((Array.isArray(policies) ? policies : []).map((p) => [String(p).toLowerCase(), p]))
}

function resolveAppId(
  problems: Problems,
  value: unknown,
  audience: readonly string[],
): string | undefined {
  if (value === undefined || value === false) return undefined
  const given = value === true ? audience.find((item) => isTenantId(item)) : value
  const appId = typeof given === 'string' ? normaliseGuid(given.trim()) : given
  if (isTenantId(appId)) return appId
  problems.add(
    value === true
      ? `appSigningKeys (${ENV}_APP_SIGNING_KEYS) needs the application (client) ID in audience, or the app id as its value`
      : `appSigningKeys must be true, false or an application (client) ID, got ${show(value)}`,
  )
  return undefined
}

function checkOptions(problems: Problems, options: EntraIdProviderOptions): void {
  checkOptionNames(problems, 'EntraIdProvider', options, OPTION_NAMES)
  for (const name of ['allowGuestUsers', 'requireScopeOrRole'] as const) {
    const value = options[name]
    if (value !== undefined && typeof value !== 'boolean') {
      problems.add(`${name} must be true or false, got ${show(value)}`)
    }
  }
  const { idClaim, groupOverageResolver: resolver } = options
  if (idClaim !== undefined && idClaim !== 'oid' && idClaim !== 'sub') {
    problems.add(`idClaim (${ENV}_ID_CLAIM) must be oid or sub, got ${show(idClaim)}`)
  }
  checkOverageResolver(problems, 'groupOverageResolver', resolver)
  // Checked here, not when discovery first fails: a logger that throws there would turn the
  // outage's 503 into a 401.
  checkLogger(problems, 'logger', options.logger)
}

/**
 * The two time-outs. Each bounds a step that some configurations never take; given there, it
 * would do nothing, and whoever set it would learn so in an incident: refused.
 */
function checkTimeouts(
  problems: Problems,
  options: EntraIdProviderOptions,
  tenants: TenantRule,
): void {
  const { tenantCheckTimeoutMs, discoveryTimeoutMs } = options
  if (tenantCheckTimeoutMs !== undefined && tenants.kind !== 'predicate') {
    problems.add(
      'tenantCheckTimeoutMs bounds an allowedTenants predicate, and this configuration has none: remove it',
    )
  } else checkTimeout(problems, 'tenantCheckTimeoutMs', tenantCheckTimeoutMs)
  if (discoveryTimeoutMs !== undefined && options.jwksUri !== undefined) {
    problems.add(
      "discoveryTimeoutMs bounds discovery, which jwksUri skips: remove it (the key cache's timeoutMs bounds the key fetch)",
    )
  } else checkTimeout(problems, 'discoveryTimeoutMs', discoveryTimeoutMs)
}

function resolveClientApps(problems: Problems, value: unknown): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined
  const apps = identifiers(value)
  if (apps === undefined) {
    problems.add(
      `allowedClientApps (${ENV}_ALLOWED_CLIENT_APPS) must be a non-empty list of application (client) IDs, each without spaces; got ${show(value)}`,
    )
  }
  return new Set(apps)
}

/** Resolves and checks every option, adding each problem to `problems`. */
export function resolveEntraConfig(
  problems: Problems,
  options: EntraIdProviderOptions,
): EntraConfig {
  checkOptions(problems, options)
  const tenant = resolveTenant(problems, options.tenantId)
  const b2cTenantName = options.b2c?.tenantName
  // A B2C host is derived from a tenant name only: a missing or empty one is b2c.tenantName's
  // problem, reported once, not a second time as an empty authorityHost.
  const b2cHost =
    typeof b2cTenantName === 'string' && b2cTenantName !== ''
      ? `${b2cTenantName}.b2clogin.com`
      : undefined
  // acceptV2 is checked with the versions below; anything but false accepts v2 tokens here too.
  const buildsIssuers = options.acceptV2 !== false || options.jwksUri === undefined
  const authority = resolveAuthority(problems, options.authorityHost ?? b2cHost, buildsIssuers)
  checkSingleTenantAuthority(problems, authority, tenant)
  const versions = resolveVersions(problems, options)
  const policies = resolveB2c(problems, options.b2c, tenant)
  if (policies !== undefined && versions.has('1.0')) {
    problems.add(
      `acceptV1 (1.0 in ${ENV}_TOKEN_VERSIONS) does not apply to B2C: its user flows issue one token format`,
    )
  }
  const audience = resolveAudiences(problems, options.audience)
  const tenants = resolveTenants(problems, tenant, options.allowedTenants)
  checkTimeouts(problems, options, tenants)
  return Object.freeze({
    authority,
    tenant,
    tenants,
    versions,
    audience,
    allowGuestUsers: options.allowGuestUsers ?? false,
    allowedClientApps: resolveClientApps(problems, options.allowedClientApps),
    requireScopeOrRole: options.requireScopeOrRole ?? true,
    idClaim: options.idClaim ?? (policies === undefined ? 'oid' : 'sub'),
    appId: resolveAppId(problems, options.appSigningKeys, audience),
    policies,
    b2cTenantName,
    tenantCheckTimeoutMs: options.tenantCheckTimeoutMs ?? 5_000,
  })
}

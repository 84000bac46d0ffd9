// EntraIdProvider: Microsoft Entra ID access tokens, single- or multi-tenant, v1 and v2, and B2C.

import {
  isJsonObject,
  checkUrl,
  InvalidTokenError,
  isProduction,
  neverThrows,
  Problems,
  silentLogger,
  verifyJwt,
  type JwksCache,
  type JwtClaims,
  type JwtProvider,
  type KeySource,
  type Logger,
  type ParsedJwt,
  type ProviderHealth,
  type UserIdentity,
  type UserSources,
  type VerifiedToken,
} from '../../src/spi.js'
import { KeySetProvider, resolvePolicy } from '../jwks/jwks-provider.js'
import { resolveJwksCache } from '../jwks/provider-cache.js'
import { namesGraph, TENANT_TEMPLATE } from './authority.js'
import { checkGraphCloud } from './graph.js'
import { EntraGroupsProvider, EntraRolesProvider } from './groups.js'
import { entraDiscovery, KeyLocation, type SigningKey } from './keys.js'
import { resolveEntraConfig, type EntraConfig } from './config.js'
import type { EntraIdProviderOptions } from './options.js'
import {
  answersFor,
  fixedIssuers,
  isOpen,
  issuerConflict,
  refusedIssuers,
  versionAliases,
  takesOpenIssuer,
} from './routing.js'
import { TenantCheck } from './tenant-check.js'
import {
  checkEntraClaims,
  entraIdentity,
  graphToken,
  policyOf,
  versionRefused,
} from './token-rules.js'

const JWKS_URI_OPTION = 'jwksUri (AUTH_PROVIDER_AZURE_ENTRA_ID_JWKS_URI)'

/** The key sets: a configured URI, the tenant's discovery, or one discovery per B2C user flow. */
function keyLocations(
  config: EntraConfig,
  options: EntraIdProviderOptions,
  cache: JwksCache,
  logger: Logger,
): Map<string, KeyLocation> {
  const { authority, tenant, appId, policies } = config
  if (options.jwksUri !== undefined) {
    return new Map([['', new KeyLocation(cache, { jwksUri: options.jwksUri }, appId)]])
  }
  // Discovery goes the way the keys go: through the cache's fetch (a proxy; a provider's own fetch
  // gives it its own cache), within the cache's time-out unless told otherwise, and logged where
  // a failing key set is.
  const keyFetch = cache.fetchOptions
  const settings = {
    fetch: keyFetch.fetch,
    timeoutMs: options.discoveryTimeoutMs ?? keyFetch.timeoutMs,
    production: isProduction(),
    logger,
  }
  const discovered = (base: string, issuer: string) =>
    new KeyLocation(cache, { discovery: entraDiscovery(base, issuer, settings) }, appId)
  if (policies !== undefined) {
    const domain = `${config.b2cTenantName}.onmicrosoft.com`
    return new Map(
      [...policies].map(([key, policy]) => [
        key,
        discovered(`${authority.origin}/${domain}/${policy}/v2.0`, authority.b2cIssuer(tenant)),
      ]),
    )
  }
  // Multi-tenant documents name the template itself as their issuer.
  const expected =
    config.tenants.kind === 'one'
      ? authority.v2Issuer(tenant)
      : `${authority.origin}/${TENANT_TEMPLATE}/v2.0`
  return new Map([['', discovered(authority.discoveryBase(tenant), expected)]])
}

/** The unverified payload, only to route a token to its key set or refuse a Graph token early. */
function peekPayload(
  token: string,
  parsed: ParsedJwt | undefined,
  maxLength: number,
): JwtClaims | undefined {
  if (parsed !== undefined) return parsed.payload
  // Oversized tokens are refused by the verifier before any decoding; never decode them here.
  if (token.length > maxLength) return undefined
  const segment = token.split('.', 3)[1]
  if (segment === undefined) return undefined
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return isJsonObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * Verifies Microsoft Entra ID access tokens for your API: RS256 signature against the tenant's
 * keys (JWKs without `alg`; a key's `issuer`, when published, must match the token's), `exp`,
 * `nbf`, the issuer `https://login.microsoftonline.com/{tid}/v2.0` (and `https://sts.windows.net/{tid}/`
 * with `acceptV1`) with the token's own `tid` substituted, the tenant (one, an allow-list, a
 * predicate, or deliberately any), `ver`, the audience (client id or App ID URI; Graph tokens are
 * refused by name), and that the token is an access token (`scp` or `roles`). Guests are refused
 * unless `allowGuestUsers`. Users get `id` = `oid`, `name`, `email`, `scopes` from `scp`,
 * `clientId` from `azp`/`appid`, and `isM2M` for app-only tokens; roles default to the `roles`
 * claim and groups to `groups` (an overflowing token goes to `groupOverageResolver`, else 403).
 * A subclass may override `checkClaims(claims)`, sync or async, to add checks of its own (throw,
 * or reject with, `InvalidTokenError` to refuse); it runs after all of Entra's rules, which always
 * run.
 *
 * @example
 * // Single tenant: tokens of your own directory only.
 * const provider = new EntraIdProvider({
 *   tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
 *   audience: ['6e74172b-be56-4843-9ff4-e66a39bb12e3', 'api://orders'],
 * })
 * app.use(jwtAuth({ provider }))
 * app.post('/orders', requireScopes(['Orders.Write']), handler)
 *
 * @example
 * // Multi-tenant: your customers' tenants, kept in a database.
 * const provider = new EntraIdProvider({
 *   tenantId: 'organizations',
 *   audience: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
 *   allowedTenants: async (tid) => customers.isActive(tid),
 * })
 *
 * @remarks **Security:** `allowedTenants: '*'` accepts tokens of every Entra tenant, including one
 * anybody can create; something else (app roles, your customer records) must then decide. Tokens
 * are verified offline: a disabled user's token is accepted until it expires.
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every invalid option.
 * @throws per token (from `verifyToken`, 401): `ERR_AUTH_ISSUER_MISMATCH` (tenant not allowed,
 *   `iss`/`tid` disagreement, key issuer), `ERR_AUTH_AUDIENCE_MISMATCH` (including Graph tokens),
 *   `ERR_AUTH_TOKEN_TYPE_INVALID` (a version not accepted, no `scp`/`roles`), `ERR_AUTH_CLAIM_INVALID`
 *   (`tid`, `ver`, `oid`, `tfp`), `ERR_AUTH_TOKEN_REJECTED` (guest, client app, B2C policy), and the
 *   core's signature and time checks; 503 `ERR_AUTH_KEYS_UNAVAILABLE` when discovery or keys
 *   cannot be had, `ERR_AUTH_SOURCE_UNAVAILABLE` when an `allowedTenants` predicate fails.
 */
export class EntraIdProvider extends KeySetProvider {
  /** The tenant as configured: a GUID, `organizations` or `common`. */
  readonly tenantId: string
  /** The authority's origin: `https://login.microsoftonline.com`. */
  readonly authority: string
  /** The accepted audiences, `api://{clientId}` included when derived. */
  readonly audience: readonly string[]
  readonly defaultSources: UserSources
  /** Its named tenants' issuers in a version it does not accept: routed here to be refused. */
  readonly refusedIssuers: readonly string[]
  /**
   * With v1.0 and v2.0 both accepted, each named tenant's two issuers: one user's tokens may carry
   * either, so `forgetUser` and a subject revocation under one cover both. Absent otherwise.
   */
  readonly issuerAliases?: readonly (readonly string[])[]
  readonly #config: EntraConfig
  /** Whether tenants it does not name are taken (`'*'`, a predicate): routed by template. */
  readonly #open: boolean
  /** The issuers it takes by name: its tenant's, its listed tenants', its user flows'. */
  readonly #exact: ReadonlySet<string>
  readonly #locations: ReadonlyMap<string, KeyLocation>
  readonly #primary: KeyLocation
  /** The `allowedTenants` predicate, when one decides. */
  readonly #tenantCheck: TenantCheck | undefined

  constructor(options: EntraIdProviderOptions) {
    const problems = new Problems()
    const given = options ?? ({} as EntraIdProviderOptions)
    const config = resolveEntraConfig(problems, given)
    checkGraphCloud(problems, new URL(config.authority.origin).hostname, given.groupOverageResolver)
    if (given.jwksUri !== undefined) {
      checkUrl(problems, JWKS_URI_OPTION, given.jwksUri, isProduction())
    }
    const policy = resolvePolicy(problems, (iss) => answersFor(iss, config), {
      ...given,
      audience: config.audience.length > 0 ? config.audience : null,
      // Entra signs with RS256 only.
      algorithms: given.algorithms ?? ['RS256'],
    })
    problems.throwIfAny()
    const cache = resolveJwksCache(given, given.logger)
    // Where discovery and an allowedTenants predicate's failures go; a throwing logger must not
    // turn a predicate's 503 into a 401.
    const logger = given.logger === false ? silentLogger : neverThrows(given.logger ?? cache.logger)
    const locations = keyLocations(config, given, cache, logger)
    const primary = locations.values().next().value!
    const exact = fixedIssuers(config)
    super(given.name ?? 'entra-id', exact, policy, cache, primary)
    this.tenantId = given.tenantId
    this.authority = config.authority.origin
    this.audience = config.audience
    this.#config = config
    this.#open = isOpen(config)
    this.#exact = new Set(exact)
    this.refusedIssuers = Object.freeze(refusedIssuers(config))
    const aliases = versionAliases(config)
    if (aliases.length > 0) this.issuerAliases = Object.freeze(aliases.map((a) => Object.freeze(a)))
    this.#locations = locations
    this.#primary = primary
    const rule = config.tenants
    this.#tenantCheck =
      rule.kind === 'predicate'
        ? new TenantCheck(rule.allows, config.tenantCheckTimeoutMs, logger)
        : undefined
    this.defaultSources = Object.freeze({
      groups: new EntraGroupsProvider({ overageResolver: given.groupOverageResolver }),
      roles: new EntraRolesProvider(),
    })
  }

  /**
   * Whether this provider takes tokens of `iss`, as far as `iss` tells (the verifier routes by
   * it): one of its exact issuers (either version of a tenant it names), or, with `allowedTenants`
   * `'*'` or a predicate, an issuer of its cloud in a version it accepts. A tenant outside an
   * `allowedTenants` list is not claimed: it may be another provider's.
   */
  claimsIssuer(iss: string): boolean {
    return this.#open ? takesOpenIssuer(iss, this.#config) : this.#exact.has(iss)
  }

  /**
   * Whether `iss` is an Entra issuer of this provider's cloud that it refuses (a tenant it does not
   * take, a version it does not accept): the verifier sends a token no provider claims to the first
   * provider that recognises it, to be refused with the reason rather than "issuer not trusted".
   */
  recognisesIssuer(iss: string): boolean {
    return answersFor(iss, this.#config)
  }

  /**
   * Why this provider and `other` would both claim some issuer, or `undefined`: both naming one
   * tenant, or both taking every tenant of one issuer form. The verifier refuses either at
   * construction: each of those tokens could reach only one of them.
   */
  issuerConflictWith(other: JwtProvider): string | undefined {
    if (!(#config in other)) return undefined
    return issuerConflict(this.#config, other.#config)
  }

  override async verifyToken(token: string, parsed?: ParsedJwt): Promise<VerifiedToken> {
    const peeked = peekPayload(token, parsed, this.policy.maxTokenLength)
    // Graph tokens cannot verify outside Graph (their header carries a nonce): say what they are
    // instead of "signature verification failed". Refusing early reveals nothing.
    if (namesGraph(peeked?.aud)) throw graphToken()
    this.#refuseVersion(peeked)
    const location = this.#locationFor(peeked)
    let used: SigningKey | undefined
    const keys: KeySource = {
      getKey(alg, kid) {
        const found = location.getKey(alg, kid)
        if (!(found instanceof Promise)) return (used = found)
        return found.then((key) => (used = key))
      },
      isCurrent: (key) => location.isCurrent(key),
    }
    const result = verifyJwt(token, parsed, this.policy, keys)
    const verified = result instanceof Promise ? await result : result
    const { claims } = verified
    const version = this.#config.authority.parse(claims.iss ?? '')?.version
    const tid = checkEntraClaims(claims, this.#config, version)
    if (used?.issuer !== undefined) this.#checkKeyIssuer(used.issuer, claims.iss ?? '', tid)
    if (this.#tenantCheck !== undefined) await this.#tenantCheck.check(tid)
    // A subclass's own checks, on a token every Entra rule has passed: they can add refusals,
    // never take one of Entra's away (those are not methods an override could replace). An async
    // override is awaited, so that its rejection refuses the token like a throw; a sync one costs
    // no microtask turn.
    const extra = this.checkClaims(claims)
    if (extra !== undefined) await extra
    return verified
  }

  /**
   * Refuses, before the signature is checked, a token whose `iss` names a version the
   * configuration does not accept (a v1.0 token's `aud` is often the App ID URI, which an API
   * configured with its client id alone would otherwise refuse as an audience mismatch, hiding
   * the reason). Only a refusal is decided on unverified claims, and it is the same 401 the
   * verified token would get: it tells the sender nothing but what its own token says and what
   * the guide documents (v1.0 off unless `acceptV1`). B2C issuers name no version to parse.
   */
  #refuseVersion(peeked: JwtClaims | undefined): void {
    if (this.#config.policies !== undefined || typeof peeked?.iss !== 'string') return
    const version = this.#config.authority.parse(peeked.iss)?.version
    if (version !== undefined && !this.#config.versions.has(version)) throw versionRefused(version)
  }

  /** Runs discovery and fetches the keys of every key set now; rejects while one is unavailable. */
  async hydrate(): Promise<void> {
    await Promise.all([...this.#locations.values()].map((location) => location.hydrate()))
  }

  /**
   * Warms each key set on its own (B2C: one per user flow): only those whose URI is unknown or
   * whose keys are due, so that a broken flow does not refetch the fresh sets at every probe.
   */
  protected override warm(): Promise<void> | undefined {
    const due = [...this.#locations.values()].filter((location) => location.warmUpDue())
    if (due.length === 0) return undefined
    return Promise.all(due.map((location) => location.warmUp())).then(() => undefined)
  }

  /**
   * The primary key set's state, as every key-set provider reports it; with B2C, not ok while any
   * user flow's set cannot serve (its discovery or keys failing), naming each such flow: its
   * tokens would all be 503, which a readiness probe must see.
   */
  override health(): ProviderHealth {
    const report = super.health()
    const { policies } = this.#config
    if (policies === undefined) return report
    const failing = [...this.#locations].flatMap(([key, location]) => {
      const problem = this.#unavailable(location)
      return problem === undefined ? [] : [`user flow ${policies.get(key) ?? key}: ${problem}`]
    })
    return failing.length === 0 ? report : { ...report, ok: false, lastError: failing.join('; ') }
  }

  /** Why a key set cannot verify a token now, or `undefined` when it can. */
  #unavailable(location: KeyLocation): string | undefined {
    const uri = location.known()
    if (uri === undefined) return location.failure() ?? 'keys not located yet'
    const { keyCount, lastError } = this.cache.status(uri)
    if (keyCount === 0) return lastError ?? 'no keys fetched yet'
    if (this.cache.suitableKeyCount(uri, this.policy.algorithms) === 0) {
      return 'none of its keys suits the accepted algorithms'
    }
    return undefined
  }

  protected override currentJwksUri(): string | undefined {
    return this.#primary.known()
  }

  protected override locatingError(): string | undefined {
    return this.#primary.failure()
  }

  protected override identity(claims: JwtClaims): UserIdentity {
    return entraIdentity(claims, this.#config)
  }

  #locationFor(claims: JwtClaims | undefined): KeyLocation {
    if (this.#config.policies === undefined || claims === undefined) return this.#primary
    // A hint only: a token naming another flow is checked against this one's keys, then refused.
    return this.#locations.get(policyOf(claims)?.toLowerCase() ?? '') ?? this.#primary
  }

  /**
   * A key Entra publishes with an `issuer` signs only for that issuer, `{tenantid}` standing for
   * the token's tenant. v1 tokens are signed with keys whose issuer is in the v2 form, so that
   * form of the same tenant holds too (as in Microsoft.IdentityModel's signing-key issuer check).
   * Entra's keys name the cloud's canonical host whatever alias fetched them, so a v1-only
   * provider keeping `login.windows.net` takes that host's v2 form (of the same tenant, same cloud).
   */
  #checkKeyIssuer(keyIssuer: string, iss: string, tid: string): void {
    const effective = keyIssuer.replaceAll(TENANT_TEMPLATE, tid)
    if (effective === iss) return
    const { authority } = this.#config
    if (effective === authority.v2Issuer(tid) || effective === authority.keyV2Issuer(tid)) return
    throw new InvalidTokenError(
      'ERR_AUTH_ISSUER_MISMATCH',
      'signing key is not valid for the token issuer',
    )
  }
}

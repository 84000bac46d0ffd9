// EntraIdProvider's options, as callers write them.

import type { GroupsProvider, Logger, SourceContext, User } from '../../src/spi.js'
import type { TokenCheckOptions } from '../jwks/jwks-provider.js'

/** Decides, for a tenant kept elsewhere (a database), whether its tokens are accepted. */
export type TenantPredicate = (tid: string) => boolean | Promise<boolean>

/**
 * Resolves a user's groups when the token could not carry them all (group overage): a function,
 * or any groups source such as {@link GraphGroupResolver}. It is asked on every request of such a
 * user: nothing caches its answers but itself (see `EntraIdProviderOptions.groupOverageResolver`).
 */
export type GroupOverageResolver =
  | ((user: User, context: SourceContext) => readonly string[] | Promise<readonly string[]>)
  | GroupsProvider

/** Azure AD B2C user flows (or custom policies) whose tokens are accepted. */
export interface B2cOptions {
  /** The B2C tenant's name: `contoso` of `contoso.onmicrosoft.com` (`AUTH_PROVIDER_AZURE_ENTRA_ID_B2C_TENANT_NAME`). */
  tenantName: string
  /**
   * The user flows / custom policies whose tokens are accepted, checked against `tfp` (or `acr`),
   * without regard to case: `B2C_1_signupsignin`, `B2C_1A_SIGNUP_SIGNIN`
   * (`AUTH_PROVIDER_AZURE_ENTRA_ID_B2C_POLICIES`). Each one's keys come from its own discovery.
   */
  policies: readonly string[]
}

/** Options of {@link EntraIdProvider}. */
export interface EntraIdProviderOptions extends Omit<TokenCheckOptions, 'audience' | 'typ'> {
  /**
   * The directory (tenant) ID, a GUID (`AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID`); or, for a
   * multi-tenant app, `'organizations'` (work and school accounts) or `'common'` (those and
   * personal Microsoft accounts) together with `allowedTenants`; or `'consumers'` (personal
   * accounts only). Domain names are not accepted: tokens name tenants by id.
   */
  tenantId: string
  /**
   * The API's identifiers as `aud` carries them: its application (client) ID, which v2 tokens
   * carry, and its App ID URI (`api://…` or custom), which v1 tokens carry
   * (`AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID`, comma-separated). A client id given alone also
   * accepts `api://{clientId}`, the App ID URI Entra proposes by default. Required; never `null`.
   */
  audience: string | readonly string[]
  /**
   * Multi-tenant apps only: which tenants' tokens are accepted
   * (`AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS`). A list of tenant ids; an async predicate
   * for tenants kept in a database (asked once per new token; a tenant it refuses is refused
   * without asking for 60 s, up to 1,000 such tenants, so one just added may wait that long); or
   * `'*'` for every tenant.
   *
   * @remarks **Security:** `'*'` accepts a token from *any* Entra tenant that can get a token
   * for your app, including one an attacker creates for free. Use it only when your own
   * authorization (roles assigned per tenant, a customer database) decides who gets in.
   */
  allowedTenants?: readonly string[] | TenantPredicate | '*'
  /**
   * Longest wait for an `allowedTenants` predicate, in milliseconds (503 past it). Default 5000.
   * Refused without a predicate, where it would do nothing.
   */
  tenantCheckTimeoutMs?: number
  /**
   * The authority: `login.microsoftonline.com` (default), `login.microsoftonline.us` (US
   * Government), `login.partner.microsoftonline.cn` (China), `{tenant}.ciamlogin.com` (External
   * ID), `{tenant}.b2clogin.com` or a custom domain (B2C) (`AUTH_PROVIDER_AZURE_ENTRA_ID_AUTHORITY_HOST`).
   * A host name or an https origin.
   */
  authorityHost?: string
  /** Accept v1.0 tokens (`https://sts.windows.net/{tid}/`). Default `false`. */
  acceptV1?: boolean
  /** Accept v2.0 tokens (`https://login.microsoftonline.com/{tid}/v2.0`). Default `true`. */
  acceptV2?: boolean
  /** Where the keys are, instead of the `jwks_uri` discovery finds (`AUTH_PROVIDER_AZURE_ENTRA_ID_JWKS_URI`). */
  jwksUri?: string
  /**
   * Verify with the application's own signing keys (`?appid=` on the key set URL), for apps with
   * a claims-mapping policy: `true` uses the client id of `audience`, a string names the app id
   * (`AUTH_PROVIDER_AZURE_ENTRA_ID_APP_SIGNING_KEYS`). Default `false`.
   */
  appSigningKeys?: boolean | string
  /**
   * Accept guest (B2B) users: `acct` 1, or an `idp` naming another tenant
   * (`AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOW_GUEST_USERS`). Default `false`: a guest is someone your
   * tenant invited for some purpose, not necessarily for this API; opt in when it should be.
   */
  allowGuestUsers?: boolean
  /**
   * The client applications allowed to call the API, by `azp` (v2) / `appid` (v1)
   * (`AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_CLIENT_APPS`). Default: any client the tenant let get a
   * token for the API.
   */
  allowedClientApps?: readonly string[]
  /**
   * Refuse tokens with neither `scp` nor `roles`: ID tokens, and app-only tokens of clients
   * granted no app role (Microsoft.Identity.Web's IDW10201). Default `true`.
   */
  requireScopeOrRole?: boolean
  /** The claim `user.id` comes from: `'oid'` (default, stable across apps) or `'sub'` (per app). */
  idClaim?: 'oid' | 'sub'
  /**
   * Resolves groups when a token has too many to carry (`_claim_names.groups` / `hasgroups`): a
   * function or a groups source, such as `new GraphGroupResolver({ getGraphToken })`. Without one,
   * such users' groups are refused (403, saying why); never an empty list.
   *
   * **Called on every request** whose token overflows, the same token included: the groups come
   * from the token, so the verifier caches none of them. `GraphGroupResolver` keeps its own cache
   * (per user, five minutes by default); a plain function, or a source without a cache of its own
   * (a SQL query, your own Graph call), reaches its backend on every such request: prefer
   * `GraphGroupResolver`, or cache the answers yourself (and expose `forget`/`clear` on a groups
   * source, which `forgetUser` and `clearSourceCache` then reach).
   */
  groupOverageResolver?: GroupOverageResolver
  /** Azure AD B2C: the tenant's name and the user flows accepted; `tenantId` must be its GUID. */
  b2c?: B2cOptions
  /**
   * Time-out of discovery requests, in milliseconds. Default: the key cache's `timeoutMs` (5000).
   * Refused with `jwksUri`, which skips discovery.
   */
  discoveryTimeoutMs?: number
  /**
   * Where discovery failures, and the start of an `allowedTenants` predicate's failures, are
   * logged: a pino logger, or `false` for none. Default: the key cache's logger, where its fetch
   * failures go.
   */
  logger?: Logger | false
}

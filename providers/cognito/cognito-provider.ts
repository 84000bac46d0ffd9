// CognitoProvider: the access or ID tokens of one Amazon Cognito user pool and its app clients.

import {
  checkUrl,
  InvalidTokenError,
  isProduction,
  Problems,
  splitScope,
  stringClaim,
  User,
  verifyJwt,
  type JwtClaims,
  type OptionFlags,
  type ParsedJwt,
  type UserIdentity,
  type UserSources,
  type VerifiedToken,
} from '../../src/spi.js'
import {
  checkProviderOptionNames,
  KeySetProvider,
  resolvePolicy,
  TOKEN_CHECK_OPTION_NAMES,
  type TokenCheckOptions,
} from '../jwks/jwks-provider.js'
import { resolveJwksCache } from '../jwks/provider-cache.js'
import { CognitoGroupsProvider } from './groups.js'
import {
  formsOf,
  ISSUER_FORMS,
  issuerKeys,
  peekIssuer,
  type CognitoIssuerFormOption,
  type IssuerKeys,
} from './issuer-keys.js'
import { checkCognitoOnly, JWKS_ONLY_OPTIONS, oneOf, resolveClientIds } from './provider-options.js'
import { userPoolRegion } from './user-pool.js'

/** Which tokens a {@link CognitoProvider} accepts, by their `token_use` claim. */
export type CognitoTokenUse = 'access' | 'id' | 'any'

/** Every {@link CognitoTokenUse}, for checking an option or an env var against. */
export const TOKEN_USES: readonly CognitoTokenUse[] = ['access', 'id', 'any']

/** Options of {@link CognitoProvider}. */
export interface CognitoProviderOptions extends Omit<
  TokenCheckOptions,
  'audience' | 'algorithms' | 'typ'
> {
  /** The user pool, `<region>_<id>` (`USER_POOL_ID`); the issuer and the region derive from it. */
  userPoolId: string
  /** The pool's region (`USER_POOL_REGION`). Optional: when given it must match `userPoolId`. */
  region?: string
  /**
   * The app client id(s) whose tokens are accepted (`AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID`):
   * compared with `client_id` in access tokens and with `aud` (and `azp`, when present) in ID
   * tokens, never one for the other. Required; ids as Cognito spells them (`[\w+]+`), and `'*'`
   * is refused: `null` is the opt-out.
   *
   * @remarks **Security:** `null` accepts the tokens of every app client of the pool, including
   * ones created later for other apps. Use it only when every client of the pool may call the API.
   */
  clientId: string | readonly string[] | null
  /**
   * `'access'` (default), `'id'` or `'any'`, checked against `token_use`
   * (`AUTH_PROVIDER_AWS_COGNITO_TOKEN_USE`). Refresh tokens are always refused.
   */
  tokenUse?: CognitoTokenUse
  /**
   * Which form of the pool's issuer is accepted: `'regional'`
   * (`https://cognito-idp.{region}.amazonaws.com/{userPoolId}`), `'global'`
   * (`https://issuer-cognito-idp.{region}.amazonaws.com/{userPoolId}`, the updated issuer of
   * multi-Region pools) or `'any'` (default, as aws-jwt-verify): each token's keys come from the
   * form it carries (`AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM`). With `'any'`, a token naming the
   * global form whose key set AWS refuses to serve (HTTP 4xx: the pool does not use that form) is
   * refused as `ERR_AUTH_ISSUER_MISMATCH`, not answered 503.
   */
  issuerForm?: CognitoIssuerFormOption
  /**
   * Where the keys are (`AUTH_PROVIDER_AWS_COGNITO_JWKS_URI`). Default
   * `{issuer}/.well-known/jwks.json` of each accepted issuer form. An override (a proxy, a test's
   * key server) serves the keys of every accepted form; it moves the key fetch only, the issuers
   * stay the real ones. Emulators that sign with an issuer of their own (LocalStack's
   * `http://localhost.localstack.cloud:4566/{userPoolId}`) are not supported: their tokens are
   * refused (`ERR_AUTH_ISSUER_UNKNOWN`). In tests, mint Cognito's tokens with
   * `createTestIssuer({ kind: 'cognito' })` from `oidc-guard/testing`.
   */
  jwksUri?: string
}

// Every option of CognitoProvider: the token checks it keeps, and its own. The JwksProvider
// options it replaces are refused by checkCognitoOnly, which says what replaces each.
const COGNITO_PROVIDER_OPTION_NAMES: readonly string[] = Object.freeze([
  ...TOKEN_CHECK_OPTION_NAMES.filter(
    (name) => !(JWKS_ONLY_OPTIONS as readonly string[]).includes(name),
  ),
  ...Object.keys({
    userPoolId: true,
    region: true,
    clientId: true,
    tokenUse: true,
    issuerForm: true,
    jwksUri: true,
  } as const satisfies OptionFlags<Omit<CognitoProviderOptions, keyof TokenCheckOptions>>),
])

const KIND = { access: 'an access token', id: 'an ID token' } as const

function tokenTypeError(description: string): InvalidTokenError {
  return new InvalidTokenError('ERR_AUTH_TOKEN_TYPE_INVALID', description)
}

/**
 * The app client an ID token was issued to: `azp` when present (checked to be ours), else its one
 * audience. Never the first of several: that may be another client.
 */
function idTokenClient(claims: JwtClaims): string | undefined {
  const azp = stringClaim(claims, 'azp')
  if (azp !== undefined) return azp
  const { aud } = claims
  if (Array.isArray(aud)) return aud.length === 1 ? aud[0] : undefined
  return stringClaim(claims, 'aud')
}

/** The `token_use` of a verified token; anything but `access` or `id` is refused. */
function tokenUseOf(claims: JwtClaims): 'access' | 'id' {
  const use = claims['token_use']
  if (use === 'access' || use === 'id') return use
  if (use === undefined) throw tokenTypeError('missing token_use claim')
  if (use === 'refresh') throw tokenTypeError('refresh tokens are not accepted')
  // Exact match only: "ID" or "Access" are not Cognito's, so not to be trusted as such.
  throw tokenTypeError('unknown token_use claim')
}

/**
 * Verifies the tokens of one Amazon Cognito user pool: RS256 signature against the pool's keys,
 * `exp`, the exact issuer (`https://cognito-idp.{region}.amazonaws.com/{userPoolId}` or
 * `https://issuer-cognito-idp.{region}.amazonaws.com/{userPoolId}`, see `issuerForm`), `token_use`,
 * and the app client (`client_id` of access tokens, `aud` of ID tokens). Refresh tokens (opaque
 * JWE) never verify. Users get `id` = `sub`, `name` = `username` (access) or `cognito:username`
 * (ID), `email`, `scopes`, `clientId`; client-credentials tokens are `isM2M`, with no groups and no
 * roles. Groups default to the `cognito:groups` claim. A subclass may override `checkClaims`, sync
 * or async (throw, or reject with, `InvalidTokenError`) to add rules: they run after Cognito's,
 * which always run.
 *
 * @example
 * const provider = new CognitoProvider({
 *   userPoolId: 'eu-west-1_AbCdE1234',
 *   clientId: '4tq8example1client2id3',
 *   tokenUse: 'access',
 * })
 * app.use(jwtAuth({ provider }))
 * app.get('/admin', requireGroups(['admin']), handler)
 *
 * @remarks **Security:** verification is offline: a token revoked in Cognito (`RevokeToken`,
 * `GlobalSignOut`) is accepted until it expires. `clientId: null` accepts every app client of the
 * pool, including ones created later for other apps.
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every invalid option, and every unknown one.
 * @throws per token (from `verifyToken`, 401): `ERR_AUTH_TOKEN_TYPE_INVALID` (`token_use`),
 *   `ERR_AUTH_AUDIENCE_MISMATCH` (app client), `ERR_AUTH_CLAIM_INVALID` (a missing `client_id`/`aud`,
 *   a `scope` that is not a string), `ERR_AUTH_HEADER_INVALID` (no `kid`),
 *   `ERR_AUTH_ISSUER_MISMATCH` (also: the global form's keys refused by AWS with a 4xx), and the
 *   core's signature and time checks; 503
 *   `ERR_AUTH_KEYS_UNAVAILABLE` when the pool's keys cannot be fetched.
 */
export class CognitoProvider extends KeySetProvider {
  readonly userPoolId: string
  readonly region: string
  /**
   * The primary issuer: `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`, or the global
   * form with `issuerForm: 'global'`. `issuers` lists every accepted one.
   */
  readonly issuer: string
  /** The primary issuer's key set: the one `hydrate()` fetches and `health()` reports. */
  readonly jwksUri: string
  readonly tokenUse: CognitoTokenUse
  readonly issuerForm: CognitoIssuerFormOption
  /** The accepted app clients; `null` when any client of the pool is accepted. */
  readonly clientIds: readonly string[] | null
  /**
   * With both issuer forms accepted (`issuerForm: 'any'`), the two: one user's tokens may carry
   * either, with one `sub`, so a subject revocation or `forgetUser` under one form covers both.
   * Absent with one form.
   */
  readonly issuerAliases?: readonly (readonly string[])[]
  readonly defaultSources: UserSources
  readonly #issuerKeys: ReadonlyMap<string, IssuerKeys>
  readonly #primary: IssuerKeys

  constructor(options: CognitoProviderOptions) {
    const problems = new Problems()
    const given = options ?? ({} as CognitoProviderOptions)
    const region = userPoolRegion(problems, given.userPoolId, given.region)
    // Labelled with its variable too, as the other options are: fromEnv reports these problems.
    const jwksUriLabel = 'jwksUri (AUTH_PROVIDER_AWS_COGNITO_JWKS_URI)'
    if (given.jwksUri !== undefined) checkUrl(problems, jwksUriLabel, given.jwksUri, isProduction())
    const clientIds = resolveClientIds(problems, given.clientId)
    const tokenUseLabel = 'tokenUse (AUTH_PROVIDER_AWS_COGNITO_TOKEN_USE)'
    const tokenUse = oneOf(problems, tokenUseLabel, TOKEN_USES, given.tokenUse, 'access')
    const issuerFormLabel = 'issuerForm (AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM)'
    const issuerForm = oneOf(problems, issuerFormLabel, ISSUER_FORMS, given.issuerForm, 'any')
    checkCognitoOnly(problems, given)
    checkProviderOptionNames(problems, 'CognitoProvider', options, COGNITO_PROVIDER_OPTION_NAMES, [
      ...JWKS_ONLY_OPTIONS,
      'issuer',
    ])
    // Cognito access tokens carry no `aud`: the app client is checked in #checkCognitoRules instead.
    const checks: TokenCheckOptions = { ...given, audience: null, algorithms: ['RS256'] }
    // No issuer yet: each accepted form gets the policy with its own exact issuer (issuerKeys).
    const policy = resolvePolicy(problems, '', checks)
    problems.throwIfAny()
    const cache = resolveJwksCache(checks)
    const keySets = issuerKeys(region, given.userPoolId, formsOf(issuerForm), {
      policy,
      cache,
      jwksUriOverride: given.jwksUri,
    })
    const primary = keySets.values().next().value!
    super(options.name ?? 'cognito', [...keySets.keys()], primary.policy, cache, primary.keys)
    this.userPoolId = options.userPoolId
    this.region = region
    this.issuer = primary.issuer
    this.jwksUri = primary.jwksUri
    this.tokenUse = tokenUse
    this.issuerForm = issuerForm
    this.clientIds = clientIds
    // The two forms of one pool name the same users (one sub): the verifier treats them as one.
    if (keySets.size > 1) this.issuerAliases = Object.freeze([this.issuers])
    this.defaultSources = Object.freeze({ groups: new CognitoGroupsProvider() })
    this.#issuerKeys = keySets
    this.#primary = primary
  }

  /**
   * Verifies against the key set of the issuer form the token names; that form's policy then
   * requires exactly its issuer once the signature holds. Cognito's own rules run next, always;
   * `checkClaims`, a subclass's hook (sync or async), runs after them.
   */
  override async verifyToken(token: string, parsed?: ParsedJwt): Promise<VerifiedToken> {
    const { policy, keys } = this.#keySetFor(token, parsed)
    const result = verifyJwt(token, parsed, policy, keys)
    const verified = result instanceof Promise ? await result : result
    this.#checkCognitoRules(verified.claims)
    // An async override is awaited, so that its rejection refuses the token like a throw (and is
    // never left unhandled); a sync one costs no microtask turn.
    const extra = this.checkClaims(verified.claims)
    if (extra !== undefined) await extra
    return verified
  }

  #keySetFor(token: string, parsed: ParsedJwt | undefined): IssuerKeys {
    if (this.#issuerKeys.size === 1) return this.#primary
    // An unknown or missing iss goes to the primary form's keys, and is refused after them.
    const iss = peekIssuer(token, parsed, this.policy.maxTokenLength)
    return (iss === undefined ? undefined : this.#issuerKeys.get(iss)) ?? this.#primary
  }

  /**
   * Fetches the primary issuer form's keys now, so the first request does not wait; rejects while
   * they are unavailable. The other form's keys come with its first token: a pool that never
   * issues that form must not fail the start-up.
   */
  hydrate(): Promise<void> {
    return this.cache.hydrate(this.jwksUri)
  }

  protected override currentJwksUri(): string {
    return this.jwksUri
  }

  /** Builds the user; machine-to-machine users get no groups or roles source, as in the seed. */
  override createUser(verified: VerifiedToken, sources: UserSources): User {
    const { claims, token } = verified
    const identity = this.identityOf(verified)
    const own = identity.isM2M
      ? { permissions: sources.permissions, profile: sources.profile }
      : sources
    return new User({ provider: this.name, claims, token }, identity, own)
  }

  /**
   * `token_use`, `scope`, then the app client. Private, so that a subclass overriding
   * `checkClaims` (the migration guide's `customJwtCheck`) adds rules and never drops these.
   * Descriptions say what was expected ("expected an access token, got an ID token") and never
   * echo a claim's value.
   */
  #checkCognitoRules(claims: JwtClaims): void {
    const use = tokenUseOf(claims)
    if (this.tokenUse !== 'any' && use !== this.tokenUse) {
      throw tokenTypeError(`expected ${KIND[this.tokenUse]}, got ${KIND[use]}`)
    }
    // Cognito stamps iat on every token; an ID token without one is not Cognito's (OIDC Core
    // §3.1.3.7 item 10, catalog CLM-11).
    if (use === 'id' && typeof claims.iat !== 'number') {
      throw new InvalidTokenError('ERR_AUTH_CLAIM_INVALID', 'missing iat claim')
    }
    // Cognito's scope is one space-separated string (as aws-jwt-verify requires): a list would be
    // read as scopes no Cognito token grants.
    if (claims['scope'] !== undefined && typeof claims['scope'] !== 'string') {
      throw new InvalidTokenError('ERR_AUTH_CLAIM_INVALID', 'invalid scope claim')
    }
    if (this.clientIds !== null) this.#checkAppClient(use, claims, this.clientIds)
  }

  #checkAppClient(use: 'access' | 'id', claims: JwtClaims, clientIds: readonly string[]): void {
    // AWS "Verifying a JSON web token": access tokens name their client in `client_id`, ID tokens
    // in `aud`. No fall-back from one to the other (the seed's, COG-05).
    const claim = use === 'access' ? 'client_id' : 'aud'
    const value = claims[claim]
    if (value === undefined) {
      throw new InvalidTokenError('ERR_AUTH_CLAIM_INVALID', `missing ${claim} claim`)
    }
    const named = typeof value === 'string' ? [value] : Array.isArray(value) ? value : []
    if (!clientIds.some((id) => named.includes(id))) {
      throw new InvalidTokenError(
        'ERR_AUTH_AUDIENCE_MISMATCH',
        `token issued to another app client (${claim})`,
      )
    }
    if (use !== 'id') return
    // OIDC Core §3.1.3.7 items 3-5: an ID token for several audiences must name, in azp, the
    // party it was issued to (catalog CLM-21), and an azp present must be ours: it is the user's
    // clientId.
    const azp = claims['azp']
    if (azp === undefined && named.length === 1) return
    if (typeof azp !== 'string' || !clientIds.includes(azp)) {
      throw new InvalidTokenError(
        'ERR_AUTH_AUDIENCE_MISMATCH',
        named.length > 1
          ? 'ID token for several audiences without our app client as azp'
          : 'token issued to another app client (azp)',
      )
    }
  }

  protected override identity(claims: JwtClaims): UserIdentity {
    const use = claims['token_use']
    const name = stringClaim(claims, 'username') ?? stringClaim(claims, 'cognito:username')
    const clientId = use === 'id' ? idTokenClient(claims) : stringClaim(claims, 'client_id')
    // Client credentials (AWS "M2M authorization"): an access token with no user, whose subject
    // is the app client itself.
    const isM2M =
      use === 'access' && name === undefined && clientId !== undefined && claims.sub === clientId
    return {
      id: claims.sub ?? '',
      name,
      email: stringClaim(claims, 'email'),
      // Only `scope`: Cognito never issues `scp`, and a trigger that added one must not grant scopes.
      scopes: splitScope(stringClaim(claims, 'scope') ?? ''),
      clientId,
      isM2M,
    }
  }
}

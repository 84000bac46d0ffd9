// Cognito-shaped tokens for tests: the claims Cognito puts in access, ID, M2M and refresh tokens.

import { randomUUID } from 'node:crypto'
import { createOidcIssuer, serveAs, type MintOptions, type TestIssuer } from './test-issuer.js'
import {
  anything,
  checkClaims,
  checkMembers,
  MINT_OPTION_NAMES,
  optionError,
  refuseOptionsAsClaims,
  refuseRawPayload,
  show,
  type ClaimOverrides,
  type MemberRules,
} from './test-kit-options.js'

// As CognitoProvider reads them: `<region>_<id>` (at most 55 characters) and an app client id.
const USER_POOL_ID = /^[a-z]{2}(?:-[a-z]+)+-\d+_[0-9A-Za-z]+$/
const CLIENT_ID = /^[\w+]{1,128}$/

/**
 * The two forms of a pool's `iss`: `regional`, `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`,
 * and `global`, `https://issuer-cognito-idp.{region}.amazonaws.com/{userPoolId}` (the updated issuer
 * of multi-Region pools).
 */
export type CognitoTestIssuerForm = 'regional' | 'global'

/** A user pool's identifiers as Cognito spells them. */
export interface CognitoPool {
  readonly userPoolId: string
  readonly region: string
  /** `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`: the regional issuer, the default. */
  readonly issuer: string
  /** `{issuer}/.well-known/jwks.json` */
  readonly jwksUri: string
  /** `https://issuer-cognito-idp.{region}.amazonaws.com/{userPoolId}`: the global issuer. */
  readonly globalIssuer: string
  /** `{globalIssuer}/.well-known/jwks.json`: the same keys, as AWS publishes them under both forms. */
  readonly globalJwksUri: string
}

/** A user of the pool, as the tokens describe them. */
export interface CognitoTestUser {
  readonly sub: string
  readonly username: string
  readonly email?: string
  /** `cognito:groups`; anything, to forge malformed claims. Omitted when undefined. */
  readonly groups?: unknown
}

/** Everything a claims builder needs besides the user: the pool, the app client, the time. */
export interface CognitoTokenContext {
  readonly pool: CognitoPool
  readonly clientId: string
  /** Seconds since the epoch; `iat` and `auth_time`. */
  readonly now: number
  /** Lifetime in seconds. Default 3600 (Cognito's default for access and ID tokens). */
  readonly lifetimeSec?: number
  /** Which form of the pool's issuer the token carries. Default `regional`. */
  readonly issuerForm?: CognitoTestIssuerForm
}

/** The identifiers of a user pool, `<region>_<id>`. */
export function cognitoPool(userPoolId: string): CognitoPool {
  const region = userPoolId.split('_')[0] ?? ''
  const issuer = `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`
  const globalIssuer = `https://issuer-cognito-idp.${region}.amazonaws.com/${userPoolId}`
  return {
    userPoolId,
    region,
    issuer,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    globalIssuer,
    globalJwksUri: `${globalIssuer}/.well-known/jwks.json`,
  }
}

/** The pool's issuer in one form; another form (`'Global'`) is a TypeError, not the regional one. */
export function issuerOf(pool: CognitoPool, form: CognitoTestIssuerForm = 'regional'): string {
  if (form === 'global') return pool.globalIssuer
  if (form === 'regional') return pool.issuer
  throw new TypeError(`issuerForm must be 'regional' (the default) or 'global', got ${show(form)}`)
}

function common(context: CognitoTokenContext): Record<string, unknown> {
  const { pool, now, lifetimeSec = 3600, issuerForm } = context
  return {
    iss: issuerOf(pool, issuerForm),
    origin_jti: randomUUID(),
    event_id: randomUUID(),
    auth_time: now,
    iat: now,
    exp: now + lifetimeSec,
    jti: randomUUID(),
  }
}

function groupsOf(user: CognitoTestUser): Record<string, unknown> {
  return user.groups === undefined ? {} : { 'cognito:groups': user.groups }
}

/** The claims of a user's access token: `client_id`, `username`, `scope`, no `aud`. */
export function accessTokenClaims(
  context: CognitoTokenContext,
  user: CognitoTestUser,
  scope = 'aws.cognito.signin.user.admin openid email',
): Record<string, unknown> {
  return {
    sub: user.sub,
    ...groupsOf(user),
    ...common(context),
    version: 2,
    client_id: context.clientId,
    token_use: 'access',
    scope,
    username: user.username,
  }
}

/** The claims of a user's ID token: `aud` (the app client), `cognito:username`, `email`, `at_hash`. */
export function idTokenClaims(
  context: CognitoTokenContext,
  user: CognitoTestUser,
): Record<string, unknown> {
  return {
    sub: user.sub,
    ...groupsOf(user),
    email_verified: true,
    ...common(context),
    'cognito:username': user.username,
    aud: context.clientId,
    token_use: 'id',
    at_hash: randomUUID().replaceAll('-', '').slice(0, 22),
    ...(user.email === undefined ? {} : { email: user.email }),
  }
}

/** The claims of a client-credentials (M2M) access token: `sub` = `client_id`, resource-server scopes. */
export function m2mTokenClaims(
  context: CognitoTokenContext,
  scope = 'orders/read',
): Record<string, unknown> {
  const { origin_jti: _originJti, event_id: _eventId, ...rest } = common(context)
  return {
    sub: context.clientId,
    token_use: 'access',
    scope,
    ...rest,
    version: 2,
    client_id: context.clientId,
  }
}

/**
 * A refresh token as Cognito issues them: an opaque five-part JWE (RSA-OAEP, A256GCM) that no
 * resource server can read.
 */
export function refreshToken(): string {
  const header = Buffer.from(JSON.stringify({ cty: 'JWT', enc: 'A256GCM', alg: 'RSA-OAEP' }))
  const part = (bytes: number) => Buffer.from(randomUUID().repeat(bytes / 16)).toString('base64url')
  return [header.toString('base64url'), part(256), part(16), part(512), part(16)].join('.')
}

/** Jane, a user of every test pool. */
export const JANE: CognitoTestUser = {
  sub: '6b3c9f2e-6a1d-4c8e-9f0a-1b2c3d4e5f60',
  username: 'jane',
  email: 'jane@example.com',
  groups: ['admin', 'editors'],
}

/**
 * Options of a Cognito pool's tokens: the test issuer's (`expiresInSec` sets a preset's `exp`
 * too), plus the issuer form.
 */
export interface CognitoTokenOptions extends MintOptions {
  /** `'global'` mints with `pool.globalIssuer` (multi-Region pools). Default `'regional'`. */
  issuerForm?: CognitoTestIssuerForm
}

/** Options of a Cognito pool's `mint`: the test issuer's, plus a token shape and issuer form. */
export interface CognitoMintOptions extends CognitoTokenOptions {
  preset?: 'access' | 'id' | 'm2m'
}

/**
 * Claims a token method of the pool puts on its token's: any but an option's name (`issuerForm`,
 * `expiresInSec`, `preset` …), which is a TypeError saying to pass it as the options.
 */
export type CognitoClaimOverrides = ClaimOverrides<keyof CognitoMintOptions>

// What the overrides of a token method may not name: the options its third argument takes.
const TOKEN_OPTION_NAMES = [...MINT_OPTION_NAMES, 'issuerForm' satisfies keyof CognitoTokenOptions]

/** A test issuer posing as a Cognito user pool (RS256, a `kid`, no `typ`, Cognito's claims). */
export interface CognitoTestIssuer {
  readonly pool: CognitoPool
  readonly clientId: string
  /** The underlying issuer: its `fetch` serves the JWKS at `pool.jwksUri` only; `rotateKeys`, `counts`… */
  readonly idp: TestIssuer
  /**
   * An in-memory fetch serving the pool's keys (`pool.jwksUri`, `pool.globalJwksUri`) and
   * discovery (`{issuer}/.well-known/openid-configuration`, naming that form) under both issuer
   * forms.
   */
  readonly fetch: typeof fetch
  /**
   * A user's access token; `overrides` change claims (undefined removes one). An override named
   * as an option (`{ issuerForm: 'global' }`, `expiresInSec`, `tamper` …) is a TypeError: options
   * go in the third argument, `access(JANE, {}, { issuerForm: 'global' })`.
   */
  access(
    user?: CognitoTestUser,
    overrides?: CognitoClaimOverrides,
    options?: CognitoTokenOptions,
  ): string
  /** A user's ID token; `overrides` as for {@link CognitoTestIssuer.access}. */
  id(
    user?: CognitoTestUser,
    overrides?: CognitoClaimOverrides,
    options?: CognitoTokenOptions,
  ): string
  /** A client-credentials token of `clientId` (or another client); `overrides` as for `access`. */
  m2m(scope?: string, overrides?: CognitoClaimOverrides, options?: CognitoTokenOptions): string
  /**
   * Mints claims as this pool. With `preset`, they go on top of a complete Cognito token of Jane
   * (`access`, `id`) or of the app client (`m2m`); without, no defaults beyond the `iss` (and
   * those of the test issuer). A misspelt `preset` or `issuerForm` is a TypeError, as is either
   * beside `rawPayload`, which replaces the claims they shape.
   */
  mint(claims?: Record<string, unknown>, options?: CognitoMintOptions): string
  /**
   * What `new CognitoProvider(...)` needs to verify this pool's access and M2M tokens in memory
   * (the `access` and `m2m` presets): the provider's own default, `tokenUse: 'access'`, applies.
   * ID tokens (the `id` preset) take `{ ...pool.providerOptions, tokenUse: 'id' }`.
   */
  readonly providerOptions: { userPoolId: string; clientId: string; fetch: typeof fetch }
  close(): Promise<void>
}

/** A pool's discovery document as Cognito serves it under one issuer form. */
function cognitoDiscovery(issuer: string): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'token'],
    scopes_supported: ['openid', 'email', 'phone', 'profile'],
    subject_types_supported: ['public'],
  }
}

/**
 * Serves the pool under both issuer forms, as AWS does: each form's discovery names that form
 * and its own key URL (the generic issuer's named the regional issuer and `https://issuer.test`,
 * so discovering the global form failed), and the global key URL answers from the regional route.
 */
function servingBothForms(idp: TestIssuer, pool: CognitoPool): typeof fetch {
  const discovery = new Map(
    [pool.issuer, pool.globalIssuer].map((iss) => [`${iss}/.well-known/openid-configuration`, iss]),
  )
  const globalBase = `${pool.globalIssuer}/`
  // Async, so a bad URL rejects as with the global fetch, idp.fetch and Entra's: thrown, it
  // escaped a caller's .catch().
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined
    const url = request?.url ?? String(input)
    const target = new URL(url)
    const issuer = discovery.get(`${target.origin}${target.pathname}`)
    if (issuer !== undefined) {
      // A Request's own signal counts, as with the global fetch (an init's wins).
      const signal = init?.signal ?? request?.signal
      const answerInit = signal === undefined ? init : { ...init, signal }
      return serveAs(idp, 'discovery', target, answerInit, cognitoDiscovery(issuer))
    }
    if (!url.startsWith(globalBase)) return idp.fetch(input, init)
    const regional = `${pool.issuer}/${url.slice(globalBase.length)}`
    return idp.fetch(input instanceof Request ? new Request(regional, input) : regional, init)
  }
}

// Names only: the issuer checks the values, under the names createTestIssuer's callers give.
const COGNITO_INIT_RULES: MemberRules = {
  listen: [anything, ''],
  allowInProduction: [anything, ''],
}

/**
 * Starts a fake Cognito user pool. Its in-memory `fetch` answers `pool.jwksUri` and
 * `pool.globalJwksUri`, so a `CognitoProvider({ userPoolId, fetch: issuer.fetch })` needs no
 * `jwksUri` override, whichever issuer form the tokens carry, and each form's discovery, so an
 * `OidcProvider({ issuer: pool.globalIssuer, fetch })` finds them too. A malformed `userPoolId`
 * or `clientId`, or an unknown option, is a TypeError naming it; under NODE_ENV=production it
 * takes `allowInProduction`.
 *
 * @example
 * const cognito = await createCognitoIssuer('eu-west-1_TestPool1', '5example6client7id')
 * const token = cognito.access(JANE)
 * const multiRegion = cognito.access(JANE, {}, { issuerForm: 'global' })
 */
export async function createCognitoIssuer(
  userPoolId = 'eu-west-1_TestPool1',
  clientId = '3n4example5client6id7abc8',
  options: { listen?: boolean; allowInProduction?: boolean } = {},
): Promise<CognitoTestIssuer> {
  checkMembers('createCognitoIssuer', options, COGNITO_INIT_RULES)
  // Caught here rather than by the provider later, with an issuer URL already made of it.
  if (typeof userPoolId !== 'string' || userPoolId.length > 55 || !USER_POOL_ID.test(userPoolId)) {
    throw optionError('userPoolId', '<region>_<id>, such as "eu-west-1_TestPool1"', userPoolId)
  }
  if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) {
    throw optionError('clientId', 'an app client id (letters, digits, _ or +)', clientId)
  }
  const pool = cognitoPool(userPoolId)
  const idp = await createOidcIssuer({
    issuer: pool.issuer,
    algorithms: ['RS256'],
    listen: options.listen ?? false,
    ...(options.allowInProduction === undefined
      ? {}
      : { allowInProduction: options.allowInProduction }),
  })
  // A preset's lifetime is the mint's expiresInSec when given, else Cognito's (common()).
  const context = (options: CognitoTokenOptions = {}): CognitoTokenContext => ({
    pool,
    clientId,
    now: Math.floor(Date.now() / 1000),
    issuerForm: options.issuerForm ?? 'regional',
    ...(options.expiresInSec === undefined ? {} : { lifetimeSec: options.expiresInSec }),
  })
  // Cognito's header is { kid, alg } only; the test issuer would add typ and a default aud. A raw
  // payload replaces the claims, the pool's iss included: an issuerForm beside it would be unused.
  const raw = (claims: Record<string, unknown>, options: CognitoTokenOptions = {}): string => {
    const { issuerForm, ...mintOptions } = options
    if (mintOptions.rawPayload !== undefined && issuerForm !== undefined) {
      throw new TypeError(
        'mint: issuerForm is given with rawPayload, which is signed as is (its own iss); drop one',
      )
    }
    const signed =
      mintOptions.rawPayload === undefined
        ? { aud: undefined, iss: issuerOf(pool, issuerForm), ...claims }
        : claims
    return idp.mint(signed, { ...mintOptions, header: { typ: undefined, ...mintOptions.header } })
  }
  const presets = {
    access: (options: CognitoTokenOptions) => accessTokenClaims(context(options), JANE),
    id: (options: CognitoTokenOptions) => idTokenClaims(context(options), JANE),
    m2m: (options: CognitoTokenOptions) => m2mTokenClaims(context(options)),
  }
  const mint = (claims: Record<string, unknown> = {}, mintOptions: CognitoMintOptions = {}) => {
    checkClaims('mint', claims)
    const { preset, ...rest } = mintOptions
    // Unguarded, 'ID' failed as "not a function" and 'toString' or 'constructor' minted garbage.
    if (preset !== undefined && !Object.hasOwn(presets, preset)) {
      throw new TypeError(`mint: preset must be 'access', 'id' or 'm2m', got ${show(preset)}`)
    }
    if (preset !== undefined) refuseRawPayload(`mint: preset ${show(preset)}`, rest)
    const base = preset === undefined ? {} : presets[preset](rest)
    return raw({ ...base, ...claims }, rest)
  }
  const fetch = servingBothForms(idp, pool)
  return {
    pool,
    clientId,
    idp,
    fetch,
    // Each builds the claims, which a raw payload would replace unseen.
    access: (user = JANE, overrides = {}, options = {}) => {
      refuseRawPayload('access()', options)
      refuseOptionsAsClaims('access()', overrides, TOKEN_OPTION_NAMES)
      return raw({ ...accessTokenClaims(context(options), user), ...overrides }, options)
    },
    id: (user = JANE, overrides = {}, options = {}) => {
      refuseRawPayload('id()', options)
      refuseOptionsAsClaims('id()', overrides, TOKEN_OPTION_NAMES)
      return raw({ ...idTokenClaims(context(options), user), ...overrides }, options)
    },
    m2m: (scope, overrides = {}, options = {}) => {
      refuseRawPayload('m2m()', options)
      refuseOptionsAsClaims('m2m()', overrides, TOKEN_OPTION_NAMES)
      return raw({ ...m2mTokenClaims(context(options), scope), ...overrides }, options)
    },
    mint,
    providerOptions: { userPoolId, clientId, fetch },
    close: () => idp.close(),
  }
}

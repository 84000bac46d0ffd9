// Cognito-shaped tokens for tests: the claims Cognito puts in access, ID, M2M and refresh tokens.

import { randomUUID } from 'node:crypto'
import { createOidcIssuer, type MintOptions, type TestIssuer } from './test-issuer.js'

/** A user pool's identifiers as Cognito spells them. */
export interface CognitoPool {
  readonly userPoolId: string
  readonly region: string
  /** `https://cognito-idp.{region}.amazonaws.com/{userPoolId}` */
  readonly issuer: string
  /** `{issuer}/.well-known/jwks.json` */
  readonly jwksUri: string
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
}

/** The identifiers of a user pool, `<region>_<id>`. */
export function cognitoPool(userPoolId: string): CognitoPool {
  const region = userPoolId.split('_')[0] ?? ''
  const issuer = `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`
  return { userPoolId, region, issuer, jwksUri: `${issuer}/.well-known/jwks.json` }
}

function common(context: CognitoTokenContext): Record<string, unknown> {
  const { pool, now, lifetimeSec = 3600 } = context
  return {
    iss: pool.issuer,
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

/** Options of a Cognito pool's `mint`: the test issuer's, plus a token shape. */
export interface CognitoMintOptions extends MintOptions {
  preset?: 'access' | 'id' | 'm2m'
}

/** A test issuer posing as a Cognito user pool (RS256, a `kid`, no `typ`, Cognito's claims). */
export interface CognitoTestIssuer {
  readonly pool: CognitoPool
  readonly clientId: string
  /** The underlying issuer: `fetch` serves the JWKS at `pool.jwksUri`; `rotateKeys`, `counts`… */
  readonly idp: TestIssuer
  /** A user's access token; `overrides` change claims (undefined removes one). */
  access(user?: CognitoTestUser, overrides?: Record<string, unknown>, options?: MintOptions): string
  /** A user's ID token. */
  id(user?: CognitoTestUser, overrides?: Record<string, unknown>, options?: MintOptions): string
  /** A client-credentials token of `clientId` (or another client). */
  m2m(scope?: string, overrides?: Record<string, unknown>, options?: MintOptions): string
  /**
   * Mints claims as this pool. With `preset`, they go on top of a complete Cognito token of Jane
   * (`access`, `id`) or of the app client (`m2m`); without, no defaults beyond the issuer's.
   */
  mint(claims?: Record<string, unknown>, options?: CognitoMintOptions): string
  /** What `new CognitoProvider(...)` needs to verify this pool's tokens in memory. */
  readonly providerOptions: { userPoolId: string; clientId: string; fetch: typeof fetch }
  close(): Promise<void>
}

/**
 * Starts a fake Cognito user pool. Its in-memory `idp.fetch` answers `pool.jwksUri`, so a
 * `CognitoProvider({ userPoolId, fetch: issuer.idp.fetch })` needs no `jwksUri` override.
 *
 * @example
 * const cognito = await createCognitoIssuer('eu-west-1_TestPool1', '5example6client7id')
 * const token = cognito.access(JANE)
 */
export async function createCognitoIssuer(
  userPoolId = 'eu-west-1_TestPool1',
  clientId = '3n4example5client6id7abc8',
  options: { listen?: boolean } = {},
): Promise<CognitoTestIssuer> {
  const pool = cognitoPool(userPoolId)
  const idp = await createOidcIssuer({
    issuer: pool.issuer,
    algorithms: ['RS256'],
    listen: options.listen ?? false,
  })
  const context = (): CognitoTokenContext => ({
    pool,
    clientId,
    now: Math.floor(Date.now() / 1000),
  })
  // Cognito's header is { kid, alg } only; the test issuer would add typ and a default aud.
  const raw = (claims: Record<string, unknown>, mintOptions: MintOptions = {}): string =>
    idp.mint(
      { aud: undefined, ...claims },
      { ...mintOptions, header: { typ: undefined, ...mintOptions.header } },
    )
  const presets = {
    access: () => accessTokenClaims(context(), JANE),
    id: () => idTokenClaims(context(), JANE),
    m2m: () => m2mTokenClaims(context()),
  }
  const mint = (claims: Record<string, unknown> = {}, mintOptions: CognitoMintOptions = {}) => {
    const { preset, ...rest } = mintOptions
    return raw({ ...(preset === undefined ? {} : presets[preset]()), ...claims }, rest)
  }
  return {
    pool,
    clientId,
    idp,
    access: (user = JANE, overrides = {}, mintOptions) =>
      raw({ ...accessTokenClaims(context(), user), ...overrides }, mintOptions),
    id: (user = JANE, overrides = {}, mintOptions) =>
      raw({ ...idTokenClaims(context(), user), ...overrides }, mintOptions),
    m2m: (scope, overrides = {}, mintOptions) =>
      raw({ ...m2mTokenClaims(context(), scope), ...overrides }, mintOptions),
    mint,
    providerOptions: { userPoolId, clientId, fetch: idp.fetch },
    close: () => idp.close(),
  }
}

// oidc-guard/testing: fake identity providers for tests (a generic issuer, a Cognito user pool, an
// Entra ID tenant) and the signing helpers behind them.
import { createCognitoIssuer, type CognitoTestIssuer } from './testing-cognito.js'
import { createEntraIssuer, type EntraTestIssuer } from './testing-entra.js'
import { createOidcIssuer, type TestIssuer, type TestIssuerOptions } from './test-issuer.js'

export { signJwt, type SigningMaterial } from './test-signer.js'
export type {
  MintOptions,
  RouteBehaviour,
  TestAlgorithm,
  TestIssuer,
  TestIssuerOptions,
} from './test-issuer.js'

/** Options of a fake Cognito user pool (`createTestIssuer({ kind: 'cognito' })`). */
export interface CognitoIssuerOptions {
  kind: 'cognito'
  /** Default `eu-west-1_TestPool1`. */
  userPoolId?: string
  /** The app client in `client_id` / `aud`. Default `3n4example5client6id7abc8`. */
  clientId?: string
  listen?: boolean
}

/** Options of a fake Entra ID tenant (`createTestIssuer({ kind: 'entra-id' })`). */
export interface EntraIssuerOptions {
  kind: 'entra-id'
  /** The tenant id (`tid`). Default a fixed test GUID (`entra.TENANT`). */
  tenantId?: string
  /** The authority host. Default `login.microsoftonline.com`. */
  host?: string
  /** Answer a B2C tenant's user-flow discovery too. */
  b2cTenantName?: string
}

/**
 * Starts a fake identity provider with fresh keys, for your tests and local development; close
 * it when done. `kind` picks its shape: a generic OpenID Connect issuer (default), an Amazon
 * Cognito user pool or a Microsoft Entra ID tenant, whose `mint(claims, { preset })` makes tokens
 * shaped exactly like the real ones and whose `providerOptions` point a provider at it in memory.
 *
 * @example
 * const idp = await createTestIssuer({ algorithms: ['ES256'] })
 * const token = idp.mint({ sub: 'alice' })
 * await idp.close()
 * @example
 * const pool = await createTestIssuer({ kind: 'cognito' })
 * const provider = new CognitoProvider(pool.providerOptions)
 * const token = pool.mint({ 'cognito:groups': ['admin'] }, { preset: 'access' })
 */
export function createTestIssuer(
  options?: TestIssuerOptions & { kind?: 'oidc' },
): Promise<TestIssuer>
export function createTestIssuer(options: CognitoIssuerOptions): Promise<CognitoTestIssuer>
export function createTestIssuer(options: EntraIssuerOptions): Promise<EntraTestIssuer>
export function createTestIssuer(
  options: (TestIssuerOptions & { kind?: 'oidc' }) | CognitoIssuerOptions | EntraIssuerOptions = {},
): Promise<TestIssuer | CognitoTestIssuer | EntraTestIssuer> {
  if (options.kind === 'cognito') {
    return createCognitoIssuer(options.userPoolId, options.clientId, {
      listen: options.listen ?? false,
    })
  }
  if (options.kind === 'entra-id') {
    const { tenantId, host, b2cTenantName } = options
    return createEntraIssuer({
      ...(tenantId === undefined ? {} : { tid: tenantId }),
      ...(host === undefined ? {} : { host }),
      ...(b2cTenantName === undefined ? {} : { b2cTenantName }),
    })
  }
  return createOidcIssuer(options)
}

/** Cognito's token shapes and a fake user pool: `cognito.createCognitoIssuer`, `cognito.accessTokenClaims`… */
export * as cognito from './testing-cognito.js'
/** Entra ID's token shapes and a fake tenant: `entra.createEntraIssuer`, `entra.v2AccessTokenClaims`… */
export * as entra from './testing-entra.js'
export type { CognitoTestIssuer, EntraTestIssuer }

// oidc-guard/testing: fake identity providers for tests (a generic issuer, a Cognito user pool, an
// Entra ID tenant) and the signing helpers behind them.
import { createCognitoIssuer, type CognitoTestIssuer } from './testing-cognito.js'
import { createEntraIssuer, type EntraTestIssuer } from './testing-entra.js'
import { createOidcIssuer, type TestIssuer, type TestIssuerOptions } from './test-issuer.js'
import { optionError, show } from './test-kit-options.js'

export { signJwt, type SigningMaterial } from './test-signer.js'
export type { MintOptions, TestAlgorithm, TestIssuer, TestIssuerOptions } from './test-issuer.js'
export type { RouteBehaviour } from './test-responses.js'

/** Options of a fake Cognito user pool (`createTestIssuer({ kind: 'cognito' })`). */
export interface CognitoIssuerOptions {
  kind: 'cognito'
  /** `<region>_<id>`, as the provider requires. Default `eu-west-1_TestPool1`. */
  userPoolId?: string
  /** The app client in `client_id` / `aud`. Default `3n4example5client6id7abc8`. */
  clientId?: string
  /** Also serve the pool's keys over HTTP on 127.0.0.1. Default false. */
  listen?: boolean
  /** Start even though NODE_ENV says production; see {@link TestIssuerOptions.allowInProduction}. */
  allowInProduction?: boolean
}

/** Options of a fake Entra ID tenant (`createTestIssuer({ kind: 'entra-id' })`). */
export interface EntraIssuerOptions {
  kind: 'entra-id'
  /** The tenant id (`tid`), a lower-case GUID. Default a fixed test GUID (`entra.TENANT`). */
  tenantId?: string
  /**
   * The authority host: a host name, or an https origin as the provider's `authorityHost` takes.
   * Default `login.microsoftonline.com`, or `{b2cTenantName}.b2clogin.com` with `b2cTenantName`.
   */
  host?: string
  /**
   * Pose as this Azure AD B2C tenant: user-flow discovery and keys, the `'b2c'` preset (the
   * Entra ID presets are refused), and `providerOptions` with `b2c: { tenantName, policies }`.
   */
  b2cTenantName?: string
  /** Start even though NODE_ENV says production; see {@link TestIssuerOptions.allowInProduction}. */
  allowInProduction?: boolean
}

/** The options of each kind: any other one given is refused, not silently ignored. */
const OPTIONS_OF_KIND: Readonly<Record<string, readonly string[]>> = {
  oidc: ['kind', 'issuer', 'audience', 'algorithms', 'listen', 'port', 'allowInProduction'],
  cognito: ['kind', 'userPoolId', 'clientId', 'listen', 'allowInProduction'],
  'entra-id': ['kind', 'tenantId', 'host', 'b2cTenantName', 'allowInProduction'],
}

/** The options are an object of a known kind, each one of that kind's; else a TypeError naming it. */
function checkOptionsOfKind(options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw optionError('options', 'an object', options)
  }
  const given: unknown = (options as { kind?: unknown }).kind
  const kind = given === undefined ? 'oidc' : given
  const known = typeof kind === 'string' ? Object.hasOwn(OPTIONS_OF_KIND, kind) : false
  if (!known) throw optionError('kind', "'oidc' (the default), 'cognito' or 'entra-id'", kind)
  const names = OPTIONS_OF_KIND[kind as string]!
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || names.includes(name)) continue
    throw new TypeError(
      `createTestIssuer: ${name} is not an option of kind ${show(kind)} (its options: ${names.slice(1).join(', ')})`,
    )
  }
}

/**
 * Starts a fake identity provider with fresh keys, for your tests and local development; close
 * it when done. `kind` picks its shape: a generic OpenID Connect issuer (default), an Amazon
 * Cognito user pool or a Microsoft Entra ID tenant, whose `mint(claims, { preset })` makes tokens
 * shaped exactly like the real ones and whose `providerOptions` point a provider at it in memory
 * with the provider's defaults: Cognito's `id` preset also takes `tokenUse: 'id'`, Entra's `v1`
 * preset `acceptV1: true`. With `b2cTenantName` the Entra kind is an Azure AD B2C tenant: its
 * `'b2c'` preset, and `providerOptions` with `b2c`.
 *
 * Rejects with a TypeError naming the option when an option is malformed or not one of its
 * kind's, and with a ConfigError when NODE_ENV says production, unless `allowInProduction: true`.
 *
 * @example
 * const idp = await createTestIssuer({ algorithms: ['ES256'] })
 * const token = idp.mint({ sub: 'alice' })
 * await idp.close()
 * @example
 * const pool = await createTestIssuer({ kind: 'cognito' })
 * const provider = new CognitoProvider(pool.providerOptions)
 * const token = pool.mint({ 'cognito:groups': ['admin'] }, { preset: 'access' })
 * const idTokens = new CognitoProvider({ ...pool.providerOptions, tokenUse: 'id' })
 * @example
 * const tenant = await createTestIssuer({ kind: 'entra-id' })
 * const provider = new EntraIdProvider(tenant.providerOptions) // 'v2' and 'app' presets
 * const v1Tokens = new EntraIdProvider({ ...tenant.providerOptions, acceptV1: true })
 */
export function createTestIssuer(
  options?: TestIssuerOptions & { kind?: 'oidc' },
): Promise<TestIssuer>
export function createTestIssuer(options: CognitoIssuerOptions): Promise<CognitoTestIssuer>
export function createTestIssuer(options: EntraIssuerOptions): Promise<EntraTestIssuer>
export async function createTestIssuer(
  options: (TestIssuerOptions & { kind?: 'oidc' }) | CognitoIssuerOptions | EntraIssuerOptions = {},
): Promise<TestIssuer | CognitoTestIssuer | EntraTestIssuer> {
  checkOptionsOfKind(options)
  const { allowInProduction } = options
  const allowance = allowInProduction === undefined ? {} : { allowInProduction }
  if (options.kind === 'cognito') {
    return createCognitoIssuer(options.userPoolId, options.clientId, {
      listen: options.listen ?? false,
      ...allowance,
    })
  }
  if (options.kind === 'entra-id') {
    const { tenantId, host, b2cTenantName } = options
    // As tenantId, so that a bad one is refused under the name given here.
    return createEntraIssuer({
      ...(tenantId === undefined ? {} : { tenantId }),
      ...(host === undefined ? {} : { host }),
      ...(b2cTenantName === undefined ? {} : { b2cTenantName }),
      ...allowance,
    })
  }
  return createOidcIssuer(options)
}

/** Cognito's token shapes and a fake user pool: `cognito.createCognitoIssuer`, `cognito.accessTokenClaims`… */
export * as cognito from './testing-cognito.js'
/** Entra ID's token shapes and a fake tenant: `entra.createEntraIssuer`, `entra.v2AccessTokenClaims`… */
export * as entra from './testing-entra.js'
export type { CognitoTestIssuer, EntraTestIssuer }

// entraIdEnv: an EntraIdProvider from environment variables (AUTH_PROVIDER=entra-id).

import {
  ConfigError,
  EnvReader,
  MAX_CLOCK_TOLERANCE_SEC,
  Problems,
  type EnvContext,
  type JwtProvider,
  type ProviderEnvFactory,
} from '../../src/spi.js'
import { isTenantId } from './authority.js'
import { parseAuthorityHost } from './config.js'
import { EntraIdProvider } from './entra-id-provider.js'
import type { EntraIdProviderOptions } from './options.js'

const PREFIX = 'AUTH_PROVIDER_AZURE_ENTRA_ID_'
const VERSIONS: Readonly<Record<string, '1.0' | '2.0'>> = {
  '1': '1.0',
  '1.0': '1.0',
  v1: '1.0',
  '2': '2.0',
  '2.0': '2.0',
  v2: '2.0',
}
// The seed's discovery URL template; only its host can vary, which AUTHORITY_HOST now says. The
// host holds no `@` (user information, a password) and no white space.
const SEED_TEMPLATE = /^https:\/\/([^/@\s]+)\/\{\}\/v2\.0\/\.well-known\/openid-configuration$/
// Stand-ins for a missing TENANT_ID or AUDIENCE_ID, so that the constructor still checks the rest.
const PLACEHOLDER_TENANT = '00000000-0000-0000-0000-000000000000'
const PLACEHOLDER_AUDIENCE = '00000000-0000-0000-0000-000000000001'

/** `AUTH_PROVIDER_AZURE_ENTRA_ID_TOKEN_VERSIONS`: `2.0` (default), `1.0`, or both. */
function readVersions(env: EnvReader): Pick<EntraIdProviderOptions, 'acceptV1' | 'acceptV2'> {
  const listed = env.list('AUTH_PROVIDER_AZURE_ENTRA_ID_TOKEN_VERSIONS')
  if (listed === undefined) return {}
  const versions = listed.map((item) => VERSIONS[item.toLowerCase()])
  if (versions.includes(undefined) || versions.length === 0) {
    env.problems.add(
      `AUTH_PROVIDER_AZURE_ENTRA_ID_TOKEN_VERSIONS must list 1.0 and/or 2.0, got ${JSON.stringify(listed.join(','))}`,
    )
    return {}
  }
  return { acceptV1: versions.includes('1.0'), acceptV2: versions.includes('2.0') }
}

/**
 * `AUTH_PROVIDER_AZURE_ENTRA_ID_AUTHORITY_HOST`, else the host of the seed's URL template, checked
 * here so that a refusal names the template, the variable the user set.
 */
function readAuthorityHost(env: EnvReader): string | undefined {
  const host = env.string('AUTH_PROVIDER_AZURE_ENTRA_ID_AUTHORITY_HOST')
  // Read by its full name, as test/unit/docs.test.ts finds the variables the code reads.
  const template = env.string('AUTH_PROVIDER_AZURE_ENTRA_ID_JWKS_URL_TEMPLATE')
  const name = 'AUTH_PROVIDER_AZURE_ENTRA_ID_JWKS_URL_TEMPLATE'
  if (template === undefined || host !== undefined) return host
  const match = SEED_TEMPLATE.exec(template)
  if (match === null) {
    env.problems.add(
      `${name} must look like https://{host}/{}/v2.0/.well-known/openid-configuration, its host without credentials or spaces; set AUTH_PROVIDER_AZURE_ENTRA_ID_AUTHORITY_HOST (or _JWKS_URI) instead`,
    )
    return undefined
  }
  // The template is a v2 discovery URL: whatever is built from its host must name real issuers.
  const parsed = parseAuthorityHost(match[1], true)
  if ('problem' in parsed) {
    env.problems.add(`${name}: its host ${parsed.problem}`)
    return undefined
  }
  return match[1]
}

/**
 * `AUTH_PROVIDER_AZURE_ENTRA_ID_APP_SIGNING_KEYS`: `true` (the client id of the audience),
 * `false`, or the application (client) id whose keys sign, as the `appSigningKeys` option takes.
 */
function readAppSigningKeys(env: EnvReader): boolean | string | undefined {
  const raw = env.raw('AUTH_PROVIDER_AZURE_ENTRA_ID_APP_SIGNING_KEYS')
  const name = 'AUTH_PROVIDER_AZURE_ENTRA_ID_APP_SIGNING_KEYS'
  if (raw === undefined || isTenantId(raw.toLowerCase())) return raw
  // The reader's own words for true and false, its complaint replaced by one naming the app id.
  const value = new EnvReader({ [name]: raw }, new Problems()).boolean(name)
  if (value === undefined) {
    env.problems.add(
      `${name} must be true, false or an application (client) ID (a GUID), got ${JSON.stringify(raw)}`,
    )
  }
  return value
}

/** Reads the optional switches and lists; only those set are passed on. */
function readOptional(env: EnvReader): Partial<EntraIdProviderOptions> {
  const options: Partial<EntraIdProviderOptions> = {}
  const jwksUri = env.string('AUTH_PROVIDER_AZURE_ENTRA_ID_JWKS_URI')
  if (jwksUri !== undefined) options.jwksUri = jwksUri
  const guests = env.boolean('AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOW_GUEST_USERS')
  if (guests !== undefined) options.allowGuestUsers = guests
  const clients = env.list('AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_CLIENT_APPS')
  if (clients !== undefined) options.allowedClientApps = clients
  const appKeys = readAppSigningKeys(env)
  if (appKeys !== undefined) options.appSigningKeys = appKeys
  const idClaim = env.oneOf('AUTH_PROVIDER_AZURE_ENTRA_ID_ID_CLAIM', ['oid', 'sub'] as const)
  if (idClaim !== undefined) options.idClaim = idClaim
  // The seed's name for the clock tolerance, in seconds.
  const leeway = env.seconds('AUTH_PROVIDER_AZURE_ENTRA_ID_LEEWAY', MAX_CLOCK_TOLERANCE_SEC)
  if (leeway !== undefined) options.clockToleranceSec = leeway
  const b2cTenant = env.string('AUTH_PROVIDER_AZURE_ENTRA_ID_B2C_TENANT_NAME')
  const policies = env.list('AUTH_PROVIDER_AZURE_ENTRA_ID_B2C_POLICIES')
  if (b2cTenant !== undefined || policies !== undefined) {
    options.b2c = { tenantName: b2cTenant ?? '', policies: policies ?? [] }
  }
  return options
}

/**
 * Runs the constructor on options some of whose values are stand-ins for variables already
 * reported (missing, or contradictory), only for its other problems: they join the report, and
 * no provider is returned. Problems of the stand-ins themselves are the ones already reported.
 */
function checkOnly(options: EntraIdProviderOptions, standIns: readonly string[]): undefined {
  try {
    new EntraIdProvider(options)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    const others = error.problems.filter(
      (problem) => !standIns.some((name) => problem.startsWith(`${name} (`)),
    )
    if (others.length > 0) throw new ConfigError(others)
  }
  return undefined
}

/**
 * Builds an {@link EntraIdProvider} when `AUTH_PROVIDER` includes `entra-id`:
 * - `AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID` (required): a tenant id, or `organizations` /
 *   `common` with `AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS` (tenant ids, comma-separated, or
 *   `*` for every tenant, logged as a warning);
 * - `AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID` (required): client id and/or App ID URI, comma-separated;
 * - `AUTH_PROVIDER_AZURE_ENTRA_ID_AUTHORITY_HOST`, `_TOKEN_VERSIONS` (`2.0`, `1.0,2.0`), `_JWKS_URI`,
 *   `_ALLOW_GUEST_USERS`, `_ALLOWED_CLIENT_APPS`, `_APP_SIGNING_KEYS` (`true`, `false` or an app
 *   id), `_ID_CLAIM`, `_LEEWAY`, `_B2C_TENANT_NAME`, `_B2C_POLICIES`, and the seed's
 *   `_JWKS_URL_TEMPLATE`.
 *
 * Keys are kept in the process-wide cache (`JWKS_CACHE_INTERVAL`, `JWKS_CACHE_USAGES`).
 *
 * @example
 * // AUTH_PROVIDER=entra-id AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID=72f988bf-…
 * // AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID=6e74172b-…,api://orders
 * app.use(jwtAuth(fromEnv()))
 */
export const entraIdEnv: ProviderEnvFactory = {
  name: 'entra-id',
  variables: [
    'TENANT_ID',
    'AUDIENCE_ID',
    'ALLOWED_TENANTS',
    'AUTHORITY_HOST',
    'TOKEN_VERSIONS',
    'JWKS_URI',
    'ALLOW_GUEST_USERS',
    'ALLOWED_CLIENT_APPS',
    'APP_SIGNING_KEYS',
    'ID_CLAIM',
    'LEEWAY',
    'B2C_TENANT_NAME',
    'B2C_POLICIES',
    'JWKS_URL_TEMPLATE',
  ].map((name) => `${PREFIX}${name}`),
  // The seed's clock tolerance, read for cognito: under entra-id it would be ignored unsaid.
  unread: Object.freeze({
    JWT_LEEWAY: `is read for AUTH_PROVIDER=cognito only: for entra-id set ${PREFIX}LEEWAY (seconds)`,
  }),
  create(env: EnvReader, context: EnvContext): JwtProvider | undefined {
    const required = { required: 'when AUTH_PROVIDER includes entra-id' }
    const tenantId = env.string('AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID', required)
    const audience = env.list('AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID', {
      required: `${required.required}: the API's application (client) ID and/or App ID URI, comma-separated`,
    })
    const tenants = env.list('AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS')
    const authorityHost = readAuthorityHost(env)
    const versions = readVersions(env)
    const optional = readOptional(env)
    const anyTenant = tenants?.includes('*') === true
    const contradictory = anyTenant && tenants!.length > 1
    if (contradictory) {
      env.problems.add(
        'AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS is either * or a list of tenant ids',
      )
    }
    // '*' alone is '*'; beside ids, the ids are still checked (a malformed one is reported too).
    const ids = tenants?.filter((tid) => tid !== '*')
    const allowedTenants = anyTenant && ids!.length === 0 ? '*' : ids
    const options: EntraIdProviderOptions = {
      // A stand-in tenant that takes ALLOWED_TENANTS when it is set, so as to add no problem.
      tenantId: tenantId ?? (tenants === undefined ? PLACEHOLDER_TENANT : 'organizations'),
      audience: audience ?? PLACEHOLDER_AUDIENCE,
      ...(allowedTenants === undefined ? {} : { allowedTenants }),
      ...(authorityHost === undefined ? {} : { authorityHost }),
      ...versions,
      ...optional,
      jwksCache: context.jwksCache,
      logger: context.logger,
    }
    // Every problem in one report: with a variable missing or contradictory, the constructor
    // still runs, for the rest of them, but nothing is built.
    if (tenantId === undefined || audience === undefined || contradictory) {
      const standIns = [
        ...(tenantId === undefined ? ['tenantId'] : []),
        ...(audience === undefined ? ['audience'] : []),
      ]
      return checkOnly(options, standIns)
    }
    // A ConfigError of the constructor joins the other problems in fromEnv's one report.
    const provider = new EntraIdProvider(options)
    // Only once the provider stands: a configuration refused is not one accepting every tenant.
    if (anyTenant) {
      context.logger.warn(
        'AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS=*: tokens of every Entra tenant are accepted',
      )
    }
    return provider
  },
}

// The SQL sources from environment variables: AUTHZ_DATABASE_URL and the pool's bounds.

import {
  ConfigError,
  type EnvReader,
  type Logger,
  type SourcesEnvFactory,
  type UserSources,
} from '../../src/spi.js'
import type { SqlPoolOptions } from './connection.js'
import { SQL_FACETS, type SqlFacet } from './schema.js'
import {
  SqlGroupsProvider,
  SqlPermissionsProvider,
  SqlRolesProvider,
  type SqlSourceOptions,
} from './sources.js'
import { parseDatabaseUrl } from './url.js'

const URL_VARIABLE = 'AUTHZ_DATABASE_URL'
// The seed's name for the same URL (SQLAlchemy URLs: postgresql+asyncpg://, mysql+aiomysql://…).
const URL_ALIAS = 'AUTHZ_SQLALCHEMY_DATABASE_URI'
const MAX_SECONDS = 86_400
// pool.size's bound, as resolvePoolOptions (connection.ts) checks it: read here too, so that a size
// out of range is reported with every other problem, not only once they are fixed (the source is
// built only then). Keep the two equal.
const MAX_POOL_SIZE = 1_000
const DEFAULT_FACETS: readonly SqlFacet[] = ['permissions']
const POOL_VARIABLES = [
  'AUTHZ_POOL_SIZE',
  'AUTHZ_POOL_TIMEOUT_IN_SECONDS',
  'AUTHZ_QUERY_TIMEOUT_IN_SECONDS',
] as const

const BUILDERS = {
  groups: (options: SqlSourceOptions) => new SqlGroupsProvider(options),
  roles: (options: SqlSourceOptions) => new SqlRolesProvider(options),
  permissions: (options: SqlSourceOptions) => new SqlPermissionsProvider(options),
} as const

/**
 * Builds the SQL sources from the environment, for `fromEnv()`:
 * `AUTHZ_DATABASE_URL` (alias `AUTHZ_SQLALCHEMY_DATABASE_URI`) names the database;
 * `AUTHZ_SQL_FACETS` which facets come from it (default `permissions`, so groups and roles a
 * provider reads from its tokens stay as they are); `AUTHZ_SQL_ID_CLAIM` the claim looked up
 * (default `sub`); `AUTHZ_POOL_SIZE`, `AUTHZ_POOL_TIMEOUT_IN_SECONDS` and
 * `AUTHZ_QUERY_TIMEOUT_IN_SECONDS` the pool's bounds. No URL: no SQL sources. The URL's password
 * never appears in a problem or a log line.
 */
export const sqlSourcesEnv: SourcesEnvFactory = {
  variables: [
    URL_VARIABLE,
    URL_ALIAS,
    'AUTHZ_SQL_FACETS',
    'AUTHZ_SQL_ID_CLAIM',
    'AUTHZ_POOL_SIZE',
    'AUTHZ_POOL_TIMEOUT_IN_SECONDS',
    'AUTHZ_QUERY_TIMEOUT_IN_SECONDS',
  ],
  create(env, context): UserSources {
    let ok = true
    const problem = (text: string): void => {
      env.problems.add(text)
      ok = false
    }
    const facets = env.list('AUTHZ_SQL_FACETS')
    const idClaim = env.string('AUTHZ_SQL_ID_CLAIM')
    const pool: SqlPoolOptions = {}
    const size = env.positive('AUTHZ_POOL_SIZE', { integer: true, max: MAX_POOL_SIZE })
    if (size !== undefined) pool.size = size
    const acquire = env.positive('AUTHZ_POOL_TIMEOUT_IN_SECONDS')
    if (acquire !== undefined) pool.acquireTimeoutMs = milliseconds(acquire)
    const query = env.positive('AUTHZ_QUERY_TIMEOUT_IN_SECONDS')
    if (query !== undefined) pool.queryTimeoutMs = milliseconds(query)
    // A bound the reader refused is a problem already: no source is built without it.
    const read = [size, acquire, query]
    if (POOL_VARIABLES.some((name, i) => env.raw(name) !== undefined && read[i] === undefined)) {
      ok = false
    }
    for (const [name, seconds] of [
      ['AUTHZ_POOL_TIMEOUT_IN_SECONDS', acquire],
      ['AUTHZ_QUERY_TIMEOUT_IN_SECONDS', query],
    ] as const) {
      if (seconds !== undefined && seconds > MAX_SECONDS) {
        problem(`${name} must be at most ${MAX_SECONDS} seconds`)
      }
    }
    const database = readDatabaseUrl(env, problem)
    if (database === undefined) {
      if (facets !== undefined || idClaim !== undefined) {
        problem(`AUTHZ_SQL_FACETS and AUTHZ_SQL_ID_CLAIM need ${URL_VARIABLE}, which is not set`)
      }
      // Bounds set for a pool that will never exist say the URL was forgotten (or misnamed).
      const bounds = POOL_VARIABLES.filter((name) => env.raw(name) !== undefined)
      if (bounds.length > 0) {
        const verb = bounds.length === 1 ? 'needs' : 'need'
        problem(`${joinNames(bounds)} ${verb} ${URL_VARIABLE}, which is not set`)
      }
      return {}
    }
    const { url, variable: urlName } = database
    const target = parseDatabaseUrl(url)
    if (typeof target === 'string') problem(`${urlName} ${target}`)
    const chosen = (facets ?? DEFAULT_FACETS).map((facet) => facet.toLowerCase())
    // Each as written, quoted: `got "groups"` printed bare would read as groups itself refused.
    const unknown = (facets ?? []).filter(
      (facet) => !SQL_FACETS.includes(facet.toLowerCase() as SqlFacet),
    )
    if (unknown.length > 0) {
      const shown = unknown.map((facet) => JSON.stringify(facet)).join(', ')
      problem(`AUTHZ_SQL_FACETS must list groups, roles or permissions, got ${shown}`)
    }
    if (!ok || typeof target === 'string') return {}

    const options: SqlSourceOptions = { url, pool, logger: context.logger }
    if (idClaim !== undefined) options.idClaim = idClaim
    const sources: Partial<Record<SqlFacet, unknown>> = {}
    try {
      for (const facet of new Set(chosen as SqlFacet[])) sources[facet] = BUILDERS[facet](options)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      // Option names become variable names, so the problem says what to change.
      for (const text of error.problems) env.problems.add(renamed(text, urlName))
      return {}
    }
    context.logger.debug(
      { database: target.display, facets: Object.keys(sources) },
      'authorization facets from SQL',
    )
    warnIfSharedByIssuers(env, context.logger, urlName, idClaim ?? 'sub')
    return sources as UserSources
  },
}

/**
 * Warns, at start-up, when the SQL sources serve the users of several providers: they look a user
 * up by the id claim's value alone, which does not say which issuer it came from, so a user of one
 * issuer gets the rights granted to another issuer's user of the same value (a Cognito username a
 * user chose, an OIDC `sub`). Not refused: a claim unique across the issuers (the `oid` of a single
 * Entra ID tenant) makes it right.
 */
function warnIfSharedByIssuers(
  env: EnvReader,
  logger: Logger,
  urlName: string,
  idClaim: string,
): void {
  const named = (env.raw('AUTH_PROVIDER') ?? '').split(',').map((name) => name.trim().toLowerCase())
  const providers = [...new Set(named.filter((name) => name !== ''))]
  if (providers.length < 2) return
  logger.warn(
    { providers, idClaim },
    '%s: one SQL source serves the users of every provider of AUTH_PROVIDER=%s alike, looked up by ' +
      'their "%s" claim alone: a user of one issuer gets the rights granted to a user of another ' +
      'issuer with the same "%s". Use a claim unique across the issuers (AUTHZ_SQL_ID_CLAIM), or ' +
      'build one source per issuer in code (docs/authorization-sql.md, "Several issuers")',
    urlName,
    providers.join(','),
    idClaim,
    idClaim,
  )
}

/** A database URL and the variable it was read from. */
export interface DatabaseUrlSetting {
  readonly url: string
  readonly variable: string
}

/**
 * `AUTHZ_DATABASE_URL`, else its alias `AUTHZ_SQLALCHEMY_DATABASE_URI`; `undefined` when neither
 * is set. Both set to different URLs is a `problem` (which one is stale cannot be told). Shared
 * with the CLI, so that it refuses the environments `fromEnv()` refuses.
 */
export function readDatabaseUrl(
  env: EnvReader,
  problem: (text: string) => void,
): DatabaseUrlSetting | undefined {
  // Named as written, so the docs test finds every variable read.
  const primary = env.string('AUTHZ_DATABASE_URL')
  const alias = env.string('AUTHZ_SQLALCHEMY_DATABASE_URI')
  if (primary !== undefined && alias !== undefined && primary !== alias) {
    problem(
      `${URL_VARIABLE} and ${URL_ALIAS} (its alias) are both set, to different URLs; keep one`,
    )
  }
  if (primary !== undefined) return { url: primary, variable: URL_VARIABLE }
  return alias === undefined ? undefined : { url: alias, variable: URL_ALIAS }
}

/** `A`, `A and B`, `A, B and C`. */
function joinNames(names: readonly string[]): string {
  return names.length === 1
    ? names[0]!
    : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]!}`
}

function milliseconds(seconds: number): number {
  return Math.max(1, Math.round(seconds * 1000))
}

function renamed(problem: string, urlName: string): string {
  return problem
    .replace(/^url /, `${urlName} `)
    .replace(/^idClaim /, 'AUTHZ_SQL_ID_CLAIM ')
    .replace(/^pool\.size /, 'AUTHZ_POOL_SIZE ')
}

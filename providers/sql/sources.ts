// SqlGroupsProvider, SqlRolesProvider, SqlPermissionsProvider: a user's facets from SQL tables.

import {
  checkOptionNames,
  ConfigError,
  Problems,
  type OptionFlags,
  type GroupsProvider,
  type PermissionsProvider,
  type RolesProvider,
  type SourceContext,
  type User,
} from '../../src/spi.js'
import type { SqlFacet } from './schema.js'
import { SqlAuthzStore, STORE_OPTION_FLAGS, type SqlStoreOptions } from './store.js'

/** Options of the SQL sources: where the tables are (or a shared store), and the key's claim. */
export interface SqlSourceOptions extends SqlStoreOptions {
  /**
   * The verified claim whose value is looked up in the user column: `sub` (default), `username`,
   * `cognito:username`, `email`, `oid`… Users authenticated without a token (Basic, API keys)
   * are looked up by their `id`. A token without the claim fails the facet (503), never `[]`.
   *
   * Warning: choose a claim the identity provider controls and keeps unique. A claim users can
   * set themselves (an unverified `email`, a display name) would let them take someone's rights.
   */
  idClaim?: string
  /** A store shared with other sources (instead of `url`/`client` and the naming options). */
  store?: SqlAuthzStore
}

// Each is given to the store the source builds; with a shared `store`, none may be (the store
// already has its own, and the source would silently ignore them).
const STORE_OPTIONS = Object.keys(STORE_OPTION_FLAGS) as (keyof SqlStoreOptions)[]
const SOURCE_OPTIONS = Object.keys({
  ...STORE_OPTION_FLAGS,
  idClaim: true,
  store: true,
} as const satisfies OptionFlags<SqlSourceOptions>)
const SOURCE_NAMES: Readonly<Record<SqlFacet, string>> = {
  groups: 'SqlGroupsProvider',
  roles: 'SqlRolesProvider',
  permissions: 'SqlPermissionsProvider',
}

/**
 * The lookup key of a user: the `idClaim` claim of a token's user, or the `id` of a user
 * authenticated without a token.
 *
 * @throws {Error} naming the claim (never its value) when the token lacks it or it is not a
 *   non-empty string; the pipeline answers 503 `ERR_AUTH_SOURCE_UNAVAILABLE` and logs the reason.
 */
export function lookupKey(user: User, idClaim: string): string {
  const key = keyOf(user, idClaim)
  if (key !== undefined) return key
  const fromToken = Object.keys(user.claims).length > 0
  throw new Error(
    fromToken
      ? `the token has no "${idClaim}" claim (a non-empty string) to look the user up by; set idClaim to a claim the tokens carry`
      : 'the user has no id to look up',
  )
}

/** {@link lookupKey}, or `undefined` where it throws. */
function keyOf(user: User, idClaim: string): string | undefined {
  const fromToken = Object.keys(user.claims).length > 0
  const value = fromToken ? user.claims[idClaim] : user.id
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** The options the store takes, out of a source's (whose unknown names the source reported). */
function storeOptions(given: SqlSourceOptions): SqlStoreOptions {
  return Object.fromEntries(
    STORE_OPTIONS.filter((name) => name in given).map((name) => [name, given[name]]),
  ) as SqlStoreOptions
}

abstract class SqlSource {
  /** The claim looked up. */
  readonly idClaim: string
  /** The store the lookups go through (shared when given as `store`). */
  readonly store: SqlAuthzStore
  readonly #facet: SqlFacet
  readonly #ownsStore: boolean

  protected constructor(facet: SqlFacet, options: SqlSourceOptions) {
    const problems = new Problems()
    const given = (options ?? {}) as SqlSourceOptions
    // `idclaim: 'email'` would look users up by sub: a misspelt name is refused, not ignored.
    checkOptionNames(problems, SOURCE_NAMES[facet], given, SOURCE_OPTIONS)
    const { idClaim = 'sub', store } = given
    if (typeof idClaim !== 'string' || idClaim.trim() === '') {
      problems.add(`idClaim must be a claim name such as sub, email or cognito:username`)
    } else if (idClaim.trim() !== idClaim) {
      // No token has a claim named " sub": every lookup would fail (503) until it is found.
      problems.add(
        `idClaim must be a claim name without spaces around it, got ${JSON.stringify(idClaim)}: write ${JSON.stringify(idClaim.trim())}`,
      )
    }
    if (store !== undefined) {
      if (!(store instanceof SqlAuthzStore)) problems.add('store must be a SqlAuthzStore')
      const extra = STORE_OPTIONS.filter((name) => given[name] !== undefined)
      if (extra.length > 0) {
        problems.add(
          `give either store or ${extra.join(', ')}: the store already has its own (where the tables are, its pool, its logger)`,
        )
      }
      problems.throwIfAny()
      this.store = store
    } else {
      let built: SqlAuthzStore | undefined
      try {
        built = new SqlAuthzStore(storeOptions(given))
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error
        for (const problem of error.problems) problems.add(problem)
      }
      try {
        problems.throwIfAny()
      } catch (error) {
        // The store took a reference on a shared pool: give it back, or the pool never closes.
        void built?.close()
        throw error
      }
      this.store = built!
    }
    this.idClaim = idClaim
    this.#facet = facet
    this.#ownsStore = store === undefined
  }

  /** Opens the pool and sends one trivial query: call at start-up to fail fast. */
  ready(): Promise<void> {
    return this.store.ready()
  }

  /**
   * The value the user is looked up by ({@link lookupKey}), `undefined` without one: the pipeline
   * caches the answers under it rather than `user.id`, which may differ (`idClaim: 'email'`, or a
   * gateway's one `sub` for all its end users), and `forgetUser({ issuer, subject })` takes it as
   * `subject` (the `USER` of `oidc-guard grant`).
   */
  cacheKey(user: User): string | undefined {
    return keyOf(user, this.idClaim)
  }

  /** Lets go of the pool (a shared store is left to its owner). */
  async close(): Promise<void> {
    if (this.#ownsStore) await this.store.close()
  }

  protected lookup(user: User, context: SourceContext | undefined): Promise<string[]> {
    let key: string
    try {
      key = lookupKey(user, this.idClaim)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.store.lookup(this.#facet, key, context?.signal)
  }
}

/**
 * A user's groups from an SQL table (`authz_groups(username, "group")` by default), for
 * `requireGroups`. PostgreSQL, MySQL/MariaDB and SQLite, through Kysely; answers are cached across
 * requests by the pipeline (issuer + the value looked up, `cacheKey`). A database that is down or
 * slow answers 503 within the pool's bounds.
 *
 * @example
 * const groups = new SqlGroupsProvider({ url: 'sqlite:./authz.db', idClaim: 'email' })
 * app.use(jwtAuth({ provider, groups }))
 * app.get('/admin', requireGroups(['admin']), handler)
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` at construction, listing every invalid option.
 */
export class SqlGroupsProvider extends SqlSource implements GroupsProvider {
  constructor(options: SqlSourceOptions) {
    super('groups', options)
  }

  fetchGroups(user: User, context?: SourceContext): Promise<string[]> {
    return this.lookup(user, context)
  }
}

/**
 * A user's roles from an SQL table (`authz_roles(username, role)` by default), for `requireRoles`.
 *
 * @example
 * const roles = new SqlRolesProvider({ client: myPgPool })
 * app.use(jwtAuth({ provider, roles }))
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` at construction, listing every invalid option.
 */
export class SqlRolesProvider extends SqlSource implements RolesProvider {
  constructor(options: SqlSourceOptions) {
    super('roles', options)
  }

  fetchRoles(user: User, context?: SourceContext): Promise<string[]> {
    return this.lookup(user, context)
  }
}

/**
 * A user's permissions from an SQL table (`authz_permissions(username, permission)` by default),
 * for `requirePermissions`: the seed's `SqlPermissionsProvider`, looked up by the verified `sub`
 * (or `idClaim`) rather than a misread credential.
 *
 * @example
 * const permissions = new SqlPermissionsProvider({ url: 'postgres://127.0.0.1/test' })
 * app.use(jwtAuth({ provider, permissions }))
 * app.post('/orders', requirePermissions(['orders:write']), handler)
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` at construction, listing every invalid option.
 */
export class SqlPermissionsProvider extends SqlSource implements PermissionsProvider {
  constructor(options: SqlSourceOptions) {
    super('permissions', options)
  }

  fetchPermissions(user: User, context?: SourceContext): Promise<string[]> {
    return this.lookup(user, context)
  }
}

// GraphGroupResolver: a user's groups from Microsoft Graph (getMemberObjects), for group overage.

import { LRUCache } from 'lru-cache'
import {
  readJsonCapped,
  isJsonObject,
  checkLogger,
  checkNumber,
  checkOptionNames,
  checkTimeout,
  isDroppedLoad,
  neverThrows,
  noteDrop,
  Problems,
  safeError,
  silentLogger,
  UnavailableError,
  type FetchFunction,
  type GroupsProvider,
  type Logger,
  type SourceContext,
  type User,
} from '../../src/spi.js'
import { graphCloudConflict, isTenantId } from './authority.js'
import { show } from './config.js'
import {
  GraphFailure,
  graphErrorOf,
  retryAfterOf,
  ThrottleWindows,
  THROTTLED_STATUSES,
  tokenProblem,
} from './graph-answers.js'
import {
  resolveCacheOption,
  resolveEndpoint,
  OPTION_NAMES,
  type GraphGroupResolverOptions,
} from './graph-options.js'

export { MAX_THROTTLED_TENANTS } from './graph-answers.js'
export type { GraphCacheOptions, GraphGroupResolverOptions } from './graph-options.js'

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024
const DESCRIPTION = 'group membership cannot be loaded from Microsoft Graph right now'
/** The tenant a lookup's Graph token is for: the user's (`tid`), as `getGraphToken` is told. */
function tenantOf(user: User): string {
  const tid = user.claims['tid']
  return typeof tid === 'string' ? tid : ''
}

/**
 * Adds a problem when `resolver` is a {@link GraphGroupResolver} whose Graph is another national
 * cloud's than the authority's: every overage lookup would send the users' Graph tokens there, and
 * fail. Other resolvers, and hosts of no known cloud (a proxy, a stand-in), are left alone.
 */
export function checkGraphCloud(
  problems: Problems,
  authorityHost: string,
  resolver: unknown,
): void {
  if (!(resolver instanceof GraphGroupResolver)) return
  const conflict = graphCloudConflict(authorityHost, new URL(resolver.graphEndpoint).hostname)
  if (conflict === undefined) return
  problems.add(
    `groupOverageResolver: the authority ${conflict}; give the GraphGroupResolver that graphEndpoint, and Graph tokens of that cloud (scope {graphEndpoint}/.default)`,
  )
}

/**
 * A user's group memberships from Microsoft Graph: `POST /v1.0/users/{oid}/getMemberObjects`
 * (`/servicePrincipals/{oid}` for app-only tokens), following `@odata.nextLink` pages on the same
 * origin only, with a token your app supplies. It answers object ids (of security groups only, by
 * default): the `groups` claim carries the same when it carries ids, not when the app registration
 * emits `sAMAccountName` or display names, or only the groups assigned to the app. Where overage
 * is possible, name groups in `requireGroups` by object id. Use it as the `groupOverageResolver`
 * of `EntraIdProvider`, or as the `groups` source of `jwtAuth` to always ask Graph.
 *
 * Answers are cached per issuer, user and tenant (its own bounded cache, as overage answers are
 * otherwise read per request), which `forgetUser` and `clearSourceCache` reach through
 * {@link forget} and {@link clear}; concurrent lookups for one user share one call. Any failure
 * (no `oid`, the token callback throwing, a time-out, a non-200, a malformed answer) is a 503
 * `ERR_AUTH_SOURCE_UNAVAILABLE`, never an empty list; Graph's `Retry-After` is passed on. While
 * Graph throttles a tenant (a 429 or 503 with `Retry-After`, seconds or a date; a 429 without
 * one, 5 s), that tenant's lookups are answered 503 with the time left, without calling Graph:
 * calls made during the window keep the app throttled. Graph throttles per app and tenant, and `getGraphToken` gets a token for the user's
 * tenant, so other tenants' lookups go on.
 *
 * @example
 * const graph = new GraphGroupResolver({
 *   getGraphToken: async (user) => (await msal.acquireTokenByClientCredential({
 *     scopes: ['https://graph.microsoft.com/.default'],
 *     authority: `https://login.microsoftonline.com/${String(user.claims.tid)}`,
 *   }))!.accessToken,
 * })
 * const provider = new EntraIdProvider({ tenantId, audience, groupOverageResolver: graph })
 *
 * @remarks **Security:** the endpoint of `_claim_sources` in an overage token is never used: the
 * lookup goes to `graphEndpoint` only, which must be Graph of the users' cloud (`EntraIdProvider`
 * refuses another cloud's; a token of another cloud is never looked up). Grant the Graph token
 * the least permission that reads memberships (`GroupMember.Read.All`).
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every invalid option.
 */
export class GraphGroupResolver implements GroupsProvider {
  /** Not read from the token: the pipeline may cache its answers across requests. */
  readonly fromToken = false
  readonly graphEndpoint: string
  readonly #getGraphToken: GraphGroupResolverOptions['getGraphToken']
  readonly #timeoutMs: number
  readonly #securityEnabledOnly: boolean
  readonly #maxPages: number
  readonly #fetch: FetchFunction
  readonly #logger: Logger
  readonly #cache: LRUCache<string, readonly string[], User> | undefined
  /**
   * For `forget`: the cache keys (answers and lookups under way) of each user, by issuer and id,
   * and back. Kept in step with the cache (dispose, a lookup's abort or failure), so never larger.
   */
  readonly #keysOf = new Map<string, Set<string>>()
  readonly #userOf = new Map<string, string>()
  /** The tenants Graph throttles, and until when: their lookups answer 503 without a call. */
  readonly #throttled = new ThrottleWindows()

  constructor(options: GraphGroupResolverOptions) {
    const problems = new Problems()
    const given = options ?? ({} as GraphGroupResolverOptions)
    checkOptionNames(problems, 'GraphGroupResolver', given, OPTION_NAMES)
    if (typeof given.getGraphToken !== 'function') {
      problems.add(
        'getGraphToken is required: a function returning an access token for Microsoft Graph',
      )
    }
    const endpoint = resolveEndpoint(problems, given.graphEndpoint)
    checkTimeout(problems, 'timeoutMs', given.timeoutMs)
    checkNumber(problems, 'maxPages', given.maxPages, 1, { integer: true, max: 1000 })
    // A string such as 'false' would be posted as it is, and Graph refuses it on every lookup.
    const { securityEnabledOnly } = given
    if (securityEnabledOnly !== undefined && typeof securityEnabledOnly !== 'boolean') {
      problems.add(`securityEnabledOnly must be true or false, got ${show(securityEnabledOnly)}`)
    }
    const cache = resolveCacheOption(problems, given.cache)
    if (given.fetch !== undefined && typeof given.fetch !== 'function') {
      problems.add('fetch must be a function with the signature of fetch()')
    }
    checkLogger(problems, 'logger', given.logger)
    problems.throwIfAny()
    this.graphEndpoint = endpoint
    this.#getGraphToken = given.getGraphToken
    this.#timeoutMs = given.timeoutMs ?? 5_000
    this.#securityEnabledOnly = given.securityEnabledOnly ?? true
    this.#maxPages = given.maxPages ?? 20
    this.#fetch = given.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.#logger = given.logger ? neverThrows(given.logger) : silentLogger
    this.#cache =
      cache === false
        ? undefined
        : new LRUCache<string, readonly string[], User>({
            max: cache?.max ?? 10_000,
            ttl: cache?.ttlMs ?? 300_000,
            updateAgeOnGet: false,
            ttlResolution: 0,
            // A stale answer replaced by a new lookup's ('set') keeps its key, and its user.
            dispose: (_value, key, reason) => {
              if (reason !== 'set') this.#unlink(key)
            },
            fetchMethod: (key, _stale, { signal, context }) => {
              noteDrop(signal)
              return this.#fill(key, context, signal)
            },
          })
  }

  /**
   * The object ids of the groups the user is a member of, transitively (security groups only
   * unless `securityEnabledOnly: false`, which adds the other groups, administrative units and
   * directory roles).
   *
   * @throws {UnavailableError} `ERR_AUTH_SOURCE_UNAVAILABLE` when Graph cannot answer.
   */
  async fetchGroups(user: User, context?: SourceContext): Promise<readonly string[]> {
    const oid = user.claims['oid']
    if (!isTenantId(oid)) {
      throw new UnavailableError('ERR_AUTH_SOURCE_UNAVAILABLE', DESCRIPTION, {
        cause: new GraphFailure('the token has no oid claim to look up'),
      })
    }
    if (this.#cache === undefined) return this.#lookup(user, context?.signal)
    const tid = typeof user.claims['tid'] === 'string' ? user.claims['tid'] : ''
    const issuer = typeof user.claims.iss === 'string' ? user.claims.iss : ''
    // Per issuer and id too, as `forget` names users: every request an answer serves is then of
    // the user it was looked up for (a v1 and a v2 token of one user are two users there).
    const key = `${userKey(issuer, idOf(user))}\n${tid}\n${oid}\n${String(user.isM2M)}`
    return this.#cached(key, user, context?.signal)
  }

  /**
   * The cached answer, or the one lookup concurrent misses share. lru-cache aborts a pending
   * lookup when its entry is dropped ({@link clear}, eviction) and rejects everyone waiting on it:
   * our cache's doing, not an outage. They get a new lookup, started after the drop (so never the
   * answer a clear() meant to discard); dropped again (a cache too small for the users looking up
   * at once), Graph is asked without the cache.
   */
  async #cached(
    key: string,
    user: User,
    signal: AbortSignal | undefined,
    retried = false,
  ): Promise<readonly string[]> {
    try {
      return (await this.#cache!.fetch(key, { context: user }))!
    } catch (error) {
      if (!isDroppedLoad(error)) throw error
      return retried ? this.#lookup(user, signal) : this.#cached(key, user, signal, true)
    }
  }

  /**
   * Forgets the cached answers of one user, by issuer and `user.id` (after a membership change you
   * know of): `forgetUser` calls it. A lookup under way for that user is made again, so no request
   * waiting on it fails, nor gets the answer `forget` discarded.
   */
  forget(user: { readonly issuer: string; readonly subject: string }): void {
    const keys = this.#keysOf.get(userKey(user.issuer, user.subject))
    if (keys === undefined) return
    for (const key of [...keys]) this.#cache?.delete(key)
  }

  /** Forgets every cached answer (after changes you know of): `clearSourceCache` calls it. */
  clear(): void {
    this.#cache?.clear()
    this.#keysOf.clear()
    this.#userOf.clear()
  }

  /** A cache miss: the key is the user's from now until it leaves the cache, filled or not. */
  async #fill(key: string, user: User, signal: AbortSignal): Promise<readonly string[]> {
    const issuer = typeof user.claims.iss === 'string' ? user.claims.iss : ''
    this.#link(key, userKey(issuer, idOf(user)))
    // Dropped while loading (forget, clear, eviction): the key has left the cache, unfilled.
    signal.addEventListener('abort', () => this.#unlink(key), { once: true })
    try {
      return await this.#lookup(user, signal)
    } catch (error) {
      // Failed: the cache drops the key. Aborted: done above, and a new lookup may hold it now.
      if (!signal.aborted) this.#unlink(key)
      throw error
    }
  }

  #link(key: string, user: string): void {
    this.#userOf.set(key, user)
    const keys = this.#keysOf.get(user)
    if (keys === undefined) this.#keysOf.set(user, new Set([key]))
    else keys.add(key)
  }

  #unlink(key: string): void {
    const user = this.#userOf.get(key)
    if (user === undefined) return
    this.#userOf.delete(key)
    const keys = this.#keysOf.get(user)
    keys?.delete(key)
    if (keys?.size === 0) this.#keysOf.delete(user)
  }

  async #lookup(user: User, outer: AbortSignal | undefined): Promise<readonly string[]> {
    const waitSec = this.#throttled.secondsLeft(tenantOf(user))
    if (waitSec !== undefined) {
      // Not logged: the throttling was, when Graph answered it; this is every request until it ends.
      throw new UnavailableError('ERR_AUTH_SOURCE_UNAVAILABLE', DESCRIPTION, {
        cause: new GraphFailure(`Graph throttles this tenant; not called for ${waitSec} s more`),
        retryAfterSec: waitSec,
      })
    }
    const controller = new AbortController()
    const onAbort = () => controller.abort(outer?.reason)
    outer?.addEventListener('abort', onAbort, { once: true })
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const reason = new GraphFailure(`no answer within ${this.#timeoutMs} ms`)
        controller.abort(reason)
        reject(reason)
      }, this.#timeoutMs)
      timer.unref?.()
    })
    try {
      return await Promise.race([this.#pages(user, controller.signal), timedOut])
    } catch (error) {
      // Given up by the caller (or by our cache dropping the entry): not Graph's failure.
      if (outer?.aborted !== true) {
        // The token callback's error may quote a token (an on-behalf-of assertion): scrubbed.
        this.#logger.warn(
          { err: safeError(error) },
          'Microsoft Graph group lookup failed; answering 503',
        )
      }
      const retryAfterSec = error instanceof GraphFailure ? error.retryAfterSec : undefined
      throw new UnavailableError('ERR_AUTH_SOURCE_UNAVAILABLE', DESCRIPTION, {
        cause: error,
        ...(retryAfterSec === undefined ? {} : { retryAfterSec }),
      })
    } finally {
      clearTimeout(timer)
      outer?.removeEventListener('abort', onAbort)
    }
  }

  async #pages(user: User, signal: AbortSignal): Promise<readonly string[]> {
    this.#checkCloud(user)
    const token: unknown = await this.#getGraphToken(user, { signal })
    const problem = tokenProblem(token)
    if (problem !== undefined) throw new GraphFailure(problem)
    const collection = user.isM2M ? 'servicePrincipals' : 'users'
    let url = `${this.graphEndpoint}/v1.0/${collection}/${String(user.claims['oid'])}/getMemberObjects`
    let init: RequestInit = {
      method: 'POST',
      body: JSON.stringify({ securityEnabledOnly: this.#securityEnabledOnly }),
    }
    const ids = new Set<string>()
    for (let page = 1; ; page += 1) {
      const response = await this.#fetch(url, {
        ...init,
        redirect: 'manual',
        signal,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      })
      if (response.status !== 200) {
        const retryAfterSec = retryAfterOf(response)
        if (retryAfterSec !== undefined && THROTTLED_STATUSES.has(response.status)) {
          this.#throttled.start(tenantOf(user), retryAfterSec)
        }
        const reason = await graphErrorOf(response)
        throw new GraphFailure(`Graph answered HTTP ${response.status}${reason}`, retryAfterSec)
      }
      const next = this.#collect(await readJsonCapped(response, MAX_RESPONSE_BYTES), ids)
      if (next === undefined) return [...ids]
      if (page >= this.#maxPages) throw new GraphFailure(`more than ${this.#maxPages} pages`)
      url = next
      // OData paging: the next page is a GET of the link, which carries the request's state.
      init = { method: 'GET' }
    }
  }

  /**
   * A token of one national cloud is never sent to another's Graph, which would refuse it anyway:
   * the lookup fails, saying why. Issuers of no single known cloud (v1's `sts.windows.net`, B2C,
   * custom domains) are left to Graph.
   */
  #checkCloud(user: User): void {
    const { iss } = user.claims
    if (typeof iss !== 'string' || !URL.canParse(iss)) return
    const conflict = graphCloudConflict(new URL(iss).hostname, new URL(this.graphEndpoint).hostname)
    if (conflict !== undefined) throw new GraphFailure(`the token's issuer ${conflict}`)
  }

  /** Adds a page's ids to `ids`; returns the next page's URL, if any. */
  #collect(document: unknown, ids: Set<string>): string | undefined {
    const value = isJsonObject(document) ? document['value'] : undefined
    if (!Array.isArray(value) || !value.every((id) => typeof id === 'string')) {
      throw new GraphFailure('the answer has no list of ids')
    }
    for (const id of value as string[]) ids.add(id)
    const next = (document as Record<string, unknown>)['@odata.nextLink']
    if (next === undefined) return undefined
    // The token goes with the request: never to another origin than the configured one.
    if (
      typeof next !== 'string' ||
      !URL.canParse(next) ||
      new URL(next).origin !== this.graphEndpoint
    ) {
      throw new GraphFailure('the next page link points outside graphEndpoint')
    }
    return next
  }
}

/** `user.id`, which a hand-made user may lack. */
function idOf(user: User): string {
  return typeof user.id === 'string' ? user.id : ''
}

/**
 * A user as `forget` names one, issuer and id each length-prefixed, so that no two users share a
 * key whatever characters their claims hold.
 */
function userKey(issuer: string, subject: string): string {
  return `${issuer.length}:${issuer}${subject.length}:${subject}`
}

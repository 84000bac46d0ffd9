// GraphGroupResolver: a user's groups from Microsoft Graph (getMemberObjects), for group overage.

import { LRUCache } from 'lru-cache'
import {
  readJsonCapped,
  isJsonObject,
  checkLogger,
  checkNumber,
  MAX_CACHE_ENTRIES,
  checkTimeout,
  checkUrl,
  isDroppedLoad,
  isProduction,
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
import { isTenantId } from './authority.js'
import { show } from './config.js'

/** Options of {@link GraphGroupResolver}. */
export interface GraphGroupResolverOptions {
  /**
   * Returns an access token for Microsoft Graph, for the user's tenant (`user.claims.tid`), with
   * `GroupMember.Read.All` (application permission, client credentials) or a delegated token
   * (on-behalf-of `user.token`). Called once per lookup; cache tokens on your side (MSAL does).
   */
  getGraphToken: (user: User, context: SourceContext) => string | Promise<string>
  /** Graph's origin: `https://graph.microsoft.us`, `https://microsoftgraph.chinacloudapi.cn`… Default `https://graph.microsoft.com`. */
  graphEndpoint?: string
  /** Longest wait for one lookup (token, every page), in milliseconds. Default 5000. */
  timeoutMs?: number
  /** Ask for security groups only (`securityEnabledOnly`), as the `groups` claim does by default. Default `true`. */
  securityEnabledOnly?: boolean
  /**
   * The resolver's own cache of answers, per tenant and user: `{ ttlMs, max }` or `false`.
   * Default `{ ttlMs: 300_000, max: 10_000 }`: a membership change shows within five minutes.
   */
  cache?: { ttlMs?: number; max?: number } | false
  /** Most `@odata.nextLink` pages followed. Default 20. */
  maxPages?: number
  /** The fetch to call Graph with (tests, proxies). Default `globalThis.fetch`. */
  fetch?: FetchFunction
  /**
   * Where failures are logged (never with the token): a pino logger. Default: none, as with `false`.
   */
  logger?: Logger | false
}

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024
const DESCRIPTION = 'group membership cannot be loaded from Microsoft Graph right now'

/** A failed Graph exchange, for logs: the status or the reason, never the token. */
class GraphFailure extends Error {
  override readonly name = 'GraphFailure'
  readonly retryAfterSec: number | undefined

  constructor(message: string, retryAfterSec?: number) {
    super(message)
    this.retryAfterSec = retryAfterSec
  }
}

function retryAfterOf(response: Response): number | undefined {
  const seconds = Number(response.headers.get('retry-after'))
  return Number.isInteger(seconds) && seconds > 0 ? Math.min(seconds, 300) : undefined
}

function resolveEndpoint(problems: Problems, value: unknown): string {
  const endpoint = value ?? 'https://graph.microsoft.com'
  checkUrl(problems, 'graphEndpoint', endpoint, isProduction())
  if (typeof endpoint !== 'string') return ''
  try {
    const url = new URL(endpoint)
    if (url.pathname !== '/') problems.add('graphEndpoint is an origin, without a path (no /v1.0)')
    return url.origin
  } catch {
    return ''
  }
}

/** The `cache` option checked: its settings, `false` for none, or `undefined` for the default. */
function resolveCacheOption(
  problems: Problems,
  cache: unknown,
): GraphGroupResolverOptions['cache'] {
  if (cache === undefined || cache === false) return cache
  if (typeof cache !== 'object' || cache === null || Array.isArray(cache)) {
    problems.add(`cache must be { ttlMs, max } or false, got ${show(cache)}`)
    return undefined
  }
  const settings = cache as { ttlMs?: number; max?: number }
  checkTimeout(problems, 'cache.ttlMs', settings.ttlMs)
  checkNumber(problems, 'cache.max', settings.max, 1, { integer: true, max: MAX_CACHE_ENTRIES })
  return settings
}

/**
 * A user's group memberships from Microsoft Graph: `POST /v1.0/users/{oid}/getMemberObjects`
 * (`/servicePrincipals/{oid}` for app-only tokens), following `@odata.nextLink` pages on the same
 * origin only, with a token your app supplies. The ids it answers are those the `groups` claim
 * carries, so guards read the same either way. Use it as the `groupOverageResolver` of
 * `EntraIdProvider`, or as the `groups` source of `jwtAuth` to always ask Graph.
 *
 * Answers are cached per tenant and user (its own bounded cache, as overage answers are otherwise
 * read per request); concurrent lookups for one user share one call. Any failure (no `oid`, the
 * token callback throwing, a time-out, a non-200, a malformed answer) is a 503
 * `ERR_AUTH_SOURCE_UNAVAILABLE`, never an empty list; Graph's `Retry-After` is passed on.
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
 * lookup goes to `graphEndpoint` only. Grant the Graph token the least permission that reads
 * memberships (`GroupMember.Read.All`).
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

  constructor(options: GraphGroupResolverOptions) {
    const problems = new Problems()
    const given = options ?? ({} as GraphGroupResolverOptions)
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
            fetchMethod: (_key, _stale, { signal, context }) => {
              noteDrop(signal)
              return this.#lookup(context, signal)
            },
          })
  }

  /**
   * The ids of the groups (and directory roles) the user is a member of, transitively.
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
    const tid = typeof user.claims['tid'] === 'string' ? user.claims['tid'] : ''
    if (this.#cache === undefined) return this.#lookup(user, context?.signal)
    return this.#cached(`${tid}\n${oid}\n${String(user.isM2M)}`, user, context?.signal)
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

  /** Forgets every cached answer (after a membership change you know of). */
  clear(): void {
    this.#cache?.clear()
  }

  async #lookup(user: User, outer: AbortSignal | undefined): Promise<readonly string[]> {
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
    const token = await this.#getGraphToken(user, { signal })
    if (typeof token !== 'string' || token === '') {
      throw new GraphFailure('getGraphToken returned no token')
    }
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
        response.body?.cancel().catch(() => undefined)
        throw new GraphFailure(`Graph answered HTTP ${response.status}`, retryAfterOf(response))
      }
      const next = this.#collect(await readJsonCapped(response, MAX_RESPONSE_BYTES), ids)
      if (next === undefined) return [...ids]
      if (page >= this.#maxPages) throw new GraphFailure(`more than ${this.#maxPages} pages`)
      url = next
      // OData paging: the next page is a GET of the link, which carries the request's state.
      init = { method: 'GET' }
    }
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

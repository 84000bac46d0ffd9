// The verification pipeline: peek at iss, pick the provider through a Map, verify, build the user.

import { LRUCache } from 'lru-cache'
import type { JwtProvider, VerifiedToken } from './contracts.js'
import { Enrichment } from './enrichment.js'
import { checkEnrichmentOptions, checkSources } from './enrichment-options.js'
import { checkEnv } from './env.js'
import { revocationChannel, verifyChannel } from './diagnostics.js'
import { InvalidTokenError, type AuthError } from './errors.js'
import { healthReport, type HasHealth, type HealthReport } from './health.js'
import { parseJwt } from './jwt.js'
import { resolveLogger, safeError, type Logger } from './logger.js'
import { checkOptionNames, Problems } from './options.js'
import {
  checkTemplates,
  isTemplated,
  issuerGroups,
  longestAccepted,
  resolveProviders,
  routeTable,
  sourcesFor,
} from './provider-routing.js'
import { tokenRevoked } from './revocation.js'
import { askStore, isRefusal, StoreFailureLog } from './revocation-answer.js'
import type { User, UserSources } from './user.js'
import {
  checkVerifierOptions,
  OPTION_NAMES,
  resolveLogLevel,
  type VerifierOptions,
} from './verifier-options.js'

const DEFAULT_TOKEN_CACHE_MAX = 10_000
// The token cache is indexed by a number made of the token's last six characters, the end of its
// signature, and an entry is used only when its whole token string is equal to the one presented.
// Hashing a whole token (about 1 µs for 800 characters, on every request: each header is a new
// string) would be the costliest step of a cache hit; a string key of its last characters still
// costs a new string and its hash on every request, a number neither. The number has 30 bits (a
// small integer to V8 in every build). Two remembered tokens whose ends give one number (about one
// chance in 100,000 for each new token, with 10,000 remembered) take turns in one slot: each
// replaces the other, and a token that finds the other is verified again. A forged token that
// copies a remembered one's end finds it, is not equal to it, and is verified.
const CACHE_KEY_CHARACTERS = 6

/** FNV-1a over the token's last characters. */
function cacheKey(token: string): number {
  let hash = 0x811c9dc5
  for (let index = Math.max(0, token.length - CACHE_KEY_CHARACTERS); index < token.length;) {
    hash = Math.imul(hash ^ token.charCodeAt(index++), 0x01000193)
  }
  return hash >>> 2
}

/** A verification remembered for its token string. */
interface Remembered {
  readonly provider: JwtProvider
  readonly verified: VerifiedToken
  readonly sources: UserSources
}

/** Verifies a token and resolves to its {@link User}; the whole pipeline without Express. */
export interface Verifier {
  (token: string): Promise<User>
  readonly providers: readonly JwtProvider[]
  readonly logger: Logger
  /** Pre-warms every provider (discovery, keys); rejects if one cannot be reached. */
  hydrate(): Promise<void>
  /**
   * The user of a token verified earlier that still holds (not expired, key still published), or
   * `undefined`: then call the verifier. Synchronous, for the hot path.
   */
  fromCache(token: string): User | undefined
  /**
   * Forgets the cached groups, roles, permissions and profile of one user, so the next request
   * asks the sources again (after changing the user's roles, say). Pass the `User`, or its issuer
   * and `user.id` as `subject`: the id claim the provider maps (`oid` for Entra ID), not always
   * the token's `sub`. A source that looks users up by a key of its own (its `cacheKey`: the SQL
   * sources' `idClaim`) keeps their answers under that key: a `User` forgets both, while
   * `{ issuer, subject }` forgets `subject` in every facet, so pass that key (the `USER` of an
   * `oidc-guard grant`) for such a source.
   */
  forgetUser(user: User | { issuer: string; subject: string }): Promise<void>
  /**
   * Forgets every cached authorization answer, so the next requests ask the sources again. With a
   * shared tier (`RedisSharedCache`) every instance forgets too, and the promise resolves once they
   * have been told; it rejects when Redis cannot be reached (this instance has forgotten its own
   * answers, the others keep theirs up to `ttlMs`): retry it.
   */
  clearSourceCache(): Promise<void>
  /** Each provider's keys, the revocation store and the caches; `ok` is false when one cannot serve. */
  health(): Promise<HealthReport>
}

/**
 * Builds the verification pipeline once: `verify(token)` resolves to the token's {@link User}.
 * For WebSocket upgrades, GraphQL contexts and queue consumers; `jwtAuth` is a thin layer over it.
 * The provider is chosen by the token's unverified `iss` through a Map; an `iss` no provider
 * claims is refused without any network call, and the provider still checks `iss` after the
 * signature.
 *
 * @example
 * const verify = createVerifier({ provider })
 * wss.on('connection', async (socket, req) => {
 *   const user = await verify(tokenFrom(req)) // rejects with an AuthError
 * })
 *
 * It takes `jwtAuth`'s options too, leaving the middleware's to it, so that one options object
 * (`fromEnv()`'s) serves both; any other key is refused as a misspelling.
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every invalid option, and every unknown one.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const problems = new Problems()
  checkOptionNames(problems, 'createVerifier', options, OPTION_NAMES)
  const providers = resolveProviders(problems, options ?? {})
  const { groups, roles, permissions, profile } = options ?? {}
  const explicit: UserSources = { groups, roles, permissions, profile }
  checkSources(problems, explicit)
  for (const provider of providers) {
    if (provider?.defaultSources !== undefined) checkSources(problems, provider.defaultSources)
  }
  checkEnrichmentOptions(problems, options ?? {})
  const byIssuer = routeTable(problems, providers)
  const aliases = issuerGroups(problems, providers)
  checkTemplates(problems, providers)
  checkVerifierOptions(problems, options ?? {})
  checkEnv(problems, options?.env)
  const { tokenCache: tokenCacheOptions, revocation, sourceTimeoutMs } = options ?? {}
  const level = resolveLogLevel(problems, options ?? {})
  problems.throwIfAny()

  const templated = providers.filter(isTemplated)
  const recognising = templated.filter(
    (provider) => typeof provider.recognisesIssuer === 'function',
  )
  const maxTokenLength = options.maxTokenLength ?? longestAccepted(providers)
  const logger = resolveLogger(options.logger, level)
  const storeLog = new StoreFailureLog(logger)
  const enrichment = new Enrichment(options, logger, undefined, aliases)
  const sourcesByProvider = new Map(
    providers.map((provider) => [provider, enrichment.wrap(sourcesFor(provider, explicit))]),
  )
  const remembered =
    tokenCacheOptions === false
      ? undefined
      : new LRUCache<number, Remembered>({
          max: tokenCacheOptions?.max ?? DEFAULT_TOKEN_CACHE_MAX,
        })

  /** A remembered verification of exactly this token that still holds (time, key), or undefined. */
  function recall(token: string): Remembered | undefined {
    if (remembered === undefined || token.length > maxTokenLength) return undefined
    const key = cacheKey(token)
    const hit = remembered.get(key)
    if (hit === undefined || hit.verified.token !== token) return undefined
    if (stillHolds(hit.verified)) return hit
    remembered.delete(key) // Expired or its key withdrawn: verify afresh, which says why.
    return undefined
  }

  function forget(token: string): void {
    const key = cacheKey(token)
    if (remembered?.peek(key)?.verified.token === token) remembered.delete(key)
  }

  // A store's asynchronous answer met by fromCache, handed to the verify(token) call that follows
  // (jwtAuth makes it at once), so the store is asked once per request.
  let handoff: { token: string; answer: Promise<boolean> } | undefined

  // The token fromCache last found nothing for. jwtAuth calls verify(token) at once after such a
  // miss, and a second lookup of a new token costs a Map probe into a cache that every other new
  // token churns. Skipping the lookup can only cost a verification, never accept anything.
  let lastMiss: string | undefined

  function fromCache(token: string): User | undefined {
    // A caller's missing token is a miss, as verify(token) then refuses it: never a TypeError.
    if (typeof token !== 'string') return undefined
    const hit = recall(token)
    if (hit === undefined) {
      lastMiss = token
      return undefined
    }
    if (revocation !== undefined) {
      const answer = askStore(
        revocation,
        hit.verified,
        storeLog,
        sourceTimeoutMs,
        groupOf(hit.verified),
      )
      if (answer !== false) {
        if (answer !== true) {
          answer.catch(() => undefined) // Observed here; verify(token) reports its failure.
          const offered = { token, answer }
          handoff = offered
          // Good for the call made right away only: a later request asks the store afresh.
          queueMicrotask(() => {
            if (handoff === offered) handoff = undefined
          })
        }
        return undefined
      }
    }
    let user: User
    try {
      user = hit.provider.createUser(hit.verified, hit.sources)
    } catch {
      // A user that cannot be built from this verification is not remembered: verify(token),
      // which jwtAuth calls next, builds it again and answers its failure as any other (and
      // publishes the one event of this request).
      forget(token)
      lastMiss = undefined
      return undefined
    }
    if (verifyChannel.hasSubscribers) {
      verifyChannel.publish({ outcome: 'pass', provider: hit.provider.name, cached: true })
    }
    return user
  }

  async function checkRevocation(provider: JwtProvider, verified: VerifiedToken): Promise<void> {
    let answer: boolean | Promise<boolean>
    if (handoff !== undefined && handoff.token === verified.token) {
      answer = handoff.answer
      handoff = undefined
    } else answer = askStore(revocation!, verified, storeLog, sourceTimeoutMs, groupOf(verified))
    if (answer === false || (answer !== true && !(await answer))) return
    forget(verified.token)
    if (revocationChannel.hasSubscribers) {
      revocationChannel.publish({ outcome: 'revoked', provider: provider.name })
    }
    throw tokenRevoked()
  }

  /** The issuers naming the same users as the token's (see issuerGroups), if it has any. */
  function groupOf(verified: VerifiedToken): readonly string[] | undefined {
    const { iss } = verified.claims
    return aliases.size === 0 || typeof iss !== 'string' ? undefined : aliases.get(iss)
  }

  function route(iss: unknown): JwtProvider {
    if (typeof iss !== 'string') {
      const problem = iss === undefined ? 'missing' : 'invalid'
      throw new InvalidTokenError('ERR_AUTH_CLAIM_INVALID', `${problem} iss claim`)
    }
    const provider = byIssuer.get(iss) ?? routeTemplated(iss)
    if (provider === undefined) {
      throw new InvalidTokenError('ERR_AUTH_ISSUER_UNKNOWN', 'token issuer is not trusted')
    }
    return provider
  }

  /**
   * The templated provider that claims `iss` (at most one: checkTemplates), else the first that
   * recognises it, which refuses it saying why. Plain loops: no closure per token.
   */
  function routeTemplated(iss: string): JwtProvider | undefined {
    for (let index = 0; index < templated.length; index += 1) {
      if (templated[index]!.claimsIssuer!(iss)) return templated[index]
    }
    for (let index = 0; index < recognising.length; index += 1) {
      if (recognising[index]!.recognisesIssuer!(iss)) return recognising[index]
    }
    return undefined
  }

  async function verifyToken(token: string): Promise<User> {
    let provider: JwtProvider | undefined
    let hit: Remembered | undefined
    try {
      // A caller's missing token (a WebSocket or queue message without one) is the client's
      // fault, answered as a malformed token, not logged as a failure of ours.
      if (typeof token !== 'string') {
        throw new InvalidTokenError('ERR_AUTH_TOKEN_MALFORMED', 'token is not a string')
      }
      if (token === lastMiss) lastMiss = undefined
      else hit = recall(token)
      let verified: VerifiedToken
      if (hit === undefined) {
        const parsed = parseJwt(token, maxTokenLength)
        provider = route(parsed.payload.iss)
        verified = await provider.verifyToken(token, parsed)
      } else {
        provider = hit.provider
        verified = hit.verified
      }
      const sources = sourcesByProvider.get(provider)!
      if (revocation !== undefined) await checkRevocation(provider, verified)
      const user = provider.createUser(verified, sources)
      // Remembered once its user could be built: an entry whose user throws would make every
      // later request with the token fail in fromCache, outside this catch.
      if (
        hit === undefined &&
        remembered !== undefined &&
        typeof verified.revalidate === 'function'
      ) {
        remembered.set(cacheKey(token), { provider, verified, sources })
      }
      if (verifyChannel.hasSubscribers) {
        verifyChannel.publish({
          outcome: 'pass',
          provider: provider.name,
          cached: hit !== undefined,
        })
      }
      return user
    } catch (error) {
      const failure = asAuthError(error, logger, provider)
      if (verifyChannel.hasSubscribers) {
        verifyChannel.publish({
          outcome: failure.status === 503 ? 'unavailable' : 'reject',
          code: failure.code,
          provider: provider?.name,
          cached: hit !== undefined,
        })
      }
      throw failure
    }
  }

  return Object.assign(verifyToken, {
    providers,
    logger,
    fromCache,
    hydrate: async () => {
      await Promise.all(providers.map((provider) => provider.hydrate?.()))
    },
    forgetUser: async (user: User | { issuer: string; subject: string }) => {
      const key = forgottenKey(user)
      if (key !== undefined) await enrichment.forget(key.issuer, key.subject, key.user)
    },
    clearSourceCache: () => enrichment.clear(),
    health: () =>
      healthReport({
        providers,
        tokenCacheSize: remembered?.size ?? 0,
        sourceCacheSize: enrichment.size,
        shared: enrichment.shared,
        revocation: revocation as HasHealth | undefined,
      }),
  })
}

/**
 * Whose answers `forgetUser` drops: a `User`'s issuer and id (none for a user without an issuer),
 * with the `User` for the sources' own keys of it, or `{ issuer, subject }`. Anything else is a
 * TypeError: called after a role is taken away, a misspelt key (`iss`, `sub`) would forget nothing
 * and let the old answer serve on.
 */
function forgottenKey(user: unknown): { issuer: string; subject: string; user?: User } | undefined {
  if (typeof user === 'object' && user !== null && !('issuer' in user) && !('subject' in user)) {
    // A User by its shape, not `instanceof`: one built by the other copy of a dual package is one.
    const { claims, id } = user as { claims?: { iss?: unknown }; id?: unknown }
    if (typeof claims === 'object' && claims !== null && typeof id === 'string') {
      return typeof claims.iss === 'string'
        ? { issuer: claims.iss, subject: id, user: user as User }
        : undefined
    }
  } else if (typeof user === 'object' && user !== null) {
    const { issuer, subject } = user as { issuer?: unknown; subject?: unknown }
    if (
      typeof issuer === 'string' &&
      issuer !== '' &&
      typeof subject === 'string' &&
      subject !== ''
    ) {
      return { issuer, subject }
    }
  }
  throw new TypeError('forgetUser takes a User or { issuer, subject }, two non-empty strings')
}

/**
 * Fail closed: anything but an AuthError out of a provider (a ConfigError included) is a bug,
 * logged and answered as an invalid token.
 */
function asAuthError(error: unknown, logger: Logger, provider: JwtProvider | undefined): AuthError {
  if (isRefusal(error)) {
    if (logger.isLevelEnabled('debug')) {
      logger.debug(
        { code: error.code, provider: provider?.name },
        'token rejected: %s',
        error.description,
      )
    }
    return error
  }
  logger.error(
    { err: safeError(error), provider: provider?.name },
    'unexpected error while verifying a token',
  )
  return new InvalidTokenError('ERR_AUTH_TOKEN_REJECTED', 'token could not be verified', {
    cause: error,
  })
}

/**
 * Whether a provider's own `revalidate` says its remembered verification still holds: only a
 * `true` does. A promise (an `async revalidate`) would otherwise pass an expired token for good,
 * and a throw would answer 500 for every later request with the token; both verify afresh instead.
 * Such a promise is observed, so that its rejection cannot end the process as an unhandled one.
 */
function stillHolds(verified: VerifiedToken): boolean {
  let answer: unknown
  try {
    answer = verified.revalidate!(Date.now() / 1000)
  } catch {
    return false
  }
  if (answer === true) return true
  if (typeof (answer as PromiseLike<unknown> | null)?.then === 'function') {
    Promise.resolve(answer).catch(() => undefined)
  }
  return false
}

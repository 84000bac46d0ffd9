// RedisRevocationStore: revocations shared by every instance, answered from a local copy that
// Redis pub/sub keeps current, so the check costs no round trip on the hot path.

import {
  DEFAULT_MAX_TOKEN_LIFETIME_SEC,
  jtiEntry,
  checkOptionNames,
  neverThrows,
  outlivesRevocations,
  Problems,
  safeError,
  silentLogger,
  subjectEntry,
  UnavailableError,
  type ComponentHealth,
  type JwtClaims,
  type Logger,
  type OptionFlags,
  type RevocationEntry,
  type RevocationOptions,
  type RevocationStore,
  type VerifiedToken,
} from '../../src/spi.js'
import {
  checkConnectionOptions,
  checkReadyTimeout,
  CONNECTION_OPTIONS,
  DEFAULT_PREFIX,
  DEFAULT_TIMEOUT_MS,
  RedisLink,
  type RedisConnectionOptions,
  type RunCommand,
} from './connection.js'
import { entryOf, LocalRevocations, memberOf } from './local-revocations.js'

/** What a store that cannot reach Redis does with a request. */
export type RevocationStoreDownPolicy = 'fail-closed' | 'fail-open'

/** Options of {@link RedisRevocationStore}. */
export interface RedisRevocationStoreOptions extends RevocationOptions, RedisConnectionOptions {
  /**
   * What requests get while Redis is unreachable (`AUTH_REVOCATION_ON_STORE_DOWN`):
   * - `'fail-closed'` (default): 503 `temporarily_unavailable`. No revoked token passes, but an
   *   outage of Redis is an outage of the API.
   * - `'fail-open'`: answered from the revocations this instance already knows. The API stays up,
   *   but a token revoked during the outage passes here until Redis is back (or the token expires).
   */
  onRevocationStoreDown?: RevocationStoreDownPolicy
}

/**
 * Revocations asked of Redis per command when loading (a hint to ZSCAN): each reply is a few
 * milliseconds of work, well within the command time-out, whatever the size of the set.
 */
export const LOAD_PAGE_SIZE = 10_000

// Joins the 503 codes of src/errors.ts (and docs/errors.md) as the code of this outage.
const REVOCATION_UNAVAILABLE: UnavailableError['code'] = 'ERR_AUTH_REVOCATION_UNAVAILABLE'

const REVOCATION_STORE_OPTIONS = Object.keys({
  ...CONNECTION_OPTIONS,
  maxTokenLifetimeSec: true,
  onRevocationStoreDown: true,
} as const satisfies OptionFlags<RedisRevocationStoreOptions>)

// Tells every instance, adds the entry (keeping the later end of a repeated one) and drops the ended
// ones, in one atomic step.
// - The write first, then PUBLISH, undone when the channel refuses it: a script stops at its
//   first failing command and undoes nothing. A full Redis (OOM) must fail before anything is
//   heard (running instances refusing a token that instances started later accept), and a channel
//   the user may not publish to (an ACL) must leave nothing stored, or the caller would be told
//   the revocation failed while it holds, unheard by the other instances.
// - Ended means by Redis's clock (TIME), never the caller's: a host whose clock runs ahead would
//   prune revocations that are live for every other. Since Redis 5 scripts replicate their
//   effects, so TIME may precede writes; Redis 3.2 and 4 ask for it (replicate_commands).
// - No TTL on the set (PERSIST clears the one older versions set): a volatile-* eviction policy
//   then never picks it, and ended entries are pruned here instead.
const REVOKE_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local now = redis.call('TIME')[1]
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not current) or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
local published = redis.pcall('PUBLISH', ARGV[3], ARGV[2] .. ' ' .. ARGV[1])
if type(published) == 'table' and published.err then
  if current then redis.call('ZADD', KEYS[1], current, ARGV[1])
  else redis.call('ZREM', KEYS[1], ARGV[1]) end
  return redis.error_reply(published.err)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
redis.call('PERSIST', KEYS[1])
return 1
`

/**
 * Revocations shared by every instance through Redis: `revokeToken` and `revokeSubject` on any
 * instance refuse the token on all of them (401 `invalid_token`, "token revoked"), remembered
 * tokens included. Each instance keeps a copy of the revocations that have not ended, loaded at
 * start and kept current by pub/sub, so `isRevoked` answers synchronously: no round trip per
 * request. Entries live in one sorted set per prefix, each until the tokens it covers have
 * expired (by Redis's clock). The set has no TTL: give its Redis `maxmemory-policy` `noeviction`
 * or a `volatile-*` policy, which never evict it; under `allkeys-*` it may be evicted, which is
 * logged once and reported by `health()`.
 *
 * While Redis is unreachable (the subscriber lost, or silent past a heartbeat) requests follow
 * `onRevocationStoreDown`; the outage and its end are logged once each. On reconnection the copy is
 * reloaded, so revocations published meanwhile are not missed.
 *
 * Warning: another instance learns of a revocation when the message reaches it (well under a
 * millisecond on a local network, once Redis answered the revoking call); the revoking instance
 * knows at once. Size: each revocation costs about 150 bytes per instance for its lifetime.
 * A subject revocation is kept `maxTokenLifetimeSec`: the first token seen living longer is
 * logged as a warning, since such tokens may pass again before they expire.
 *
 * @example
 * const revocations = new RedisRevocationStore({ url: process.env.AUTH_REDIS_URL, logger })
 * await revocations.ready() // optional: the first requests wait for the copy otherwise
 * app.use(jwtAuth({ provider, revocation: revocations }))
 * // revokeSubject rejects while Redis is down: hand that to next(). Express 4 ignores a handler's
 * // promise, and a rejection nobody catches ends the process (Express 5 passes it on by itself).
 * app.post('/logout-everywhere', requireUser(), async (req, res, next) => {
 *   try {
 *     // The token's `sub`, not `user.id`: that may be another claim (Entra ID: `oid`).
 *     await revocations.revokeSubject(req.currentUser.claims.iss!, req.currentUser.claims.sub!)
 *     res.status(204).end()
 *   } catch (error) {
 *     next(error)
 *   }
 * })
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` at construction, listing every invalid or unknown option.
 */
export class RedisRevocationStore implements RevocationStore {
  /**
   * Its promised answers (while the local copy loads) settle within `timeoutMs`, then follow
   * `onRevocationStoreDown`: the verifier waits that long, not `sourceTimeoutMs`.
   */
  readonly answersWithinMs: number
  readonly #maxLifetimeSec: number
  readonly #failOpen: boolean
  readonly #key: string
  readonly #channel: string
  readonly #local = new LocalRevocations()
  readonly #link: RedisLink
  readonly #logger: Logger
  // What the lifetime warning said so far: once for subject revocations, once more for those by
  // token (capped at a year), so a first warning of a one-week token hides no two-year one.
  #warned: 'subject' | 'token' | undefined
  // The eviction policy of the Redis when it may evict the revocations (read at each load).
  #evicting: string | undefined
  #warnedEvicting = false

  constructor(options: RedisRevocationStoreOptions) {
    const problems = new Problems()
    checkOptionNames(problems, 'RedisRevocationStore', options ?? {}, REVOCATION_STORE_OPTIONS)
    checkConnectionOptions(problems, options ?? {})
    const {
      maxTokenLifetimeSec = DEFAULT_MAX_TOKEN_LIFETIME_SEC,
      onRevocationStoreDown = 'fail-closed',
      prefix = DEFAULT_PREFIX,
    } = options ?? {}
    if (
      typeof maxTokenLifetimeSec !== 'number' ||
      !Number.isFinite(maxTokenLifetimeSec) ||
      maxTokenLifetimeSec <= 0
    ) {
      problems.add('maxTokenLifetimeSec must be a positive number of seconds')
    }
    if (onRevocationStoreDown !== 'fail-closed' && onRevocationStoreDown !== 'fail-open') {
      problems.add(`onRevocationStoreDown must be 'fail-closed' or 'fail-open'`)
    }
    problems.throwIfAny()
    this.#maxLifetimeSec = maxTokenLifetimeSec
    this.#logger = neverThrows(options.logger ?? silentLogger)
    this.#failOpen = onRevocationStoreDown === 'fail-open'
    this.#key = `${prefix}revocations`
    this.#channel = `${prefix}revocations`
    const outcome = this.#failOpen
      ? 'answering from the revocations already known'
      : 'answering 503'
    this.answersWithinMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#link = new RedisLink(
      options,
      {
        channel: this.#channel,
        onMessage: (message) => this.#received(message),
        onSubscribed: (run) => this.#load(run),
      },
      `revocation store (${outcome} until it is back)`,
    )
  }

  /**
   * Revokes one token, by the token itself or its `jti` (Entra ID's `uti` for a token without
   * `jti`, Cognito's `origin_jti` too), on every instance, until the token expires (its `exp`, even
   * past `maxTokenLifetimeSec`, but at most max(`maxTokenLifetimeSec`, one year); a bare `jti` for
   * `maxTokenLifetimeSec`). This instance refuses it at once, even when Redis cannot be reached.
   *
   * A value is taken as a token when it starts with a JOSE header; any other (`urn:x.y.z` too) is
   * a `jti`. Pass the token alone, not the Authorization header's `Bearer …`.
   *
   * @throws {TypeError} synchronously, for an empty value, one over 16 KiB, with whitespace or a
   *   `Bearer ` prefix, a refresh token (JWE: revoke it at the identity provider), a token with no
   *   `jti`/`uti`/`origin_jti`, or a token whose payload cannot be read.
   * @returns a promise that rejects when Redis could not store the revocation: it then holds on
   *   this instance only, so retry.
   */
  revokeToken(tokenOrJti: string): Promise<void> {
    return this.#revoke(jtiEntry(tokenOrJti, this.#maxLifetimeSec, nowSec()))
  }

  /**
   * Revokes every token of a subject issued before `before` (default: now), on every instance:
   * "log out everywhere". Tokens issued later pass. Kept `maxTokenLifetimeSec` from `before`.
   *
   * `iat` counts whole seconds: a token issued in the same second as `before` (a new login right
   * after "log out everywhere") is refused too, for its whole life. Let the user sign in again from
   * the next whole second on, or pass a `before` in the past.
   *
   * Warning: `iat` is the IdP's clock. One running ahead stamps a token issued just before the
   * call with a later `iat`, which escapes it; pass `before: new Date(Date.now() + skewMs)` to
   * cover that skew (at most 300 s ahead).
   *
   * @param subject the tokens' `sub` claim (`user.claims.sub`). Not `user.id`, which a provider may
   *   take from another claim (Entra ID: `oid`): such a revocation would match no token.
   * @throws {TypeError} synchronously, for an empty issuer or subject, one over 16 KiB, options
   *   that are not an object (a Date passed directly), an option other than `before` (`befor`), a
   *   `before` that is not a valid Date (`null`), or a `before` more than 300 s ahead of now.
   * @returns a promise that rejects when Redis could not store the revocation (retry).
   */
  revokeSubject(issuer: string, subject: string, options?: { before?: Date }): Promise<void> {
    return this.#revoke(subjectEntry(issuer, subject, options, this.#maxLifetimeSec))
  }

  /**
   * Whether the token is revoked: synchronous from the local copy while it is in step with Redis
   * (and whenever the copy already holds the revocation). While the first load runs it waits for
   * it (at most `timeoutMs`); while Redis is unreachable it follows `onRevocationStoreDown`.
   *
   * @param issuers the token's group of issuers naming the same users, if any: its subject is
   *   looked up under each (see `RevocationStore.isRevoked`).
   */
  isRevoked(verified: VerifiedToken, issuers?: readonly string[]): boolean | Promise<boolean> {
    if (this.#warned !== 'token') this.#warnIfOutlives(verified.claims)
    const known = this.#local.isRevoked(verified.claims, nowSec, issuers)
    if (known || this.#link.live) return known
    if (this.#link.down)
      return this.#failOpen
        ? false
        : Promise.reject(this.#unavailable('redis unreachable', 'no answer'))
    // Starting, or reloading after a reconnection: the copy is about to be in step.
    return this.#link.whenLive().then((live) => {
      if (live) return this.#local.isRevoked(verified.claims, nowSec, issuers)
      if (this.#failOpen) return false
      throw this.#unavailable('the revocations could not be loaded from redis in time', 'timed out')
    })
  }

  /**
   * Resolves once the local copy is loaded and in step with Redis; rejects after `timeoutMs` (or
   * `timeoutMs` given here) if Redis cannot be reached. Optional: until then requests wait for it.
   *
   * @throws {TypeError} (a rejection) for a `timeoutMs` that is not a number; {RangeError} for one
   *   outside 1 to 2 147 483 647 ms (the longest a timer holds): `Infinity`, `NaN`, a negative one.
   */
  async ready(timeoutMs?: number): Promise<void> {
    checkReadyTimeout(timeoutMs)
    if (!(await this.#link.whenLive(timeoutMs))) {
      throw new Error(
        `the redis revocation store is not reachable (${this.#link.lastError ?? 'timed out'})`,
      )
    }
  }

  /**
   * How many revocations this instance holds that have not ended, as of its last prune: that runs
   * within a minute of an end, and this count prunes when the last one is older. Cheap enough for
   * a readiness probe every few seconds: it walks the copy at most once a minute.
   */
  get size(): number {
    return this.#local.liveSize(nowSec())
  }

  /**
   * In step with Redis, or not (and what requests get meanwhile). A Redis that may evict the
   * revocations (an `allkeys-*` eviction policy, as read at the last load) is named in the detail
   * but stays ok: this instance answers correctly, and a readiness probe failing on a setting
   * would take every instance out of the load balancer at once.
   */
  health(): ComponentHealth {
    void this.#link.open().catch(() => undefined) // a readiness probe brings the link up
    if (this.#link.live) {
      const detail = `redis: in step, ${this.size} revocations`
      if (this.#evicting === undefined) return { ok: true, detail }
      return { ok: true, detail: `${detail}; ${evictionProblem(this.#evicting)}` }
    }
    const state = this.#link.down
      ? `redis unreachable (${this.#link.lastError ?? 'no answer'})`
      : 'redis: loading the revocations'
    return this.#failOpen
      ? { ok: true, detail: `${state}; failing open: answering from the revocations known` }
      : { ok: false, detail: `${state}; failing closed: answering 503` }
  }

  /** Closes the connections the store opened. */
  close(): Promise<void> {
    this.#local.stop()
    return this.#link.close()
  }

  /**
   * Warns, once, of a token living longer than `maxTokenLifetimeSec` (`exp` − `iat`, or `exp` − now
   * without `iat`): a subject revocation ends before it expires. The token is not refused: its
   * issuer chose that lifetime, and the setting is what is wrong.
   */
  #warnIfOutlives(claims: JwtClaims): void {
    const outlived = outlivesRevocations(claims, this.#maxLifetimeSec, nowSec)
    if (outlived === undefined || outlived === this.#warned) return
    this.#warned = outlived
    this.#logger.warn(
      { iss: claims.iss, exp: claims.exp, iat: claims.iat },
      outlived === 'subject'
        ? 'a token lives longer than maxTokenLifetimeSec (%d s): subject revocations may end ' +
            'before such tokens expire, which then pass again; raise maxTokenLifetimeSec ' +
            '(AUTH_REVOCATION_MAX_TOKEN_LIFETIME_SEC) to the longest lifetime of your tokens'
        : 'a token lives longer than a year and maxTokenLifetimeSec (%d s): subject revocations, ' +
            'and revocations by the token itself (kept until its exp, but at most ' +
            'max(maxTokenLifetimeSec, one year)), may end before such tokens expire, which then ' +
            'pass again; raise maxTokenLifetimeSec (AUTH_REVOCATION_MAX_TOKEN_LIFETIME_SEC) to the ' +
            'longest lifetime of your tokens',
      this.#maxLifetimeSec,
    )
  }

  /**
   * The 503 of a store that cannot answer, with why as its cause (the link's last error, scrubbed
   * of credentials), so that `oidc-guard verify` and error logs can say it; the client's answer
   * never shows it.
   */
  #unavailable(what: string, otherwise: string): UnavailableError {
    const lastError = this.#link.lastError
    const why = lastError === undefined ? otherwise : safeError(lastError).message
    return new UnavailableError(REVOCATION_UNAVAILABLE, 'revocation store unavailable', {
      cause: new Error(`${what} (${why})`),
      retryAfterSec: 5,
    })
  }

  async #revoke(entry: RevocationEntry): Promise<void> {
    const now = nowSec()
    this.#local.add(entry, now)
    try {
      await this.#link.run((command) =>
        command.eval(
          REVOKE_SCRIPT,
          1,
          this.#key,
          memberOf(entry),
          String(entry.expiresAtSec),
          this.#channel,
        ),
      )
    } catch (cause) {
      throw new Error(
        'the revocation could not be stored in redis: it holds on this instance only; retry',
        { cause },
      )
    }
  }

  /** A revocation published by an instance (this one included): `<expiresAtSec> <member>`. */
  #received(message: string): void {
    const space = message.indexOf(' ')
    const entry = entryOf(message.slice(space + 1), Number(message.slice(0, space)))
    if (space > 0 && entry !== undefined) this.#local.add(entry, nowSec())
  }

  /**
   * Loads every revocation that has not ended (after subscribing, so none falls in between), in
   * pages: a set of any size loads, each page well within the command time-out.
   */
  async #load(run: RunCommand): Promise<void> {
    await this.#checkEviction(run)
    // ZSCAN rather than ZRANGEBYSCORE pages: a full scan returns every member present from its
    // start to its end, whatever is added, pruned or re-scored meanwhile, where pages by offset or
    // by score would skip live entries when ended ones are pruned or a revocation is extended
    // between two pages. What is added meanwhile also arrives by pub/sub; repeats are harmless.
    const now = nowSec()
    let cursor = '0'
    do {
      const from = cursor
      const [next, flat] = await run((command) =>
        command.zscan(this.#key, from, 'COUNT', LOAD_PAGE_SIZE),
      )
      for (let index = 0; index + 1 < flat.length; index += 2) {
        const entry = entryOf(flat[index]!, Number(flat[index + 1]))
        if (entry !== undefined) this.#local.add(entry, now)
      }
      cursor = next
    } while (cursor !== '0')
    this.#local.prune(now)
  }

  /** Notes (and warns once) when Redis may evict the set: it then loads nothing, silently. */
  async #checkEviction(run: RunCommand): Promise<void> {
    this.#evicting = await evictingPolicy(run)
    if (this.#evicting === undefined || this.#warnedEvicting) return
    this.#warnedEvicting = true
    this.#logger.warn(
      { maxmemoryPolicy: this.#evicting },
      '%s; an instance that starts after an eviction accepts the tokens revoked before',
      evictionProblem(this.#evicting),
    )
  }
}

/**
 * The eviction policy of the Redis when it may evict the revocations: an `allkeys-*` one with a
 * memory limit. `noeviction` and `volatile-*` never pick the set, which has no TTL. `undefined`
 * too when Redis refuses INFO (an ACL without it): nothing can be told then.
 */
async function evictingPolicy(run: RunCommand): Promise<string | undefined> {
  let info: string
  try {
    info = await run((command) => command.info('memory'))
  } catch {
    return undefined
  }
  const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1]
  const limited = /^maxmemory:(\d+)/m.exec(info)?.[1] !== '0' // 0: no limit, nothing is evicted
  return policy?.startsWith('allkeys-') === true && limited ? policy : undefined
}

function evictionProblem(policy: string): string {
  return (
    `redis may evict the revocations (maxmemory-policy ${policy}): set maxmemory-policy to ` +
    'noeviction, or a volatile-* policy, on the redis that holds them'
  )
}

function nowSec(): number {
  return Date.now() / 1000
}

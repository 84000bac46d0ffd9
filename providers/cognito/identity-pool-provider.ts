// CognitoIdentityPoolProvider: temporary AWS credentials for a verified user, through an identity pool.

import { LRUCache } from 'lru-cache'
import type { InvalidTokenError } from '../../src/spi.js'
import {
  checkLogger,
  checkNumber,
  checkOptionNames,
  checkTimeout,
  CredentialsRequiredError,
  defaultLogger,
  MAX_CACHE_ENTRIES,
  Problems,
  safeError,
  silentLogger,
  type Logger,
  type OptionFlags,
  type UnavailableError,
  type User,
} from '../../src/spi.js'
import {
  AWS_CLIENT_OPTION_NAMES,
  checkAwsClientOptions,
  type AwsClientLike,
  type AwsClientOptions,
} from './aws-options.js'
import type { CognitoProvider, CognitoTokenUse } from './cognito-provider.js'
import { FailureLog, isCognitoIssuer, WarnOnce } from './failure-log.js'
import {
  awsErrorName,
  awsUnavailable,
  clientConfig,
  destroyClient,
  isTokenRefusal,
  loadIdentitySdk,
  send,
} from './sdk.js'
import { identityPoolRegion, loginKeyOf } from './user-pool.js'
import { checkRefreshBefore, resolveLoginKey } from './identity-pool-options.js'
import {
  mismatchHint,
  namesPoolConfiguration,
  refusalKind,
  refusedToken,
  wrongToken,
} from './identity-pool-refusals.js'

/**
 * Temporary AWS credentials of one identity; pass them to any SDK v3 client as `credentials`. The
 * fields are read-only; the object is not frozen, since the SDK records on it where a client's
 * credentials came from.
 */
export interface AwsCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
  readonly expiration: Date
  /** The identity pool's id for the user, `<region>:<uuid>`. */
  readonly identityId: string
}

/** Options of {@link CognitoIdentityPoolProvider}. Name the user pool in exactly one way. */
export interface CognitoIdentityPoolProviderOptions extends Omit<AwsClientOptions, 'credentials'> {
  /** The identity pool, `<region>:<uuid>` (`IDENTITY_POOL_ID`). */
  identityPoolId: string
  /** The identity pool's region (`IDENTITY_POOL_REGION`). Optional: when given it must match. */
  region?: string
  /**
   * The provider that verifies the user pool's tokens; the login key derives from its issuer. It
   * must accept ID tokens (`tokenUse: 'id'` or `'any'`): identity pools take nothing else.
   */
  userPoolProvider?: Pick<CognitoProvider, 'issuer'> & { readonly tokenUse?: CognitoTokenUse }
  /** The user pool, `<region>_<id>`; the login key derives from it. */
  userPoolId?: string
  /** The `Logins` key as configured in the identity pool: `cognito-idp.{region}.amazonaws.com/{userPoolId}`. */
  loginKey?: string
  /**
   * Fetch new credentials this long before the cached ones expire, in seconds. Default 300, at
   * most 1800: identity-pool credentials last an hour.
   */
  refreshBeforeSec?: number
  /**
   * Most credentials kept, one per ID token (least recently used go first). Default 10 000, at
   * most 10 000 000. (Named for identities when credentials were kept per user.)
   */
  maxIdentities?: number
  /** Time-out of one exchange (both calls), in milliseconds. Default 5000. */
  timeoutMs?: number
  /**
   * Where the cause of each 503 is logged (scrubbed, never the token): at warn the first time a
   * kind of failure is seen, then at most once a minute per kind, at debug in between. AWS's
   * refusals of a token (401) are logged too, at warn the first time each message is seen, then at
   * debug. Default: oidc-guard's own logger (stdout, at `AUTH_MIDDLEWARE_LOG_LEVEL`); `false` for
   * none.
   */
  logger?: Logger | false
}

/**
 * Every option: the AWS client's but credentials (GetId and GetCredentialsForIdentity are not
 * signed), and the identity pool's own.
 */
export const IDENTITY_POOL_OPTION_NAMES: readonly string[] = Object.freeze([
  ...AWS_CLIENT_OPTION_NAMES.filter((name) => name !== 'credentials'),
  ...Object.keys({
    identityPoolId: true,
    region: true,
    userPoolProvider: true,
    userPoolId: true,
    loginKey: true,
    refreshBeforeSec: true,
    maxIdentities: true,
    timeoutMs: true,
    logger: true,
  } as const satisfies OptionFlags<
    Omit<CognitoIdentityPoolProviderOptions, keyof AwsClientOptions>
  >),
])

const DEFAULT_REFRESH_BEFORE_SEC = 300
const DEFAULT_MAX_IDENTITIES = 10_000
const DEFAULT_TIMEOUT_MS = 5_000
// After an early refresh fails, the cached credentials are served for this long before the next
// attempt: an AWS outage then costs one waiting request per user every half minute, not each.
const REFRESH_RETRY_MS = 30_000

/** The prefix of every cache key of one user: `clear(user)` forgets all of them. */
function userPrefix(iss: string, sub: string): string {
  return `${iss}\n${sub}\n`
}

/**
 * The cache key of one ID token: the user, then a SHA-256 digest of the token. The identity pool
 * picks the IAM role from the whole token (its app client, `cognito:groups`,
 * `cognito:preferred_role`), so credentials fetched with one token must never serve another, even
 * of the same user; the digest keeps the raw token out of the cache's keys.
 */
async function credentialsKey(iss: string, sub: string, token: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))
  return userPrefix(iss, sub) + Buffer.from(digest).toString('base64url')
}

/**
 * Exchanges a verified user's ID token for temporary AWS credentials through a Cognito identity
 * pool (`GetId`, then `GetCredentialsForIdentity`, with the AWS SDK v3
 * `@aws-sdk/client-cognito-identity`, loaded on first use). Credentials are kept per ID token (a
 * bounded LRU) until `refreshBeforeSec` before they expire, never shared between tokens: the
 * identity pool picks the IAM role from the token, so a user's next token may map to another
 * role. Concurrent calls with one token share one exchange.
 *
 * @example
 * const identityPool = new CognitoIdentityPoolProvider({
 *   identityPoolId: 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
 *   userPoolProvider: provider,
 * })
 * app.get('/files', requireUser(), async (req, res) => {
 *   const credentials = await identityPool.getAwsCredentials(req.currentUser)
 *   const s3 = new S3Client({ region: 'eu-west-1', credentials })
 *   // …
 * })
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every invalid option, and every unknown one.
 */
export class CognitoIdentityPoolProvider {
  readonly identityPoolId: string
  readonly region: string
  /** The key of the user pool in the `Logins` map. */
  readonly loginKey: string
  readonly #options: CognitoIdentityPoolProviderOptions
  readonly #refreshBeforeMs: number
  readonly #timeoutMs: number
  readonly #cache: LRUCache<string, AwsCredentials>
  readonly #inflight = new Map<string, Promise<AwsCredentials>>()
  readonly #failures: FailureLog
  readonly #staleFailures: FailureLog
  readonly #misconfigured: FailureLog
  readonly #mistakes: WarnOnce
  readonly #refusals: WarnOnce
  #client: AwsClientLike | undefined
  /** When each cached credentials' early refresh last failed (gone with the credentials). */
  readonly #refreshFailedAt = new WeakMap<AwsCredentials, number>()
  /** Bumped by `clear()`: an exchange that began before it must not cache its answer. */
  #generation = 0

  constructor(options: CognitoIdentityPoolProviderOptions) {
    const problems = new Problems()
    const given = options ?? ({} as CognitoIdentityPoolProviderOptions)
    checkOptionNames(problems, 'CognitoIdentityPoolProvider', given, IDENTITY_POOL_OPTION_NAMES)
    const region = identityPoolRegion(problems, given.identityPoolId, given.region)
    const loginKey = resolveLoginKey(problems, given)
    checkRefreshBefore(problems, given.refreshBeforeSec)
    // Bounded: the LRU allocates its index for `max` entries up front.
    checkNumber(problems, 'maxIdentities', given.maxIdentities, 1, {
      integer: true,
      max: MAX_CACHE_ENTRIES,
    })
    checkTimeout(problems, 'timeoutMs', given.timeoutMs)
    checkAwsClientOptions(problems, 'CognitoIdentityPoolProvider', given)
    checkLogger(problems, 'logger', given.logger)
    problems.throwIfAny()
    this.identityPoolId = given.identityPoolId
    this.region = region
    this.loginKey = loginKey
    this.#options = given
    this.#refreshBeforeMs = (given.refreshBeforeSec ?? DEFAULT_REFRESH_BEFORE_SEC) * 1000
    this.#timeoutMs = given.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#cache = new LRUCache({ max: given.maxIdentities ?? DEFAULT_MAX_IDENTITIES })
    this.#client = given.client
    const logger = given.logger === false ? silentLogger : (given.logger ?? defaultLogger())
    const context = { identityPoolId: this.identityPoolId }
    this.#failures = new FailureLog(
      logger,
      context,
      'AWS credentials exchange failed; answering 503',
    )
    this.#staleFailures = new FailureLog(
      logger,
      context,
      'AWS credentials refresh failed; serving the cached credentials until they expire',
    )
    this.#misconfigured = new FailureLog(
      logger,
      {
        ...context,
        loginKey: this.loginKey,
        hint: `list the user pool and its app client as an authentication provider of the identity pool, with the provider name ${this.loginKey}`,
      },
      "the identity pool refuses the user pool's tokens for its own configuration; answering 503",
    )
    this.#mistakes = new WarnOnce(logger, { ...context, loginKey: this.loginKey })
    this.#refusals = new WarnOnce(logger, context)
  }

  /**
   * The temporary AWS credentials of the user's ID token: cached ones while they have more than
   * `refreshBeforeSec` left, else a new exchange (shared with concurrent calls with the same token).
   * When that early refresh fails for want of AWS, the cached credentials are served (and the
   * failure logged) until they expire.
   *
   * @throws {CredentialsRequiredError} 401 `ERR_AUTH_CREDENTIALS_REQUIRED` when the user is anonymous.
   * @throws {InvalidTokenError} 401: `ERR_AUTH_TOKEN_TYPE_INVALID` when the user was not
   *   authenticated with an ID token of this identity pool's user pool;
   *   `ERR_AUTH_TOKEN_REJECTED` when AWS refuses the token (`NotAuthorizedException` about it).
   * @throws {UnavailableError} `ERR_AUTH_SOURCE_UNAVAILABLE` (503) when AWS cannot be reached,
   *   fails, throttles, times out or answers something malformed, or refuses the token for the
   *   identity pool's own configuration (a user pool it does not list); the cause goes to `logger`.
   */
  async getAwsCredentials(user: User): Promise<AwsCredentials> {
    const { iss, token } = this.#idTokenOf(user)
    const key = await credentialsKey(iss, user.id, token)
    // No await from here to the in-flight entry: concurrent calls with one token find it.
    const cached = this.#cache.get(key)
    if (cached !== undefined && cached.expiration.getTime() - this.#refreshBeforeMs > Date.now()) {
      return cached
    }
    if (cached !== undefined && this.#retryLater(cached)) return cached
    let pending = this.#inflight.get(key)
    if (pending === undefined) {
      const shared = this.#exchange(key, token, cached, this.#generation).finally(() => {
        // Only its own entry: clear() may have dropped it, and a later call started another.
        if (this.#inflight.get(key) === shared) this.#inflight.delete(key)
      })
      this.#inflight.set(key, shared)
      pending = shared
    }
    return pending
  }

  /**
   * Forgets the cached credentials of one user (all their tokens), or of every user. An exchange
   * already in flight still answers its callers, but caches nothing, and later calls start anew:
   * it may carry the role mapping the caller meant to forget.
   */
  clear(user?: User): void {
    // Every exchange in flight, not only the user's: a generation per user would cost a map.
    this.#generation++
    if (user === undefined) {
      this.#cache.clear()
      this.#inflight.clear()
      return
    }
    if (typeof user.claims.iss !== 'string') return
    const prefix = userPrefix(user.claims.iss, user.id)
    const ofUser = (key: string) => key.startsWith(prefix)
    // Collected first: deleting while iterating an LRU's keys would skip some.
    for (const key of [...this.#cache.keys()].filter(ofUser)) this.#cache.delete(key)
    for (const key of [...this.#inflight.keys()].filter(ofUser)) this.#inflight.delete(key)
  }

  /** Closes the SDK client this provider created (its keep-alive sockets); a client you passed stays open. */
  close(): void {
    if (this.#client !== this.#options.client) destroyClient(this.#client)
    this.#client = this.#options.client
  }

  /** The user's issuer and ID token, when they are of this identity pool's user pool. */
  #idTokenOf(user: User): { iss: string; token: string } {
    // No token at all: the challenge of a missing one (RFC 6750 §3.1), not invalid_token.
    if (!user.isAuthenticated) throw new CredentialsRequiredError()
    const { token, claims } = user
    const iss = claims.iss
    if (token === undefined || typeof iss !== 'string') throw wrongToken()
    if (loginKeyOf(iss) !== this.loginKey || !iss.startsWith('https://')) {
      // Another vendor's token says nothing of the configuration; a Cognito one may: a mistyped
      // pool id or the other issuer form refuses every user, with nothing but 401s to show.
      if (isCognitoIssuer(iss)) {
        this.#mistakes.warn(
          `iss ${iss}`,
          { tokenIssuer: iss, hint: mismatchHint(iss, this.loginKey) },
          "a token of a user pool the identity pool's login key does not name; answering 401",
        )
      }
      throw wrongToken()
    }
    // Identity pools take ID tokens (OpenID Connect); a Cognito access token would be refused.
    if (claims['token_use'] !== undefined && claims['token_use'] !== 'id') {
      this.#mistakes.warn(
        'access token',
        { hint: "verify ID tokens (tokenUse: 'id' or 'any') and send the ID token" },
        'an access token where the identity pool takes ID tokens only; answering 401',
      )
      throw wrongToken()
    }
    return { iss, token }
  }

  async #exchange(
    key: string,
    token: string,
    cached: AwsCredentials | undefined,
    generation: number,
  ): Promise<AwsCredentials> {
    const signal = AbortSignal.timeout(this.#timeoutMs)
    // The SDK aborts its request on the signal; the race also bounds a client that ignores it,
    // which would otherwise hold every caller sharing this exchange.
    const deadline = new Promise<never>((_resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true })
    })
    deadline.catch(() => undefined)
    const calls = this.#calls(key, token, cached?.identityId, signal, generation)
    try {
      return await Promise.race([calls, deadline])
    } catch (error) {
      return this.#recover(key, error, cached)
    }
  }

  /**
   * Whether `cached`, still valid, is served without a new attempt: its refresh failed less than
   * {@link REFRESH_RETRY_MS} ago. During an outage each request would otherwise wait out an
   * exchange (up to `timeoutMs`) only to be served these credentials anyway.
   */
  #retryLater(cached: AwsCredentials): boolean {
    const failedAt = this.#refreshFailedAt.get(cached)
    const now = Date.now()
    return (
      failedAt !== undefined &&
      now - failedAt < REFRESH_RETRY_MS &&
      cached.expiration.getTime() > now
    )
  }

  /**
   * The answer of a failed exchange: a 401 for a refused token, the cached credentials while they
   * last (an early refresh that met an outage), else a 503. Runs once per exchange however many
   * callers share it.
   */
  #recover(key: string, error: unknown, cached: AwsCredentials | undefined): AwsCredentials {
    const refused = isTokenRefusal(error)
    const gone = awsErrorName(error) === 'ResourceNotFoundException'
    // Only a refused token or an identity AWS no longer has makes the entry wrong: the next call
    // must then ask GetId again, and its credentials are not served meanwhile. Any other failure
    // (throttling, an outage) leaves them for later.
    if (refused || gone) this.#cache.delete(key)
    if (refused) throw this.#refusal(error)
    if (!gone && cached !== undefined && cached.expiration.getTime() > Date.now()) {
      this.#staleFailures.failed(error)
      this.#refreshFailedAt.set(cached, Date.now())
      return cached
    }
    // Logged: the 503 itself says nothing of a mistyped identityPoolId, a missing permission or
    // a missing SDK.
    this.#failures.failed(error)
    throw awsUnavailable('AWS credentials are', error)
  }

  /**
   * The error of a `NotAuthorizedException`, logged: a 503 when it names the identity pool's
   * configuration (every user gets it, so only the operator can end it), else a 401, since refused
   * tokens stay refused and a 503 would have the client retry until the token expires. The 401s
   * are logged too, at warn once per message: a configuration refusal in words not known here
   * would otherwise show as nothing but 401s.
   */
  #refusal(error: unknown): InvalidTokenError | UnavailableError {
    if (namesPoolConfiguration(error)) {
      this.#misconfigured.failed(error)
      return awsUnavailable('AWS credentials are', error)
    }
    this.#refusals.warn(
      refusalKind(error),
      { err: safeError(error) },
      'AWS refused the token for credentials; answering 401',
    )
    return refusedToken(error)
  }

  async #calls(
    key: string,
    token: string,
    knownId: string | undefined,
    signal: AbortSignal,
    generation: number,
  ): Promise<AwsCredentials> {
    // The raw compact token: the seed sent an object's repr here, which AWS refused.
    const Logins = { [this.loginKey]: token }
    const sdk = await loadIdentitySdk()
    this.#client ??= new sdk.CognitoIdentityClient(clientConfig(this.region, this.#options))
    const client = this.#client
    const IdentityId =
      knownId ??
      (await send<{ IdentityId?: unknown }>(
        client,
        new sdk.GetIdCommand({ IdentityPoolId: this.identityPoolId, Logins }),
        signal,
      ).then((answer) => answer?.IdentityId))
    if (typeof IdentityId !== 'string' || IdentityId === '') {
      throw new TypeError('GetId answered no IdentityId')
    }
    const answer = await send<{ Credentials?: unknown }>(
      client,
      new sdk.GetCredentialsForIdentityCommand({ IdentityId, Logins }),
      signal,
    )
    const credentials = credentialsOf(answer?.Credentials, IdentityId)
    // Not after a time-out (its callers had a 503), nor after a clear() since the exchange began.
    if (!signal.aborted && generation === this.#generation) this.#cache.set(key, credentials)
    return credentials
  }
}

function credentialsOf(value: unknown, identityId: string): AwsCredentials {
  const { AccessKeyId, SecretKey, SessionToken, Expiration } = (value ?? {}) as Record<
    string,
    unknown
  >
  const strings = [AccessKeyId, SecretKey, SessionToken]
  if (
    !strings.every((item) => typeof item === 'string' && item !== '') ||
    !(Expiration instanceof Date) ||
    Number.isNaN(Expiration.getTime())
  ) {
    throw new TypeError('GetCredentialsForIdentity answered malformed credentials')
  }
  return readOnly({
    accessKeyId: AccessKeyId as string,
    secretAccessKey: SecretKey as string,
    sessionToken: SessionToken as string,
    expiration: Expiration,
    identityId,
  })
}

/**
 * The credentials with read-only fields, so that no caller alters the cached ones the next request
 * is served, on an object that stays extensible: `@aws-sdk/core` records on the credentials a
 * client is given where they came from (`credentials.$source`), and on a frozen object every
 * signed call of that client fails with a TypeError. The same object is served until it is
 * renewed: the cache's bookkeeping (`#refreshFailedAt`) is keyed by it.
 */
function readOnly(fields: AwsCredentials): AwsCredentials {
  const credentials = {}
  for (const [name, value] of Object.entries(fields)) {
    Object.defineProperty(credentials, name, {
      value,
      enumerable: true,
      writable: false,
      configurable: false,
    })
  }
  return credentials as AwsCredentials
}

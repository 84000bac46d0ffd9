// JwksProvider: an issuer whose signing keys are published at a known JWK Set URL.

import {
  checkNumber,
  checkOptionNames,
  checkString,
  checkUrl,
  DEFAULT_MAX_TOKEN_LENGTH,
  isProduction,
  type JwksCache,
  MAX_CLOCK_TOLERANCE_SEC,
  normaliseTyp,
  Problems,
  resolveAlgorithms,
  resolveAudience,
  standardIdentity,
  User,
  Verification,
  verifyJwt,
  type FetchFunction,
  type JwksCacheOptions,
  type JwsAlgorithm,
  type JwtClaims,
  type JwtProvider,
  type KeySource,
  type OptionFlags,
  type ParsedJwt,
  type ProviderHealth,
  type UserIdentity,
  type UserSources,
  type VerificationPolicy,
  type VerifiedToken,
} from '../../src/spi.js'
import { checkKeyFetching, resolveJwksCache } from './provider-cache.js'

/** Checks every JWKS-backed provider applies; Cognito and Entra ID add their own on top. */
export interface TokenCheckOptions {
  /**
   * The API's identifier as it appears in `aud` (any one of a list is enough). Required: `null`
   * skips the audience check deliberately, which accepts tokens minted for any API of the issuer.
   */
  audience: string | readonly string[] | null
  /** Accepted signing algorithms. Default: every asymmetric one (RS*, PS*, ES*, EdDSA); never HMAC or `none`. */
  algorithms?: readonly JwsAlgorithm[]
  /** Leeway for `exp`, `nbf` and `iat`, in seconds. Default 5. */
  clockToleranceSec?: number
  /** Refuse tokens issued (`iat`) longer ago than this, in seconds. Off by default. */
  maxTokenAgeSec?: number
  /** Refuse tokens meant to live longer than this (`exp` − `iat`), in seconds. Off by default. */
  maxTokenLifetimeSec?: number
  /** Required header `typ`, e.g. `at+jwt` for RFC 9068 access tokens (`application/` prefix and case ignored). */
  typ?: string
  /** Claims that must be present besides `iss`, `sub` and `exp` (always required). */
  requiredClaims?: readonly string[]
  /** Longest token accepted, in characters. Default 16 KiB. */
  maxTokenLength?: number
  /**
   * The key cache: a shared {@link JwksCache} (built by this same copy of oidc-guard), or options
   * for one of this provider's own, as a plain object. The provider's own cache logs where the
   * process-wide one does unless given a `logger`. Default: the process-wide cache.
   */
  jwksCache?: JwksCache | JwksCacheOptions
  /**
   * The fetch used for discovery and keys (for tests and proxies): the provider gets its own cache
   * with it. Not together with a `JwksCache` instance, which fetches with the one it was built
   * with: give the fetch to it instead (`new JwksCache({ fetch })`).
   */
  fetch?: FetchFunction
  /** Label on `user.provider` and in logs. */
  name?: string
}

/**
 * Every option of {@link TokenCheckOptions}, for the providers built on it to check option names
 * against (with their own added): a misspelt check (`requiredClaim`, `clockTolerance`) would
 * otherwise be ignored, and the token accepted without it. The compiler keeps it in step.
 */
export const TOKEN_CHECK_OPTION_NAMES: readonly string[] = Object.freeze(
  Object.keys({
    audience: true,
    algorithms: true,
    clockToleranceSec: true,
    maxTokenAgeSec: true,
    maxTokenLifetimeSec: true,
    typ: true,
    requiredClaims: true,
    maxTokenLength: true,
    jwksCache: true,
    fetch: true,
    name: true,
  } as const satisfies OptionFlags<TokenCheckOptions>),
)

/**
 * Refuses the option names a provider does not know (see `checkOptionNames`), except `explained`
 * ones: the provider refuses those itself, saying what to use instead, and one problem is enough.
 */
export function checkProviderOptionNames(
  problems: Problems,
  provider: string,
  options: unknown,
  names: readonly string[],
  explained: readonly string[] = [],
): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return
  const rest = Object.entries(options).filter(([key]) => !explained.includes(key))
  checkOptionNames(problems, provider, Object.fromEntries(rest), names)
}

/** Options of {@link JwksProvider}. */
export interface JwksProviderOptions extends TokenCheckOptions {
  /** The exact `iss` of the tokens (compared as a string: a trailing slash matters). */
  issuer: string
  /** Where the issuer publishes its JWK Set. */
  jwksUri: string
}

const JWKS_PROVIDER_OPTION_NAMES: readonly string[] = Object.freeze([
  ...TOKEN_CHECK_OPTION_NAMES,
  ...Object.keys({
    issuer: true,
    jwksUri: true,
  } as const satisfies OptionFlags<Omit<JwksProviderOptions, keyof TokenCheckOptions>>),
])

const DEFAULT_CLOCK_TOLERANCE_SEC = 5

// A readiness probe runs every 5-10 s: each may start a fetch of missing keys, no more often.
const WARM_UP_GAP_MS = 5_000

function noKeySuits(algorithms: ReadonlySet<JwsAlgorithm>): string {
  return `no key of the set suits the accepted algorithms (${[...algorithms].join(', ')})`
}

/** Resolves the checks shared by JWKS-backed providers, adding problems to `problems`. */
export function resolvePolicy(
  problems: Problems,
  issuer: VerificationPolicy['issuer'],
  options: TokenCheckOptions,
): VerificationPolicy {
  checkNumber(problems, 'clockToleranceSec', options.clockToleranceSec, 0, {
    max: MAX_CLOCK_TOLERANCE_SEC,
  })
  checkNumber(problems, 'maxTokenAgeSec', options.maxTokenAgeSec, 1)
  checkNumber(problems, 'maxTokenLifetimeSec', options.maxTokenLifetimeSec, 1)
  checkNumber(problems, 'maxTokenLength', options.maxTokenLength, 64)
  if (options.typ !== undefined) checkString(problems, 'typ', options.typ)
  checkKeyFetching(problems, options)
  const required = options.requiredClaims ?? []
  if (
    !Array.isArray(required) ||
    !required.every((claim) => typeof claim === 'string' && claim !== '')
  ) {
    problems.add('requiredClaims must be a list of claim names')
  }
  return Object.freeze({
    issuer,
    audience: resolveAudience(problems, 'audience', options.audience),
    algorithms: resolveAlgorithms(problems, 'algorithms', options.algorithms),
    typ: typeof options.typ === 'string' ? normaliseTyp(options.typ) : undefined,
    clockToleranceSec: options.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC,
    maxTokenAgeSec: options.maxTokenAgeSec,
    maxTokenLifetimeSec: options.maxTokenLifetimeSec,
    requiredClaims: Object.freeze(['sub', ...required]),
    maxTokenLength: options.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH,
  })
}

/**
 * Base of providers whose keys come from a JWK Set: verification in the core's fixed order, then
 * {@link checkClaims} for vendor rules, then {@link identity} to map claims to a user.
 */
export abstract class KeySetProvider implements JwtProvider {
  readonly name: string
  readonly issuers: readonly string[]
  protected readonly policy: VerificationPolicy
  protected readonly keys: KeySource
  protected readonly cache: JwksCache

  protected constructor(
    name: string,
    issuers: readonly string[],
    policy: VerificationPolicy,
    cache: JwksCache,
    keys: KeySource,
  ) {
    this.name = name
    this.issuers = Object.freeze([...issuers])
    this.policy = policy
    this.cache = cache
    this.keys = keys
  }

  /** The longest token accepted, in characters (`maxTokenLength`, default 16 KiB). */
  get maxTokenLength(): number {
    return this.policy.maxTokenLength
  }

  async verifyToken(token: string, parsed?: ParsedJwt): Promise<VerifiedToken> {
    const result = verifyJwt(token, parsed, this.policy, this.keys)
    // Awaited only when it is a promise: awaiting an answer at hand still costs a microtask turn.
    const verified = result instanceof Promise ? await result : result
    // Awaited when a subclass's rules are async: a rejection must refuse the token as a throw does,
    // never let it through with the rejection unhandled.
    const extra = this.checkClaims(verified.claims)
    if (extra !== undefined) await extra
    return verified
  }

  createUser(verified: VerifiedToken, sources: UserSources): User {
    const context = { provider: this.name, claims: verified.claims, token: verified.token }
    return new User(context, this.identityOf(verified), sources)
  }

  /**
   * {@link identity}, mapped at a verification's first use and again at its second, from which on
   * it is kept (a remembered token reuses it; see {@link Verification.identity}). After the first
   * use the verification also lets its decoded claims go, which the first user holds.
   */
  protected identityOf(verified: VerifiedToken): UserIdentity {
    if (!(verified instanceof Verification)) return this.#mapped(verified)
    const kept = verified.identity
    if (kept !== undefined && kept !== null) return kept
    const identity = this.#mapped(verified)
    verified.identity = kept === null ? identity : null
    if (kept === undefined) verified.releaseClaims()
    return identity
  }

  #mapped(verified: VerifiedToken): UserIdentity {
    const identity = this.identity(verified.claims)
    // Frozen here once (a new list, or the verified claim's own), so that User can share the list
    // rather than copy it on every request.
    if (identity.scopes !== undefined) Object.freeze(identity.scopes)
    return Object.freeze(identity)
  }

  abstract hydrate(): Promise<void>

  /**
   * The key set's state: ok while it holds a key a token could use, one that suits an accepted
   * algorithm (stale keys served through an outage count, keys past `staleIfErrorMs` do not). Key
   * sets that are missing, expired or due for refresh start being fetched (see {@link warm}): a
   * readiness probe is asked before any token arrives, and an instance kept out of service until
   * it holds keys would otherwise never get the token that fetches them; a quiet one would let its
   * keys expire unseen.
   */
  health(): ProviderHealth {
    this.#warmUp()
    const jwksUri = this.currentJwksUri()
    if (jwksUri === undefined) {
      return { ok: false, keyCount: 0, lastError: this.locatingError() ?? 'keys not located yet' }
    }
    const { keyCount, fetchedAt, lastError } = this.cache.status(jwksUri)
    if (keyCount > 0 && this.cache.suitableKeyCount(jwksUri, this.policy.algorithms) === 0) {
      const unfit = noKeySuits(this.policy.algorithms)
      return {
        ok: false,
        jwksUri,
        keyCount,
        fetchedAt,
        lastError: lastError === undefined ? unfit : `${unfit}; ${lastError}`,
      }
    }
    return { ok: keyCount > 0, jwksUri, keyCount, fetchedAt, lastError }
  }

  /**
   * Starts fetching, for a health probe, the keys that are missing, expired or due for refresh
   * (or locating them, while their URI is unknown), and answers `undefined` when nothing is. A
   * provider holding several key sets overrides it to check each on its own: one failing set must
   * not refetch the fresh ones at every probe.
   */
  protected warm(): Promise<void> | undefined {
    const jwksUri = this.currentJwksUri()
    // An unknown URI: discovery has its own failure back-off.
    if (jwksUri !== undefined && !this.cache.warmUpDue(jwksUri)) return undefined
    return this.hydrate()
  }

  // At most one warm-up per gap, whoever asks, and only of sets the cache's back-off and cooldown
  // let a fetch through for: a health route reachable from outside must not turn into a stream of
  // requests to the issuer.
  #lastWarmUpAt = -Infinity

  #warmUp(): void {
    const now = Date.now()
    if (now - this.#lastWarmUpAt < WARM_UP_GAP_MS) return
    const warming = this.warm()
    if (warming === undefined) return
    this.#lastWarmUpAt = now
    // The outcome is in the cache's status (lastError), which the next report carries.
    warming.catch(() => undefined)
  }

  /** Where the keys are, once known (discovery may not have run yet). Subclasses say. */
  protected currentJwksUri(): string | undefined {
    return undefined
  }

  /** Why the keys could not be located, while the last attempt failed (a discovery's failure). */
  protected locatingError(): string | undefined {
    return undefined
  }

  /**
   * Vendor rules, run after the signature and registered claims hold. Throw (or, when async,
   * reject with) an `InvalidTokenError` to refuse the token with 401; any other `AuthError` is
   * answered with its own status, anything else as an invalid token. The token is accepted only
   * once a returned promise resolves. The verdict is remembered with the token until it expires:
   * a block that must reach tokens already accepted is a revocation store's job.
   */
  protected checkClaims(_claims: JwtClaims): void | Promise<void> {}

  /** Maps verified claims to the user's identity. */
  protected identity(claims: JwtClaims): UserIdentity {
    return standardIdentity(claims)
  }
}

/**
 * Verifies tokens of one issuer against the keys at a JWK Set URL.
 *
 * @example
 * const provider = new JwksProvider({
 *   issuer: 'https://auth.example.com/',
 *   jwksUri: 'https://auth.example.com/.well-known/jwks.json',
 *   audience: 'https://api.example.com',
 * })
 * app.use(jwtAuth({ provider }))
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every invalid option, and every unknown one.
 */
export class JwksProvider extends KeySetProvider {
  readonly jwksUri: string

  constructor(options: JwksProviderOptions) {
    const problems = new Problems()
    const production = isProduction()
    checkProviderOptionNames(problems, 'JwksProvider', options, JWKS_PROVIDER_OPTION_NAMES)
    checkUrl(problems, 'issuer', options?.issuer, production)
    checkUrl(problems, 'jwksUri', options?.jwksUri, production)
    const policy = resolvePolicy(problems, options?.issuer, options ?? ({} as JwksProviderOptions))
    problems.throwIfAny()
    const cache = resolveJwksCache(options)
    const { jwksUri } = options
    super(options.name ?? 'jwks', [options.issuer], policy, cache, {
      getKey: (alg, kid) => cache.getKey(jwksUri, alg, kid),
      isCurrent: (key) => cache.isCurrent(jwksUri, key),
    })
    this.jwksUri = jwksUri
  }

  /** Fetches the key set now, so the first request does not wait; rejects while the endpoint is down. */
  hydrate(): Promise<void> {
    return this.cache.hydrate(this.jwksUri)
  }

  protected override currentJwksUri(): string {
    return this.jwksUri
  }
}

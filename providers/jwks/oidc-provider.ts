// OidcProvider: an OpenID Connect issuer whose jwks_uri is found through discovery.

import {
  checkLogger,
  checkTimeout,
  checkUrl,
  Discovery,
  isProduction,
  Problems,
  silentLogger,
  type Logger,
  type OptionFlags,
} from '../../src/spi.js'
import {
  checkProviderOptionNames,
  KeySetProvider,
  resolvePolicy,
  TOKEN_CHECK_OPTION_NAMES,
  type TokenCheckOptions,
} from './jwks-provider.js'
import { resolveJwksCache } from './provider-cache.js'

/** Options of {@link OidcProvider}. */
export interface OidcProviderOptions extends TokenCheckOptions {
  /** The issuer; its discovery document is at `{issuer}/.well-known/openid-configuration` and must name this same issuer. */
  issuer: string
  /** Time-out of the discovery request, in milliseconds. Default: the key cache's `timeoutMs` (5000). */
  discoveryTimeoutMs?: number
  /**
   * Where discovery failures are logged: an unusable document (another issuer, no or an unsafe
   * `jwks_uri`) as an error, a failed request as a warning. A key cache the provider builds for
   * itself (given `fetch` or `jwksCache` options without their own `logger`) logs its failed
   * fetches here too. Default: the key cache's logger, where its fetch failures go (the
   * process-wide cache's and the provider's own log at `AUTH_MIDDLEWARE_LOG_LEVEL`); `false` for
   * none.
   */
  logger?: Logger | false
}

const OIDC_PROVIDER_OPTION_NAMES: readonly string[] = Object.freeze([
  ...TOKEN_CHECK_OPTION_NAMES,
  ...Object.keys({
    issuer: true,
    discoveryTimeoutMs: true,
    logger: true,
  } as const satisfies OptionFlags<Omit<OidcProviderOptions, keyof TokenCheckOptions>>),
])

const MAX_DISCOVERY_BYTES = 256 * 1024

// Where an issuer publishes its metadata (OIDC Discovery 1.0 §4, RFC 8414 §3): the document's URL,
// not the issuer, which is what tokens name in `iss` and what discovery appends this path to.
const METADATA_PATH = /\/\.well-known\/(?:openid-configuration|oauth-authorization-server)\/?$/

/**
 * Refuses a discovery document's URL given as the issuer: its discovery would fetch
 * `…/openid-configuration/.well-known/openid-configuration` and answer 503 for ever, and no token
 * names it in `iss`. Says which issuer was likely meant.
 */
function checkIssuerIsNoMetadataUrl(problems: Problems, issuer: unknown): void {
  if (typeof issuer !== 'string' || !URL.canParse(issuer)) return
  const url = new URL(issuer)
  if (!METADATA_PATH.test(url.pathname)) return
  const meant = `${url.origin}${url.pathname.replace(METADATA_PATH, '')}`
  problems.add(
    `issuer must be the issuer itself, as tokens name it in iss (likely ${JSON.stringify(meant)}, ` +
      'or the same with a trailing slash), not the URL of its discovery document: OidcProvider ' +
      'appends /.well-known/openid-configuration to it',
  )
}

/**
 * Refuses a `jwksUri`, which OidcProvider does not read (it takes the discovered one): given from
 * JavaScript, or spread from a JwksProvider's options, it would otherwise be silently ignored.
 */
function checkNoJwksUri(problems: Problems, options: OidcProviderOptions | undefined): void {
  if ((options as { jwksUri?: unknown } | undefined)?.jwksUri === undefined) return
  problems.add(
    'jwksUri is not an option of OidcProvider: it discovers jwks_uri; use JwksProvider for a fixed URL',
  )
}

/**
 * Verifies tokens of an OpenID Connect issuer (Auth0, Keycloak, Okta, Google…), finding its keys
 * through discovery. Discovery happens on the first token (or {@link hydrate}), is kept once it
 * succeeds, and is retried with a back-off while it fails (503 meanwhile).
 *
 * @example
 * const provider = new OidcProvider({
 *   issuer: 'https://keycloak.example.com/realms/shop',
 *   audience: 'orders-api',
 * })
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every invalid option, and every unknown one.
 */
export class OidcProvider extends KeySetProvider {
  readonly #discovery: Discovery

  constructor(options: OidcProviderOptions) {
    const problems = new Problems()
    const production = isProduction()
    checkUrl(problems, 'issuer', options?.issuer, production)
    checkIssuerIsNoMetadataUrl(problems, options?.issuer)
    checkTimeout(problems, 'discoveryTimeoutMs', options?.discoveryTimeoutMs)
    checkLogger(problems, 'logger', options?.logger)
    checkNoJwksUri(problems, options)
    checkProviderOptionNames(problems, 'OidcProvider', options, OIDC_PROVIDER_OPTION_NAMES, [
      'jwksUri',
    ])
    const policy = resolvePolicy(problems, options?.issuer, options ?? ({} as OidcProviderOptions))
    problems.throwIfAny()
    // A cache of the provider's own logs where its discovery does, unless told otherwise.
    const cache = resolveJwksCache(options, options.logger)
    // Discovery goes the way the keys go: through the cache's fetch (a proxy; the provider's own
    // fetch built that cache), within its time-out unless told otherwise, and logs where it logs.
    const keyFetch = cache.fetchOptions
    const discovery = new Discovery(
      options.issuer,
      {
        fetch: keyFetch.fetch,
        timeoutMs: options.discoveryTimeoutMs ?? keyFetch.timeoutMs,
        maxResponseBytes: MAX_DISCOVERY_BYTES,
        production,
      },
      options.logger === false ? silentLogger : (options.logger ?? cache.logger),
    )
    super(options.name ?? 'oidc', [options.issuer], policy, cache, {
      getKey(alg, kid) {
        const uri = discovery.jwksUri()
        return typeof uri === 'string'
          ? cache.getKey(uri, alg, kid)
          : uri.then((found) => cache.getKey(found, alg, kid))
      },
      isCurrent(key) {
        const uri = discovery.jwksUri()
        if (typeof uri === 'string') return cache.isCurrent(uri, key)
        uri.catch(() => undefined) // Rediscovery under way: verify afresh; its failure is reported there.
        return false
      },
    })
    this.#discovery = discovery
  }

  /** Runs discovery and fetches the keys now; rejects while either is unavailable. */
  async hydrate(): Promise<void> {
    await this.cache.hydrate(await this.#discovery.jwksUri())
  }

  protected override currentJwksUri(): string | undefined {
    return this.#discovery.known()
  }

  protected override locatingError(): string | undefined {
    return this.#discovery.failure()
  }
}

// Where an Entra key set is: found through the tenant's (or user flow's) discovery, or configured.

import {
  Discovery,
  type FetchFunction,
  type JwksCache,
  type JwsAlgorithm,
  type KeySource,
  type Logger,
} from '../../src/spi.js'

/** A key of a set, as the core's key source hands it out. */
export type SigningKey = Awaited<ReturnType<KeySource['getKey']>>

const MAX_DISCOVERY_BYTES = 256 * 1024

/** How discovery documents are fetched. */
export interface DiscoverySettings {
  readonly fetch: FetchFunction
  readonly timeoutMs: number
  readonly production: boolean
  readonly logger: Logger
}

/**
 * Discovery of `{base}/.well-known/openid-configuration` whose document must name
 * `expectedIssuer` (OIDC Discovery 1.0 §4.3).
 */
export function entraDiscovery(
  base: string,
  expectedIssuer: string,
  settings: DiscoverySettings,
): Discovery {
  const limits = {
    fetch: settings.fetch,
    timeoutMs: settings.timeoutMs,
    maxResponseBytes: MAX_DISCOVERY_BYTES,
    production: settings.production,
  }
  // Entra's multi-tenant documents name `https://login.microsoftonline.com/{tenantid}/v2.0`, and
  // B2C's name the tenant by id where the URL names it by name: the document must name exactly
  // the issuer the configuration implies.
  return new Discovery(base, limits, settings.logger, expectedIssuer)
}

/**
 * `…/discovery/v2.0/keys?appid={appId}`: the set holding an application's own signing keys (apps
 * with a claims-mapping policy; Microsoft "Access tokens", "Validate the signature").
 */
export function withAppId(jwksUri: string, appId: string): string {
  const url = new URL(jwksUri)
  url.searchParams.set('appid', appId)
  return url.href
}

/**
 * One key set: at a configured URI, or at the `jwks_uri` discovery finds (with `?appid=` appended
 * when the app's own keys are wanted). A {@link KeySource} for the core's verifier.
 */
export class KeyLocation implements KeySource {
  readonly #cache: JwksCache
  readonly #discovery: Discovery | undefined
  readonly #appId: string | undefined
  #uri: string | undefined
  #discovered: string | undefined

  constructor(
    cache: JwksCache,
    source: { jwksUri: string } | { discovery: Discovery },
    appId?: string,
  ) {
    this.#cache = cache
    this.#appId = appId
    if ('jwksUri' in source) {
      this.#discovery = undefined
      this.#uri = appId === undefined ? source.jwksUri : withAppId(source.jwksUri, appId)
    } else {
      this.#discovery = source.discovery
    }
  }

  /** Why discovery failed, while its last attempt did (none for a configured key set URI). */
  failure(): string | undefined {
    return this.#discovery?.failure()
  }

  /** The key set's URI once known (discovery may not have run yet). */
  known(): string | undefined {
    return this.#uri ?? this.#resolve(this.#discovery?.known())
  }

  getKey(alg: JwsAlgorithm, kid: string | undefined): SigningKey | Promise<SigningKey> {
    const uri = this.#current()
    return typeof uri === 'string'
      ? this.#cache.getKey(uri, alg, kid)
      : uri.then((found) => this.#cache.getKey(found, alg, kid))
  }

  isCurrent(key: SigningKey): boolean {
    const uri = this.#current()
    if (typeof uri === 'string') return this.#cache.isCurrent(uri, key)
    uri.catch(() => undefined) // Rediscovery under way: verify afresh; its failure is reported there.
    return false
  }

  /** Runs discovery (if any) and fetches the keys now. */
  async hydrate(): Promise<void> {
    await this.#cache.hydrate(await this.#current())
  }

  /** Whether a health probe should warm this set: its URI is still unknown, or its keys are due. */
  warmUpDue(): boolean {
    const uri = this.known()
    return uri === undefined || this.#cache.warmUpDue(uri)
  }

  /**
   * For a health probe: runs discovery if the URI is unknown (within discovery's back-off), then
   * fetches the keys only if the cache says a probe may (missing, expired or due).
   */
  async warmUp(): Promise<void> {
    const uri = await this.#current()
    if (this.#cache.warmUpDue(uri)) await this.#cache.hydrate(uri)
  }

  #current(): string | Promise<string> {
    if (this.#uri !== undefined) return this.#uri
    const found = this.#discovery!.jwksUri()
    return typeof found === 'string'
      ? this.#resolve(found)!
      : found.then((uri) => this.#resolve(uri)!)
  }

  #resolve(discovered: string | undefined): string | undefined {
    if (discovered === undefined || this.#appId === undefined) return discovered
    // The discovered URI is fixed once found: build the ?appid= form once, not per request.
    if (discovered !== this.#discovered) {
      this.#discovered = discovered
      this.#uri = withAppId(discovered, this.#appId)
    }
    return this.#uri
  }
}

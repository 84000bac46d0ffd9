// A local OpenID Connect issuer for tests: keys, minted tokens, discovery and JWKS routes, over
// HTTP on 127.0.0.1 and through an in-memory fetch.

import type { KeyObject } from 'node:crypto'
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { JwsAlgorithm } from './jwt.js'
import {
  NOT_FOUND,
  ROUTES,
  ROUTE_NAMES,
  baseUrls,
  fetchFailed,
  listen,
  portOf,
  socketClosed,
  toResponse,
  type Answer,
  type Route,
} from './test-routes.js'
import {
  checkClaims,
  checkDiscoveryOverrides,
  checkIssuerOptions,
  checkMembers,
  checkMintConflicts,
  encodeClaims,
  MINT_RULES,
  refuseInProduction,
  ROTATE_RULES,
} from './test-kit-options.js'
import { checkBehaviour, checkJwksValue, type RouteBehaviour } from './test-responses.js'
import {
  keyMap,
  newKeyPairAsync,
  newKeyPairSync,
  toSigningKey,
  type SigningKey,
} from './test-keys.js'
import {
  merge,
  rawClaims,
  signCompact,
  signingAlgFor,
  tamper,
  type SigningMaterial,
  type TamperMode,
} from './test-signer.js'

/** A JWS algorithm the test issuer can hold a signing key for. */
export type TestAlgorithm = JwsAlgorithm

/** Options of {@link createTestIssuer}. */
export interface TestIssuerOptions {
  /**
   * Issuer string put in tokens and in discovery.
   * Default: the server's base URL (`http://127.0.0.1:<port>`); with `listen: false`, `'https://issuer.test'`.
   */
  issuer?: string
  /** Audience put in minted tokens by default. Default `'api://oidc-guard-test'`. */
  audience?: string
  /**
   * Signing algorithms; one key is generated per algorithm (RSA 2048 for RS and PS, P-256/384/521
   * for ES, Ed25519 for EdDSA). Default `['RS256']`. The first is the default of `mint()`.
   */
  algorithms?: readonly TestAlgorithm[]
  /** Start an HTTP server on 127.0.0.1 (random port). Default true. With false only `fetch` serves the routes. */
  listen?: boolean
  /** The port to listen on, 0 to 65535. Default 0: a free one. Refused with `listen: false` (nothing listens). */
  port?: number
  /**
   * Start even though NODE_ENV says production. Default false: a test issuer signs whatever it is
   * asked to with keys it makes up, so an API trusting it lets in tokens no real identity provider
   * issued; in production that is refused unless meant (a smoke test of a production build).
   */
  allowInProduction?: boolean
}

/** Options of {@link TestIssuer.mint}, mostly to forge the broken and hostile tokens a verifier must refuse. */
export interface MintOptions {
  /**
   * Header `alg`. Default: the issuer's first algorithm (`'HS256'` with `hmacSecret`).
   * When it does not suit the signing key (say `'foo'`, or `'RS384'` on an issuer with only an
   * ES256 key) the header still says it but the signature is made with the key's own algorithm.
   */
  alg?: TestAlgorithm | (string & {})
  /** Header `kid`. Default: the issuer's current kid for `alg` (else for its first algorithm); null omits it. */
  kid?: string | null
  /** Extra or overriding header members (jku, jwk, crit, typ …), applied last; undefined removes a member. */
  header?: Record<string, unknown>
  /**
   * Lifetime in seconds: `exp = now + expiresInSec` (now is the default `iat`), in a Cognito or
   * Entra preset's claims too (`-60`: expired a minute ago). Default 3600 (a preset: its own, 3600
   * for Cognito, 3900 for Entra). An `exp` claim given to `mint` wins. Refused with `rawPayload`.
   */
  expiresInSec?: number
  /**
   * Sign exactly this text as the payload (duplicate members, 1e400 …): it replaces the default
   * claims, so claims given to `mint` and `expiresInSec` are a TypeError beside it.
   */
  rawPayload?: string
  /** Sign with this private key instead of the issuer's (an attacker's key). Refused with `hmacSecret`. */
  key?: KeyObject
  /**
   * Sign with HMAC and this secret (key-confusion attacks); the default alg becomes `'HS256'`.
   * Refused with `key`.
   */
  hmacSecret?: string | Buffer
  /**
   * Damage the token after signing.
   * - `signature`: flip one bit of the decoded signature.
   * - `payload`: swap in the signed claims with `sub: 'attacker'` (`'attacker-2'` when they
   *   already say that), keeping the old signature: the payload always changes. With
   *   `rawPayload`, the claims are those it parses to (a TypeError when it is not a JSON object).
   * - `strip-signature`: `header.payload.`
   * - `drop-signature-segment`: `header.payload`
   */
  tamper?: TamperMode
}

/** A running fake identity provider; see {@link createTestIssuer}. */
export interface TestIssuer {
  /** The `iss` of minted tokens and of discovery. */
  readonly issuer: string
  /** The default `aud` of minted tokens. */
  readonly audience: string
  /** Base URL: `http://127.0.0.1:<port>`, or `https://issuer.test` with `listen: false`. */
  readonly url: string
  /** `${url}/.well-known/jwks.json` */
  readonly jwksUri: string
  /** `${url}/.well-known/openid-configuration` */
  readonly discoveryUri: string
  /**
   * An in-memory fetch serving the same routes at `url` (and under `issuer` when it is a URL), without
   * a socket. Other URLs reject with `TypeError('fetch failed')`, as undici does when refused.
   *
   * @example
   * const discovery = await (await idp.fetch(idp.discoveryUri)).json()
   */
  readonly fetch: typeof fetch
  /** Requests received so far per route, over HTTP and in memory, misbehaving ones included. */
  readonly counts: { readonly jwks: number; readonly discovery: number }
  /** The issuer's own public keys (current, then kept old ones), whatever {@link TestIssuer.setJwks} serves. */
  jwks(): { keys: Record<string, unknown>[] }
  /**
   * Sign a token with default claims iss, aud, sub `'user-1'`, iat (from `Date.now()`, so fake timers
   * apply), exp and a random jti; `claims` override them and an undefined member removes one.
   * Claims other than an object, or holding a value JSON cannot encode (a BigInt, a function),
   * are a TypeError.
   *
   * @example
   * const token = idp.mint({ scope: 'read' }, { alg: 'ES256', expiresInSec: -60 })
   */
  mint(claims?: Record<string, unknown>, options?: MintOptions): string
  /** Generate new signing keys (new kids) for every algorithm; `keepOld` keeps the old public keys served. */
  rotateKeys(options?: { keepOld?: boolean }): void
  /**
   * Serve this exact JSON value as the JWKS (one JSON cannot encode, such as a BigInt, a function
   * or a Symbol, is a TypeError); undefined or {@link TestIssuer.rotateKeys} go back to the real keys.
   */
  setJwks(value: unknown): void
  /**
   * Make a route misbehave; undefined restores normal behaviour.
   *
   * @example
   * idp.respondWith('jwks', { status: 503, body: 'down' })
   */
  respondWith(route: 'jwks' | 'discovery', behaviour: RouteBehaviour | undefined): void
  /**
   * Override members of the discovery document (undefined removes one); undefined drops all
   * overrides. Anything but a plain object or undefined (null, a string) is a TypeError.
   */
  setDiscovery(overrides: Record<string, unknown> | undefined): void
  /** Reset the request counts to 0. */
  resetCounts(): void
  /** Stop the server, destroying open connections and failing pending requests. Safe to call twice. */
  close(): Promise<void>
  /** What `new JwksProvider(...)` needs to verify this issuer's tokens (in memory, no sockets). */
  readonly providerOptions: {
    issuer: string
    jwksUri: string
    audience: string
    fetch: typeof fetch
  }
}

/** Starts a generic issuer (the default kind of `createTestIssuer`). */
export async function createOidcIssuer(options: TestIssuerOptions): Promise<TestIssuer> {
  const algorithms = checkIssuerOptions(options)
  refuseInProduction(options.allowInProduction)
  // Async generation runs the RSA prime searches in parallel on the libuv pool.
  const keys = await Promise.all(
    algorithms.map(async (alg) => toSigningKey(alg, await newKeyPairAsync(alg))),
  )
  const server = options.listen === false ? undefined : await listen(options.port ?? 0)
  const url = server === undefined ? 'https://issuer.test' : `http://127.0.0.1:${portOf(server)}`
  return new LocalIssuer({
    url,
    issuer: options.issuer ?? url,
    audience: options.audience ?? 'api://oidc-guard-test',
    algorithms,
    keys,
    server,
  })
}

interface LocalIssuerInit {
  url: string
  issuer: string
  audience: string
  algorithms: readonly TestAlgorithm[]
  keys: readonly SigningKey[]
  server: Server | undefined
}

class LocalIssuer implements TestIssuer {
  readonly issuer: string
  readonly audience: string
  readonly url: string
  readonly jwksUri: string
  readonly discoveryUri: string
  readonly fetch: typeof fetch = (input, init) => this.serveInMemory(input, init)
  private readonly algorithms: readonly TestAlgorithm[]
  private readonly defaultAlg: TestAlgorithm
  private readonly server: Server | undefined
  private readonly bases: readonly URL[]
  private keys: Map<string, SigningKey>
  private retired: Record<string, unknown>[] = []
  private jwksOverride: { value: unknown } | undefined
  private discoveryOverrides: Record<string, unknown> | undefined
  private readonly behaviours = new Map<Route, RouteBehaviour>()
  private readonly served = { jwks: 0, discovery: 0 }
  // Cancels every pending delay or hang, so close() leaves no timer or request behind.
  private readonly cancellers = new Set<() => void>()
  private closing: Promise<void> | undefined

  constructor(init: LocalIssuerInit) {
    this.url = init.url
    this.issuer = init.issuer
    this.audience = init.audience
    this.jwksUri = `${init.url}/.well-known/jwks.json`
    this.discoveryUri = `${init.url}/.well-known/openid-configuration`
    this.algorithms = init.algorithms
    this.defaultAlg = init.algorithms[0] ?? 'RS256'
    this.keys = keyMap(init.keys)
    this.bases = baseUrls(init.url, init.issuer)
    this.server = init.server
    this.server?.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.serveHttp(req, res).catch(() => res.destroy())
    })
  }

  get counts(): { readonly jwks: number; readonly discovery: number } {
    return Object.freeze({ ...this.served })
  }

  jwks(): { keys: Record<string, unknown>[] } {
    const current = [...this.keys.values()].map((key) => ({ ...key.jwk }))
    return { keys: [...current, ...this.retired.map((jwk) => ({ ...jwk }))] }
  }

  mint(claims: Record<string, unknown> = {}, options: MintOptions = {}): string {
    checkClaims('mint', claims)
    checkMembers('mint', options, MINT_RULES)
    checkMintConflicts(claims, options)
    const { rawPayload } = options
    const payload = rawPayload === undefined ? this.claimsFor(claims, options.expiresInSec) : {}
    // tamper: 'payload' forges from the claims actually signed, the raw ones included.
    const signed =
      rawPayload !== undefined && options.tamper === 'payload' ? rawClaims(rawPayload) : payload
    const alg = options.alg ?? (options.hmacSecret === undefined ? this.defaultAlg : 'HS256')
    const own = this.keyFor(alg)
    const material: SigningMaterial =
      options.hmacSecret !== undefined
        ? { hmacSecret: options.hmacSecret }
        : (options.key ?? own.privateKey)
    const kid = options.kid === undefined ? own.kid : options.kid
    const header = merge({ alg, typ: 'JWT', ...(kid === null ? {} : { kid }) }, options.header)
    const body = rawPayload ?? encodeClaims('mint', payload)
    const token = signCompact(header, body, material, signingAlgFor(header.alg, material))
    return tamper(token, options.tamper, signed)
  }

  rotateKeys(options: { keepOld?: boolean } = {}): void {
    checkMembers('rotateKeys', options, ROTATE_RULES)
    this.retired = options.keepOld === true ? this.jwks().keys : []
    const keys = this.algorithms.map((alg) => toSigningKey(alg, newKeyPairSync(alg)))
    this.keys = keyMap(keys)
    this.jwksOverride = undefined
  }

  setJwks(value: unknown): void {
    checkJwksValue(value)
    this.jwksOverride = value === undefined ? undefined : { value }
  }

  respondWith(route: 'jwks' | 'discovery', behaviour: RouteBehaviour | undefined): void {
    if (!ROUTE_NAMES.has(route)) throw new TypeError(`respondWith: unknown route ${String(route)}`)
    const ready = checkBehaviour(behaviour)
    if (ready === undefined) this.behaviours.delete(route)
    else this.behaviours.set(route, ready)
  }

  setDiscovery(overrides: Record<string, unknown> | undefined): void {
    this.discoveryOverrides = checkDiscoveryOverrides(overrides)
  }

  resetCounts(): void {
    this.served.jwks = 0
    this.served.discovery = 0
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  get providerOptions(): TestIssuer['providerOptions'] {
    const { issuer, jwksUri, audience, fetch } = this
    return { issuer, jwksUri, audience, fetch }
  }

  private async shutdown(): Promise<void> {
    for (const cancel of [...this.cancellers]) cancel()
    const server = this.server
    if (server === undefined) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    // Hanging requests would otherwise hold server.close() open forever.
    server.closeAllConnections()
    await closed
  }

  private keyFor(alg: string): SigningKey {
    const key = this.keys.get(alg) ?? this.keys.get(this.defaultAlg)
    if (key === undefined) throw new Error('oidc-guard/testing: the default signing key is missing')
    return key
  }

  private claimsFor(claims: Record<string, unknown>, expiresInSec = 3600): Record<string, unknown> {
    const iat = Math.floor(Date.now() / 1000)
    const defaults = {
      iss: this.issuer,
      aud: this.audience,
      sub: 'user-1',
      iat,
      exp: iat + expiresInSec,
      jti: randomBytes(12).toString('base64url'),
    }
    return merge(defaults, claims)
  }

  private async serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = this.routeOf(new URL(req.url ?? '/', this.url))
    if (route === 'jwks' || route === 'discovery') {
      const aborted = new AbortController()
      res.once('close', () => aborted.abort())
      const answer = await this.answer(route, aborted.signal)
      if (!res.destroyed) res.writeHead(answer.status, answer.headers).end(answer.body)
      return
    }
    res.writeHead(NOT_FOUND.status, NOT_FOUND.headers).end(NOT_FOUND.body)
  }

  /**
   * Answers `route` at a URL of a vendor kit's as this issuer's own route would (counting it,
   * applying `respondWith`, `setJwks` and `setDiscovery`), with `normal` as the document nothing
   * overrides.
   */
  async serveAs(
    route: Route,
    target: URL,
    init: RequestInit | undefined,
    normal: Record<string, unknown>,
  ): Promise<Response> {
    const signal = init?.signal ?? undefined
    signal?.throwIfAborted()
    if (this.closing !== undefined) throw refused(target)
    return toResponse(
      await this.answer(route, signal ?? new AbortController().signal, normal),
      target,
    )
  }

  private async serveInMemory(
    input: string | URL | Request,
    init: RequestInit | undefined,
  ): Promise<Response> {
    const target = new URL(input instanceof Request ? input.url : input)
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined)
    signal?.throwIfAborted()
    const route = this.closing === undefined ? this.routeOf(target) : 'foreign'
    if (route === 'foreign') throw refused(target)
    if (route === 'not-found') return toResponse(NOT_FOUND, target)
    return toResponse(await this.answer(route, signal ?? new AbortController().signal), target)
  }

  private routeOf(target: URL): Route | 'not-found' | 'foreign' {
    let sameOrigin = false
    for (const base of this.bases) {
      if (target.origin !== base.origin) continue
      sameOrigin = true
      const prefix = base.pathname.replace(/\/+$/, '')
      if (!target.pathname.startsWith(`${prefix}/`)) continue
      const route = ROUTES.get(target.pathname.slice(prefix.length))
      if (route !== undefined) return route
    }
    return sameOrigin ? 'not-found' : 'foreign'
  }

  private async answer(
    route: Route,
    signal: AbortSignal,
    normal?: Record<string, unknown>,
  ): Promise<Answer> {
    this.served[route] += 1
    const behaviour = this.behaviours.get(route)
    if (behaviour?.hang === true) await this.wait(undefined, signal)
    else if (behaviour?.delayMs !== undefined) await this.wait(behaviour.delayMs, signal)
    const body = behaviour?.body === undefined ? this.document(route, normal) : behaviour.body
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    for (const [name, value] of Object.entries(behaviour?.headers ?? {})) {
      headers[name.toLowerCase()] = value
    }
    const text = typeof body === 'string' ? body : (JSON.stringify(body) ?? '')
    return { status: behaviour?.status ?? 200, headers, body: text }
  }

  /** Resolves after `ms` (never when undefined); rejects on abort or close. */
  private wait(ms: number | undefined, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason)
      if (this.closing !== undefined) return reject(socketClosed())
      const finish = (failure?: { reason: unknown }): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.cancellers.delete(onClose)
        if (failure === undefined) resolve()
        else reject(failure.reason)
      }
      const onAbort = (): void => finish({ reason: signal.reason })
      const onClose = (): void => finish({ reason: socketClosed() })
      const timer = ms === undefined ? undefined : setTimeout(() => finish(), ms)
      signal.addEventListener('abort', onAbort, { once: true })
      this.cancellers.add(onClose)
    })
  }

  /** The route's document: `normal` (default the issuer's own), under `setJwks` / `setDiscovery`. */
  private document(route: Route, normal: Record<string, unknown> | undefined): string {
    if (route === 'jwks') {
      const override = this.jwksOverride
      return JSON.stringify(override === undefined ? (normal ?? this.jwks()) : override.value)
    }
    const discovery = normal ?? {
      issuer: this.issuer,
      jwks_uri: this.jwksUri,
      id_token_signing_alg_values_supported: [...this.algorithms],
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
    }
    return JSON.stringify(merge(discovery, this.discoveryOverrides))
  }
}

/** undici's rejection of a URL no one answers. */
function refused(target: URL): TypeError {
  return fetchFailed(`connect ECONNREFUSED ${target.host}`, 'ECONNREFUSED')
}

/**
 * For the vendor kits: answers `route` at `target` as `idp`'s own route would (counts,
 * `respondWith`, `setJwks`, `setDiscovery`), serving `normal` when nothing is overridden.
 */
export function serveAs(
  idp: TestIssuer,
  route: Route,
  target: URL,
  init: RequestInit | undefined,
  normal: Record<string, unknown>,
): Promise<Response> {
  if (!(idp instanceof LocalIssuer)) throw new TypeError('serveAs: not an issuer of this kit')
  return idp.serveAs(route, target, init, normal)
}

// The user on req.currentUser: a verified identity with lazy groups, roles, permissions and profile.

import { checkedAnswer, listOfStrings, sourceUnavailable, type Facet } from './source-answers.js'
import { isSourceRefusal, UnavailableError } from './errors.js'
import type {
  GroupsProvider,
  PermissionsProvider,
  ProfileProvider,
  RolesProvider,
} from './contracts.js'
import { scopesOf } from './claims.js'
import type { JwtClaims } from './jwt.js'

/** Where a user's facets come from. A facet without a source is empty. */
export interface UserSources {
  readonly groups?: GroupsProvider | undefined
  readonly roles?: RolesProvider | undefined
  readonly permissions?: PermissionsProvider | undefined
  readonly profile?: ProfileProvider | undefined
}

/** The identity a provider extracts from verified claims. */
export interface UserIdentity {
  readonly id: string
  readonly name?: string | undefined
  readonly email?: string | undefined
  readonly scopes?: readonly string[] | undefined
  readonly isM2M?: boolean | undefined
  readonly clientId?: string | undefined
}

/** Who vouched for a user: the provider (or scheme) that authenticated it, and its token if any. */
export interface UserOrigin {
  /** `jwks`, `cognito`, `basic`, `api-key`… */
  readonly provider: string
  /** Verified claims; none for users authenticated without a token (Basic, API keys). */
  readonly claims?: JwtClaims | undefined
  /** The raw bearer token, for sources that call an API on the user's behalf. */
  readonly token?: string | undefined
}

type ListFacet = 'groups' | 'roles' | 'permissions'
type Profile = Readonly<Record<string, unknown>>

const EMPTY_LIST: Promise<readonly string[]> = Promise.resolve(Object.freeze([]))
const EMPTY_PROFILE: Promise<Profile> = Promise.resolve(Object.freeze({}))
const NO_CLAIMS: JwtClaims = Object.freeze({})
const NO_SCOPES: readonly string[] = Object.freeze([])
// Only the disabled switch can make a synthetic user; a look-alike built by hand is not one.
const SYNTHETIC = new WeakSet<User>()

/**
 * Who made the request. After `jwtAuth` runs, `req.currentUser` is always a `User`: a verified
 * identity (`isAuthenticated === true`) or the anonymous user. `groups`, `roles`, `permissions`
 * and `profile` are promises that call their source only when first awaited, at most once per
 * request; a source that fails makes them reject with a 503 {@link UnavailableError}, and one
 * that refuses with its own 401 or 403.
 *
 * @example
 * // Express 5 hands a rejected promise (a groups source that is down: a 503) to the error handlers.
 * app.get('/me', requireUser(), async (req, res) => {
 *   res.json({ id: req.currentUser.id, groups: await req.currentUser.groups })
 * })
 * @example
 * // Express 4 ignores it, and an unhandled rejection ends the process: pass it to next().
 * app.get('/me', requireUser(), async (req, res, next) => {
 *   try {
 *     res.json({ id: req.currentUser.id, groups: await req.currentUser.groups })
 *   } catch (error) {
 *     next(error)
 *   }
 * })
 */
export class User {
  /**
   * The anonymous user: no identity, no scopes, empty facets. One object for every request without
   * credentials, so it is frozen: a handler's `req.currentUser.name = …` cannot reach the next one.
   */
  static readonly anonymous: User = Object.freeze(new User(undefined, { id: '' }, {})) as User

  /**
   * The stand-in user of the disabled switch (`AUTH_MIDDLEWARE_DISABLED`): authenticated, id
   * `synthetic`, `isSynthetic === true`, and every guard lets it through. Never use it elsewhere.
   */
  static synthetic(): User {
    const user = new User(
      { provider: 'disabled' },
      { id: 'synthetic', name: 'synthetic', email: 'synthetic@example.invalid' },
      {},
    )
    SYNTHETIC.add(user)
    return user
  }

  /** `sub` of the token (or the provider's stable id); `''` for the anonymous user. */
  readonly id: string
  readonly name: string | undefined
  readonly email: string | undefined
  /** Scopes granted by the token (`scope` or `scp`). */
  readonly scopes: readonly string[]
  /** A machine-to-machine (client credentials) token: no human behind it. */
  readonly isM2M: boolean
  /** The OAuth client the token was issued to (`client_id`, `azp` or `appid`). */
  readonly clientId: string | undefined
  /** The name of the provider that verified the token; `''` for the anonymous user. */
  readonly provider: string
  /**
   * The verified claims (empty for the anonymous user), frozen all the way down: while the token
   * cache remembers the token, later requests bringing it share them. Copy what you want to change.
   */
  readonly claims: JwtClaims
  readonly #authenticated: boolean
  readonly #token: string | undefined
  readonly #sources: UserSources
  #groups: Promise<readonly string[]> | undefined
  #roles: Promise<readonly string[]> | undefined
  #permissions: Promise<readonly string[]> | undefined
  #profile: Promise<Profile> | undefined

  /**
   * @param origin who authenticated the user; `undefined` only for the anonymous user.
   * @param identity what the provider read from the credentials.
   * @param sources where the user's groups, roles, permissions and profile come from.
   * @throws {TypeError} when `identity.scopes` is given and is not a list of strings.
   */
  constructor(origin: UserOrigin | undefined, identity: UserIdentity, sources: UserSources) {
    this.id = identity.id
    this.name = identity.name
    this.email = identity.email
    this.scopes = scopeList(identity.scopes)
    this.isM2M = identity.isM2M ?? false
    this.clientId = identity.clientId
    this.provider = origin?.provider ?? ''
    this.claims = origin?.claims ?? NO_CLAIMS
    this.#authenticated = origin !== undefined
    this.#token = origin?.token
    this.#sources = sources
  }

  /** Whether verified credentials (a token, a password, an API key) stand behind this user. */
  get isAuthenticated(): boolean {
    return this.#authenticated
  }

  /** The stand-in user of the disabled switch, which every guard lets through. */
  get isSynthetic(): boolean {
    return SYNTHETIC.has(this)
  }

  /** The raw token, for sources that call an API on the user's behalf. Never logged or serialised. */
  get token(): string | undefined {
    return this.#token
  }

  /** A name to show: `name`, else `email`, else `id`; `''` for the anonymous user. */
  get displayName(): string {
    return this.name ?? this.email ?? this.id
  }

  get groups(): Promise<readonly string[]> {
    return (this.#groups ??= this.#loadList('groups'))
  }

  get roles(): Promise<readonly string[]> {
    return (this.#roles ??= this.#loadList('roles'))
  }

  get permissions(): Promise<readonly string[]> {
    return (this.#permissions ??= this.#loadList('permissions'))
  }

  /** The profile source's answer as this request's own deep copy: a change reaches no other request. */
  get profile(): Promise<Profile> {
    return (this.#profile ??= this.#loadProfile())
  }

  /** What `JSON.stringify` and loggers see: never the token or the claims. */
  toJSON(): Record<string, unknown> {
    const { id, name, email, scopes, isM2M, clientId, provider, isAuthenticated } = this
    return { id, name, email, scopes, isM2M, clientId, provider, isAuthenticated }
  }

  #loadList(facet: ListFacet): Promise<readonly string[]> {
    const call = this.#listSource(facet)
    if (!this.isAuthenticated || call === undefined) return EMPTY_LIST
    return guarded(facet, call) as Promise<readonly string[]>
  }

  #listSource(facet: ListFacet): (() => unknown) | undefined {
    const { groups, roles, permissions } = this.#sources
    if (facet === 'groups') return groups && (() => groups.fetchGroups(this))
    if (facet === 'roles') return roles && (() => roles.fetchRoles(this))
    return permissions && (() => permissions.fetchPermissions(this))
  }

  #loadProfile(): Promise<Profile> {
    const source = this.#sources.profile
    if (!this.isAuthenticated || source === undefined) return EMPTY_PROFILE
    return guarded('profile', () => source.fetchProfile(this)) as Promise<Profile>
  }
}

/**
 * The identity's scopes as a frozen list: a frozen list as it is, any other list copied once its
 * items are checked to be strings. `null` counts as none, as `undefined` does.
 * Anything else is the provider's bug, refused: a scope string kept as it is would turn
 * `requireScopes(['admin'])` into a substring test that `"nonadmin"` passes (a subclass whose
 * `identity()` returns `scopes: claims.scope`).
 */
function scopeList(scopes: unknown): readonly string[] {
  if (scopes === undefined || scopes === null) return NO_SCOPES
  if (Array.isArray(scopes)) {
    // The frozen list a provider keeps for a remembered token comes back on every request: taken
    // as it is, unwalked (a list, never a string, is what keeps `includes` an exact match; an item
    // that is no string can never equal a required scope, and the rules skip it).
    if (Object.isFrozen(scopes)) return scopes as readonly string[]
    const strings = listOfStrings(scopes as readonly unknown[])
    if (strings !== undefined) return Object.freeze(strings)
  }
  throw new TypeError(
    `identity().scopes must be a list of strings, e.g. ['orders:read'], got ${kindOf(scopes)}: ` +
      "split a space-separated scope claim first (scopesOf from 'oidc-guard' does)",
  )
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list with an item that is not a string'
  // Never the value itself: it comes from a token, and the message may reach a log.
  return typeof value === 'string' ? 'a string' : typeof value
}

/**
 * Calls a source (even one that throws synchronously), checks its answer, and turns any failure
 * into a 503. The promise is marked as observed: a facet nobody awaits must not crash the process.
 */
function guarded(facet: Facet, call: () => unknown): Promise<unknown> {
  const promise = new Promise<unknown>((resolve) => resolve(call())).then(
    (value) => checkedAnswer(facet, value),
    (error: unknown) => {
      // Outages (503), refused tokens (401) and a source's own refusal of the user (403) keep
      // their answer; anything else is a broken source.
      if (error instanceof UnavailableError || isSourceRefusal(error)) throw error
      throw sourceUnavailable(facet, error)
    },
  )
  promise.catch(() => undefined)
  return promise
}

/**
 * The identity standard OIDC / OAuth 2.0 claims describe: `sub`; `name`, `preferred_username` or
 * `username`; `email`; scopes from `scope`/`scp`; the client from `client_id` or `azp`; and
 * whether the token is machine-to-machine (see {@link isMachineToken}).
 */
export function standardIdentity(claims: JwtClaims): UserIdentity {
  const clientId = claims.client_id ?? claims.azp
  const sub = claims.sub ?? ''
  return {
    id: sub,
    name:
      stringClaim(claims, 'name') ??
      stringClaim(claims, 'preferred_username') ??
      stringClaim(claims, 'username'),
    email: stringClaim(claims, 'email'),
    scopes: scopesOf(claims),
    clientId,
    isM2M: isMachineToken(claims),
  }
}

// Keycloak names the user behind a client's service account (client credentials) so, always.
const KEYCLOAK_SERVICE_ACCOUNT = 'service-account-'

/**
 * Whether a token was issued to a client on its own behalf (client credentials), as far as the
 * common issuers say so: its subject is its client (`client_id`/`azp`, generic; Okta's `cid`),
 * Auth0's `gty: client-credentials`, or Keycloak's service-account user
 * (`preferred_username` = `service-account-` + the client id, which Keycloak stores lower-cased).
 * A machine token none of these recognise counts as a person's: docs/authorization.md says so.
 */
export function isMachineToken(claims: JwtClaims): boolean {
  if (claims['gty'] === 'client-credentials') return true
  const sub = stringClaim(claims, 'sub')
  if (sub === undefined) return false
  const clientId = claims.client_id ?? claims.azp
  if (sub === clientId || sub === stringClaim(claims, 'cid')) return true
  const keycloakClient = stringClaim(claims, 'azp') ?? stringClaim(claims, 'client_id')
  const username = stringClaim(claims, 'preferred_username')
  return (
    keycloakClient !== undefined &&
    username !== undefined &&
    username.toLowerCase() === (KEYCLOAK_SERVICE_ACCOUNT + keycloakClient).toLowerCase()
  )
}

/** A claim's value when it is a non-empty string. */
export function stringClaim(claims: JwtClaims, name: string): string | undefined {
  const value = claims[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

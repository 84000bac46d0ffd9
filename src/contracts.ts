// The interfaces a provider or an authorization source implements to plug into oidc-guard.

import type { JwtClaims, JwtHeader, ParsedJwt } from './jwt.js'
import type { User, UserSources } from './user.js'

/** A token whose signature and claims a provider has checked. */
export interface VerifiedToken {
  /** The compact token as received (for sources that call an API on the user's behalf). */
  readonly token: string
  readonly header: JwtHeader
  readonly claims: JwtClaims
  /**
   * Whether this verification still holds at `nowSec` (the token has not expired, its key is still
   * published…), so it may be remembered and reused for the same token string. Without it the
   * token is verified afresh on every request.
   */
  readonly revalidate?: (nowSec: number) => boolean
}

/**
 * Verifies tokens of one identity provider and maps their claims to a {@link User}.
 * The pipeline chooses the provider by the token's unverified `iss`; the provider must still
 * check `iss` after the signature. Outages must be reported as `UnavailableError` (503) and bad
 * tokens as `InvalidTokenError` (401); any other error is treated as an invalid token.
 */
export interface JwtProvider {
  /** A short label (`jwks`, `oidc`, `cognito`…), put on `user.provider` and in logs. */
  readonly name: string
  /** The exact issuers this provider accepts, used to route tokens without trying each provider. */
  readonly issuers: readonly string[]
  /**
   * Issuers routed to this provider though it refuses them (Entra: a version of a tenant it names
   * that it does not accept), so that their tokens meet the rules their owner set and are refused
   * saying why, never reaching a provider that takes any tenant. Not listed as accepted anywhere.
   */
  readonly refusedIssuers?: readonly string[]
  /**
   * The longest token it accepts, in characters: a verifier given no limit of its own decodes
   * tokens up to the longest of its providers' (at least 16 KiB).
   */
  readonly maxTokenLength?: number
  /**
   * For issuers that are templates (Entra's `{tenantid}`): whether this provider takes `iss`. It
   * must answer only for issuers it accepts: the first templated provider to claim one gets it.
   */
  claimsIssuer?(iss: string): boolean
  /**
   * Whether `iss` is of this provider's form though it refuses it (a tenant or version it does not
   * take): a token no provider claims goes to the first that recognises it, to be refused with
   * the reason rather than "token issuer is not trusted".
   */
  recognisesIssuer?(iss: string): boolean
  /**
   * Groups of its issuers (each from `issuers`, exactly) whose tokens name the same users: one
   * user's tokens may carry any issuer of a group, with one `sub` (Cognito's regional and global
   * forms of one pool). A subject revocation under any issuer of a group then refuses the user's
   * tokens of every issuer of it, and `forgetUser` under any of them forgets the sources' cached
   * answers of every one. Read once, when the verifier is built; an issuer of another provider,
   * or in two groups, is a `ConfigError`.
   *
   * Warning: name only issuers whose subjects are one namespace: two users of one `sub` under two
   * grouped issuers would share cached rights and revocations.
   */
  readonly issuerAliases?: readonly (readonly string[])[]
  /** Why this provider and `other` would both claim some issuer not listed in `issuers`, if so. */
  issuerConflictWith?(other: JwtProvider): string | undefined
  /** Verifies a token; `parsed` is the pipeline's decoding of it, to avoid decoding twice. */
  verifyToken(token: string, parsed?: ParsedJwt): Promise<VerifiedToken>
  /** Builds the user of a verified token. */
  createUser(verified: VerifiedToken, sources: UserSources): User
  /** Fetches what the provider needs (discovery, keys) ahead of the first request. */
  hydrate?(): Promise<void>
  /** The state of what the provider depends on (its key set), for health reports. */
  health?(): ProviderHealth
  /**
   * Sources this provider's users get when `jwtAuth` is given none for a facet (Cognito: groups
   * from `cognito:groups`). Options given to `jwtAuth` win, facet by facet.
   */
  readonly defaultSources?: UserSources
}

/** A provider's part of a health report. */
export interface ProviderHealth {
  /** Whether the provider can verify tokens now (it holds keys). */
  readonly ok: boolean
  /** Where its keys come from, once known. */
  readonly jwksUri?: string | undefined
  readonly keyCount: number
  /** When the keys in use were fetched. */
  readonly fetchedAt?: Date | undefined
  /** The last fetch's failure, if the last fetch failed. */
  readonly lastError?: string | undefined
}

/**
 * What a source is handed besides the user: `signal` aborts when the answer is no longer wanted
 * (the source timed out, or its cache entry was dropped), so a database query can be cancelled.
 */
export interface SourceContext {
  readonly signal: AbortSignal
}

/** What every authorization source may declare about itself. */
export interface SourceTraits {
  /**
   * The answer is read from the token itself (claims), so it is never cached across requests:
   * two tokens of one subject may carry different claims. Default `false`.
   */
  readonly fromToken?: boolean
  /**
   * The value the source looks the user up by, when that is not `user.id` (the SQL sources'
   * `idClaim`: an `email`, a gateway's end-user claim): the pipeline caches the source's answers
   * under the issuer and this value instead of `user.id`. Return `undefined` when the user cannot
   * be looked up (the claim is missing): the source is then asked without the cache and answers
   * its own error. One that throws, or returns anything but a non-empty string, is treated alike.
   * `forgetUser({ issuer, subject })` then takes this value as `subject`.
   *
   * Warning: a source that looks users up by something else than `user.id` must define it.
   * Otherwise two tokens of one `user.id` (a gateway's one `sub` for every end user) share one
   * cached answer, and one user gets another's rights.
   *
   * @example
   * cacheKey(user: User): string | undefined {
   *   const email = user.claims.email
   *   return typeof email === 'string' && email !== '' ? email : undefined
   * }
   */
  cacheKey?(user: User): string | undefined
  /**
   * For a source with a cache of its own (as `GraphGroupResolver` has): drops, synchronously, what
   * it holds for one user, so the next lookup asks afresh. Called by `forgetUser` (before the
   * pipeline drops its own copy, which would otherwise refill from it), and on every instance when
   * another one forgets the user through a shared tier (`RedisSharedCache`), with the issuer and
   * `user.id` (`subject`) of the user forgotten, or the `subject` given to `forgetUser`; once more
   * for each source's {@link cacheKey} of a forgotten `User` that differs from its id. Without it,
   * the pipeline forgets only its own answers and the source's cache serves the old one until it
   * expires. If it throws, the other sources and the pipeline still forget, then `forgetUser`
   * rejects with its error. A source with `forget` or `clear` has its answers cached in each
   * instance's process only, never in the shared tier (`RedisSharedCache`): an instance not yet
   * told of another's `forgetUser` would otherwise write its own cache's old answer back there,
   * for every instance to serve until `ttlMs` runs out.
   *
   * @example
   * forget({ issuer, subject }: { issuer: string; subject: string }) {
   *   this.#answers.delete(JSON.stringify([issuer, subject]))
   * }
   */
  forget?(user: { readonly issuer: string; readonly subject: string }): void
  /**
   * Drops, synchronously, every answer the source's own cache holds. Called by `clearSourceCache`,
   * and on every instance when another one clears through a shared tier (or when this one may
   * have missed the tier's invalidations); a throw is reported as {@link forget}'s is. Its answers
   * stay out of the shared tier, as {@link forget} says.
   *
   * @remarks Name a method `clear` only if it means this: it is called on those occasions, never
   * checked.
   */
  clear?(): void
}

/** Loads a user's groups. Must resolve to a list of strings; anything else fails closed (503). */
export interface GroupsProvider extends SourceTraits {
  fetchGroups(user: User, context?: SourceContext): Promise<readonly string[]> | readonly string[]
}

/** Loads a user's roles. Must resolve to a list of strings; anything else fails closed (503). */
export interface RolesProvider extends SourceTraits {
  fetchRoles(user: User, context?: SourceContext): Promise<readonly string[]> | readonly string[]
}

/** Loads a user's permissions. Must resolve to a list of strings; anything else fails closed (503). */
export interface PermissionsProvider extends SourceTraits {
  fetchPermissions(
    user: User,
    context?: SourceContext,
  ): Promise<readonly string[]> | readonly string[]
}

/** Loads a user's profile attributes. */
export interface ProfileProvider extends SourceTraits {
  fetchProfile(
    user: User,
    context?: SourceContext,
  ): Promise<Readonly<Record<string, unknown>>> | Readonly<Record<string, unknown>>
}

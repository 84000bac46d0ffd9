// CognitoProfileProvider: a user's attributes from the user pool, for req.currentUser.profile.

import {
  checkLogger,
  checkOptionNames,
  defaultLogger,
  InsufficientScopeError,
  InvalidTokenError,
  Problems,
  silentLogger,
  type Logger,
  type OptionFlags,
  type ProfileProvider,
  type SourceContext,
  type User,
} from '../../src/spi.js'
import {
  AWS_CLIENT_OPTION_NAMES,
  checkAwsClientOptions,
  type AwsClientLike,
  type AwsClientOptions,
} from './aws-options.js'
import { isCognitoIssuer, WarnOnce } from './failure-log.js'
import {
  awsErrorName,
  awsUnavailable,
  clientConfig,
  destroyClient,
  isTokenRefusal,
  loadIdentityProviderSdk,
  send,
  type IdentityProviderSdk,
} from './sdk.js'
import { userPoolIssuers, userPoolRegion } from './user-pool.js'

/** Options of {@link CognitoProfileProvider}. */
export interface CognitoProfileProviderOptions extends AwsClientOptions {
  /** The user pool the users belong to, `<region>_<id>` (`USER_POOL_ID`). */
  userPoolId: string
  /** The pool's region. Optional: when given it must match `userPoolId`. */
  region?: string
  /**
   * How attributes are read:
   * - `'AdminGetUser'` (default): by username, with the app's IAM credentials
   *   (`cognito-idp:AdminGetUser` on the pool); works for access and ID tokens.
   * - `'GetUser'`: with the user's own access token (no IAM permission needed); the token needs
   *   the `aws.cognito.signin.user.admin` scope, and ID tokens cannot be used. Cognito is asked on
   *   every request: the answer depends on the token (revoked or not), so it is never cached.
   */
  operation?: 'AdminGetUser' | 'GetUser'
  /**
   * Where a token of another user pool is reported, once per pool at warn (its user gets `{}`,
   * which a mistyped `userPoolId` would give every user), and an `AdminGetUser` answer without
   * `sub`, once. Default: oidc-guard's own logger (stdout, at `AUTH_MIDDLEWARE_LOG_LEVEL`);
   * `false` for none.
   */
  logger?: Logger | false
}

const PROFILE_PROVIDER_OPTION_NAMES: readonly string[] = Object.freeze([
  ...AWS_CLIENT_OPTION_NAMES,
  ...Object.keys({
    userPoolId: true,
    region: true,
    operation: true,
    logger: true,
  } as const satisfies OptionFlags<Omit<CognitoProfileProviderOptions, keyof AwsClientOptions>>),
])

type Profile = Readonly<Record<string, string>>
const EMPTY: Profile = Object.freeze({})

/** The scope Cognito requires of an access token for `GetUser` (its own APIs' scope). */
const USER_ADMIN_SCOPE = 'aws.cognito.signin.user.admin'

// Refusals of GetUser about the user's state, not an outage: asking again gets the same answer.
const USER_STATE_REFUSALS = new Set(['PasswordResetRequiredException', 'UserNotConfirmedException'])

/**
 * The refusal of an access token without {@link USER_ADMIN_SCOPE}: a 403, so that the client does
 * not refresh the token in a loop (a new one has the same scopes).
 */
function missingAdminScope(): InsufficientScopeError {
  return new InsufficientScopeError(
    [USER_ADMIN_SCOPE],
    `the token lacks the ${USER_ADMIN_SCOPE} scope the profile needs`,
  )
}

/**
 * The 401 of a token `GetUser` cannot take (an ID token, with `tokenUse: 'any'`): the same answer
 * as the identity pool's mirror case, an access token where it needs an ID token.
 */
function notAccessToken(): InvalidTokenError {
  return new InvalidTokenError('ERR_AUTH_TOKEN_TYPE_INVALID', 'the profile needs an access token')
}

/**
 * The 401 of an access token `GetUser` refused. Cognito enforces `GlobalSignOut` and
 * `RevokeToken` in its own APIs ("Access Token has been revoked"); it also refuses the tokens of
 * disabled users. Asking again would get the same answer, so this is never a 503.
 */
function refusedToken(cause: unknown): InvalidTokenError | InsufficientScopeError {
  const message = cause instanceof Error ? cause.message : ''
  // "Access Token does not have required scopes": a scope Cognito wants that the check before the
  // call did not know of; refreshing gets the same scopes.
  if (/required scopes/i.test(message)) return missingAdminScope()
  return /revoked/i.test(message)
    ? new InvalidTokenError('ERR_AUTH_TOKEN_REVOKED', 'token revoked', { cause })
    : new InvalidTokenError('ERR_AUTH_TOKEN_REJECTED', 'Cognito refused the token', { cause })
}

/**
 * The user's attributes (`email`, `given_name`, `custom:…`) as a flat record, read from Cognito
 * with the AWS SDK v3 (`@aws-sdk/client-cognito-identity-provider`, loaded on first use).
 *
 * - A user the pool no longer has (deleted after the token was issued) has the profile `{}`, even
 *   when someone has since registered the same username: with `AdminGetUser` (a look-up by
 *   username) an answer whose `sub` is not the token's is another user's.
 * - Machine-to-machine clients and users of other issuers have the profile `{}`: no call is made.
 *   The first token of each other Cognito user pool is logged at warn (`logger`): a mistyped
 *   `userPoolId` would otherwise give every user `{}` without a word.
 * - With `GetUser`, a token Cognito refuses (`NotAuthorizedException`: revoked by `GlobalSignOut`
 *   or `RevokeToken`, a disabled user; `PasswordResetRequiredException`,
 *   `UserNotConfirmedException`) rejects with a 401 `invalid_token` (`ERR_AUTH_TOKEN_REVOKED`,
 *   else `ERR_AUTH_TOKEN_REJECTED`). The answer is never shared with another token or request
 *   (`fromToken`): a revoked token must not get the profile a valid one fetched.
 * - With `GetUser`, an ID token (accepted by a provider with `tokenUse: 'any'` or `'id'`) rejects
 *   with a 401 `invalid_token` (`ERR_AUTH_TOKEN_TYPE_INVALID`) before any call: `GetUser` takes
 *   access tokens only, so asking again could never succeed.
 * - With `GetUser`, an access token without the `aws.cognito.signin.user.admin` scope rejects
 *   with a 403 `insufficient_scope` (`ERR_AUTH_INSUFFICIENT_SCOPE`) before any call, as does one
 *   Cognito refuses for a scope it requires: a refreshed token would not have it either.
 * - Every other failure (network, throttling, access denied, time-out, a malformed answer)
 *   rejects with a 503 `ERR_AUTH_SOURCE_UNAVAILABLE`: an outage never looks like an empty profile.
 *
 * @example
 * app.use(jwtAuth({ provider, profile: new CognitoProfileProvider({ userPoolId: 'eu-west-1_AbCdE1234' }) }))
 * // Express 4 ends the process on a rejection nobody catches: hand it to next() (a 503, 401 or 403).
 * app.get('/me', requireUser(), async (req, res, next) => {
 *   try {
 *     res.json(await req.currentUser.profile)
 *   } catch (error) {
 *     next(error)
 *   }
 * })
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every invalid option, and every unknown one.
 */
export class CognitoProfileProvider implements ProfileProvider {
  readonly userPoolId: string
  readonly region: string
  readonly operation: 'AdminGetUser' | 'GetUser'
  /**
   * `true` with `GetUser`: its answer depends on the token (Cognito refuses a revoked one), so the
   * source cache must never reuse it for another token or request of the same user.
   */
  readonly fromToken: boolean
  /** The pool's issuers, both forms: a token of either is of this pool. */
  readonly #issuers: ReadonlySet<string>
  readonly #options: AwsClientOptions
  readonly #mistakes: WarnOnce
  #client: AwsClientLike | undefined

  constructor(options: CognitoProfileProviderOptions) {
    const problems = new Problems()
    const given = options ?? ({} as CognitoProfileProviderOptions)
    checkOptionNames(problems, 'CognitoProfileProvider', given, PROFILE_PROVIDER_OPTION_NAMES)
    const region = userPoolRegion(problems, given.userPoolId, given.region)
    // undefined only: a null is refused like any other stray value, not read as the default.
    const operation = given.operation === undefined ? 'AdminGetUser' : given.operation
    if (operation !== 'AdminGetUser' && operation !== 'GetUser') {
      problems.add(
        `CognitoProfileProvider: operation must be 'AdminGetUser' or 'GetUser', got ${JSON.stringify(operation)}`,
      )
    }
    checkAwsClientOptions(problems, 'CognitoProfileProvider', given)
    checkLogger(problems, 'logger', given.logger)
    problems.throwIfAny()
    this.userPoolId = given.userPoolId
    this.region = region
    this.operation = operation
    this.fromToken = operation === 'GetUser'
    this.#issuers = new Set(userPoolIssuers(region, given.userPoolId))
    this.#options = given
    this.#client = given.client
    this.#mistakes = new WarnOnce(
      given.logger === false ? silentLogger : (given.logger ?? defaultLogger()),
      { userPoolId: this.userPoolId },
    )
  }

  async fetchProfile(user: User, context?: SourceContext): Promise<Profile> {
    const iss = user.claims.iss
    if (user.isM2M || typeof iss !== 'string') return EMPTY
    if (!this.#issuers.has(iss)) {
      // Users of another pool rightly have no profile here, so this is no error; but the same {}
      // for every user of a mistyped userPoolId would go unnoticed. Other vendors' tokens say
      // nothing of the configuration.
      if (isCognitoIssuer(iss)) {
        this.#mistakes.warn(
          `iss ${iss}`,
          { tokenIssuer: iss },
          'a token of another user pool gets the profile {}; if its users are meant to have one, check userPoolId',
        )
      }
      return EMPTY
    }
    const command = await this.#command(user)
    try {
      const answer = await send<{ UserAttributes?: unknown }>(
        this.#clientFor(await loadIdentityProviderSdk()),
        command,
        context?.signal,
      )
      return this.#ofUser(user, attributesOf(answer?.UserAttributes))
    } catch (error) {
      const name = awsErrorName(error)
      if (name === 'UserNotFoundException') return EMPTY
      // Only GetUser sends the user's token; AdminGetUser's refusals are about the app's credentials.
      if (
        this.operation === 'GetUser' &&
        (isTokenRefusal(error) || USER_STATE_REFUSALS.has(name ?? ''))
      ) {
        throw refusedToken(error)
      }
      throw awsUnavailable('the profile is', error)
    }
  }

  async #command(user: User): Promise<unknown> {
    let sdk: typeof IdentityProviderSdk
    try {
      sdk = await loadIdentityProviderSdk()
    } catch (error) {
      throw awsUnavailable('the profile is', error)
    }
    if (this.operation === 'GetUser') {
      // An ID token can never call GetUser: a 401, not a 503 the client would retry for nothing.
      if (user.claims['token_use'] !== 'access' || user.token === undefined) throw notAccessToken()
      // Checked here, before the call: Cognito's answer to a missing scope is the same
      // NotAuthorizedException as for a revoked token.
      if (!user.scopes.includes(USER_ADMIN_SCOPE)) throw missingAdminScope()
      return new sdk.GetUserCommand({ AccessToken: user.token })
    }
    // The username (or, failing it, sub): AdminGetUser takes either for users of the pool.
    const username =
      stringOf(user.claims['username']) ?? stringOf(user.claims['cognito:username']) ?? user.id
    return new sdk.AdminGetUserCommand({ UserPoolId: this.userPoolId, Username: username })
  }

  /**
   * The profile, when it is the token's user's. AdminGetUser looks the user up by username, which
   * Cognito lets a new user take once its holder is deleted: the deleted user's still-valid token
   * would otherwise get the newcomer's attributes. `sub` is never reused, so an answer with another
   * one is of a user the token's owner no longer is. (GetUser is answered for the token itself.)
   */
  #ofUser(user: User, profile: Profile): Profile {
    // The token's own sub, not user.id: a provider may key its users by another claim.
    if (this.operation !== 'AdminGetUser' || profile['sub'] === user.claims.sub) return profile
    if (profile['sub'] === undefined) {
      // Cognito always answers sub: an answer without it (a stand-in client) cannot be matched,
      // and would give every user {} without a word.
      this.#mistakes.warn(
        'no sub',
        {},
        'AdminGetUser answered no sub attribute, so the profile cannot be matched to the token; answering {}',
      )
    }
    return EMPTY
  }

  /** Closes the SDK client this source created (its keep-alive sockets); a client you passed stays open. */
  close(): void {
    if (this.#client !== this.#options.client) destroyClient(this.#client)
    this.#client = this.#options.client
  }

  #clientFor(sdk: typeof IdentityProviderSdk): AwsClientLike {
    this.#client ??= new sdk.CognitoIdentityProviderClient(clientConfig(this.region, this.#options))
    return this.#client
  }
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** `[{ Name, Value }]` as `{ Name: Value }`; a malformed answer is a failure, not a profile. */
function attributesOf(list: unknown): Profile {
  if (!Array.isArray(list)) throw new TypeError('the answer has no UserAttributes list')
  const entries: [string, string][] = []
  for (const item of list as { Name?: unknown; Value?: unknown }[]) {
    if (typeof item?.Name !== 'string') throw new TypeError('an attribute has no Name')
    if (typeof item.Value === 'string') entries.push([item.Name, item.Value])
  }
  // fromEntries defines own properties: an attribute named __proto__ stays data.
  return Object.freeze(Object.fromEntries(entries))
}

// cognitoEnv: a CognitoProvider (and, on request, an identity pool) from environment variables.

import {
  checkOptionNames,
  ConfigError,
  EnvReader,
  MAX_CLOCK_TOLERANCE_SEC,
  Problems,
  type Env,
  type EnvContext,
  type JwtProvider,
  type ProviderEnvFactory,
} from '../../src/spi.js'
import { CognitoProvider, TOKEN_USES } from './cognito-provider.js'
import { ISSUER_FORMS } from './issuer-keys.js'
import {
  CognitoIdentityPoolProvider,
  IDENTITY_POOL_OPTION_NAMES,
  type CognitoIdentityPoolProviderOptions,
} from './identity-pool-provider.js'
import { loginKeyOf, userPoolIssuer, userPoolRegion } from './user-pool.js'

/** The value of `AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID` that accepts every app client of the pool. */
export const ANY_CLIENT = '*'

/** Adds a constructor's problems to the reader's, so every problem is reported together. */
function collect<T>(env: EnvReader, build: () => T): T | undefined {
  try {
    return build()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    for (const problem of error.problems) env.problems.add(problem)
    return undefined
  }
}

const NOT_USED_BY_SEED =
  "is not read (the Python package's Cognito provider did not use it either): tokens are verified with the pool's public keys (RS256) only; it can go unless your app uses it itself"
const BOTH_REFRESHES =
  "is not read: a key set is always refreshed on whichever of JWKS_CACHE_INTERVAL and JWKS_CACHE_USAGES comes first (the Python package's default, both), and for an unknown kid (at most once per cooldown)"

/**
 * The seed's Cognito and identity pool variables that are not read, with the reason: warned about
 * when set while `AUTH_PROVIDER` includes `cognito` (un-prefixed, they may be another program's).
 */
const UNREAD_COGNITO_VARIABLES: Readonly<Record<string, string>> = Object.freeze({
  JWKS_URL_TEMPLATE:
    'is not read: keys come from {issuer}/.well-known/jwks.json of the pool; to fetch them elsewhere (a proxy), set AUTH_PROVIDER_AWS_COGNITO_JWKS_URI to the full key URL',
  USER_POOL_CLIENT_SECRET:
    'is not read: verifying a token needs no client secret (and the Python provider did not use it); it can go unless your app uses it itself',
  JWT_SECRET_KEY: NOT_USED_BY_SEED,
  JWT_ALGORITHM: NOT_USED_BY_SEED,
  JWKS_CACHE_STRATEGY: BOTH_REFRESHES,
  JWKS_BACKGROUND_REFRESH:
    'is not read: known keys always keep serving while a key set is refreshed in the background',
  JWKS_BACKGROUND_REFRESH_THRESHOLD:
    'is not read: a key set is refreshed when JWKS_CACHE_INTERVAL or JWKS_CACHE_USAGES is reached, not at a fraction of it; lower them to refresh sooner',
  ENABLE_AWS_CREDENTIALS:
    'is not read: AWS credentials come from a CognitoIdentityPoolProvider made in code, cognitoIdentityPoolFromEnv() (IDENTITY_POOL_ID), not from a switch',
  CREDENTIALS_DURATION_SECONDS:
    'is not read: identity pool credentials last as long as AWS issues them; refreshBeforeSec of cognitoIdentityPoolFromEnv() says how early they are renewed',
})

/**
 * Builds a {@link CognitoProvider} when `AUTH_PROVIDER` includes `cognito`:
 * - `USER_POOL_ID` (required) and `USER_POOL_REGION` (optional, must match), as in the seed;
 * - `AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID`: app client ids, comma-separated, required; `*`
 *   accepts every app client of the pool (logged as a warning). The seed's `USER_POOL_CLIENT_ID`
 *   is read when it is not set;
 * - `AUTH_PROVIDER_AWS_COGNITO_TOKEN_USE`: `access` (default), `id` or `any`;
 * - `AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM`: `any` (default), `regional` or `global`;
 * - `AUTH_PROVIDER_AWS_COGNITO_JWKS_URI`: a key URL override (a proxy, tests); the issuers stay
 *   Cognito's, so emulators signing with their own issuer (LocalStack) are not supported;
 * - `JWT_LEEWAY`: the seed's clock tolerance, in seconds, 0 to 300 (`clockToleranceSec`; default 5).
 *   It is Cognito's only one: `AUTH_PROVIDER_CLOCK_TOLERANCE_SEC` is the jwks and oidc providers'.
 *
 * The seed's other Cognito variables are not read; set, each is warned about with its reason
 * ({@link UNREAD_COGNITO_VARIABLES}).
 *
 * Keys are kept in the process-wide cache (`JWKS_CACHE_INTERVAL`, `JWKS_CACHE_USAGES`).
 *
 * @example
 * // USER_POOL_ID=eu-west-1_AbCdE1234 AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID=4tq8example1client2id3
 * const provider = cognitoEnv.create(new EnvReader(process.env, problems), context)
 */
export const cognitoEnv: ProviderEnvFactory = {
  name: 'cognito',
  variables: [
    'USER_POOL_ID',
    'USER_POOL_REGION',
    'USER_POOL_CLIENT_ID',
    'AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID',
    'AUTH_PROVIDER_AWS_COGNITO_TOKEN_USE',
    'AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM',
    'AUTH_PROVIDER_AWS_COGNITO_JWKS_URI',
    'JWT_LEEWAY',
  ],
  unread: UNREAD_COGNITO_VARIABLES,
  create(env: EnvReader, context: EnvContext): JwtProvider | undefined {
    const userPoolId = env.string('USER_POOL_ID', { required: 'when AUTH_PROVIDER=cognito' })
    const region = env.string('USER_POOL_REGION')
    const named = env.list('AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID')
    const seeds = env.list('USER_POOL_CLIENT_ID')
    // Two names for one setting: different values mean one of them is stale, and which cannot be
    // told. The same ids in another order are the same setting.
    if (named !== undefined && seeds !== undefined && !sameIds(named, seeds)) {
      env.problems.add(
        'AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID and USER_POOL_CLIENT_ID (its older name) are both set, to different client ids; keep one',
      )
    }
    const clients = named ?? seeds
    const tokenUse = env.oneOf('AUTH_PROVIDER_AWS_COGNITO_TOKEN_USE', TOKEN_USES)
    const issuerForm = env.oneOf('AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM', ISSUER_FORMS)
    const jwksUri = env.string('AUTH_PROVIDER_AWS_COGNITO_JWKS_URI')
    const clockToleranceSec = env.seconds('JWT_LEEWAY', MAX_CLOCK_TOLERANCE_SEC)
    // Set to nothing but commas, a variable already has its problem: "required" would say it is unset.
    const clientsGiven =
      env.raw('AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID') !== undefined ||
      env.raw('USER_POOL_CLIENT_ID') !== undefined
    if (clients === undefined && !clientsGiven) {
      env.problems.add(
        'AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID is required when AUTH_PROVIDER=cognito: the app client id(s) whose tokens the API accepts, comma-separated (* accepts every app client of the pool)',
      )
    }
    const anyClient = clients?.includes(ANY_CLIENT) === true
    if (anyClient && clients!.length > 1) {
      env.problems.add('AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID is either * or a list of client ids')
      return undefined
    }
    if (userPoolId === undefined || clients === undefined) {
      // The constructor will not run: check the pool here, so every problem is reported at once.
      if (userPoolId !== undefined) userPoolRegion(env.problems, userPoolId, region)
      return undefined
    }
    if (anyClient) {
      context.logger.warn(
        'AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID=*: tokens of every app client of the user pool are accepted',
      )
    }
    // A ConfigError of the constructor joins the other problems in fromEnv's one report.
    return new CognitoProvider({
      userPoolId,
      clientId: anyClient ? null : clients,
      ...(region === undefined ? {} : { region }),
      ...(tokenUse === undefined ? {} : { tokenUse }),
      ...(issuerForm === undefined ? {} : { issuerForm }),
      ...(jwksUri === undefined ? {} : { jwksUri }),
      ...(clockToleranceSec === undefined ? {} : { clockToleranceSec }),
      jwksCache: context.jwksCache,
    })
  },
}

/**
 * `issuer-cognito-idp.{region}.amazonaws.com/{userPoolId}`: the pool's global issuer as a login
 * key; undefined when `userPoolId` is malformed, which the provider, given `userPoolId` then,
 * reports with its other problems, rather than one made up about a `loginKey` never set.
 */
function globalLoginKey(userPoolId: string): string | undefined {
  const scratch = new Problems()
  const region = userPoolRegion(scratch, userPoolId, undefined)
  if (scratch.size > 0) return undefined
  return loginKeyOf(userPoolIssuer(region, userPoolId, 'global'))
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  const first = new Set(a)
  const second = new Set(b)
  return first.size === second.size && [...first].every((id) => second.has(id))
}

/**
 * The options of {@link cognitoIdentityPoolFromEnv}: the provider's, but the identity pool and its
 * region, which come from the environment, and the environment itself (`env`, formerly
 * `environment`).
 */
const FROM_ENV_OPTION_NAMES: readonly string[] = Object.freeze([
  ...IDENTITY_POOL_OPTION_NAMES.filter((name) => name !== 'identityPoolId' && name !== 'region'),
  'env',
  'environment',
])

/** The options of {@link cognitoIdentityPoolFromEnv}. */
export type CognitoIdentityPoolFromEnvOptions = Omit<
  CognitoIdentityPoolProviderOptions,
  'identityPoolId' | 'region'
> & {
  /** The environment read. Default `process.env`. */
  env?: Env
  /**
   * The former name of `env`, still read; giving both is a `ConfigError`.
   *
   * @deprecated Use `env`, the name every other API (`fromEnv(env)`, `jwtAuth({ env })`) gives it.
   */
  environment?: Env
}

/**
 * The reader of the environment given as `env` (or `environment`), checked as fromEnv checks its
 * own: one that is not an object of strings is a problem, and leaves nothing to read.
 */
function readerOf(problems: Problems, env: unknown, environment: unknown): EnvReader {
  if (env !== undefined && environment !== undefined) {
    problems.add(
      'cognitoIdentityPoolFromEnv: give env, not both env and environment (its former name)',
    )
  }
  return env === undefined && environment !== undefined
    ? EnvReader.forOption(problems, environment, 'environment')
    : EnvReader.forOption(problems, env)
}

/** The options the provider is built with: the known ones, since the unknown are reported already. */
function knownOptions<T extends object>(options: T): T {
  return Object.fromEntries(
    Object.entries(options).filter(([name]) => FROM_ENV_OPTION_NAMES.includes(name)),
  ) as T
}

/**
 * Builds a {@link CognitoIdentityPoolProvider} from `IDENTITY_POOL_ID` (required),
 * `IDENTITY_POOL_REGION` (optional, must match) and the user pool of `userPoolProvider`, else of
 * `USER_POOL_ID` (its global issuer when `AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM` is `global`),
 * read from `env` (default `process.env`; `environment`, its former name, is still read).
 *
 * @example
 * const identityPool = cognitoIdentityPoolFromEnv({ userPoolProvider: provider })
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every problem; an `env` that is not an object of
 *   strings (as process.env is), alone with any misspelt option name, as nothing can be read.
 */
export function cognitoIdentityPoolFromEnv(
  options: CognitoIdentityPoolFromEnvOptions = {},
): CognitoIdentityPoolProvider {
  const problems = new Problems()
  // Checked first: a misspelt userPoolProvider would otherwise show only as a USER_POOL_ID required,
  // and the constructor, which checks names too, does not run while a variable is missing.
  checkOptionNames(problems, 'cognitoIdentityPoolFromEnv', options, FROM_ENV_OPTION_NAMES)
  const { env: envOption, environment, ...rest } = knownOptions(options)
  const before = problems.size
  const env = readerOf(problems, envOption, environment)
  // An environment refused leaves every variable unread: "IDENTITY_POOL_ID is required" would follow.
  if (problems.size > before) problems.throwIfAny()
  const identityPoolId = env.string('IDENTITY_POOL_ID', { required: 'for AWS credentials' })
  const region = env.string('IDENTITY_POOL_REGION')
  const named = [rest.userPoolProvider, rest.userPoolId, rest.loginKey].some((v) => v !== undefined)
  const userPoolId = named
    ? undefined
    : env.string('USER_POOL_ID', { required: 'when no userPoolProvider is given' })
  // A pool whose tokens carry only the global issuer is named by it in the identity pool's
  // Logins: the key follows AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM, as the provider's issuer does.
  const form = named ? undefined : env.oneOf('AUTH_PROVIDER_AWS_COGNITO_ISSUER_FORM', ISSUER_FORMS)
  const loginKey =
    userPoolId !== undefined && form === 'global' ? globalLoginKey(userPoolId) : undefined
  const pool =
    loginKey !== undefined ? { loginKey } : userPoolId === undefined ? {} : { userPoolId }
  const provider =
    identityPoolId === undefined || (!named && userPoolId === undefined)
      ? undefined
      : collect(
          env,
          () =>
            new CognitoIdentityPoolProvider({
              ...rest,
              identityPoolId,
              ...(region === undefined ? {} : { region }),
              ...pool,
            }),
        )
  problems.throwIfAny()
  return provider!
}

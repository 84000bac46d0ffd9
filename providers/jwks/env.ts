// The generic providers built from environment variables: AUTH_PROVIDER=jwks or oidc.

import {
  ConfigError,
  isLoopbackHttp,
  MAX_CLOCK_TOLERANCE_SEC,
  type EnvContext,
  type EnvReader,
  type JwsAlgorithm,
  type ProviderEnvFactory,
} from '../../src/spi.js'
import type { TokenCheckOptions } from './jwks-provider.js'
import { JwksProvider } from './jwks-provider.js'
import { OidcProvider } from './oidc-provider.js'

// The option each variable sets: a constructor's problem names the option, to which the variable
// is added, so the problem says what to change in the environment.
const VARIABLE_OF_OPTION: Readonly<Record<string, string>> = {
  issuer: 'AUTH_PROVIDER_ISSUER',
  jwksUri: 'AUTH_PROVIDER_JWKS_URI',
  audience: 'AUTH_PROVIDER_AUDIENCE',
  algorithms: 'AUTH_PROVIDER_ALGORITHMS',
  clockToleranceSec: 'AUTH_PROVIDER_CLOCK_TOLERANCE_SEC',
}

const TOKEN_CHECK_VARIABLES = [
  'AUTH_PROVIDER_ISSUER',
  'AUTH_PROVIDER_AUDIENCE',
  'AUTH_PROVIDER_ALGORITHMS',
  'AUTH_PROVIDER_CLOCK_TOLERANCE_SEC',
] as const

/**
 * The checks both generic providers read: audience (required), algorithms, clock tolerance;
 * `undefined` when the audience is missing or empty (already a problem: no provider can be built).
 */
function readTokenChecks(
  env: EnvReader,
  context: EnvContext,
  name: string,
): TokenCheckOptions | undefined {
  const audience = env.list('AUTH_PROVIDER_AUDIENCE', {
    required: `when AUTH_PROVIDER includes ${name}: the API's identifier as it appears in the tokens' aud claim`,
  })
  const algorithms = env.list('AUTH_PROVIDER_ALGORITHMS')
  const tolerance = env.seconds('AUTH_PROVIDER_CLOCK_TOLERANCE_SEC', MAX_CLOCK_TOLERANCE_SEC)
  if (audience === undefined || audience.length === 0) return undefined
  const options: TokenCheckOptions = { audience, jwksCache: context.jwksCache, name }
  if (algorithms !== undefined) options.algorithms = algorithms as JwsAlgorithm[]
  if (tolerance !== undefined) options.clockToleranceSec = tolerance
  return options
}

/**
 * Runs a constructor whose problems name the option, adding the variable that sets it:
 * `issuer (AUTH_PROVIDER_ISSUER) must use https…`.
 */
function withVariableNames<T>(build: () => T): T {
  try {
    return build()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    throw new ConfigError(
      error.problems.map((problem) =>
        problem.replace(/^([a-zA-Z]+) /, (whole, option: string) => {
          const variable = VARIABLE_OF_OPTION[option]
          return variable === undefined ? whole : `${option} (${variable}) `
        }),
      ),
    )
  }
}

/**
 * Warns of a plain-http issuer on this machine in production: it is allowed (a sidecar may issue
 * tokens there), but it is also what `oidc-guard mint` prints for development, whose tokens anyone
 * on the machine can sign; pasted into a production environment, it would be accepted silently.
 */
function warnOfLocalIssuer(issuer: string, context: EnvContext): void {
  if (!context.production || !isLoopbackHttp(issuer)) return
  context.logger.warn(
    { issuer },
    'AUTH_PROVIDER_ISSUER is a plain-http issuer on this machine in production, as the local development issuer of oidc-guard mint is: check that it is meant',
  )
}

// The seed's clock tolerance: read for cognito (its settings' name), here it would be ignored.
const SEED_LEEWAY: Readonly<Record<string, string>> = Object.freeze({
  JWT_LEEWAY:
    'is read for AUTH_PROVIDER=cognito only: for the jwks and oidc providers set AUTH_PROVIDER_CLOCK_TOLERANCE_SEC (seconds)',
})

/** `AUTH_PROVIDER=jwks`: an issuer and the URL of its JWK Set. */
export const jwksEnv: ProviderEnvFactory = {
  name: 'jwks',
  variables: [...TOKEN_CHECK_VARIABLES, 'AUTH_PROVIDER_JWKS_URI'],
  unread: SEED_LEEWAY,
  create(env, context) {
    const required = { required: 'when AUTH_PROVIDER includes jwks' }
    const issuer = env.string('AUTH_PROVIDER_ISSUER', required)
    const jwksUri = env.string('AUTH_PROVIDER_JWKS_URI', required)
    const checks = readTokenChecks(env, context, 'jwks')
    if (issuer === undefined || jwksUri === undefined || checks === undefined) return undefined
    warnOfLocalIssuer(issuer, context)
    return withVariableNames(() => new JwksProvider({ ...checks, issuer, jwksUri }))
  },
}

/** `AUTH_PROVIDER=oidc`: an issuer whose keys are found through OpenID Connect discovery. */
export const oidcEnv: ProviderEnvFactory = {
  name: 'oidc',
  variables: TOKEN_CHECK_VARIABLES,
  unread: SEED_LEEWAY,
  create(env, context) {
    const issuer = env.string('AUTH_PROVIDER_ISSUER', {
      required: 'when AUTH_PROVIDER includes oidc',
    })
    const checks = readTokenChecks(env, context, 'oidc')
    if (issuer === undefined || checks === undefined) return undefined
    warnOfLocalIssuer(issuer, context)
    return withVariableNames(() => new OidcProvider({ ...checks, issuer, logger: context.logger }))
  },
}

// The generic providers built from environment variables: AUTH_PROVIDER=jwks or oidc.

import {
  MAX_CLOCK_TOLERANCE_SEC,
  type EnvContext,
  type EnvReader,
  type JwsAlgorithm,
  type ProviderEnvFactory,
} from '../../src/spi.js'
import type { TokenCheckOptions } from './jwks-provider.js'
import { JwksProvider } from './jwks-provider.js'
import { OidcProvider } from './oidc-provider.js'

const TOKEN_CHECK_VARIABLES = [
  'AUTH_PROVIDER_ISSUER',
  'AUTH_PROVIDER_AUDIENCE',
  'AUTH_PROVIDER_ALGORITHMS',
  'AUTH_PROVIDER_CLOCK_TOLERANCE_SEC',
] as const

/** The checks both generic providers read: audience (required), algorithms, clock tolerance. */
function readTokenChecks(env: EnvReader, context: EnvContext, name: string): TokenCheckOptions {
  const audience = env.list('AUTH_PROVIDER_AUDIENCE', {
    required: `when AUTH_PROVIDER includes ${name}: the API's identifier as it appears in the tokens' aud claim`,
  })
  const options: TokenCheckOptions = {
    audience: audience ?? [],
    jwksCache: context.jwksCache,
    name,
  }
  const algorithms = env.list('AUTH_PROVIDER_ALGORITHMS')
  if (algorithms !== undefined) options.algorithms = algorithms as JwsAlgorithm[]
  const tolerance = env.seconds('AUTH_PROVIDER_CLOCK_TOLERANCE_SEC', MAX_CLOCK_TOLERANCE_SEC)
  if (tolerance !== undefined) options.clockToleranceSec = tolerance
  return options
}

/** `AUTH_PROVIDER=jwks`: an issuer and the URL of its JWK Set. */
export const jwksEnv: ProviderEnvFactory = {
  name: 'jwks',
  variables: [...TOKEN_CHECK_VARIABLES, 'AUTH_PROVIDER_JWKS_URI'],
  create(env, context) {
    const required = { required: 'when AUTH_PROVIDER includes jwks' }
    const issuer = env.string('AUTH_PROVIDER_ISSUER', required)
    const jwksUri = env.string('AUTH_PROVIDER_JWKS_URI', required)
    const checks = readTokenChecks(env, context, 'jwks')
    if (issuer === undefined || jwksUri === undefined) return undefined
    return new JwksProvider({ ...checks, issuer, jwksUri })
  },
}

/** `AUTH_PROVIDER=oidc`: an issuer whose keys are found through OpenID Connect discovery. */
export const oidcEnv: ProviderEnvFactory = {
  name: 'oidc',
  variables: TOKEN_CHECK_VARIABLES,
  create(env, context) {
    const issuer = env.string('AUTH_PROVIDER_ISSUER', {
      required: 'when AUTH_PROVIDER includes oidc',
    })
    const checks = readTokenChecks(env, context, 'oidc')
    if (issuer === undefined) return undefined
    return new OidcProvider({ ...checks, issuer, logger: context.logger })
  },
}

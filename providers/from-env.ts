// fromEnv(): the one entry point that builds a whole jwtAuth setup from environment variables.

import {
  buildFromEnv,
  type Env,
  type EnvRegistry,
  type FromEnvOptions,
  type JwtAuthOptions,
} from '../src/spi.js'
import { claimSourcesEnv } from './claims/env.js'
import { cognitoEnv } from './cognito/env.js'
import { entraIdEnv } from './entra-id/env.js'
import { jwksEnv, oidcEnv } from './jwks/env.js'
import { redisEnv } from './redis/env.js'
import { sqlSourcesEnv } from './sql/env.js'

/** Every provider and source `fromEnv` can build, by its `AUTH_PROVIDER` name. */
export const BUILT_IN_ENV: EnvRegistry = Object.freeze({
  providers: Object.freeze([jwksEnv, oidcEnv, cognitoEnv, entraIdEnv]),
  sources: Object.freeze([claimSourcesEnv, sqlSourcesEnv]),
  options: Object.freeze([redisEnv]),
})

/**
 * Builds complete `jwtAuth` options (providers, authorization sources, logging, the disabled
 * switch) from environment variables alone; see docs/configuration.md for every variable. Each is
 * read once, here. Options spread after it win: explicit > env > defaults. No `.env` file is read.
 *
 * @example app.use(jwtAuth(fromEnv()))
 * @example app.use(jwtAuth({ ...fromEnv(), credentialsRequired: true }))
 * @param options `logger` only: a pino logger, or `false` for none. Anything else (a misspelt key,
 *   `null`, the logger itself in place of `{ logger }`) is a `ConfigError`.
 * @throws {ConfigError} `ERR_AUTH_CONFIG` listing every problem: each names the variable, the value
 *   seen (secrets masked) and what was expected.
 */
export function fromEnv(env: Env = process.env, options: FromEnvOptions = {}): JwtAuthOptions {
  return buildFromEnv(BUILT_IN_ENV, env, options)
}

// The disabled switch (AUTH_MIDDLEWARE_DISABLED): every request as a synthetic user, never in production by accident.

import { checkEnv, envOf, EnvReader, type Env } from './env.js'
import type { Logger } from './logger.js'
import { isProduction, type Problems } from './options.js'
import { warnOnce } from './warn-once.js'

/** Options of the disabled switch, shared by every authentication middleware. */
export interface DisabledOptions {
  /**
   * Turns authentication off: every request goes on as `User.synthetic()` and every guard lets it
   * through. For local development only. Default `AUTH_MIDDLEWARE_DISABLED`, else `false`.
   *
   * **Warning:** refused when `NODE_ENV=production` unless `allowDisabledInProduction` is set.
   */
  disabled?: boolean
  /** Lets `disabled` work with `NODE_ENV=production`. Default `AUTH_MIDDLEWARE_ALLOW_DISABLED_IN_PRODUCTION`, else `false`. */
  allowDisabledInProduction?: boolean
  /** The environment read for defaults. Default `process.env`. */
  env?: Env
}

/**
 * Whether authentication is switched off: the option, else `AUTH_MIDDLEWARE_DISABLED`. Switching it
 * off under `NODE_ENV=production` without the explicit allowance is a problem, not a quiet choice.
 */
export function resolveDisabled(problems: Problems, options: DisabledOptions): boolean {
  // Every authentication middleware resolves the switch, once: the `env` option is checked here.
  checkEnv(problems, options.env)
  const source = envOf(options.env)
  const env = new EnvReader(source, problems)
  const { disabled: given, allowDisabledInProduction: allowGiven } = options
  if (given !== undefined && typeof given !== 'boolean')
    problems.add('disabled must be true or false')
  if (allowGiven !== undefined && typeof allowGiven !== 'boolean') {
    problems.add('allowDisabledInProduction must be true or false')
  }
  const disabled = given ?? env.boolean('AUTH_MIDDLEWARE_DISABLED') ?? false
  if (disabled !== true) return false
  const allowed = allowGiven ?? env.boolean('AUTH_MIDDLEWARE_ALLOW_DISABLED_IN_PRODUCTION') ?? false
  // An env option replaces process.env for reading settings, not for knowing where we run: either
  // one saying production is enough to refuse.
  const production = isProduction(process.env) || isProduction(source)
  if (production && allowed !== true) {
    problems.add(
      'authentication is disabled (disabled: true or AUTH_MIDDLEWARE_DISABLED=true) while NODE_ENV=production; unset it, or set AUTH_MIDDLEWARE_ALLOW_DISABLED_IN_PRODUCTION=true if this is really meant',
    )
  }
  return true
}

/** What turned authentication off: the `disabled` option or `AUTH_MIDDLEWARE_DISABLED`. */
export type DisabledSwitch = 'option' | 'env'

/**
 * The startup warning of a disabled middleware, logged once per middleware, and once per process
 * as a Node.js warning on stderr: a log level of `silent` or `error`, or `logger: false`, must not
 * hide that authentication is off.
 */
export function warnDisabled(logger: Logger, middleware: string, switchedBy: DisabledSwitch): void {
  // Names what switched it off: someone looking for the cause of `disabled: true` in code would
  // otherwise grep an environment that does not hold AUTH_MIDDLEWARE_DISABLED.
  const cause = switchedBy === 'option' ? 'disabled: true' : 'AUTH_MIDDLEWARE_DISABLED=true'
  warnOnce(
    'OIDC_GUARD_AUTH_DISABLED',
    `authentication is disabled (${cause}): every request passes as the synthetic user`,
  )
  logger.warn(
    { middleware, disabledBy: cause },
    'AUTHENTICATION IS DISABLED: %s lets every request through as the synthetic user and every guard allows it',
    middleware,
  )
}

// The options of a CognitoProvider that need more than a type check: fixed lists and app client ids.

import type { Problems } from '../../src/spi.js'
import type { TokenCheckOptions } from '../jwks/jwks-provider.js'

const CLIENT_ID_LABEL = 'clientId (AUTH_PROVIDER_AWS_COGNITO_CLIENT_ID)'
// Cognito's app client ids (API reference, `ClientIdType`): `[\w+]+`, 1 to 128 characters. An id
// outside it can never match a token: a space pasted with it, a pool id given by mistake.
const CLIENT_ID = /^[\w+]{1,128}$/

/**
 * A value of a fixed list, or its default when undefined. `null` is not "any": it is refused like
 * any other stray value, so that a config loader's null never widens what is accepted.
 */
export function oneOf<T extends string>(
  problems: Problems,
  label: string,
  allowed: readonly T[],
  value: unknown,
  fallback: T,
): T {
  if (value === undefined) return fallback
  if (allowed.includes(value as T)) return value as T
  const names = allowed.map((name) => `'${name}'`)
  problems.add(
    `${label} must be ${names.slice(0, -1).join(', ')} or ${names.at(-1)}, got ${JSON.stringify(value)}`,
  )
  return fallback
}

/** The accepted app client ids, or `null` (every client of the pool, deliberately). */
export function resolveClientIds(problems: Problems, value: unknown): readonly string[] | null {
  if (value === null) return null
  const list = typeof value === 'string' ? [value] : value
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((id) => typeof id === 'string' && id.trim() !== '')
  ) {
    problems.add(
      value === undefined
        ? `${CLIENT_ID_LABEL} is required: the app client id(s) whose tokens the API accepts; null accepts every app client of the pool, deliberately`
        : `${CLIENT_ID_LABEL} must be a non-empty string or list of strings, or null, got ${JSON.stringify(value)}`,
    )
    return []
  }
  const ids = list as string[]
  // '*' is the environment's spelling of null; here it would be a client id no token carries.
  if (ids.includes('*')) {
    problems.add(`${CLIENT_ID_LABEL} "*" is no wildcard here: use null to accept every app client`)
  }
  for (const id of ids.filter((id) => id !== '*' && !CLIENT_ID.test(id))) {
    problems.add(
      `${CLIENT_ID_LABEL} ${JSON.stringify(id)} is not an app client id: Cognito's are letters, digits, _ and + only (no spaces)`,
    )
  }
  return Object.freeze([...ids])
}

/** The checks of JwksProvider that CognitoProvider fixes itself (refused by {@link checkCognitoOnly}). */
export const JWKS_ONLY_OPTIONS = [
  'audience',
  'algorithms',
  'typ',
] as const satisfies readonly (keyof TokenCheckOptions)[]

/**
 * Options of JwksProvider a migrating caller may still pass: says what replaces them. Each would
 * otherwise be ignored (`issuer`) or refuse every Cognito token (`typ`), without a word.
 */
export function checkCognitoOnly(problems: Problems, options: object): void {
  const { audience, algorithms, typ, issuer } = options as {
    audience?: unknown
    algorithms?: unknown
    typ?: unknown
    issuer?: unknown
  }
  if (audience !== undefined) {
    problems.add('audience is not an option of CognitoProvider: give the app client id as clientId')
  }
  if (typ !== undefined) {
    problems.add(
      'typ is not an option of CognitoProvider: Cognito tokens carry no typ header, so requiring one would refuse every token',
    )
  }
  if (issuer !== undefined) {
    problems.add(
      'issuer is not an option of CognitoProvider: the issuer derives from userPoolId (choose its form with issuerForm)',
    )
  }
  const rs256 = Array.isArray(algorithms) && algorithms.length === 1 && algorithms[0] === 'RS256'
  if (algorithms !== undefined && !rs256) {
    problems.add('algorithms cannot be changed: Cognito signs its tokens with RS256 only')
  }
}

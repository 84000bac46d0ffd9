// The issuer forms a CognitoProvider accepts, each bound to its own key set and exact-issuer policy.

import {
  FetchFailure,
  InvalidTokenError,
  UnavailableError,
  type JwksCache,
  type JwsAlgorithm,
  type KeySource,
  type ParsedJwt,
  type VerificationPolicy,
} from '../../src/spi.js'
import { userPoolIssuer, type CognitoIssuerForm } from './user-pool.js'

/** Which issuer forms a {@link CognitoProvider} accepts: one of them, or `'any'` (both). */
export type CognitoIssuerFormOption = CognitoIssuerForm | 'any'

/** Every {@link CognitoIssuerFormOption}, for checking an option or an env var against. */
export const ISSUER_FORMS: readonly CognitoIssuerFormOption[] = ['any', 'regional', 'global']

/** One accepted `iss`: where its keys are, and the policy that requires exactly it. */
export interface IssuerKeys {
  readonly issuer: string
  readonly jwksUri: string
  readonly policy: VerificationPolicy
  readonly keys: KeySource
}

/** The forms an option names, the regional one first: it is the primary (health, hydrate). */
export function formsOf(option: CognitoIssuerFormOption): readonly CognitoIssuerForm[] {
  return option === 'any' ? ['regional', 'global'] : [option]
}

/**
 * The key set and policy of each accepted issuer form. Without `jwksUriOverride` each form's keys
 * come from `{issuer}/.well-known/jwks.json`, as AWS publishes them (and aws-jwt-verify fetches
 * them); with it, every form shares the one key set it names. A token without `kid` is refused
 * before any fetch: Cognito names the key of every token it signs (as aws-jwt-verify requires).
 */
export function issuerKeys(
  region: string,
  userPoolId: string,
  forms: readonly CognitoIssuerForm[],
  context: { policy: VerificationPolicy; cache: JwksCache; jwksUriOverride: string | undefined },
): ReadonlyMap<string, IssuerKeys> {
  const { policy, cache, jwksUriOverride } = context
  const entries = forms.map((form, index): [string, IssuerKeys] => {
    const issuer = userPoolIssuer(region, userPoolId, form)
    const jwksUri = jwksUriOverride ?? `${issuer}/.well-known/jwks.json`
    // The first form is the primary: its keys missing is an outage. Another form's key set that
    // AWS refuses to serve belongs to a form the pool does not issue (see unservedIssuer).
    const secondary = index > 0 && jwksUriOverride === undefined
    const keys: KeySource = {
      getKey: (alg, kid) => {
        if (kid === undefined) throw MISSING_KID()
        return secondary
          ? refusingUnserved(cache, jwksUri, alg, kid)
          : cache.getKey(jwksUri, alg, kid)
      },
      isCurrent: (key) => cache.isCurrent(jwksUri, key),
    }
    // The exact issuer of this form: after the signature, `iss` must be the one whose keys
    // verified it, so a token cannot borrow the other form's key set.
    return [issuer, { issuer, jwksUri, policy: Object.freeze({ ...policy, issuer }), keys }]
  })
  return new Map(entries)
}

const MISSING_KID = (): InvalidTokenError =>
  new InvalidTokenError('ERR_AUTH_HEADER_INVALID', 'missing kid header parameter')

function refusingUnserved(
  cache: JwksCache,
  jwksUri: string,
  alg: JwsAlgorithm,
  kid: string,
): ReturnType<KeySource['getKey']> {
  const found = cache.getKey(jwksUri, alg, kid)
  if (!(found instanceof Promise)) return found
  return found.catch((error: unknown) => {
    throw unservedIssuer(error) ? ISSUER_NOT_SERVED() : error
  })
}

const ISSUER_NOT_SERVED = (): InvalidTokenError =>
  new InvalidTokenError('ERR_AUTH_ISSUER_MISMATCH', 'issuer not used by this user pool')

// 4xx answers that say "try again later", not "there is nothing here".
const TRANSIENT_STATUSES = new Set([408, 425, 429])

/**
 * Whether keys are missing because the key set URL answered a definite 4xx. AWS answers 403 at
 * `issuer-cognito-idp…/jwks.json` for a pool not set up for the global issuer (aws-jwt-verify
 * #279): a forged token naming that form must get a 401, not a 503 that would look like an outage
 * and, the failure being cached, hold for everyone. A 5xx, a time-out or a network error stays a 503.
 */
function unservedIssuer(error: unknown): boolean {
  if (!(error instanceof UnavailableError) || !(error.cause instanceof FetchFailure)) return false
  const { status } = error.cause
  return status !== undefined && status >= 400 && status < 500 && !TRANSIENT_STATUSES.has(status)
}

/**
 * The token's unverified `iss`, only to choose which key set to verify it against. Oversized or
 * undecodable tokens give `undefined`: the verifier refuses them with the right error.
 */
export function peekIssuer(
  token: string,
  parsed: ParsedJwt | undefined,
  maxTokenLength: number,
): string | undefined {
  if (parsed !== undefined) return stringOrUndefined(parsed.payload.iss)
  if (token.length > maxTokenLength) return undefined
  const segment = token.split('.', 3)[1]
  if (segment === undefined) return undefined
  try {
    const payload: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return typeof payload === 'object' && payload !== null
      ? stringOrUndefined((payload as { iss?: unknown }).iss)
      : undefined
  } catch {
    return undefined
  }
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

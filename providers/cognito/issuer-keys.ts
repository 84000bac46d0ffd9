// The issuer forms a CognitoProvider accepts, each bound to its own key set and exact-issuer policy.

import type { JwksCache, KeySource, ParsedJwt, VerificationPolicy } from '../../src/spi.js'
import { userPoolIssuer, type CognitoIssuerForm } from './user-pool.js'

/** Which issuer forms a {@link CognitoProvider} accepts: one of them, or `'any'` (both). */
export type CognitoIssuerFormOption = CognitoIssuerForm | 'any'

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
 * them); with it, every form shares the one key set it names.
 */
export function issuerKeys(
  region: string,
  userPoolId: string,
  forms: readonly CognitoIssuerForm[],
  context: { policy: VerificationPolicy; cache: JwksCache; jwksUriOverride: string | undefined },
): ReadonlyMap<string, IssuerKeys> {
  const { policy, cache, jwksUriOverride } = context
  const entries = forms.map((form): [string, IssuerKeys] => {
    const issuer = userPoolIssuer(region, userPoolId, form)
    const jwksUri = jwksUriOverride ?? `${issuer}/.well-known/jwks.json`
    const keys: KeySource = {
      getKey: (alg, kid) => cache.getKey(jwksUri, alg, kid),
      isCurrent: (key) => cache.isCurrent(jwksUri, key),
    }
    // The exact issuer of this form: after the signature, `iss` must be the one whose keys
    // verified it, so a token cannot borrow the other form's key set.
    return [issuer, { issuer, jwksUri, policy: Object.freeze({ ...policy, issuer }), keys }]
  })
  return new Map(entries)
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

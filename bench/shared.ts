// Names, modes and defaults shared by the benchmark driver, its servers and its report.

import type { IssuerReady } from './issuer.js'

/** The apps measured side by side, each an Express 5 server script in bench/servers/. */
export const TARGETS = [
  'no-auth',
  'empty-middleware',
  'oidc-guard',
  'express-oauth2-jwt-bearer',
  'express-jwt',
  'aws-jwt-verify',
  'jose',
] as const
export type TargetName = (typeof TARGETS)[number]

/** What each target is, for tables and the chart. */
export const TARGET_LABELS: Readonly<Record<TargetName, string>> = {
  'no-auth': 'no auth (ceiling)',
  'empty-middleware': 'empty middleware (floor)',
  'oidc-guard': 'oidc-guard',
  'express-oauth2-jwt-bearer': 'express-oauth2-jwt-bearer',
  'express-jwt': 'express-jwt + jwks-rsa',
  'aws-jwt-verify': 'aws-jwt-verify',
  jose: 'jose raw',
}

/** The peers oidc-guard is compared with (the ceiling is not a peer). */
export const PEERS: readonly TargetName[] = [
  'express-oauth2-jwt-bearer',
  'express-jwt',
  'aws-jwt-verify',
  'jose',
]

/**
 * - `repeated`: one valid token on every request.
 * - `distinct`: 10,000 distinct valid tokens, cycled.
 * - `cold`: a token no verifier has seen (a pool larger than twice any token cache, cycled).
 * - `garbage`: every other request a garbage, tampered or forged token.
 */
export const MODES = ['repeated', 'distinct', 'cold', 'garbage'] as const
export type Mode = (typeof MODES)[number]

export const MODE_LABELS: Readonly<Record<Mode, string>> = {
  repeated: 'one repeated token',
  distinct: '10,000 distinct tokens',
  cold: 'cold (every token new)',
  garbage: '50% garbage and forged',
}

export type Algorithm = 'RS256' | 'ES256'
export const ALGORITHMS: readonly Algorithm[] = ['RS256', 'ES256']

/** The audience every server expects and every valid token carries. */
export const AUDIENCE = 'api://oidc-guard-bench'

/** Bad tokens minted by the issuer (they need its keys or an attacker's), cycled in garbage mode. */
export const SIGNED_BAD_KINDS = [
  'expired',
  'not-yet-valid',
  'wrong-issuer',
  'wrong-audience',
  'forged',
  'unknown-kid',
  'alg-none',
  'hs256-confusion',
] as const
export type SignedBadKind = (typeof SIGNED_BAD_KINDS)[number]

/** Bad tokens made by the driver on the fly, each one distinct. */
export const FRESH_BAD_KINDS = ['junk', 'malformed', 'bit-flip', 'bad-signature'] as const
export type FreshBadKind = (typeof FRESH_BAD_KINDS)[number]

export type TokenKind = 'valid' | SignedBadKind | FreshBadKind

/** What the driver hands a server process through its environment. */
export interface ServerEnv {
  BENCH_ISSUER: string
  BENCH_JWKS_URI: string
  BENCH_AUDIENCE: string
  BENCH_ALGORITHMS: string
}

/** The line a process prints on stdout once it serves, read by the driver. */
export const READY_PREFIX = 'BENCH_READY '

/**
 * The statuses a target may answer to a token of `kind`: 200 for a valid token, the peer's own
 * status for a bad one. Anything else marks the run failed.
 */
export function expectedStatuses(target: TargetName, kind: TokenKind): readonly number[] {
  if (target === 'no-auth' || target === 'empty-middleware' || kind === 'valid') return [200]
  // jwks-rsa refetches the key set for an unknown kid; past its rate limit (10/min) it throws a
  // JwksRateLimitError, which express-jwt hands to Express as is: a 500, the peer's own answer.
  if (target === 'express-jwt' && kind === 'unknown-kid') return [401, 500]
  return [401]
}

/** What a run needs: the issuer process and each target's bundled server script. */
export interface Setup {
  issuer: IssuerReady
  servers: Record<string, string>
}

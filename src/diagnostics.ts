// Events on node:diagnostics_channel, so any metrics system can count outcomes without a dependency.

import { channel } from 'node:diagnostics_channel'

/**
 * The channels oidc-guard publishes on. Subscribe with `diagnostics_channel.subscribe(name, fn)`;
 * nothing is built or published while a channel has no subscriber.
 *
 * - `oidc-guard:verify`: `{ outcome: 'pass' | 'reject' | 'unavailable', code?, provider?, cached }`
 * - `oidc-guard:jwks`: `{ uri, outcome: 'fetched' | 'failed', keyCount?, error? }`
 * - `oidc-guard:source`: `{ facet, provider, outcome: 'fetched' | 'failed', error? }`
 * - `oidc-guard:revocation`: `{ outcome: 'revoked', provider }`
 */
export const CHANNELS = Object.freeze({
  verify: 'oidc-guard:verify',
  jwks: 'oidc-guard:jwks',
  source: 'oidc-guard:source',
  revocation: 'oidc-guard:revocation',
} as const)

export interface VerifyEvent {
  readonly outcome: 'pass' | 'reject' | 'unavailable'
  readonly code?: string | undefined
  readonly provider?: string | undefined
  readonly cached: boolean
}

export interface JwksEvent {
  readonly uri: string
  readonly outcome: 'fetched' | 'failed'
  readonly keyCount?: number | undefined
  readonly error?: string | undefined
}

export interface SourceEvent {
  readonly facet: string
  readonly provider: string
  /** `refused`: the source answered with a refusal (403, 401), not an outage. */
  readonly outcome: 'fetched' | 'failed' | 'refused'
  readonly error?: string | undefined
  /** The refusal's stable code, with `refused`. */
  readonly code?: string | undefined
}

export interface RevocationEvent {
  readonly outcome: 'revoked'
  readonly provider: string
}

export const verifyChannel = channel(CHANNELS.verify)
export const jwksChannel = channel(CHANNELS.jwks)
export const sourceChannel = channel(CHANNELS.source)
export const revocationChannel = channel(CHANNELS.revocation)

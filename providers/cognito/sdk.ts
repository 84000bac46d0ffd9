// The optional AWS SDK v3 clients, imported on first use: verifying tokens never needs them.

import type * as IdentityProviderSdk from '@aws-sdk/client-cognito-identity-provider'
import type * as IdentitySdk from '@aws-sdk/client-cognito-identity'
import { UnavailableError } from '../../src/spi.js'
import type { AwsClientLike, AwsClientOptions } from './aws-options.js'

export type { IdentityProviderSdk, IdentitySdk }

let identityProviderModule: Promise<typeof IdentityProviderSdk> | undefined
let identityModule: Promise<typeof IdentitySdk> | undefined

function missing(name: string, user: string): (cause: unknown) => never {
  return (cause) => {
    throw new Error(`oidc-guard: ${user} needs the AWS SDK: npm install ${name}`, { cause })
  }
}

/** `@aws-sdk/client-cognito-identity-provider`, imported once (user pools: AdminGetUser, GetUser). */
export function loadIdentityProviderSdk(): Promise<typeof IdentityProviderSdk> {
  identityProviderModule ??= import('@aws-sdk/client-cognito-identity-provider').catch(
    missing('@aws-sdk/client-cognito-identity-provider', 'CognitoProfileProvider'),
  )
  return identityProviderModule
}

/** `@aws-sdk/client-cognito-identity`, imported once (identity pools: GetId, GetCredentialsForIdentity). */
export function loadIdentitySdk(): Promise<typeof IdentitySdk> {
  identityModule ??= import('@aws-sdk/client-cognito-identity').catch(
    missing('@aws-sdk/client-cognito-identity', 'CognitoIdentityPoolProvider'),
  )
  return identityModule
}

/** The SDK client configuration of a source's options: only what was given, plus the region. */
export function clientConfig(
  region: string,
  options: AwsClientOptions,
): {
  region: string
  endpoint?: string
  credentials?: NonNullable<AwsClientOptions['credentials']>
  maxAttempts?: number
} {
  const { endpoint, credentials, maxAttempts } = options
  return {
    region,
    ...(endpoint === undefined ? {} : { endpoint }),
    // A copy: the SDK marks the object it is given, and the caller's may be frozen.
    ...(credentials === undefined
      ? {}
      : { credentials: typeof credentials === 'function' ? credentials : { ...credentials } }),
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  }
}

/** An SDK service error's name (`UserNotFoundException`…), when the error is one. */
export function awsErrorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { name, $metadata } = error as { name?: unknown; $metadata?: unknown }
  return typeof name === 'string' && $metadata !== undefined ? name : undefined
}

/**
 * Whether AWS refused the user's token itself: `NotAuthorizedException` from a call that carries
 * the token (`GetUser`: "Access Token has been revoked" after `GlobalSignOut` or `RevokeToken`,
 * expired, disabled user; `GetId` and `GetCredentialsForIdentity`: "Invalid login token…"). Asking
 * again with the same token gets the same answer, so it is a 401, never a 503 to retry. Calls
 * signed with the app's own credentials (`AdminGetUser`) must not use it: a refusal there is about
 * the app, not the user.
 */
export function isTokenRefusal(error: unknown): boolean {
  return awsErrorName(error) === 'NotAuthorizedException'
}

/** The 503 of an AWS call that failed; `cause` is for logs, never for the response. */
export function awsUnavailable(what: string, cause: unknown): UnavailableError {
  return new UnavailableError('ERR_AUTH_SOURCE_UNAVAILABLE', `${what} temporarily unavailable`, {
    cause,
  })
}

/** Destroys an SDK client (closing its sockets), when it is one. */
export function destroyClient(client: AwsClientLike | undefined): void {
  const destroy = (client as { destroy?: unknown } | undefined)?.destroy
  if (typeof destroy === 'function') destroy.call(client)
}

/** Sends a command, passing the abort signal the SDK understands. */
export function send<T>(client: AwsClientLike, command: unknown, signal?: AbortSignal): Promise<T> {
  return client.send(command, signal === undefined ? {} : { abortSignal: signal }) as Promise<T>
}

// Options shared by the sources that call AWS (profile, identity pool), and their checks.

import {
  checkNumber,
  checkUrl,
  isProduction,
  type OptionFlags,
  type Problems,
} from '../../src/spi.js'

/** AWS credentials as the SDK v3 takes and returns them (`AwsCredentialIdentity`). */
export interface AwsCredentialIdentityLike {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
  readonly expiration?: Date
}

/**
 * An AWS SDK v3 client (`CognitoIdentityProviderClient`, `CognitoIdentityClient`), or anything
 * with the same `send`: oidc-guard only ever calls `send(command, { abortSignal })`.
 */
export interface AwsClientLike {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>
}

/** How a source reaches AWS: its own SDK client built from these options, or `client`. */
export interface AwsClientOptions {
  /**
   * The AWS API endpoint, e.g. `http://127.0.0.1:4566` for LocalStack or a VPC endpoint.
   * Default: the region's public endpoint.
   */
  endpoint?: string
  /**
   * Credentials for signed calls (`AdminGetUser`). Default: the SDK's default chain (environment,
   * shared files, instance role). `GetUser`, `GetId` and `GetCredentialsForIdentity` are not signed.
   */
  credentials?: AwsCredentialIdentityLike | (() => Promise<AwsCredentialIdentityLike>)
  /** Attempts per call, retries included. Default: the SDK's (3). */
  maxAttempts?: number
  /**
   * A client you already have (the SDK still has to be installed, for its commands). Replaces
   * `endpoint`, `credentials` and `maxAttempts`, which may then not be given.
   */
  client?: AwsClientLike
}

/** Every option of {@link AwsClientOptions}, for the sources' lists of option names. */
export const AWS_CLIENT_OPTION_NAMES = Object.freeze(
  Object.keys({
    endpoint: true,
    credentials: true,
    maxAttempts: true,
    client: true,
  } as const satisfies OptionFlags<AwsClientOptions>),
)

/** Checks the options of an AWS client, adding problems named after `owner`. */
export function checkAwsClientOptions(
  problems: Problems,
  owner: string,
  options: AwsClientOptions,
): void {
  const { endpoint, credentials, maxAttempts, client } = options
  if (endpoint !== undefined) checkUrl(problems, `${owner}: endpoint`, endpoint, isProduction())
  checkNumber(problems, `${owner}: maxAttempts`, maxAttempts, 1, { integer: true })
  if (client !== undefined && typeof (client as Partial<AwsClientLike>)?.send !== 'function') {
    problems.add(`${owner}: client must be an AWS SDK v3 client (an object with send(command))`)
  }
  if (client !== undefined && [endpoint, credentials, maxAttempts].some((v) => v !== undefined)) {
    problems.add(
      `${owner}: give either client or endpoint/credentials/maxAttempts: a client you pass is used as it is`,
    )
  }
  const isCredentials =
    typeof credentials === 'function' ||
    (typeof credentials === 'object' &&
      credentials !== null &&
      isFilled(credentials.accessKeyId) &&
      isFilled(credentials.secretAccessKey))
  if (credentials !== undefined && !isCredentials) {
    problems.add(
      `${owner}: credentials must be { accessKeyId, secretAccessKey, sessionToken? } (non-empty strings) or a function returning them`,
    )
  }
}

/** A key an AWS call can be signed with: empty ones (an unset variable read as '') never are. */
function isFilled(value: unknown): boolean {
  return typeof value === 'string' && value.trim() !== ''
}

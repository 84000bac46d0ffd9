// oidc-guard/providers/cognito: Amazon Cognito user pools, groups, profiles and identity pools.

export {
  CognitoProvider,
  type CognitoProviderOptions,
  type CognitoTokenUse,
} from './cognito-provider.js'
export type { CognitoIssuerFormOption } from './issuer-keys.js'
export type { CognitoIssuerForm } from './user-pool.js'
export {
  COGNITO_GROUPS_CLAIM,
  CognitoGroupsAsRolesProvider,
  CognitoGroupsProvider,
  type CognitoGroupsOptions,
} from './groups.js'
export { CognitoProfileProvider, type CognitoProfileProviderOptions } from './profile-provider.js'
export {
  CognitoIdentityPoolProvider,
  type AwsCredentials,
  type CognitoIdentityPoolProviderOptions,
} from './identity-pool-provider.js'
export type { AwsClientLike, AwsClientOptions, AwsCredentialIdentityLike } from './aws-options.js'
export { ANY_CLIENT, cognitoEnv, cognitoIdentityPoolFromEnv } from './env.js'
export type { CognitoIdentityPoolFromEnvOptions } from './env.js'

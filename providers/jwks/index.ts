// oidc-guard/providers/jwks: generic issuers, by JWK Set URL or by OpenID Connect discovery.

export {
  JwksProvider,
  KeySetProvider,
  type JwksProviderOptions,
  type TokenCheckOptions,
} from './jwks-provider.js'
export { OidcProvider, type OidcProviderOptions } from './oidc-provider.js'

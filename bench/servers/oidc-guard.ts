// oidc-guard as a user sets it up: one JwksProvider, jwtAuth with credentials required.

import { JwksProvider } from '../../providers/jwks/index.js'
import { jwtAuth } from '../../src/index.js'
import { benchApp, serve, settings } from './common.js'

const { issuer, jwksUri, audience, algorithms } = settings()
const provider = new JwksProvider({ issuer, jwksUri, audience, algorithms })
serve(benchApp(jwtAuth({ provider, credentialsRequired: true })))

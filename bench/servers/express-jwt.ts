// express-jwt with jwks-rsa's key provider, configured as jwks-rsa's README recommends.

import { expressjwt, type GetVerificationKey } from 'express-jwt'
import jwksRsa from 'jwks-rsa'
import type { ErrorRequestHandler } from 'express'
import { benchApp, serve, settings } from './common.js'

const { issuer, jwksUri, audience, algorithms } = settings()

const secret = jwksRsa.expressJwtSecret({
  jwksUri,
  cache: true,
  rateLimit: true,
  jwksRequestsPerMinute: 10,
}) as GetVerificationKey

// express-jwt's README: an UnauthorizedError is a 401, anything else goes on to Express (500).
const onError: ErrorRequestHandler = (error: { name?: string }, _req, res, next) => {
  if (error.name === 'UnauthorizedError') res.status(401).json({ error: 'invalid token' })
  else next(error)
}

serve(benchApp(expressjwt({ secret, audience, issuer, algorithms }), onError))

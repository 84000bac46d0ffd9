// Auth0's express-oauth2-jwt-bearer (jose underneath), given the issuer and its JWKS URI.

import { auth } from 'express-oauth2-jwt-bearer'
import type { ErrorRequestHandler } from 'express'
import { benchApp, serve, settings } from './common.js'

const { issuer, jwksUri, audience } = settings()

// Its errors carry the status (401 invalid_token); anything else is the app's 500.
const onError: ErrorRequestHandler = (error: { status?: number }, _req, res, _next) => {
  res.status(error.status ?? 500).json({ error: 'unauthorized' })
}

serve(benchApp(auth({ issuer, jwksUri, audience }), onError))

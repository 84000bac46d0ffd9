// jose alone: createRemoteJWKSet + jwtVerify in a minimal middleware.

import { createRemoteJWKSet, jwtVerify } from 'jose'
import type { NextFunction, Request, Response } from 'express'
import { bearerToken, benchApp, serve, settings } from './common.js'

const { issuer, jwksUri, audience, algorithms } = settings()
const keys = createRemoteJWKSet(new URL(jwksUri))

async function joseVerify(req: Request, res: Response, next: NextFunction): Promise<void> {
  const token = bearerToken(req.headers.authorization)
  if (token === undefined) {
    res.status(401).json({ error: 'unauthorized' })
    return
  }
  try {
    res.locals['auth'] = (await jwtVerify(token, keys, { issuer, audience, algorithms })).payload
  } catch {
    res.status(401).json({ error: 'invalid token' })
    return
  }
  next()
}

serve(benchApp(joseVerify))

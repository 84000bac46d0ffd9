// aws-jwt-verify's JwtVerifier in a minimal middleware (it has no Express integration).

import { JwtVerifier } from 'aws-jwt-verify'
import { SimpleJwksCache } from 'aws-jwt-verify/jwk'
import type { NextFunction, Request, Response } from 'express'
import { bearerToken, benchApp, serve, settings } from './common.js'

const { issuer, jwksUri, audience } = settings()

// Its built-in fetcher speaks HTTPS only; the local issuer is plain HTTP on 127.0.0.1.
const fetcher = {
  fetch: async (uri: string): Promise<ArrayBuffer> => (await fetch(uri)).arrayBuffer(),
}
const verifier = JwtVerifier.create(
  { issuer, audience, jwksUri },
  { jwksCache: new SimpleJwksCache({ fetcher }) },
)

async function awsJwtVerify(req: Request, res: Response, next: NextFunction): Promise<void> {
  const token = bearerToken(req.headers.authorization)
  if (token === undefined) {
    res.status(401).json({ error: 'unauthorized' })
    return
  }
  try {
    res.locals['auth'] = await verifier.verify(token)
  } catch {
    res.status(401).json({ error: 'invalid token' })
    return
  }
  next()
}

serve(benchApp(awsJwtVerify))

// What every benchmark server shares: its settings from the driver, the route, and start-up.

import express, { type Express, type RequestHandler } from 'express'
import type { Server } from 'node:http'
import { READY_PREFIX, type Algorithm } from '../shared.js'

/** The issuer every server trusts, as the driver passes it. */
export interface BenchSettings {
  issuer: string
  jwksUri: string
  audience: string
  algorithms: Algorithm[]
}

function required(name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`${name} is not set (run npm run bench)`)
  return value
}

/** Reads the settings the driver put in the environment. */
export function settings(): BenchSettings {
  return {
    issuer: required('BENCH_ISSUER'),
    jwksUri: required('BENCH_JWKS_URI'),
    audience: required('BENCH_AUDIENCE'),
    algorithms: required('BENCH_ALGORITHMS').split(',') as Algorithm[],
  }
}

/** The bearer token of an `Authorization: Bearer <token>` header, as a minimal middleware reads it. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || !header.startsWith('Bearer ')) return undefined
  return header.slice(7)
}

/**
 * The app every target shares: `auth` (if any), then `GET /` answering 200 `{ ok: true }`, then
 * `errorHandler` (where the library passes errors to `next`, as its README shows).
 */
export function benchApp(
  auth: RequestHandler | undefined,
  errorHandler?: express.ErrorRequestHandler,
): Express {
  const app = express()
  if (auth !== undefined) app.use(auth)
  app.get('/', (_req, res) => {
    res.json({ ok: true })
  })
  if (errorHandler !== undefined) app.use(errorHandler)
  return app
}

/** Listens on a free port of 127.0.0.1 and tells the driver which one. */
export function serve(app: Express): Server {
  const server = app.listen(0, '127.0.0.1', () => {
    const address = server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    console.log(`${READY_PREFIX}${JSON.stringify({ port, pid: process.pid })}`)
  })
  // Autocannon keeps 64+ connections open; the default keep-alive (5 s) is long enough.
  process.once('SIGTERM', () => {
    server.close()
    server.closeAllConnections()
    process.exit(0)
  })
  return server
}

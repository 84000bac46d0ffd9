// The example API: Express protected by jwtAuth, against an embedded local issuer (no internet, no account).

import express, { type Express } from 'express'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
// In your app: import { jwtAuth, requireUser } from 'oidc-guard' (and 'oidc-guard/providers/jwks').
import { jwtAuth, requireUser } from '../src/index.js'
import { createTestIssuer, type TestIssuer } from '../src/testing.js'
import { JwksProvider } from '../providers/jwks/index.js'

/** The routes of the example, protected by `auth`. */
export function createExampleApp(auth: express.RequestHandler): Express {
  const app = express()
  app.use(auth)
  app.get('/public', (req, res) => {
    res.json({
      message: 'anyone may read this',
      user: req.currentUser.isAuthenticated ? req.currentUser.id : null,
    })
  })
  app.get('/me', requireUser(), (req, res) => {
    const { id, name, email, scopes, isM2M } = req.currentUser
    res.json({ id, name, email, scopes, isM2M })
  })
  app.get('/jobs', requireUser({ kind: 'm2m' }), (req, res) => {
    res.json({ jobs: [], client: req.currentUser.clientId })
  })
  return app
}

/** A request to try, with the answer it gets. */
export interface ExampleCall {
  readonly title: string
  readonly path: string
  readonly token: string | undefined
  readonly expectedStatus: number
}

export interface RunningExample {
  readonly url: string
  readonly issuer: TestIssuer
  readonly calls: readonly ExampleCall[]
  close(): Promise<void>
}

/** Starts the local issuer and the API; `port` 0 picks a free one. */
export async function startExample(port: number): Promise<RunningExample> {
  const issuer = await createTestIssuer({ audience: 'api://example' })
  const provider = new JwksProvider({
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    audience: 'api://example',
  })
  await provider.hydrate()
  const app = createExampleApp(jwtAuth({ provider, realm: 'example' }))
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(port, '127.0.0.1', () => resolve(listening)).on('error', reject)
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const day = 24 * 3600
  const user = issuer.mint(
    { sub: 'alice', name: 'Alice', email: 'alice@example.com', scope: 'orders.read' },
    { expiresInSec: day },
  )
  const machine = issuer.mint(
    { sub: 'billing-job', client_id: 'billing-job', scope: 'jobs.run' },
    { expiresInSec: day },
  )
  const calls: ExampleCall[] = [
    { title: 'anyone', path: '/public', token: undefined, expectedStatus: 200 },
    { title: 'no token on a protected route', path: '/me', token: undefined, expectedStatus: 401 },
    { title: 'a signed-in user', path: '/me', token: user, expectedStatus: 200 },
    { title: 'a user on a machine-only route', path: '/jobs', token: user, expectedStatus: 403 },
    { title: 'a machine-to-machine client', path: '/jobs', token: machine, expectedStatus: 200 },
    {
      title: 'a forged token',
      path: '/me',
      token: issuer.mint({ sub: 'alice' }, { tamper: 'payload' }),
      expectedStatus: 401,
    },
  ]
  return {
    url,
    issuer,
    calls,
    async close() {
      await new Promise((resolve) => server.close(resolve))
      await issuer.close()
    },
  }
}

/** The curl command for a call, exactly as printed. */
export function curlFor(url: string, call: ExampleCall): string {
  const auth = call.token === undefined ? '' : ` -H 'Authorization: Bearer ${call.token}'`
  return `curl -i${auth} ${url}${call.path}`
}

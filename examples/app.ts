// The example API: Express protected by jwtAuth, a route per guard, CORS before auth, request
// logs, against an embedded local issuer (no internet, no account) and a browser page to try it.

import cors from 'cors'
import express, { type Express, type RequestHandler } from 'express'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { pinoHttp } from 'pino-http'
// In your app: from 'oidc-guard', 'oidc-guard/providers/jwks', 'oidc-guard/providers/claims'.
import {
  jwtAuth,
  requirePermissions,
  requireRoles,
  requireScopes,
  requireUser,
} from '../src/index.js'
import { createTestIssuer, type TestIssuer } from '../src/testing.js'
import { JwksProvider } from '../providers/jwks/index.js'
import {
  ClaimGroupsProvider,
  ClaimPermissionsProvider,
  ClaimRolesProvider,
} from '../providers/claims/index.js'
import { call, type ExampleCall } from './calls.js'
import { createExamplePage } from './page.js'

export { curlFor, type ExampleCall } from './calls.js'

/**
 * The routes of the example, protected by `auth`; `pageOrigin` may call them from a browser (a
 * function when the page starts after the API: it is read per request).
 */
export function createExampleApp(
  auth: RequestHandler,
  options: {
    pageOrigin?: string | (() => string)
    log?: boolean
    onRequest?: (method: string) => void
  } = {},
): Express {
  const app = express()
  const { onRequest } = options
  if (onRequest !== undefined) {
    app.use((req, _res, next) => {
      onRequest(req.method)
      next()
    })
  }
  // CORS first: a browser's preflight (OPTIONS) carries no token and must get CORS headers,
  // never a 401 (and jwtAuth lets preflights through anonymous anyway).
  const { pageOrigin } = options
  if (pageOrigin !== undefined) {
    const origin = typeof pageOrigin === 'string' ? () => pageOrigin : pageOrigin
    app.use(
      cors({
        origin: (_requestOrigin, allow) => allow(null, origin()),
        allowedHeaders: ['authorization', 'content-type'],
      }),
    )
  }
  if (options.log !== false) {
    // Request logs without credentials: the Authorization header is censored.
    app.use(pinoHttp({ logger: pino({ redact: ['req.headers.authorization'] }) }))
  }
  app.use(auth)
  app.get('/public', (req, res) => {
    res.json({
      message: 'anyone may read this',
      user: req.currentUser.isAuthenticated ? req.currentUser.id : null,
    })
  })
  app.get('/me', requireUser(), async (req, res) => {
    const { id, name, email, scopes, isM2M } = req.currentUser
    res.json({ id, name, email, scopes, isM2M, roles: await req.currentUser.roles })
  })
  app.get('/orders', requireScopes(['orders.read']), (_req, res) => {
    res.json({ orders: [{ id: 42, total: 99.5 }] })
  })
  app.post('/orders', requireScopes(['orders.write']), (_req, res) => {
    res.status(201).json({ id: 43 })
  })
  app.delete('/orders/:id', requirePermissions(['orders:delete']), (req, res) => {
    res.json({ deleted: req.params['id'] })
  })
  app.get('/admin', requireRoles(['admin']), (_req, res) => res.json({ admin: true }))
  app.get('/jobs', requireUser({ kind: 'm2m' }), (req, res) => {
    res.json({ jobs: [], client: req.currentUser.clientId })
  })
  return app
}

/** Sources of the example's facets: everything is in the token's claims. */
export const exampleSources = {
  groups: new ClaimGroupsProvider({ claim: 'groups' }),
  roles: new ClaimRolesProvider({ claim: 'roles' }),
  permissions: new ClaimPermissionsProvider({ claim: 'permissions' }),
}

/** The people and clients of the example, as the local issuer mints them. */
export const EXAMPLE_SUBJECTS = {
  alice: { sub: 'alice', name: 'Alice', email: 'alice@example.com', scope: 'orders.read' },
  ada: {
    sub: 'ada',
    name: 'Ada (admin)',
    email: 'ada@example.com',
    scope: 'orders.read orders.write',
    roles: ['admin'],
    groups: ['ops'],
    permissions: ['orders:*'],
  },
  'billing-job': { sub: 'billing-job', client_id: 'billing-job', scope: 'jobs.run' },
} as const

export interface RunningExample {
  readonly url: string
  /** The browser page, served from a second origin. */
  readonly pageUrl: string
  readonly issuer: TestIssuer
  readonly calls: readonly ExampleCall[]
  close(): Promise<void>
}

/** Listening failed because another program holds the port; `variable` is the one choosing it. */
export class PortInUseError extends Error {
  readonly code = 'EADDRINUSE'

  constructor(
    readonly port: number,
    variable: string,
    cause: unknown,
  ) {
    super(
      `port ${port} is in use; set ${variable}=<another port> (or ${variable}=0 for a free one)`,
      {
        cause,
      },
    )
    this.name = 'PortInUseError'
  }
}

/** PORT and PAGE_PORT name the same port: the API and the page cannot both listen on it. */
export class SamePortError extends Error {
  readonly code = 'ERR_SAME_PORT'

  constructor(readonly port: number) {
    super(
      `PORT and PAGE_PORT are the same port (${port}): the API and the page each need their own; set PAGE_PORT=<another port>, or leave it unset for one next to PORT`,
    )
    this.name = 'SamePortError'
  }
}

/**
 * Listens on 127.0.0.1 and resolves once listening, or rejects (a taken port as PortInUseError
 * naming `variable`). Express 5 passes a listen error to the callback, so a callback that ignores
 * it reports a failed server as listening; Express 4 only emits 'error' on the server. Both are
 * handled.
 */
export function listenOn(app: Express, port: number, variable = 'PORT'): Promise<Server> {
  return new Promise((resolve, reject) => {
    const fail = (error: unknown) => {
      const taken = (error as { code?: unknown } | null)?.code === 'EADDRINUSE'
      reject(taken ? new PortInUseError(port, variable, error) : error)
    }
    const server = app.listen(port, '127.0.0.1', (error?: Error) => {
      if (error !== undefined) return fail(error)
      server.off('error', fail) // later errors are not the start's: they must not vanish here
      resolve(server)
    })
    server.once('error', fail)
  })
}

/**
 * For an example's entry point: a taken port (or PORT and PAGE_PORT the same) is told in one line
 * and exit code 1, no stack.
 */
export function exitIfPortInUse(error: unknown): never {
  if (!(error instanceof PortInUseError || error instanceof SamePortError)) throw error
  console.error(error.message)
  process.exit(1)
}

const closeServer = (server: Server) =>
  new Promise((resolve) => {
    server.closeAllConnections()
    server.close(resolve)
  })

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`

/**
 * The page on `pagePort` when given (PAGE_PORT: a taken one is refused naming it), else on the port
 * after the API's when that is free, else on a free one. A fixed default (3001) clashed with
 * PORT=3001, the port a newcomer tries when 3000 is taken.
 */
async function listenPage(page: Express, apiPort: number, pagePort: number | undefined) {
  if (pagePort !== undefined) return listenOn(page, pagePort, 'PAGE_PORT')
  const next = apiPort === 0 || apiPort === 65_535 ? 0 : apiPort + 1
  try {
    return await listenOn(page, next, 'PAGE_PORT')
  } catch (error) {
    if (next === 0 || !(error instanceof PortInUseError)) throw error
    return listenOn(page, 0, 'PAGE_PORT')
  }
}

/**
 * Starts the local issuer, the API on `port` and the page on `pagePort` (0 picks a free one;
 * default: the port after `port` when free, else a free one). Rejects with PortInUseError naming
 * PORT or PAGE_PORT, or SamePortError when both name one port.
 */
export async function startExample(
  port: number,
  options: { pagePort?: number; log?: boolean; onRequest?: (method: string) => void } = {},
): Promise<RunningExample> {
  if (port !== 0 && options.pagePort === port) throw new SamePortError(port)
  const issuer = await createTestIssuer({ audience: 'api://example' })
  const provider = new JwksProvider({
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    audience: 'api://example',
  })
  await provider.hydrate()
  const auth = jwtAuth({ provider, realm: 'example', logger: false, ...exampleSources })
  const mint = (who: keyof typeof EXAMPLE_SUBJECTS) =>
    issuer.mint({ ...EXAMPLE_SUBJECTS[who] }, { expiresInSec: 24 * 3600 })
  // The API listens first, on the port the user chose, so the page's default can keep clear of
  // it; CORS reads the page's origin per request, the page the API's URL.
  let url = ''
  let pageUrl = ''
  let apiServer: Server | undefined
  let pageServer: Server
  try {
    apiServer = await listenOn(
      createExampleApp(auth, {
        pageOrigin: () => pageUrl,
        log: options.log ?? true,
        ...(options.onRequest === undefined ? {} : { onRequest: options.onRequest }),
      }),
      port,
    )
    url = urlOf(apiServer)
    pageServer = await listenPage(
      createExamplePage({ mint, apiUrl: () => url }),
      port,
      options.pagePort,
    )
    pageUrl = urlOf(pageServer)
  } catch (error) {
    // Nothing may keep the process alive after a failed start: close what did start.
    await Promise.all([apiServer && closeServer(apiServer), issuer.close()])
    throw error
  }
  const [alice, ada, machine] = [mint('alice'), mint('ada'), mint('billing-job')]
  const forged = issuer.mint({ sub: 'alice' }, { tamper: 'payload' })
  const calls: ExampleCall[] = [
    call('anyone', 'GET', '/public', undefined, 200),
    call('no token on a protected route', 'GET', '/me', undefined, 401),
    call('a signed-in user', 'GET', '/me', alice, 200),
    call('a user with the orders.read scope', 'GET', '/orders', alice, 200),
    call('a user without the orders.write scope', 'POST', '/orders', alice, 403),
    call('an admin with orders.write', 'POST', '/orders', ada, 201),
    call('a user who is not an admin', 'GET', '/admin', alice, 403),
    call('an admin', 'GET', '/admin', ada, 200),
    call('orders:* grants orders:delete', 'DELETE', '/orders/42', ada, 200),
    call('a user without permissions', 'DELETE', '/orders/42', alice, 403),
    call('a user on a machine-only route', 'GET', '/jobs', alice, 403),
    call('a machine-to-machine client', 'GET', '/jobs', machine, 200),
    call('a forged token', 'GET', '/me', forged, 401),
  ]
  return {
    url,
    pageUrl,
    issuer,
    calls,
    async close() {
      await Promise.all([apiServer, pageServer].map(closeServer))
      await issuer.close()
    },
  }
}

// Prometheus metrics from oidc-guard's diagnostics channels, with prom-client, served at /metrics.
// Run it: npx tsx examples/prometheus.ts

import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import express, { type Express, type RequestHandler } from 'express'
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import { Counter, Gauge, Registry } from 'prom-client'
// In your app: from 'oidc-guard' and 'oidc-guard/providers/jwks'.
import {
  CHANNELS,
  jwtAuth,
  MemoryRevocationStore,
  requirePermissions,
  type JwksEvent,
  type PermissionsProvider,
  type RevocationEvent,
  type SourceEvent,
  type User,
  type Verifier,
  type VerifyEvent,
} from '../src/index.js'
import { healthHandler } from '../src/health-handler.js'
import { createTestIssuer } from '../src/testing.js'
import { JwksProvider } from '../providers/jwks/index.js'

/** The metrics of one process: a registry, the /metrics handler, and a way to stop counting. */
export interface OidcGuardMetrics {
  readonly registry: Registry
  readonly handler: RequestHandler
  close(): void
}

/**
 * Counts every event oidc-guard publishes, and reads the verifier's health on each scrape.
 * Nothing here is specific to oidc-guard's internals: any metrics system can subscribe the same way.
 */
export function oidcGuardMetrics(
  options: { registry?: Registry; verifier?: Pick<Verifier, 'health'> | undefined } = {},
): OidcGuardMetrics {
  const registry = options.registry ?? new Registry()
  const registers = [registry]
  const verifications = new Counter({
    name: 'oidc_guard_verifications_total',
    help: 'Token verifications by outcome (pass, reject, unavailable) and error code',
    labelNames: ['outcome', 'code', 'provider', 'cached'],
    registers,
  })
  const jwksFetches = new Counter({
    name: 'oidc_guard_jwks_fetches_total',
    help: 'JWKS fetches by outcome (fetched, failed)',
    labelNames: ['uri', 'outcome'],
    registers,
  })
  const jwksKeys = new Gauge({
    name: 'oidc_guard_jwks_keys',
    help: 'Keys in the last key set fetched',
    labelNames: ['uri'],
    registers,
  })
  const sourceLookups = new Counter({
    name: 'oidc_guard_source_lookups_total',
    help: 'Groups, roles, permissions and profile lookups by outcome (fetched, failed)',
    labelNames: ['facet', 'provider', 'outcome'],
    registers,
  })
  const revocationHits = new Counter({
    name: 'oidc_guard_revocation_hits_total',
    help: 'Requests refused because their token was revoked',
    labelNames: ['provider'],
    registers,
  })
  const verifier = options.verifier
  new Gauge({
    name: 'oidc_guard_healthy',
    help: '1 when every provider holds keys and the revocation store can answer',
    registers,
    async collect() {
      if (verifier !== undefined) this.set((await verifier.health()).ok ? 1 : 0)
    },
  })
  new Gauge({
    name: 'oidc_guard_key_set_age_seconds',
    help: 'Age of the key set each provider verifies with',
    labelNames: ['provider'],
    registers,
    async collect() {
      if (verifier === undefined) return
      const { providers } = await verifier.health()
      // A provider whose keys expired has no age: its series goes, rather than keep its last value.
      this.reset()
      for (const provider of providers) {
        if (provider.keyAgeSec !== undefined)
          this.set({ provider: provider.name }, provider.keyAgeSec)
      }
    },
  })

  const listeners: Array<[string, (message: unknown) => void]> = [
    [
      CHANNELS.verify,
      (message) => {
        const event = message as VerifyEvent
        verifications.inc({
          outcome: event.outcome,
          code: event.code ?? '',
          provider: event.provider ?? '',
          cached: String(event.cached),
        })
      },
    ],
    [
      CHANNELS.jwks,
      (message) => {
        const event = message as JwksEvent
        jwksFetches.inc({ uri: event.uri, outcome: event.outcome })
        if (event.keyCount !== undefined) jwksKeys.set({ uri: event.uri }, event.keyCount)
      },
    ],
    [
      CHANNELS.source,
      (message) => {
        const event = message as SourceEvent
        sourceLookups.inc({ facet: event.facet, provider: event.provider, outcome: event.outcome })
      },
    ],
    [
      CHANNELS.revocation,
      (message) => revocationHits.inc({ provider: (message as RevocationEvent).provider }),
    ],
  ]
  for (const [name, listener] of listeners) subscribe(name, listener)

  return {
    registry,
    handler: (_req, res, next) => {
      registry.metrics().then((text) => {
        res.set('content-type', registry.contentType).send(text)
      }, next)
    },
    close: () => {
      for (const [name, listener] of listeners) unsubscribe(name, listener)
    },
  }
}

/** A permissions source whose database is down for one user. */
class Grants implements PermissionsProvider {
  async fetchPermissions(user: User): Promise<string[]> {
    if (user.id === 'mallory') throw new Error('grants database unreachable')
    return ['orders:read']
  }
}

/** An API with metrics on an internal route; in production, serve /metrics on another port. */
export function createMetricsApp(provider: JwksProvider): {
  app: Express
  revocations: MemoryRevocationStore
  metrics: OidcGuardMetrics
} {
  const revocations = new MemoryRevocationStore()
  const auth = jwtAuth({
    provider,
    permissions: new Grants(),
    revocation: revocations,
    logLevel: 'error', // the metrics tell the story here; source failures log at warn
  })
  const metrics = oidcGuardMetrics({ verifier: auth.verifier })
  const app = express()
  app.get('/metrics', metrics.handler)
  app.get('/health', healthHandler(auth))
  app.use(auth)
  app.get('/orders', requirePermissions(['orders:read']), (_req, res) => res.json({ orders: [] }))
  return { app, revocations, metrics }
}

/** Starts the API, makes a pass, a rejection, a source failure and a revoked call; returns /metrics. */
export async function runPrometheusExample(): Promise<string> {
  const issuer = await createTestIssuer({ audience: 'orders-api' })
  const provider = new JwksProvider({
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    audience: 'orders-api',
  })
  const { app, revocations, metrics } = createMetricsApp(provider)
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const call = (token: string) =>
    fetch(`${url}/orders`, { headers: { authorization: `Bearer ${token}` } })
  try {
    const alice = issuer.mint({ sub: 'alice' })
    await call(alice) // pass (and the JWKS fetch)
    await call(alice) // pass, from the verified-token cache
    await call(issuer.mint({ sub: 'alice' }, { tamper: 'signature' })) // reject
    await call(issuer.mint({ sub: 'mallory' })) // the source fails: 503
    revocations.revokeToken(alice)
    await call(alice) // revoked
    return await (await fetch(`${url}/metrics`)).text()
  } finally {
    metrics.close()
    server.close()
    await issuer.close()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const text = await runPrometheusExample()
  console.log(
    text
      .split('\n')
      .filter((line) => line.startsWith('oidc_guard_'))
      .join('\n'),
  )
}

// The security catalog's harness: one app behind jwtAuth, an attacker server, and one assertion per outcome.

import express, { type Request as ExpressRequest, type Response as ExpressResponse } from 'express'
import { generateKeyPair, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto'
import { createServer, request as httpRequest, type Server } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import type { Logger } from 'pino'
import { expect, vi } from 'vitest'
import {
  getCurrentUser,
  jwtAuth,
  requireGroups,
  requirePermissions,
  requireRoles,
  requireScopes,
  requireUser,
  type JwtAuthOptions,
  type RolesProvider,
  type User,
} from '../../src/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider, OidcProvider } from '../../providers/jwks/index.js'
import { ClaimGroupsProvider, ClaimPermissionsProvider } from '../../providers/claims/index.js'
import { startCanary } from '../helpers/http.js'

/** The fixed clock of the catalog: every token is minted and checked at this instant. */
export const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0)
export const NOW = NOW_MS / 1000
/** Clock tolerance `L` of the catalog's providers, in seconds (set explicitly, as the catalog asks). */
export const LEEWAY_SEC = 5
export const AUDIENCE = 'api://catalog'
export const ISSUER = 'https://idp.catalog.test'
export const COLD_ISSUER = 'https://cold.catalog.test'
export const REALM = 'catalog'
/** A trusted RS256 key whose private half the tests hold, to sign raw bytes (duplicate members, bad UTF-8). */
export const HELD_KID = 'held-rs256'
/** Time-out of the catalog's authorization sources, in milliseconds (AUTHZ-09). */
export const SOURCE_TIMEOUT_MS = 100

/** RFC 6750 §3 attribute values: %x20-21 / %x23-5B / %x5D-7E. */
const SAFE_TEXT = '[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]'

/** One forged request. The path defaults to the guarded route of the default `jwtAuth`. */
export interface Probe {
  readonly label?: string
  readonly path?: string
  /** One value per `Authorization` header line; a string is one line; undefined sends none. */
  readonly authorization?: string | readonly string[] | undefined
  readonly headers?: Readonly<Record<string, string>>
  readonly method?: 'GET' | 'POST'
  readonly body?: string
  /** The server with Node's default 16 KiB header limit instead of the catalog's 4 MiB one. */
  readonly defaultServer?: boolean
  /** No outbound request at all may happen for this probe (structure, alg and routing failures). */
  readonly offline?: boolean
  /** Overrides the row's expectation for this probe. */
  readonly expect?: Expectation
  /** Runs just before the probe is sent (switch a source to fail, say). */
  readonly before?: (catalog: Catalog) => void
  /** Runs once the answer is in, whatever it is (put the source back). */
  readonly after?: (catalog: Catalog) => void
}

/** What a row expects, in the catalog's shorthand (see its legend). */
export type Expectation =
  | { readonly outcome: 'IT'; readonly description?: string | RegExp }
  | { readonly outcome: 'NC' }
  | { readonly outcome: 'IR'; readonly description?: string | RegExp }
  | { readonly outcome: 'IS'; readonly scope: string }
  | { readonly outcome: 'FB' }
  | { readonly outcome: 'TU' }
  | { readonly outcome: 'ACCEPT'; readonly id?: string; readonly check?: (body: Body) => void }
  | { readonly outcome: 'ANON' }
  | { readonly outcome: 'NODE'; readonly status: number }

/** 401 `invalid_token`, optionally with this exact description. */
export const IT = (description?: string | RegExp): Expectation =>
  description === undefined ? { outcome: 'IT' } : { outcome: 'IT', description }
export const NC: Expectation = { outcome: 'NC' }
export const IR = (description?: string | RegExp): Expectation =>
  description === undefined ? { outcome: 'IR' } : { outcome: 'IR', description }
export const IS = (scope: string): Expectation => ({ outcome: 'IS', scope })
export const FB: Expectation = { outcome: 'FB' }
export const TU: Expectation = { outcome: 'TU' }
export const ACCEPT = (id?: string, check?: (body: Body) => void): Expectation => ({
  outcome: 'ACCEPT',
  ...(id === undefined ? {} : { id }),
  ...(check === undefined ? {} : { check }),
})
export const ANON: Expectation = { outcome: 'ANON' }

/** One catalog row as a table entry: the probes it sends and what each must get. */
export interface Row {
  readonly id: string
  readonly what: string
  readonly expect: Expectation
  readonly probes: (catalog: Catalog) => readonly Probe[]
}

export type Body = Record<string, unknown>

export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: Body
  readonly text: string
}

/** A trusted key whose private half the tests hold. */
export interface HeldKey {
  readonly kid: string
  readonly privateKey: KeyObject
  readonly jwk: Record<string, unknown>
}

/** Where the catalog's roles come from, switchable to fail or hang (AUTHZ-08, AUTHZ-09). */
export interface SwitchableRoles extends RolesProvider {
  mode: 'claims' | 'throw' | 'hang'
  calls: number
}

/** Options of {@link createCatalog}. */
export interface CatalogOptions {
  /** Where jwtAuth and the key caches log; default none. */
  readonly logger?: Logger
}

/** Everything a row needs: issuers, keys, the attacker, and ways to send requests. */
export interface Catalog {
  /** The main issuer (`https://idp.catalog.test`), keys for every algorithm plus {@link held}. */
  readonly idp: TestIssuer
  /** A second issuer, found through OIDC discovery. */
  readonly other: TestIssuer
  /** An issuer whose key set must never be fetched: no token of it ever gets that far. */
  readonly cold: TestIssuer
  readonly held: HeldKey
  /** An attacker's server on 127.0.0.1: jku, x5u and kid URLs point at it. Its hits must stay 0. */
  readonly attacker: { readonly url: string; hits(): number }
  /** A key pair of the attacker (never published anywhere we trust). */
  readonly attackerKey: { readonly publicKey: KeyObject; readonly privateKey: KeyObject }
  readonly roles: SwitchableRoles
  /** Every URL oidc-guard fetched, in order. */
  readonly outbound: readonly string[]
  /** URLs oidc-guard may fetch: the configured JWKS and discovery URLs. */
  readonly allowed: ReadonlySet<string>
  /** How many times a route handler ran. */
  runs(): number
  /** The kid the issuer publishes for `alg`. */
  kidOf(alg: string): string
  send(probe: Probe): Promise<Answer>
  /** Writes raw bytes to the catalog's server and answers the status line's code. */
  sendRaw(bytes: string): Promise<number>
  close(): Promise<void>
}

/**
 * Starts the catalog: three issuers and an attacker on 127.0.0.1, and one app with a `jwtAuth` per
 * configuration under test (`/api` the defaults, `/strict` RFC 9068 mode, `/es` ES256 only,
 * `/small` an 8 KiB token cap, `/transports` query and form-body tokens).
 */
export async function createCatalog(options: CatalogOptions = {}): Promise<Catalog> {
  const [idp, other, cold, canary, { held, attackerKey }] = await Promise.all([
    createTestIssuer({
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['RS256', 'ES256', 'ES384', 'ES512', 'EdDSA'],
    }),
    createTestIssuer({ audience: AUDIENCE, algorithms: ['ES256'] }),
    createTestIssuer({ issuer: COLD_ISSUER, audience: AUDIENCE, algorithms: ['ES256'] }),
    startCanary(),
    (sharedKeys ??= generateSharedKeys()),
  ])
  idp.setJwks({ keys: [...idp.jwks().keys, held.jwk] })
  const outbound: string[] = []
  const recordingFetch = (input: string, init: RequestInit): Promise<Response> => {
    outbound.push(input)
    return globalThis.fetch(input, init)
  }
  const allowed = new Set([idp.jwksUri, other.discoveryUri, other.jwksUri, cold.jwksUri])
  const logger = options.logger
  const checks = {
    audience: AUDIENCE,
    clockToleranceSec: LEEWAY_SEC,
    fetch: recordingFetch,
    // The catalog's rows log what they provoke only where a row asks to read it.
    jwksCache: { logger: logger ?? (false as const) },
  }
  const main = new JwksProvider({ ...checks, issuer: ISSUER, jwksUri: idp.jwksUri })
  const discovered = new OidcProvider({
    ...checks,
    issuer: other.issuer,
    ...(logger === undefined ? {} : { logger }),
  })
  const coldProvider = new JwksProvider({ ...checks, issuer: COLD_ISSUER, jwksUri: cold.jwksUri })

  const roles = switchableRoles()
  let runs = 0
  const app = express()
  const base: JwtAuthOptions = {
    realm: REALM,
    logger: logger ?? false,
    groups: new ClaimGroupsProvider({ claim: 'groups' }),
    roles,
    permissions: new ClaimPermissionsProvider({ claim: 'permissions' }),
    sourceTimeoutMs: SOURCE_TIMEOUT_MS,
    sourceCache: false,
  }
  const handler = (req: ExpressRequest, res: ExpressResponse): void => {
    runs += 1
    res.json(describeUser(getCurrentUser(req)))
  }
  const mount = (prefix: string, auth: JwtAuthOptions): void => {
    app.use(prefix, jwtAuth({ ...base, ...auth }))
    app.get(`${prefix}/open`, handler)
    app.post(`${prefix}/open`, handler)
    app.get(`${prefix}/guarded`, requireUser(), handler)
    app.post(`${prefix}/guarded`, requireUser(), handler)
  }
  app.use('/transports', express.urlencoded({ extended: false }), express.json())
  app.use('/api', express.json())
  mount('/api', { providers: [main, discovered, coldProvider] })
  mount('/strict', {
    provider: new JwksProvider({
      ...checks,
      issuer: ISSUER,
      jwksUri: idp.jwksUri,
      algorithms: ['RS256'],
      typ: 'at+jwt',
      maxTokenAgeSec: 86_400,
      maxTokenLifetimeSec: 86_400,
      requiredClaims: ['iat'],
    }),
  })
  mount('/es', {
    provider: new JwksProvider({
      ...checks,
      issuer: ISSUER,
      jwksUri: idp.jwksUri,
      algorithms: ['ES256'],
    }),
  })
  mount('/small', { provider: main, maxTokenLength: 8 * 1024 })
  mount('/transports', { provider: main, tokenLocations: { query: true, formBody: true } })
  app.get('/api/scoped', requireScopes(['orders.read']), handler)
  app.get('/api/scoped-all', requireScopes(['read', 'write'], { match: 'all' }), handler)
  app.get('/api/grouped', requireGroups(['admin']), handler)
  app.get('/api/roled', requireRoles(['admin']), handler)
  app.get('/api/permitted', requirePermissions(['orders:read']), handler)
  app.get('/api/proto', requireUser(), (req, res) => {
    runs += 1
    const user = getCurrentUser(req)
    const probe: Record<string, unknown> = {}
    res.json({
      ...describeUser(user),
      claimAdmin: user.claims['admin'] ?? null,
      inheritedAdmin: (probe as { admin?: unknown }).admin ?? null,
      prototypePolluted: Object.prototype.hasOwnProperty.call(Object.prototype, 'admin'),
    })
  })

  const big = await listen(createServer({ maxHeaderSize: 4 * 1024 * 1024 }, app))
  const small = await listen(createServer(app))
  return {
    idp,
    other,
    cold,
    held,
    attacker: { url: canary.url, hits: canary.hits },
    attackerKey,
    roles,
    outbound,
    allowed,
    runs: () => runs,
    kidOf: (alg) => kidOf(idp, alg),
    send: (probe) => send(probe.defaultServer === true ? small : big, probe),
    sendRaw: (bytes) => sendRaw(big, bytes),
    close: async () => {
      await Promise.all([
        close(big),
        close(small),
        idp.close(),
        other.close(),
        cold.close(),
        canary.close(),
      ])
    },
  }
}

/** What a handler answers: who the user is, and enough of the claims to check last-wins reads. */
function describeUser(user: User): Body {
  return {
    handler: 'ran',
    id: user.id,
    isAuthenticated: user.isAuthenticated,
    provider: user.provider,
    scopes: [...user.scopes],
    claimSub: user.claims.sub ?? null,
  }
}

function switchableRoles(): SwitchableRoles {
  const source: SwitchableRoles = {
    mode: 'claims',
    calls: 0,
    fetchRoles(user, context) {
      source.calls += 1
      if (source.mode === 'throw') throw new Error('roles database unreachable')
      if (source.mode === 'hang') {
        return new Promise<readonly string[]>((_resolve, reject) => {
          context?.signal.addEventListener('abort', () => reject(new Error('aborted')))
        })
      }
      const roles = user.claims['roles']
      return Array.isArray(roles) ? roles.filter((role) => typeof role === 'string') : []
    },
  }
  return source
}

type KeyPair = { publicKey: KeyObject; privateKey: KeyObject }

// RSA keys are slow to make: the held and attacker keys are made once per process.
let sharedKeys: Promise<{ held: HeldKey; attackerKey: KeyPair }> | undefined

async function generateSharedKeys(): Promise<{ held: HeldKey; attackerKey: KeyPair }> {
  const generate = promisify(generateKeyPair)
  const [heldPair, attackerKey] = await Promise.all([
    generate('rsa', { modulusLength: 2048 }),
    generate('rsa', { modulusLength: 2048 }),
  ])
  const jwk = {
    ...heldPair.publicKey.export({ format: 'jwk' }),
    kid: HELD_KID,
    alg: 'RS256',
    use: 'sig',
  }
  return { held: { kid: HELD_KID, privateKey: heldPair.privateKey, jwk }, attackerKey }
}

function kidOf(idp: TestIssuer, alg: string): string {
  const key = idp.jwks().keys.find((jwk) => jwk['alg'] === alg && jwk['kid'] !== HELD_KID)
  if (typeof key?.['kid'] !== 'string') throw new Error(`the catalog issuer has no ${alg} key`)
  return key['kid']
}

async function listen(server: Server): Promise<Server> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port
}

function send(server: Server, probe: Probe): Promise<Answer> {
  const headers: Record<string, string | string[]> = { ...probe.headers }
  if (probe.authorization !== undefined) {
    headers['authorization'] =
      typeof probe.authorization === 'string' ? probe.authorization : [...probe.authorization]
  }
  if (probe.body !== undefined) headers['content-length'] = String(Buffer.byteLength(probe.body))
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: portOf(server),
        method: probe.method ?? 'GET',
        path: probe.path ?? '/api/guarded',
        headers,
        agent: false,
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parse(text), text }),
        )
      },
    )
    req.on('error', reject)
    req.end(probe.body)
  })
}

function parse(text: string): Body {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? (value as Body) : {}
  } catch {
    return {}
  }
}

function sendRaw(server: Server, bytes: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(portOf(server), '127.0.0.1')
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)))
    socket.end(Buffer.from(bytes, 'latin1'))
  })
}

/** Fakes only `Date`, at the catalog's instant: sockets and time-outs keep real timers. */
export function freezeClock(at = NOW_MS): void {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(at)
}

/** Sends every probe of a row and asserts the row's outcome on each, plus the rules every row obeys. */
export async function runRow(catalog: Catalog, row: Row, seen?: Set<string>): Promise<void> {
  for (const [index, probe] of row.probes(catalog).entries()) {
    const label = `${row.id} probe ${index + 1}${probe.label === undefined ? '' : ` (${probe.label})`}`
    await runProbe(catalog, probe, probe.expect ?? row.expect, label, seen)
  }
}

/** Sends one probe and asserts its outcome, the handler runs, and the network it caused. */
export async function runProbe(
  catalog: Catalog,
  probe: Probe,
  expectation: Expectation,
  label: string,
  seen?: Set<string>,
): Promise<Answer> {
  const runsBefore = catalog.runs()
  const outboundBefore = catalog.outbound.length
  probe.before?.(catalog)
  let answer: Answer
  try {
    answer = await catalog.send(probe)
  } finally {
    probe.after?.(catalog)
  }
  const description = answer.body['error_description']
  if (typeof description === 'string') seen?.add(description)
  expect(answer.status, `${label}: never a 500`).not.toBe(500)
  expect(answer.headers['set-cookie'], `${label}: no header injected`).toBeUndefined()
  assertOutcome(answer, expectation, label)
  const ran = catalog.runs() - runsBefore
  const runsExpected = expectation.outcome === 'ACCEPT' || expectation.outcome === 'ANON' ? 1 : 0
  expect(ran, `${label}: handler runs`).toBe(runsExpected)
  expect(catalog.attacker.hits(), `${label}: the attacker's server was called`).toBe(0)
  const fetched = catalog.outbound.slice(outboundBefore)
  for (const url of fetched) {
    expect(catalog.allowed.has(url), `${label}: fetched ${url}`).toBe(true)
  }
  if (probe.offline === true) expect(fetched, `${label}: no outbound request`).toEqual([])
  expect(catalog.cold.counts.jwks, `${label}: the cold issuer's keys were fetched`).toBe(0)
  assertNothingEchoed(answer, probe, label)
  return answer
}

function assertOutcome(answer: Answer, expectation: Expectation, label: string): void {
  const challenge = answer.headers['www-authenticate']
  const { body } = answer
  switch (expectation.outcome) {
    case 'IT':
    case 'IR': {
      const [status, error] =
        expectation.outcome === 'IT' ? [401, 'invalid_token'] : [400, 'invalid_request']
      expect(answer.status, `${label}: status`).toBe(status)
      const pattern = new RegExp(
        `^Bearer realm="${REALM}", error="${error}", error_description="(${SAFE_TEXT}+)"$`,
      )
      expect(challenge, `${label}: challenge`).toMatch(pattern)
      expect(body['error'], `${label}: body error`).toBe(error)
      const text = pattern.exec(String(challenge))?.[1]
      expect(body['error_description'], `${label}: description in body and challenge`).toBe(text)
      if (expectation.description !== undefined) {
        expect(body['error_description'], `${label}: description`).toMatch(
          typeof expectation.description === 'string'
            ? new RegExp(`^${escape(expectation.description)}$`)
            : expectation.description,
        )
      }
      return
    }
    case 'NC':
      expect(answer.status, `${label}: status`).toBe(401)
      expect(challenge, `${label}: bare challenge`).toBe(`Bearer realm="${REALM}"`)
      expect(body, `${label}: body`).toEqual({
        error: 'unauthorized',
        error_description: 'authentication required',
      })
      return
    case 'IS':
      expect(answer.status, `${label}: status`).toBe(403)
      expect(challenge, `${label}: challenge`).toBe(
        `Bearer realm="${REALM}", error="insufficient_scope", error_description="the token lacks a required scope", scope="${expectation.scope}"`,
      )
      expect(body['error'], `${label}: body`).toBe('insufficient_scope')
      return
    case 'FB':
      expect(answer.status, `${label}: status`).toBe(403)
      expect(challenge, `${label}: no challenge`).toBeUndefined()
      expect(body['error'], `${label}: body`).toBe('forbidden')
      return
    case 'TU':
      expect(answer.status, `${label}: status`).toBe(503)
      expect(answer.headers['retry-after'], `${label}: Retry-After`).toMatch(/^\d+$/)
      expect(challenge, `${label}: no challenge`).toBeUndefined()
      expect(body['error'], `${label}: body`).toBe('temporarily_unavailable')
      return
    case 'ACCEPT':
      expect(answer.status, `${label}: status (${answer.text})`).toBe(200)
      expect(body['isAuthenticated'], `${label}: authenticated`).toBe(true)
      if (expectation.id !== undefined) expect(body['id'], `${label}: id`).toBe(expectation.id)
      expectation.check?.(body)
      return
    case 'ANON':
      expect(answer.status, `${label}: status`).toBe(200)
      expect(body['isAuthenticated'], `${label}: anonymous`).toBe(false)
      return
    case 'NODE':
      expect(answer.status, `${label}: Node's own answer`).toBe(expectation.status)
      return
  }
}

/** The response carries nothing taken from the credentials: no token, no segment of one. */
function assertNothingEchoed(answer: Answer, probe: Probe, label: string): void {
  const values =
    probe.authorization === undefined
      ? []
      : typeof probe.authorization === 'string'
        ? [probe.authorization]
        : probe.authorization
  const response = `${JSON.stringify(answer.headers)}\n${answer.text}`
  for (const value of values) {
    for (const part of value.split(/[\s.,]+/)) {
      if (part.length > 12) expect(response.includes(part), `${label}: echoed ${part}`).toBe(false)
    }
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** `base64url` of a string or JSON value. */
export function b64(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return Buffer.from(text, 'utf8').toString('base64url')
}

/** The three segments of a compact token. */
export function segments(token: string): [string, string, string] {
  const [header = '', payload = '', signature = ''] = token.split('.')
  return [header, payload, signature]
}

/** The token with its signature replaced by these bytes. */
export function withSignature(token: string, signature: Buffer): string {
  const [header, payload] = segments(token)
  return `${header}.${payload}.${signature.toString('base64url')}`
}

/**
 * Signs exactly these header and payload bytes with the held key (RS256): for tokens no JSON
 * serializer would write (duplicate members, invalid UTF-8).
 */
export function signHeld(
  catalog: Catalog,
  header: string | Buffer,
  payload: string | Buffer,
): string {
  const input = `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`
  const signature = cryptoSign('sha256', Buffer.from(input), catalog.held.privateKey)
  return `${input}.${signature.toString('base64url')}`
}

/** The payload text of the catalog's default claims at {@link NOW}, as JSON members without braces. */
export function defaultMembers(catalog: Catalog, issuer = ISSUER): string {
  return `"iss":${JSON.stringify(issuer)},"aud":${JSON.stringify(catalog.idp.audience)},"iat":${NOW},"exp":${NOW + 3600},"jti":"${randomBytes(6).toString('hex')}"`
}

/** `Bearer <token>` */
export const bearer = (token: string): string => `Bearer ${token}`

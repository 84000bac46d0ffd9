// The test issuer's HTTP side: its routes, its server on 127.0.0.1, and answers shaped as a real
// fetch's (refusals included) for its in-memory fetch.

import { once } from 'node:events'
import { createServer, type Server } from 'node:http'

/** A route the issuer serves. */
export type Route = 'jwks' | 'discovery'

/** An answer of a route, before it is sent or made a Response. */
export interface Answer {
  status: number
  headers: Record<string, string>
  body: string
}

/** The issuer's routes, by path under its base URL. */
export const ROUTES = new Map<string, Route>([
  ['/.well-known/jwks.json', 'jwks'],
  ['/.well-known/openid-configuration', 'discovery'],
])
export const ROUTE_NAMES = new Set<string>(ROUTES.values())
// The Response constructor refuses a body with these statuses.
const NULL_BODY_STATUSES = new Set([204, 205, 304])
export const NOT_FOUND: Answer = {
  status: 404,
  headers: { 'content-type': 'application/json' },
  body: '{"error":"not_found"}',
}

/**
 * The URLs the routes are served under: the issuer's base URL, and the issuer itself when it is
 * one, so that `${issuer}/.well-known/openid-configuration` works in memory.
 */
export function baseUrls(url: string, issuer: string): URL[] {
  const bases = [new URL(url)]
  try {
    const fromIssuer = new URL(issuer)
    if (fromIssuer.protocol === 'http:' || fromIssuer.protocol === 'https:') bases.push(fromIssuer)
  } catch {
    // Not a URL (an issuer can be any string): nothing more to serve.
  }
  return bases
}

/** A server listening on 127.0.0.1 (`port` 0: a free one). */
export async function listen(port: number): Promise<Server> {
  const server = createServer()
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  return server
}

/** The TCP port `server` listens on. */
export function portOf(server: Server): number {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('server has no TCP port')
  return address.port
}

/** `answer` as the Response a fetch of `target` would give. */
export function toResponse(answer: Answer, target: URL): Response {
  const body = NULL_BODY_STATUSES.has(answer.status) ? null : answer.body
  const response = new Response(body, { status: answer.status, headers: answer.headers })
  // A constructed Response has url ''; a real fetch reports where the answer came from.
  Object.defineProperty(response, 'url', { value: target.href })
  return response
}

/** The TypeError undici rejects with when a request fails (`cause.code` says how). */
export function fetchFailed(message: string, code: string): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) })
}

/** undici's rejection for a connection closed before an answer. */
export function socketClosed(): TypeError {
  return fetchFailed('other side closed', 'UND_ERR_SOCKET')
}

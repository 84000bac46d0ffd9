// A fake Microsoft Graph on 127.0.0.1: getMemberObjects for users and service principals, with paging.

import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request the fake received. */
export interface FakeGraphRequest {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
  readonly body: unknown
}

/** How the fake misbehaves, until told otherwise. */
export interface FakeGraphFailure {
  status?: number
  retryAfter?: string
  /** Answer this body with a 200 (malformed answers). */
  body?: unknown
  /** Never answer. */
  hang?: boolean
}

export interface FakeGraphOptions {
  /** The only bearer token accepted. */
  token: string
  /** Memberships (group ids) by user or service principal object id. */
  members: Readonly<Record<string, readonly string[]>>
  /** Ids per page; more are answered with `@odata.nextLink`. Default: all in one page. */
  pageSize?: number
}

export interface FakeGraph {
  /** `http://127.0.0.1:<port>`, the `graphEndpoint`. */
  readonly endpoint: string
  readonly requests: readonly FakeGraphRequest[]
  fail(failure: FakeGraphFailure | undefined): void
  /** Where `@odata.nextLink` points (to test links off the configured origin). Default: the fake. */
  setNextLinkOrigin(origin: string | undefined): void
  close(): Promise<void>
}

const ROUTE = /^\/v1\.0\/(users|servicePrincipals)\/([^/]+)\/getMemberObjects$/

function send(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(typeof body === 'string' ? body : JSON.stringify(body))
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Starts the fake; close it when done. */
export async function startFakeGraph(options: FakeGraphOptions): Promise<FakeGraph> {
  const requests: FakeGraphRequest[] = []
  let failure: FakeGraphFailure | undefined
  let nextOrigin: string | undefined
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const body = await readBody(req)
      const authorization = req.headers.authorization
      requests.push({
        method: req.method ?? '',
        path: `${url.pathname}${url.search}`,
        authorization,
        body,
      })
      if (failure?.hang === true) return
      if (failure !== undefined) {
        const headers =
          failure.retryAfter === undefined ? {} : { 'retry-after': failure.retryAfter }
        return send(
          res,
          failure.status ?? 200,
          failure.body ?? { error: { code: 'failure' } },
          headers,
        )
      }
      const match = ROUTE.exec(url.pathname)
      if (match === null) return send(res, 404, { error: { code: 'Request_ResourceNotFound' } })
      if (authorization !== `Bearer ${options.token}`) {
        return send(res, 401, { error: { code: 'InvalidAuthenticationToken' } })
      }
      const first = req.method === 'POST'
      if (
        first &&
        typeof (body as { securityEnabledOnly?: unknown })?.securityEnabledOnly !== 'boolean'
      ) {
        return send(res, 400, { error: { code: 'Request_BadRequest' } })
      }
      if (!first && req.method !== 'GET') return send(res, 405, { error: { code: 'BadRequest' } })
      const ids = options.members[match[2]!]
      if (ids === undefined) return send(res, 404, { error: { code: 'Request_ResourceNotFound' } })
      const size = options.pageSize ?? ids.length
      const page = Number(url.searchParams.get('$skiptoken') ?? '0')
      const value = ids.slice(page * size, (page + 1) * size)
      const more = (page + 1) * size < ids.length
      const origin = nextOrigin ?? endpoint
      const nextLink = `${origin}${url.pathname}?$skiptoken=${page + 1}`
      return send(res, 200, {
        '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)',
        value,
        ...(more ? { '@odata.nextLink': nextLink } : {}),
      })
    })().catch(() => res.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    endpoint,
    requests,
    fail: (value) => {
      failure = value
    },
    setNextLinkOrigin: (origin) => {
      nextOrigin = origin
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

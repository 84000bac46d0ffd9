// HTTP test helpers: apps on Express 4 and 5, a canary server, raw requests with repeated headers.

import express from 'express'
import express4 from 'express4'
import type { Express, RequestHandler } from 'express'
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { getCurrentUser } from '../../src/index.js'

/** Both Express majors the package supports; HTTP suites run against each. */
export const EXPRESS_MAJORS: readonly [string, () => Express][] = [
  ['express 5', () => express()],
  ['express 4', () => express4() as unknown as Express],
]

/** A route handler that records that it ran and answers with who the user is. */
export function whoAmI(): RequestHandler {
  return (req, res) => {
    const user = getCurrentUser(req)
    res.status(200).json({
      handler: 'ran',
      id: user.id,
      isAuthenticated: user.isAuthenticated,
      provider: user.provider,
    })
  }
}

/** A server on 127.0.0.1 that counts the requests it receives and answers with `handler`. */
export async function startCountingServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; readonly hits: number; close: () => Promise<void> }> {
  let hits = 0
  const server: Server = createServer((req, res) => {
    hits += 1
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get hits() {
      return hits
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A server that counts every request it receives: an attacker's URL that must never be called. */
export async function startCanary(): Promise<{
  url: string
  hits: () => number
  close: () => Promise<void>
}> {
  const server = await startCountingServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}')
  })
  return { url: server.url, hits: () => server.hits, close: server.close }
}

/** Sends a GET with each header value as its own header line (supertest folds repeated headers). */
export async function rawGet(
  app: Express,
  path: string,
  headers: Record<string, string | string[]>,
): Promise<{
  status: number
  headers: Record<string, string | string[] | undefined>
  body: unknown
}> {
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  try {
    return await new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: JSON.parse(text || 'null'),
          }),
        )
      })
      req.on('error', reject)
      req.end()
    })
  } finally {
    server.close()
  }
}

/** Writes 64 KiB chunks for as long as the client reads. */
export function endlessBody(res: ServerResponse): void {
  const chunk = Buffer.alloc(64 * 1024, 0x20)
  res.writeHead(200, { 'content-type': 'application/json' })
  const pump = (): void => {
    while (!res.destroyed && res.write(chunk)) {
      // keep writing until the socket buffer is full
    }
    if (!res.destroyed) res.once('drain', pump)
  }
  pump()
}

// A keep-alive HTTP client for floods against an app on 127.0.0.1, without a server per request.

import type { Express } from 'express'
import { Agent, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One answer: the status and the parsed JSON body (`{}` when there is none). */
export interface Reply {
  readonly status: number
  readonly body: Record<string, unknown>
  readonly headers: Record<string, string | string[] | undefined>
}

/** A listening app and a client for it; `close()` ends both. */
export interface AppClient {
  get(path: string, authorization?: string): Promise<Reply>
  /** Sends every request, `concurrency` at a time, and answers in order. */
  all(
    requests: readonly (readonly [string, string | undefined])[],
    concurrency?: number,
  ): Promise<Reply[]>
  close(): Promise<void>
}

/** Listens on 127.0.0.1 and returns a client with a keep-alive agent. */
export async function serve(app: Express): Promise<AppClient> {
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening))
  })
  const { port } = server.address() as AddressInfo
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  const get = (path: string, authorization?: string): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const headers = authorization === undefined ? {} : { authorization }
      const req = request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          let body: Record<string, unknown> = {}
          try {
            body = JSON.parse(text) as Record<string, unknown>
          } catch {
            // Not JSON (Node's own 4xx answers): an empty body.
          }
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers })
        })
      })
      req.on('error', reject)
      req.end()
    })
  return {
    get,
    async all(requests, concurrency = 32) {
      const replies: Reply[] = new Array(requests.length)
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < requests.length) {
          const index = next
          next += 1
          const [path, authorization] = requests[index]!
          replies[index] = await get(path, authorization)
        }
      }
      await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker))
      return replies
    },
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

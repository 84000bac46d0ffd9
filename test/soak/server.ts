// The soak's server: one app behind jwtAuth in its own process, reporting its memory over IPC.

import express from 'express'
import type { AddressInfo } from 'node:net'
import {
  getCurrentUser,
  JwksCache,
  jwtAuth,
  requireGroups,
  requireScopes,
  requireUser,
} from '../../src/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { ClaimGroupsProvider } from '../../providers/claims/index.js'

/** What the server tells the driver. */
export type ServerMessage =
  | { readonly type: 'ready'; readonly port: number }
  | {
      readonly type: 'sample'
      readonly at: number
      readonly rss: number
      readonly heapUsed: number
      readonly external: number
      readonly jwksFetches: number
    }

const [issuer, jwksUri, audience, sampleMs = '1000'] = process.argv.slice(2)
if (issuer === undefined || jwksUri === undefined || audience === undefined || !process.send) {
  throw new Error(
    'usage: forked by test/soak/soak.ts with <issuer> <jwksUri> <audience> [sampleMs]',
  )
}

let jwksFetches = 0
const provider = new JwksProvider({
  issuer,
  jwksUri,
  audience,
  jwksCache: new JwksCache({
    fetch: (input, init) => {
      jwksFetches += 1
      return globalThis.fetch(input, init)
    },
  }),
})

const app = express()
app.use(jwtAuth({ provider, logger: false, groups: new ClaimGroupsProvider() }))
const answer: express.RequestHandler = (req, res) => {
  res.json({ id: getCurrentUser(req).id })
}
app.get('/open', answer)
app.get('/guarded', requireUser(), answer)
app.get('/scoped', requireScopes(['orders.read']), answer)
app.get('/grouped', requireGroups(['admin']), answer)

const send = (message: ServerMessage): void => {
  process.send?.(message)
}

const server = app.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: (server.address() as AddressInfo).port })
})
server.keepAliveTimeout = 30_000

const sampler = setInterval(() => {
  const { rss, heapUsed, external } = process.memoryUsage()
  send({ type: 'sample', at: Date.now(), rss, heapUsed, external, jwksFetches })
}, Number(sampleMs))

process.on('disconnect', () => {
  clearInterval(sampler)
  server.closeAllConnections()
  server.close(() => process.exit(0))
})

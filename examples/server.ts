// `npm start`: runs the example API and its browser page, and prints curl commands that work as
// printed. With AUTH_PROVIDER set (and the provider's variables), the same API runs against your
// real identity provider instead of the embedded local issuer.

import type { AddressInfo } from 'node:net'
import { fromEnv, jwtAuth } from '../src/index.js'
import {
  createExampleApp,
  curlFor,
  exampleSources,
  exitIfPortInUse,
  listenOn,
  startExample,
} from './app.js'

const port = Number(process.env['PORT'] ?? 3000)
// Blank counts as unset, as fromEnv() reads it: `AUTH_PROVIDER=` runs the local issuer.
const provider = process.env['AUTH_PROVIDER']?.trim() ?? ''

if (provider !== '') {
  const app = createExampleApp(jwtAuth({ ...exampleSources, ...fromEnv() }))
  const server = await listenOn(app, port).catch(exitIfPortInUse)
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  console.log(`oidc-guard example API on ${url}, verifying tokens of ${provider}`)
  console.log(`Try: curl -i -H "Authorization: Bearer $TOKEN" ${url}/me`)
} else {
  // Without PAGE_PORT the page takes the port after PORT (3001 by default), or a free one.
  const pagePort = process.env['PAGE_PORT']
  const example = await startExample(
    port,
    pagePort === undefined ? {} : { pagePort: Number(pagePort) },
  ).catch(exitIfPortInUse)
  console.log(`oidc-guard example API on ${example.url} (local issuer ${example.issuer.issuer})`)
  console.log(`Open ${example.pageUrl} in a browser to sign in as a user and call the API.\n`)
  for (const call of example.calls) {
    console.log(`# ${call.title}: expect ${call.expectedStatus}`)
    console.log(`${curlFor(example.url, call)}\n`)
  }
  console.log('Press Ctrl+C to stop.')
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void example.close().then(() => process.exit(0))
    })
  }
}

// `npm start`: runs the example API and its browser page, and prints curl commands that work as printed.

import { curlFor, startExample } from './app.js'

const example = await startExample(Number(process.env['PORT'] ?? 3000), {
  pagePort: Number(process.env['PAGE_PORT'] ?? 3001),
})

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

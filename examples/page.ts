// The example's browser page, served from its own origin: a development login that mints a token
// for a chosen user, and buttons that call the API cross-origin with it (CORS preflight included).

import express, { type Express } from 'express'

/** The calls the page makes, in order. */
export const PAGE_CALLS: ReadonlyArray<readonly [method: string, path: string]> = [
  ['GET', '/public'],
  ['GET', '/me'],
  ['GET', '/orders'],
  ['POST', '/orders'],
  ['GET', '/admin'],
  ['DELETE', '/orders/42'],
  ['GET', '/jobs'],
]

const USERS = ['alice', 'ada', 'billing-job'] as const

function page(apiUrl: string): string {
  const buttons = USERS.map((user) => `<button data-user="${user}">${user}</button>`).join(' ')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>oidc-guard example</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 2rem; max-width: 60rem; }
  table { border-collapse: collapse; margin-top: 1rem; }
  td, th { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
  td.s2 { background: #e6f7e6; } td.s4 { background: #fdecea; } td.s5 { background: #fff4d6; }
  pre { background: #f6f6f6; padding: .6rem; max-height: 14rem; overflow: auto; }
</style>
</head>
<body>
<h1>oidc-guard example</h1>
<p>API: <code id="api">${apiUrl}</code> (another origin: every call with a token is preceded by a CORS preflight)</p>
<p>Sign in as ${buttons} <button id="signout">sign out</button> <button id="run">call the API</button></p>
<p id="who">Not signed in</p>
<h2>Token claims (decoded here, verified by the API)</h2>
<pre id="claims">none</pre>
<h2>Answers</h2>
<table><thead><tr><th>call</th><th>status</th><th>answer</th></tr></thead><tbody id="results"></tbody></table>
<script>
const API = ${JSON.stringify(apiUrl)}
const CALLS = ${JSON.stringify(PAGE_CALLS)}
let token
function decode(jwt) {
  const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
  return JSON.parse(atob(part))
}
async function signIn(user) {
  const res = await fetch('/dev/login?user=' + encodeURIComponent(user))
  token = (await res.json()).token
  document.getElementById('who').textContent = 'Signed in as ' + user
  document.getElementById('claims').textContent = JSON.stringify(decode(token), null, 2)
  await run()
}
function signOut() {
  token = undefined
  document.getElementById('who').textContent = 'Not signed in'
  document.getElementById('claims').textContent = 'none'
  return run()
}
async function run() {
  document.body.dataset.state = 'running'
  const results = document.getElementById('results')
  results.replaceChildren()
  for (const [method, path] of CALLS) {
    const headers = token ? { Authorization: 'Bearer ' + token } : {}
    let status, text
    try {
      const res = await fetch(API + path, { method, headers })
      status = String(res.status)
      text = await res.text()
    } catch (error) {
      status = 'network error'
      text = String(error)
    }
    const row = document.createElement('tr')
    row.dataset.call = method + ' ' + path
    for (const [value, cls] of [[method + ' ' + path, ''], [status, 's' + status[0]], [text, '']]) {
      const cell = document.createElement('td')
      cell.textContent = value
      if (cls) cell.className = cls
      row.append(cell)
    }
    row.dataset.status = status
    results.append(row)
  }
  document.body.dataset.state = 'done'
}
for (const button of document.querySelectorAll('[data-user]')) {
  button.addEventListener('click', () => signIn(button.dataset.user))
}
document.getElementById('signout').addEventListener('click', signOut)
document.getElementById('run').addEventListener('click', run)
</script>
</body>
</html>
`
}

/**
 * The page's server. `/dev/login?user=…` mints a token for one of the example's users: a
 * development stand-in for a real sign-in, which only the embedded local issuer can do.
 */
export function createExamplePage(options: {
  mint: (user: (typeof USERS)[number]) => string
  apiUrl: () => string
}): Express {
  const app = express()
  app.get('/', (_req, res) => {
    res.type('html').send(page(options.apiUrl()))
  })
  app.get('/dev/login', (req, res) => {
    const user = USERS.find((candidate) => candidate === req.query['user'])
    if (user === undefined) {
      res.status(400).json({ error: `user must be one of ${USERS.join(', ')}` })
      return
    }
    res.json({ token: options.mint(user) })
  })
  return app
}

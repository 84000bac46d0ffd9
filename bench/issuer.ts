// The benchmark's identity provider process: a local issuer on 127.0.0.1, and a control port that
// mints token pools, serves each server its own JWKS URI and counts the fetches made through each.

import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import { createTestIssuer, type TestIssuer } from '../src/testing.js'
import {
  ALGORITHMS,
  AUDIENCE,
  READY_PREFIX,
  SIGNED_BAD_KINDS,
  type Algorithm,
  type SignedBadKind,
} from './shared.js'

/** What the issuer process prints once it serves. */
export interface IssuerReady {
  issuer: string
  jwksUri: string
  control: string
}

// An attacker's keys: tokens signed with them carry the issuer's kid (forged) or a made-up one.
const ATTACKER = {
  RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  ES256: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
}

// An issuer no server trusts (the servers are given the local issuer's URL).
const ANOTHER_ISSUER = 'https://another-issuer.example/'

function isAlgorithm(value: string | null): value is Algorithm {
  return value !== null && (ALGORITHMS as readonly string[]).includes(value)
}

/** One token of `kind`, distinct from every other one this process mints (random jti). */
function mintOne(
  issuer: TestIssuer,
  kind: 'valid' | SignedBadKind,
  alg: Algorithm,
  index: number,
): string {
  // A realistic access token: a user, two scopes and a client, besides iss/aud/iat/exp/jti.
  const claims = { sub: `user-${index}`, scope: 'read write', client_id: 'bench-client' }
  switch (kind) {
    case 'valid':
      return issuer.mint(claims, { alg, expiresInSec: 24 * 3600 })
    case 'expired':
      return issuer.mint(claims, { alg, expiresInSec: -600 })
    case 'not-yet-valid': {
      // Signed by the issuer and unexpired, but not valid for another hour (nbf, RFC 7519 §4.1.5).
      const nbf = Math.floor(Date.now() / 1000) + 3600
      return issuer.mint({ ...claims, nbf }, { alg, expiresInSec: 24 * 3600 })
    }
    case 'wrong-issuer':
      // Signed with the issuer's key, but naming another issuer: only an iss check refuses it.
      return issuer.mint({ ...claims, iss: ANOTHER_ISSUER }, { alg, expiresInSec: 24 * 3600 })
    case 'wrong-audience':
      return issuer.mint({ ...claims, aud: 'api://another-api' }, { alg })
    case 'forged':
      return issuer.mint({ ...claims, scope: 'admin' }, { alg, key: ATTACKER[alg] })
    case 'unknown-kid': {
      const kid = `forged-${randomBytes(6).toString('base64url')}`
      return issuer.mint(claims, { alg, key: ATTACKER[alg], kid })
    }
    case 'alg-none':
      return issuer.mint(claims, { alg: 'none', kid: null })
    case 'hs256-confusion': {
      // Key confusion: HMAC keyed with the issuer's published public key (RFC 8725 §2.1).
      const jwk = issuer.jwks().keys.find((key) => key['alg'] === alg)
      return issuer.mint(claims, { alg: 'HS256', hmacSecret: JSON.stringify(jwk) })
    }
  }
}

/** Streams `count` tokens, one per line, yielding to the event loop between chunks. */
async function streamTokens(
  res: ServerResponse,
  issuer: TestIssuer,
  kind: 'valid' | SignedBadKind,
  alg: Algorithm,
  count: number,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/plain' })
  const chunk = 500
  for (let start = 0; start < count; start += chunk) {
    const lines: string[] = []
    for (let index = start; index < Math.min(count, start + chunk); index += 1) {
      lines.push(mintOne(issuer, kind, alg, index))
    }
    if (!res.write(`${lines.join('\n')}\n`)) await once(res, 'drain')
  }
  res.end()
}

// JWKS fetches by the name in the path (/jwks/<name>): the servers of a round run side by side,
// so each is given its own URI and its fetches are counted apart.
const fetchesBy = new Map<string, number>()

async function control(issuer: TestIssuer, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1')
  const json = { 'content-type': 'application/json' }
  if (url.pathname.startsWith('/jwks/')) {
    const name = url.pathname.slice('/jwks/'.length)
    fetchesBy.set(name, (fetchesBy.get(name) ?? 0) + 1)
    res.writeHead(200, json).end(JSON.stringify(issuer.jwks()))
    return
  }
  if (url.pathname === '/counts') {
    res.writeHead(200, json).end(JSON.stringify(Object.fromEntries(fetchesBy)))
    return
  }
  if (url.pathname === '/reset') {
    fetchesBy.clear()
    res.writeHead(204).end()
    return
  }
  if (url.pathname === '/tokens') {
    const kind = url.searchParams.get('kind') ?? 'valid'
    const alg = url.searchParams.get('alg')
    const count = Number(url.searchParams.get('count') ?? '1')
    const known = kind === 'valid' || (SIGNED_BAD_KINDS as readonly string[]).includes(kind)
    if (known && isAlgorithm(alg) && Number.isInteger(count) && count > 0) {
      await streamTokens(res, issuer, kind as 'valid' | SignedBadKind, alg, count)
      return
    }
  }
  res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request')
}

const issuer = await createTestIssuer({ audience: AUDIENCE, algorithms: ALGORITHMS })
const server = createServer((req, res) => {
  control(issuer, req, res).catch((error: unknown) => {
    console.error(error)
    res.destroy()
  })
})
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const address = server.address()
if (address === null || typeof address === 'string') throw new Error('control server has no port')
const ready: IssuerReady = {
  issuer: issuer.issuer,
  jwksUri: issuer.jwksUri,
  control: `http://127.0.0.1:${address.port}`,
}
console.log(`${READY_PREFIX}${JSON.stringify(ready)}`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close()
    server.closeAllConnections()
    void issuer.close().then(() => process.exit(0))
  })
}

// The cost of the revocation check on the hot path: one repeated token, no store vs the in-process
// store vs the Redis store (against the local Redis), through the verifier or through HTTP.
// Run it: node --import tsx bench/revocation.ts [--http] [--seconds 2] [--rounds 5] [--verbose]
// Needs Redis on 127.0.0.1:6379 (AUTH_REDIS_URL to use another). Each measurement runs in a
// process of its own, so one setup's JIT state never slows another's; rounds interleave setups.

import { execFile } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import express from 'express'
import {
  createVerifier,
  jwtAuth,
  MemoryRevocationStore,
  type RevocationStore,
  type VerifiedToken,
} from '../src/index.js'
import { createTestIssuer, type TestIssuer } from '../src/testing.js'
import { JwksProvider } from '../providers/jwks/index.js'
import { RedisRevocationStore } from '../providers/redis/index.js'

const SETUPS = ['no revocation store', 'MemoryRevocationStore', 'RedisRevocationStore'] as const
type SetupName = (typeof SETUPS)[number]
const ISSUER = 'https://bench.example'

const { values } = parseArgs({
  options: {
    http: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    revocations: { type: 'string', default: '1000' },
    child: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    prefix: { type: 'string' },
  },
})
const seconds = Number(values.seconds)
const revocationCount = Number(values.revocations)
const redisUrl = process.env['AUTH_REDIS_URL'] ?? 'redis://127.0.0.1:6379'

interface Measurement {
  readonly rate: number
  readonly checkNs?: number
}

function provider(idp: TestIssuer): JwksProvider {
  return new JwksProvider({
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    audience: idp.audience,
    fetch: idp.fetch,
  })
}

/** Verifications per second of one repeated token, the way jwtAuth calls the verifier. */
async function verifierRate(
  idp: TestIssuer,
  store: RevocationStore | undefined,
  token: string,
): Promise<number> {
  const verify = createVerifier({
    provider: provider(idp),
    logger: false,
    ...(store === undefined ? {} : { revocation: store }),
  })
  await verify(token) // verified once; every call after is the remembered-token path
  let calls = 0
  const ms = seconds * 1_000
  const end = performance.now() + ms
  while (performance.now() < end) {
    // Batches keep the clock out of the measurement.
    for (let index = 0; index < 1_000; index += 1) {
      if (verify.fromCache(token) === undefined) await verify(token)
    }
    calls += 1_000
  }
  return (calls * 1_000) / ms
}

/** Requests per second of an Express route behind jwtAuth, measured with autocannon. */
async function httpRate(
  idp: TestIssuer,
  store: RevocationStore | undefined,
  token: string,
): Promise<number> {
  const app = express()
  const options = { provider: provider(idp), logger: false as const }
  app.use(jwtAuth(store === undefined ? options : { ...options, revocation: store }))
  app.get('/', (_req, res) => res.json({ ok: true }))
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections: 50,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
  })
  server.closeAllConnections()
  server.close()
  if (result.non2xx > 0 || result.errors > 0) throw new Error('failed requests')
  return result.requests.average
}

/** Nanoseconds of one `isRevoked` of a token no entry covers (the common case). */
function checkNs(store: RevocationStore, token: string): number {
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))
  const verified: VerifiedToken = { token, header: { alg: 'RS256' }, claims }
  let calls = 0
  const end = performance.now() + 500
  while (performance.now() < end) {
    for (let index = 0; index < 10_000; index += 1) store.isRevoked(verified)
    calls += 10_000
  }
  return (500 * 1e6) / calls
}

/** One measurement, in this (child) process. */
async function measure(name: SetupName, prefix: string): Promise<Measurement> {
  const idp = await createTestIssuer({ listen: false, issuer: ISSUER })
  let store: RevocationStore | undefined
  let redis: RedisRevocationStore | undefined
  if (name === 'MemoryRevocationStore') {
    const memory = new MemoryRevocationStore()
    for (let index = 0; index < revocationCount; index += 1) {
      memory.revokeToken(`other-${index}`)
      memory.revokeSubject(ISSUER, `someone-${index}`)
    }
    store = memory
  } else if (name === 'RedisRevocationStore') {
    redis = new RedisRevocationStore({ url: redisUrl, prefix })
    await redis.ready(5_000) // loads the revocations the parent stored
    store = redis
  }
  const token = idp.mint({ sub: 'alice', jti: 'the-repeated-one' })
  try {
    const rate = values.http
      ? await httpRate(idp, store, token)
      : await verifierRate(idp, store, token)
    return store === undefined ? { rate } : { rate, checkNs: checkNs(store, token) }
  } finally {
    await redis?.close()
    await idp.close()
  }
}

function runChild(name: SetupName, prefix: string): Promise<Measurement> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', name]
  args.push('--prefix', prefix, '--seconds', String(seconds))
  args.push('--revocations', String(revocationCount))
  if (values.http) args.push('--http')
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, (error, stdout) => {
      if (error) return reject(error)
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Measurement)
    })
  })
}

function median(list: readonly number[]): number {
  const sorted = [...list].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

async function main(): Promise<void> {
  const rounds = Number(values.rounds)
  const prefix = `oidc-guard-bench:${process.pid}:`
  // Revocations of other tokens and subjects, so the lookups are not of empty maps.
  const writer = new RedisRevocationStore({ url: redisUrl, prefix })
  for (let index = 0; index < revocationCount; index += 1) {
    await writer.revokeToken(`other-${index}`)
    await writer.revokeSubject(ISSUER, `someone-${index}`)
  }
  const results = new Map<SetupName, Measurement[]>(SETUPS.map((name) => [name, []]))
  try {
    for (let round = 0; round < rounds; round += 1) {
      for (const name of SETUPS) results.get(name)!.push(await runChild(name, prefix))
    }
  } finally {
    const { Redis } = await import('ioredis')
    const client = new Redis(redisUrl)
    await client.del(`${prefix}revocations`)
    client.disconnect()
    await writer.close()
  }
  const unit = values.http ? 'requests/s' : 'verifications/s'
  console.log(
    `${values.http ? 'HTTP (Express, autocannon, 50 connections)' : 'verifier.fromCache'}, ` +
      `one repeated token, ${revocationCount * 2} other revocations, ` +
      `median of ${rounds} rounds of ${seconds}s, one process per measurement`,
  )
  const baseline = median(results.get(SETUPS[0])!.map((result) => result.rate))
  for (const name of SETUPS) {
    const rate = median(results.get(name)!.map((result) => result.rate))
    const change = ((rate - baseline) / baseline) * 100
    const checks = results.get(name)!.flatMap((result) => result.checkNs ?? [])
    console.log(
      `${name.padEnd(24)} ${Math.round(rate).toLocaleString('en').padStart(12)} ${unit}` +
        (name === SETUPS[0] ? '' : `  (${change >= 0 ? '+' : ''}${change.toFixed(1)}%)`) +
        (checks.length === 0 ? '' : `  isRevoked: ${median(checks).toFixed(0)} ns`),
    )
    if (values.verbose) {
      console.log(
        `  rounds: ${results
          .get(name)!
          .map((result) => Math.round(result.rate))
          .join(', ')}`,
      )
    }
  }
}

if (values.child === undefined) {
  await main()
} else {
  const name = values.child as SetupName
  if (!SETUPS.includes(name)) throw new Error(`unknown setup ${name}`)
  console.log(JSON.stringify(await measure(name, values.prefix ?? 'oidc-guard-bench:')))
}

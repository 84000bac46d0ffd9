// Verifications per second without HTTP, per library, next to the physical limit (raw
// crypto.verify with a KeyObject, sync; crypto.subtle.verify, awaited) and the least work any JWT
// verifier does on top of it (decoding and parsing, no checks). Run pinned to one core.

import { createPublicKey, verify as cryptoVerify, webcrypto, type JsonWebKey } from 'node:crypto'
import { JwtVerifier } from 'aws-jwt-verify'
import { createLocalJWKSet, jwtVerify } from 'jose'
import jsonwebtoken from 'jsonwebtoken'
import { JwksProvider } from '../providers/jwks/index.js'
import { createVerifier } from '../src/index.js'
import { createTestIssuer, type TestIssuer } from '../src/testing.js'
import { measure, paired, type Candidate } from './pairing.js'
import { median, type MicroRecord } from './results.js'
import { ALGORITHMS, AUDIENCE, READY_PREFIX, type Algorithm } from './shared.js'

const TOKENS = 1000
const ROUNDS = 5
const SECONDS = Number(process.env['BENCH_MICRO_SECONDS'] ?? '0.6')

/** Every verifier, set up for `alg` with keys already held (no network in the loop). */
async function candidates(idp: TestIssuer, alg: Algorithm, tokens: readonly string[]) {
  const jwks = idp.jwks()
  const jwk = jwks.keys.find((key) => key['alg'] === alg)!
  const keyObject = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
  // The physical limit gets the token already split and decoded: only the signature check.
  const split = tokens.map((token) => {
    const dot = token.lastIndexOf('.')
    return {
      data: Buffer.from(token.slice(0, dot)),
      signature: Buffer.from(token.slice(dot + 1), 'base64url'),
    }
  })
  const rsa = alg === 'RS256'
  const keyInput = rsa ? keyObject : { key: keyObject, dsaEncoding: 'ieee-p1363' as const }
  const subtleAlg = rsa
    ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
    : { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  const cryptoKey = await webcrypto.subtle.importKey('jwk', jwk, subtleAlg, false, ['verify'])

  const localSet = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0])
  const claims = { issuer: idp.issuer, audience: AUDIENCE, algorithms: [alg] }

  const aws = JwtVerifier.create({ issuer: idp.issuer, audience: AUDIENCE, jwksUri: idp.jwksUri })
  aws.cacheJwks(jwks as unknown as Parameters<typeof aws.cacheJwks>[0])

  const provider = () =>
    new JwksProvider({
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      audience: AUDIENCE,
      algorithms: [alg],
      fetch: idp.fetch,
    })
  const cold = createVerifier({ provider: provider(), tokenCache: false })
  const warm = createVerifier({ provider: provider() })
  const headerBytes = tokens.map((token) => Buffer.from(token, 'latin1'))
  await Promise.all([cold.hydrate(), warm.hydrate()])

  const list: Candidate[] = [
    {
      name: 'raw crypto.verify, KeyObject (sync)',
      async: false,
      check: (_token, index) =>
        cryptoVerify('sha256', split[index]!.data, keyInput, split[index]!.signature),
    },
    {
      name: 'raw crypto.subtle.verify (awaited)',
      async: true,
      check: async (_token, index) => {
        const { data, signature } = split[index]!
        if (!(await webcrypto.subtle.verify(subtleAlg, cryptoKey, signature, data)))
          throw new Error('subtle refused a valid token')
      },
    },
    {
      // The least any JWT verifier does besides the signature: split the token, decode and parse
      // its header and payload, build the signing input, decode the signature. No checks at all.
      name: 'minimal JWT verification (split, decode, JSON.parse, crypto.verify; no checks)',
      async: false,
      check: (token) => {
        const firstDot = token.indexOf('.')
        const lastDot = token.lastIndexOf('.')
        const header = JSON.parse(Buffer.from(token.slice(0, firstDot), 'base64url').toString())
        const payload = JSON.parse(
          Buffer.from(token.slice(firstDot + 1, lastDot), 'base64url').toString(),
        )
        const valid = cryptoVerify(
          'sha256',
          Buffer.from(token.slice(0, lastDot), 'latin1'),
          keyInput,
          Buffer.from(token.slice(lastDot + 1), 'base64url'),
        )
        return valid && header.alg === alg && typeof payload.exp === 'number'
      },
    },
    {
      name: 'oidc-guard cold (createVerifier, tokenCache off)',
      async: true,
      check: (token) => cold(token),
    },
    {
      // Each request's Authorization header is a new string, decoded from the socket's bytes: so
      // is each token here (the same string object again would find its hash already computed).
      name: 'oidc-guard warm (fromCache, tokenCache on, a new string per call)',
      async: true,
      check: (_token, index) => {
        const token = headerBytes[index]!.toString('latin1')
        return warm.fromCache(token) ?? warm(token)
      },
    },
    {
      name: 'aws-jwt-verify verifySync (cacheJwks)',
      async: false,
      check: (token) => aws.verifySync(token),
    },
    {
      name: 'aws-jwt-verify verify (awaited)',
      async: true,
      check: (token) => aws.verify(token),
    },
    {
      name: 'jose jwtVerify (createLocalJWKSet)',
      async: true,
      check: (token) => jwtVerify(token, localSet, claims),
    },
    {
      name: 'jsonwebtoken.verify (express-jwt), KeyObject',
      async: false,
      check: (token) =>
        jsonwebtoken.verify(token, keyObject, {
          issuer: idp.issuer,
          audience: AUDIENCE,
          algorithms: [alg],
        }),
    },
  ]
  return list
}

async function main(): Promise<void> {
  const algIndex = process.argv.indexOf('--algs')
  const algs = (algIndex === -1 ? 'RS256,ES256' : (process.argv[algIndex + 1] ?? ''))
    .split(',')
    .filter((alg): alg is Algorithm => (ALGORITHMS as readonly string[]).includes(alg))
  const idp = await createTestIssuer({ listen: false, audience: AUDIENCE, algorithms: ALGORITHMS })
  const results: MicroRecord[] = []
  try {
    for (const alg of algs) {
      const tokens = Array.from({ length: TOKENS }, (_, index) =>
        idp.mint({ sub: `user-${index}`, scope: 'read write', client_id: 'bench-client' }, { alg }),
      )
      const list = await candidates(idp, alg, tokens)
      // Warm every candidate (JIT, caches), then interleave rounds. In each round every candidate
      // is measured paired with the raw limit (the first candidate); ratios are taken within a
      // pair, medians over rounds.
      for (const candidate of list) await measure(candidate, tokens, Math.min(0.3, SECONDS))
      const [raw, ...others] = list as [Candidate, ...Candidate[]]
      const rates = new Map<string, number[]>(list.map((candidate) => [candidate.name, []]))
      const ratios = new Map<string, number[]>(list.map((candidate) => [candidate.name, []]))
      for (let round = 0; round < ROUNDS; round += 1) {
        const rawRates: number[] = []
        for (const candidate of others) {
          const { rate, rawRate } = await paired(candidate, raw, tokens, SECONDS)
          rawRates.push(rawRate)
          rates.get(candidate.name)!.push(rate)
          ratios.get(candidate.name)!.push((rate / rawRate) * 100)
        }
        rates.get(raw.name)!.push(median(rawRates))
        ratios.get(raw.name)!.push(100)
      }
      for (const { name } of list) {
        const opsPerSec = median(rates.get(name)!)
        results.push({ alg, name, opsPerSec, percentOfRaw: median(ratios.get(name)!) })
        process.stderr.write(`micro ${alg} ${name}: ${Math.round(opsPerSec)}/s\n`)
      }
    }
  } finally {
    await idp.close()
  }
  console.log(`${READY_PREFIX}${JSON.stringify({ results })}`)
}

await main()

// Token pools fetched from the issuer, garbage made on the fly, and the token stream of each mode.

import { randomBytes } from 'node:crypto'
import {
  FRESH_BAD_KINDS,
  SIGNED_BAD_KINDS,
  type Algorithm,
  type FreshBadKind,
  type Mode,
  type SignedBadKind,
  type TokenKind,
} from './shared.js'

/** The tokens of one algorithm, minted by the issuer process before any measurement. */
export interface TokenPools {
  readonly alg: Algorithm
  /** 10,000 distinct valid tokens (the first is the repeated token). */
  readonly distinct: readonly string[]
  /** Distinct valid tokens for the cold mode, more than twice any token cache. */
  readonly cold: readonly string[]
  /** Bad tokens that need a key to make, per kind, cycled. */
  readonly signedBad: Readonly<Record<SignedBadKind, readonly string[]>>
}

/** A token to send and what it is. */
export interface NextToken {
  token: string
  kind: TokenKind
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** Fetches `count` tokens of `kind` from the issuer's control port. */
export async function fetchTokens(
  control: string,
  kind: 'valid' | SignedBadKind,
  alg: Algorithm,
  count: number,
): Promise<string[]> {
  const url = `${control}/tokens?kind=${kind}&alg=${alg}&count=${count}`
  const response = await fetch(url)
  if (!response.ok) throw new Error(`issuer refused ${url}: ${response.status}`)
  const tokens = (await response.text()).split('\n').filter((line) => line !== '')
  if (tokens.length !== count) throw new Error(`issuer sent ${tokens.length} of ${count} tokens`)
  return tokens
}

/** Mints every pool of one algorithm. */
export async function fetchPools(
  control: string,
  alg: Algorithm,
  sizes: { distinct: number; cold: number; signedBad: number },
): Promise<TokenPools> {
  const [distinct, cold] = await Promise.all([
    fetchTokens(control, 'valid', alg, sizes.distinct),
    fetchTokens(control, 'valid', alg, sizes.cold),
  ])
  const signedBad = {} as Record<SignedBadKind, string[]>
  for (const kind of SIGNED_BAD_KINDS) {
    signedBad[kind] = await fetchTokens(control, kind, alg, sizes.signedBad)
  }
  return { alg, distinct, cold, signedBad }
}

/** A different base64url character at `position` of `text` (the replacement varies with `salt`). */
function changeCharacter(text: string, position: number, salt: number): string {
  const current = BASE64URL.indexOf(text.charAt(position))
  const replacement = BASE64URL.charAt((current + 1 + (salt % 63)) % 64)
  return `${text.slice(0, position)}${replacement}${text.slice(position + 1)}`
}

/**
 * A garbage token of `kind`, distinct for each `serial` (bit-flip: for serials below
 * `valid.length` × the signature's length less one, 3.4 million over 10,000 RS256 tokens and
 * 850,000 over 10,000 ES256 ones; a garbage-mode server sees a few thousand serials, the memory
 * test's 250,000 over 200,000 tokens):
 * - `junk`: 240 random base64url characters, no dots;
 * - `malformed`: three segments whose header is not JSON;
 * - `bit-flip`: a valid token with one character of its signature changed;
 * - `bad-signature`: a valid header and a fresh payload (new jti) under random signature bytes.
 */
export function freshBadToken(
  kind: FreshBadKind,
  serial: number,
  valid: readonly string[],
): string {
  const source = valid[serial % valid.length]!
  switch (kind) {
    case 'junk':
      return randomBytes(180).toString('base64url')
    case 'malformed':
      return `${randomBytes(24).toString('base64url')}.${randomBytes(90).toString('base64url')}.${randomBytes(64).toString('base64url')}`
    case 'bit-flip': {
      const signatureStart = source.lastIndexOf('.') + 1
      // Spare the last character: changing only its spare bits could keep the signature bytes.
      const span = source.length - signatureStart - 1
      const position = signatureStart + (Math.floor(serial / valid.length) % span)
      return changeCharacter(source, position, serial)
    }
    case 'bad-signature': {
      const [header = '', payload = '', signature = ''] = source.split('.')
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as object
      const fresh = { ...claims, jti: randomBytes(12).toString('base64url') }
      const bytes = Buffer.from(signature, 'base64url').length
      const body = Buffer.from(JSON.stringify(fresh)).toString('base64url')
      return `${header}.${body}.${randomBytes(bytes).toString('base64url')}`
    }
  }
}

/** Every kind of bad token the garbage mode sends, in the order it cycles through them. */
export const BAD_KINDS: readonly (SignedBadKind | FreshBadKind)[] = [
  ...FRESH_BAD_KINDS,
  ...SIGNED_BAD_KINDS,
]

/**
 * The token stream of a mode: a function giving the next token. Streams are deterministic in
 * their order (a shared counter across connections), so every run of a mode sends the same mix.
 */
export function tokenStream(mode: Mode | 'warm-up', pools: TokenPools): () => NextToken {
  let serial = 0
  const { distinct, cold, signedBad } = pools
  switch (mode) {
    case 'repeated': {
      const token = distinct[0]!
      return () => ({ token, kind: 'valid' })
    }
    case 'distinct':
    case 'warm-up':
      return () => ({ token: distinct[serial++ % distinct.length]!, kind: 'valid' })
    case 'cold':
      return () => ({ token: cold[serial++ % cold.length]!, kind: 'valid' })
    case 'garbage':
      return () => {
        const index = serial++
        if (index % 2 === 0) {
          return { token: distinct[(index >> 1) % distinct.length]!, kind: 'valid' }
        }
        const bad = index >> 1
        const kind = BAD_KINDS[bad % BAD_KINDS.length]!
        const round = Math.floor(bad / BAD_KINDS.length)
        if ((FRESH_BAD_KINDS as readonly string[]).includes(kind)) {
          return { token: freshBadToken(kind as FreshBadKind, round, distinct), kind }
        }
        const list = signedBad[kind as SignedBadKind]
        return { token: list[round % list.length]!, kind }
      }
  }
}

/** The token streams of one server: its warm-up (the re-warm continues it), then its measured window. */
export interface ContenderStreams {
  warmUp: () => NextToken
  window: () => NextToken
}

/**
 * The streams of a server measured in `mode`. The measured window continues the warm-up's stream,
 * so that its serial numbers go on from where the warm-up stopped: a garbage token the method calls
 * distinct on every request (junk, malformed, bit-flip, bad signature) is then never sent twice to
 * the same server. A window that started the stream again at 0 sent every bit-flip token of the
 * warm-up again. The cold mode warms up on the distinct tokens instead, and measures its own pool
 * from its start: tokens the server has never seen.
 */
export function contenderStreams(mode: Mode, pools: TokenPools): ContenderStreams {
  if (mode === 'cold') {
    return { warmUp: tokenStream('warm-up', pools), window: tokenStream('cold', pools) }
  }
  const stream = tokenStream(mode, pools)
  return { warmUp: stream, window: stream }
}

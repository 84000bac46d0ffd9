// Property-based tests (OPS-01): random and mutated Authorization headers and tokens never yield a
// 500, never authenticate and never throw out of the middleware; random valid claim sets verify;
// the bearer parser accepts exactly RFC 6750 §2.1's grammar.
//
// npm test runs a few thousand cases under a fixed seed in a few seconds; FUZZ_RUNS=<n>
// (npm run fuzz) scales every property up, FUZZ_SEED=<n> picks another seed.

import type { NextFunction, Request, Response } from 'express'
import { generateKeyPairSync } from 'node:crypto'
import fc from 'fast-check'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuthError, InvalidRequestError, jwtAuth, requireUser, type User } from '../../src/index.js'
import { createTokenExtractor, parseAuthorization } from '../../src/bearer.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS, whoAmI } from '../helpers/http.js'

const FUZZ_RUNS = Number(process.env['FUZZ_RUNS'] ?? '') || 0
const SEED = Number(process.env['FUZZ_SEED'] ?? '') || 20_260_115
/** `npm test`: the default count; `npm run fuzz`: a share of FUZZ_RUNS. */
const runs = (defaultRuns: number, share: number): number =>
  FUZZ_RUNS > 0 ? Math.max(defaultRuns, Math.round(FUZZ_RUNS * share)) : defaultRuns
const TIMEOUT_MS = FUZZ_RUNS > 0 ? Math.max(60_000, FUZZ_RUNS) : 20_000
const settings = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: true })

const B64TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/'
// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, around it only RFC 9110 OWS (SP / HTAB).
const RFC6750 = /^[ \t]*[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)[ \t]*$/

let idp: TestIssuer
let middleware: ReturnType<typeof jwtAuth>
const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' })

beforeAll(async () => {
  idp = await createTestIssuer({
    listen: false,
    issuer: 'https://fuzz.example',
    algorithms: ['ES256', 'RS256'],
  })
  middleware = jwtAuth({ provider: providerFor(idp), realm: 'fuzz', logger: false })
})

afterAll(() => idp.close())

function providerFor(issuer: TestIssuer): JwksProvider {
  return new JwksProvider({
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    audience: issuer.audience,
    fetch: issuer.fetch,
  })
}

/** What one run of the middleware did. */
type Outcome =
  | { kind: 'next'; user: User }
  | { kind: 'next-error'; error: unknown }
  | { kind: 'response'; status: number; body: unknown; headers: Record<string, string> }

/** Runs the middleware on a bare request object and reports what it did; a throw fails the run. */
function invoke(values: readonly string[] | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    const rawHeaders = (values ?? []).flatMap((value) => ['Authorization', value])
    const req = {
      method: 'GET',
      url: '/',
      headers: values?.[0] === undefined ? {} : { authorization: values[0] },
      rawHeaders,
      query: {},
    } as unknown as Request
    const headers: Record<string, string> = {}
    let status = 200
    const res = {
      headersSent: false,
      status(code: number) {
        status = code
        return res
      },
      set(fields: Record<string, string>) {
        Object.assign(headers, fields)
        return res
      },
      json(body: unknown) {
        res.headersSent = true
        resolve({ kind: 'response', status, body, headers })
        return res
      },
    } as unknown as Response
    const next: NextFunction = (error?: unknown) =>
      resolve(
        error === undefined
          ? { kind: 'next', user: req.currentUser }
          : { kind: 'next-error', error },
      )
    middleware(req, res, next)
  })
}

/** The property every bad input must satisfy: refused or anonymous, never an error or a user. */
function refusedOrAnonymous(outcome: Outcome): boolean {
  if (outcome.kind === 'next') return !outcome.user.isAuthenticated
  if (outcome.kind === 'next-error') return false
  return outcome.status === 400 || outcome.status === 401
}

// ---------------------------------------------------------------------------------------------
// Generators

const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'binary-ascii', maxLength: 64 }),
  fc.string({ unit: fc.constantFrom(...B64TOKEN_CHARS, '=', '.', ' ', '\t'), maxLength: 80 }),
)

const scheme = fc.oneof(
  { arbitrary: fc.constantFrom('Bearer', 'bearer', 'BEARER', 'BeArEr'), weight: 4 },
  {
    arbitrary: fc.constantFrom('Basic', 'DPoP', 'Token', 'JWT', 'Bearer:', 'Bearerx', ''),
    weight: 2,
  },
  { arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 8 }), weight: 1 },
)

const separator = fc.constantFrom(' ', '  ', '   ', '', '\t', ' \t', ':', ',', '=', '\u00a0', ' , ')

/** A valid token of the fuzz issuer, RS256 or ES256, with random claims. */
const validToken = fc
  .record({
    alg: fc.constantFrom('ES256', 'RS256'),
    sub: fc.string({ minLength: 1, maxLength: 16 }),
  })
  .map(({ alg, sub }) => idp.mint({ sub }, { alg }))

const hugeNumber = fc.oneof(
  fc.double({ noNaN: false }),
  fc.constantFrom('1e400', '-1e400', '1e-400', '9'.repeat(400), '-0', '0.0000000000000000001'),
)

const jsonText = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc
    .dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }))
    .map((value) => JSON.stringify(value)),
  hugeNumber.map((number) => `{"exp":${String(number)},"iss":"https://fuzz.example","sub":"x"}`),
)

type Mutation =
  | { kind: 'bit'; segment: number; at: number; bit: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'reencode'; segment: number; style: 'standard' | 'padded' | 'upper' | 'lower' }
  | { kind: 'json'; segment: 0 | 1; json: string }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'resign'; json: string }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('bit' as const),
    segment: fc.integer({ min: 0, max: 2 }),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant('reencode' as const),
    segment: fc.integer({ min: 0, max: 2 }),
    style: fc.constantFrom('standard', 'padded', 'upper', 'lower') as fc.Arbitrary<
      'standard' | 'padded' | 'upper' | 'lower'
    >,
  }),
  fc.record({
    kind: fc.constant('json' as const),
    segment: fc.constantFrom(0 as const, 1 as const),
    json: jsonText,
  }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: anyText }),
  fc.record({ kind: fc.constant('resign' as const), json: jsonText }),
)

function mutate(token: string, change: Mutation): string {
  const parts = token.split('.')
  switch (change.kind) {
    case 'bit': {
      const bytes = Buffer.from(parts[change.segment] ?? '', 'base64url')
      const index = change.at % Math.max(bytes.length, 1)
      if (bytes.length > 0) bytes.writeUInt8(bytes.readUInt8(index) ^ (1 << change.bit), index)
      parts[change.segment] = bytes.toString('base64url')
      return parts.join('.')
    }
    case 'truncate':
      return token.slice(0, change.keep % token.length)
    case 'reencode': {
      const segment = parts[change.segment] ?? ''
      const bytes = Buffer.from(segment, 'base64url')
      parts[change.segment] =
        change.style === 'standard'
          ? bytes.toString('base64')
          : change.style === 'padded'
            ? `${segment}${'='.repeat((4 - (segment.length % 4)) % 4 || 1)}`
            : change.style === 'upper'
              ? segment.toUpperCase()
              : segment.toLowerCase()
      return parts.join('.')
    }
    case 'json':
      parts[change.segment] = Buffer.from(change.json).toString('base64url')
      return parts.join('.')
    case 'insert': {
      const at = change.at % (token.length + 1)
      return `${token.slice(0, at)}${change.text}${token.slice(at)}`
    }
    case 'resign':
      // Random claims, properly signed, but by a key nobody trusts.
      return idp.mint({}, { rawPayload: change.json, key: attacker.privateKey, alg: 'ES256' })
  }
}

const mutatedToken = fc
  .tuple(validToken, fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([token, changes]) => ({ token, mutated: changes.reduce(mutate, token) }))
  .filter(({ token, mutated }) => token !== mutated)

const header = fc.oneof(
  { arbitrary: anyText, weight: 2 },
  { arbitrary: fc.tuple(scheme, separator, anyText).map((parts) => parts.join('')), weight: 3 },
  {
    arbitrary: fc
      .tuple(scheme, separator, mutatedToken)
      .map(([s, sep, { mutated }]) => `${s}${sep}${mutated}`),
    weight: 5,
  },
)

// ---------------------------------------------------------------------------------------------
// Properties

describe('OPS-01: fuzzed credentials through the middleware', () => {
  it(
    'random and mutated Authorization headers never authenticate, never throw, never reach next(error)',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(header, { minLength: 1, maxLength: 2 }), async (values) => {
          let outcome: Outcome
          try {
            outcome = await invoke(values)
          } catch (error) {
            throw new Error(`the middleware threw: ${String(error)}`)
          }
          expect(refusedOrAnonymous(outcome), JSON.stringify(outcome)).toBe(true)
        }),
        settings(runs(1_500, 0.05)),
      )
    },
    TIMEOUT_MS,
  )

  it(
    'every mutation of a valid token (bit flips per segment, truncations, re-encodings, random JSON, unicode) is refused with 400 or 401',
    async () => {
      await fc.assert(
        fc.asyncProperty(mutatedToken, async ({ mutated }) => {
          const outcome = await invoke([`Bearer ${mutated}`])
          expect(outcome.kind, mutated).toBe('response')
          if (outcome.kind === 'response') expect([400, 401]).toContain(outcome.status)
        }),
        settings(runs(1_500, 0.05)),
      )
    },
    TIMEOUT_MS,
  )

  it(
    'random valid claim sets verify, with the subject they carry',
    async () => {
      const extra = fc.dictionary(
        fc.string({ minLength: 1, maxLength: 10 }).map((name) => `x_${name}`),
        fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 5 },
      )
      const claims = fc.record({
        sub: fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }),
        aud: fc.oneof(
          fc.constant(idp.audience),
          fc.constant([idp.audience, 'other']),
          fc.constant(['other', idp.audience]),
        ),
        scope: fc.array(
          fc.string({ unit: fc.constantFrom(...B64TOKEN_CHARS, ':'), minLength: 1, maxLength: 8 }),
          { maxLength: 4 },
        ),
        lifetime: fc.integer({ min: 60, max: 10 * 365 * 86_400 }),
        age: fc.integer({ min: 0, max: 3_600 }),
        extra,
      })
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('ES256', 'RS256'), claims, async (alg, c) => {
          const now = Math.floor(Date.now() / 1000)
          const token = idp.mint(
            {
              ...c.extra,
              sub: c.sub,
              aud: c.aud,
              scope: c.scope.join(' '),
              iat: now - c.age,
              nbf: now - c.age,
              exp: now + c.lifetime,
            },
            { alg },
          )
          const outcome = await invoke([`Bearer ${token}`])
          expect(outcome.kind).toBe('next')
          if (outcome.kind === 'next') {
            expect(outcome.user.isAuthenticated).toBe(true)
            expect(outcome.user.id).toBe(c.sub)
            expect(outcome.user.scopes).toEqual(c.scope)
          }
        }),
        settings(runs(300, 0.01)),
      )
    },
    TIMEOUT_MS,
  )
})

describe.each(EXPRESS_MAJORS)('OPS-01: fuzzed headers over HTTP on %s', (_name, createApp) => {
  it(
    'no 500, no handler run, whatever the Authorization header',
    async () => {
      const app = createApp()
      let runsOfHandler = 0
      app.use(jwtAuth({ provider: providerFor(idp), logger: false }))
      app.get('/private', requireUser(), (req, res, next) => {
        runsOfHandler += 1
        whoAmI()(req, res, next)
      })
      // Node's client refuses CR, LF, NUL and code points above U+00FF in header values.
      const sendable = header.filter((value) => /^[\t\x20-\x7e\x80-\xff]*$/.test(value))
      await fc.assert(
        fc.asyncProperty(sendable, async (value) => {
          const res = await request(app).get('/private').set('Authorization', value)
          expect([400, 401], value).toContain(res.status)
          expect(runsOfHandler).toBe(0)
        }),
        settings(runs(150, 0.005)),
      )
    },
    TIMEOUT_MS,
  )
})

describe('RFC 6750 §2.1: the bearer parser', () => {
  const grammarToken = fc
    .tuple(
      fc.string({ unit: fc.constantFrom(...B64TOKEN_CHARS), minLength: 1, maxLength: 40 }),
      fc.string({ unit: fc.constant('='), maxLength: 3 }),
    )
    .map(([body, padding]) => body + padding)
  const grammatical = fc
    .record({
      scheme: fc.constantFrom('Bearer', 'bearer', 'BEARER', 'bEaReR'),
      spaces: fc.integer({ min: 1, max: 4 }),
      token: grammarToken,
      before: fc.constantFrom('', ' ', '\t', ' \t '),
      after: fc.constantFrom('', ' ', '\t'),
    })
    .map((h) => ({
      ...h,
      header: `${h.before}${h.scheme}${' '.repeat(h.spaces)}${h.token}${h.after}`,
    }))

  /** Near-misses of the grammar, and anything at all, in the characters Node delivers without a tab or NBSP. */
  const printable = fc.oneof(
    fc.string({
      unit: fc.constantFrom(...'Bbearer BEARER=.,:;"\\-_~+/aZ09'.split('')),
      maxLength: 30,
    }),
    fc
      .tuple(
        scheme,
        separator.filter((sep) => !sep.includes('\t') && !sep.includes('\u00a0')),
        anyText,
      )
      .map((parts) => parts.join(''))
      .filter((text) => /^[\x20-\x7e]*$/.test(text)),
  )

  /** Whether the parser accepts `value`, and as what; InvalidRequestError and "not Bearer" are refusals. */
  function accepted(value: string): string | undefined {
    try {
      return parseAuthorization(value)
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidRequestError)
      return undefined
    }
  }

  it('accepts every header the grammar allows, and reads exactly its b64token', () => {
    fc.assert(
      fc.property(grammatical, ({ header: value, token }) => {
        expect(accepted(value)).toBe(token)
      }),
      settings(runs(2_000, 0.05)),
    )
  })

  it('never accepts a printable-ASCII header the grammar rejects, and never throws anything but invalid_request', () => {
    fc.assert(
      fc.property(printable, (value) => {
        const token = accepted(value)
        if (token !== undefined) expect(RFC6750.exec(value)?.[1], JSON.stringify(value)).toBe(token)
      }),
      settings(runs(3_000, 0.05)),
    )
  })

  // RFC 6750 §2.1 allows only SP between the scheme and the token, and RFC 9110 OWS around the
  // field value is SP / HTAB only: no other white space is trimmed.
  it('never accepts any header the grammar rejects (tabs, NBSP and other white space included)', () => {
    const whitespace = fc.constantFrom(' ', '\t', '\u00a0', '\u000b', '\u000c', '\u3000', '\ufeff')
    const withWhitespace = fc
      .tuple(
        fc.array(whitespace, { maxLength: 2 }),
        scheme,
        fc.array(whitespace, { minLength: 1, maxLength: 3 }),
        grammarToken,
        fc.array(whitespace, { maxLength: 2 }),
      )
      .map(
        ([before, s, between, token, after]) =>
          `${before.join('')}${s}${between.join('')}${token}${after.join('')}`,
      )
    fc.assert(
      fc.property(withWhitespace, (value) => {
        const token = accepted(value)
        if (token !== undefined) expect(RFC6750.exec(value)?.[1], JSON.stringify(value)).toBe(token)
      }),
      settings(runs(2_000, 0.05)),
    )
  })

  it('the counterexamples of that bug, as plain cases', () => {
    for (const value of [
      'Bearer \tabc',
      '\u00a0Bearer abc',
      'Bearer abc\u00a0',
      'Bearer \u3000abc',
    ]) {
      expect(accepted(value), JSON.stringify(value)).toBeUndefined()
    }
  })

  it('two Authorization values are always invalid_request, whatever they hold', () => {
    const extract = createTokenExtractor()
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            anyText,
            grammatical.map((g) => g.header),
          ),
          { minLength: 2, maxLength: 4 },
        ),
        (values) => {
          expect(() => extract({ authorization: values })).toThrow(InvalidRequestError)
        },
      ),
      settings(runs(1_000, 0.02)),
    )
  })

  it('every refusal is one of our errors with a fixed description, never the input', () => {
    fc.assert(
      fc.property(anyText, (value) => {
        try {
          parseAuthorization(value)
        } catch (error) {
          expect(error).toBeInstanceOf(AuthError)
          const description = (error as AuthError).description
          if (value.length > 8) expect(description.includes(value)).toBe(false)
        }
      }),
      settings(runs(2_000, 0.05)),
    )
  })
})

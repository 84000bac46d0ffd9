// The token commands of the CLI: verify (as fromEnv() configures), decode (unverified), mint (local issuer).

import { parseCommandLine, UsageError } from '../src/command-line.js'
import { AuthError, createVerifier, fromEnv, type JwtAuthOptions } from '../src/index.js'
import { ConfigError } from '../src/errors.js'
import { parseJwt } from '../src/jwt.js'
import { scrubbedMessage } from '../src/logger.js'
import { isProduction } from '../src/options.js'
import { createTestIssuer } from '../src/testing.js'
import type { Command, Io } from './dispatch.js'
import { readToken, terminalSafe } from './token-input.js'

const COMMON_FLAGS = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

function print(io: Io, json: boolean, value: unknown, text: () => string): void {
  io.out(json ? JSON.stringify(value, null, 2) : text())
}

/**
 * Closes what `fromEnv()` built that holds connections (Redis stores, SQL pools): the process
 * would otherwise never exit. A failure to close is not the command's result: it is ignored.
 */
async function closeAll(options: JwtAuthOptions): Promise<void> {
  const { revocation, sourceCache, groups, roles, permissions, profile } = options
  const shared = sourceCache === false ? undefined : sourceCache?.shared
  const built = new Set<unknown>([revocation, shared, groups, roles, permissions, profile])
  await Promise.allSettled([...built].filter(isClosable).map(async (resource) => resource.close()))
}

function isClosable(value: unknown): value is { close(): unknown } {
  return typeof (value as { close?: unknown } | null | undefined)?.close === 'function'
}

const VERIFY_USAGE = `Usage: oidc-guard verify <token> [--json]
       oidc-guard verify - [--json]     (reads the token from standard input)

Verifies the token with the providers the environment configures (AUTH_PROVIDER and the
provider's variables, exactly as fromEnv() reads them, with the revocation store they set) and
prints its verified claims, or the check that failed and why (when the keys or the revocation
store cannot be had, the cause too). "-" reads the token from standard input, which keeps it out
of ps and the shell's history: printenv TOKEN | oidc-guard verify -. Exit code 0 when valid, 1
when refused or unavailable (or when AUTH_MIDDLEWARE_DISABLED=true: there is nothing to verify),
2 for a wrong command line or configuration (each problem on its own line).`

const verify: Command = {
  name: 'verify',
  summary: 'verify a token as your API would (configured by the same variables as fromEnv())',
  usage: VERIFY_USAGE,
  async run(args, io) {
    const { values, positionals } = parseCommandLine({
      args: [...args],
      options: COMMON_FLAGS,
      allowPositionals: true,
    })
    if (values.help) {
      io.out(VERIFY_USAGE)
      return 0
    }
    const token = await readToken(positionals, 'verify', io)
    const options = fromEnv(io.env, { logger: false })
    try {
      if (options.disabled === true) {
        throw new Error('authentication is disabled (AUTH_MIDDLEWARE_DISABLED): nothing to verify')
      }
      return await verifyWith(createVerifier({ ...options, logger: false }), token, io, values.json)
    } finally {
      await closeAll(options)
    }
  },
}

async function verifyWith(
  verifier: ReturnType<typeof createVerifier>,
  token: string,
  io: Io,
  json: boolean,
): Promise<number> {
  try {
    const user = await verifier(token)
    const result = {
      valid: true,
      provider: user.provider,
      user: user.toJSON(),
      claims: user.claims,
    }
    print(io, json, result, () =>
      terminalSafe(
        [`valid: verified by ${user.provider}`, JSON.stringify(user.claims, null, 2)].join('\n'),
      ),
    )
    return 0
  } catch (error) {
    if (!(error instanceof AuthError)) throw error
    const { status, code, description } = error
    const cause = outageCause(error)
    print(
      io,
      json,
      { valid: false, status, code, description, ...(cause === undefined ? {} : { cause }) },
      () =>
        terminalSafe(
          [
            `refused (${status} ${code}): ${description}`,
            ...(cause === undefined ? [] : [`cause: ${cause}`]),
          ].join('\n'),
        ),
    )
    return 1
  }
}

/**
 * Why a 503 came, scrubbed, when the error says: an outage's description is a fixed text for
 * clients, but the one running verify (with no logger) needs the check that failed (the discovery
 * document naming another issuer, a JWKS answering 401, Redis refusing the revocation store's
 * connection). Nested causes follow, unless repeated.
 */
function outageCause(error: AuthError): string | undefined {
  if (error.status !== 503) return undefined
  const messages: string[] = []
  let cause: unknown = error.cause
  // A few levels at most: a cause chain may loop.
  for (let depth = 0; depth < 4 && cause !== undefined && cause !== null; depth += 1) {
    const message = scrubbedMessage(cause)
    if (message !== '' && !messages.some((earlier) => earlier.includes(message))) {
      messages.push(message)
    }
    cause = cause instanceof Error ? cause.cause : undefined
  }
  return messages.length > 0 ? messages.join(': ') : undefined
}

/** `exp: 2030-01-01T00:00:00.000Z`, or the number marked invalid when no date can hold it. */
function timeLine(name: string, seconds: number): string {
  const date = new Date(seconds * 1000)
  return Number.isNaN(date.getTime())
    ? `${name}: ${seconds} (not a valid time)`
    : `${name}: ${date.toISOString()}`
}

const DECODE_USAGE = `Usage: oidc-guard decode <token> [--json]
       oidc-guard decode - [--json]     (reads the token from standard input)

Prints the header and the claims of a compact JWT. Nothing is verified: anyone can write any
claims into a token; use "oidc-guard verify" to know whether to trust them. Control characters
of the claims are printed escaped (\\u0085), as JSON reads them back.`

const decode: Command = {
  name: 'decode',
  summary: 'show a token’s header and claims WITHOUT verifying it',
  usage: DECODE_USAGE,
  async run(args, io) {
    const { values, positionals } = parseCommandLine({
      args: [...args],
      options: COMMON_FLAGS,
      allowPositionals: true,
    })
    if (values.help) {
      io.out(DECODE_USAGE)
      return 0
    }
    const token = await readToken(positionals, 'decode', io)
    const { header, payload } = parseJwt(token, Number.MAX_SAFE_INTEGER)
    const times = ['exp', 'nbf', 'iat']
      .filter((name) => typeof payload[name] === 'number')
      .map((name) => timeLine(name, payload[name] as number))
    print(io, values.json, { verified: false, header, claims: payload }, () =>
      terminalSafe(
        [
          'UNVERIFIED: the signature was not checked',
          `header: ${JSON.stringify(header, null, 2)}`,
          `claims: ${JSON.stringify(payload, null, 2)}`,
          ...times,
        ].join('\n'),
      ),
    )
    return 0
  },
}

const MINT_USAGE = `Usage: oidc-guard mint [--sub alice] [--scope "orders.read"] [--claim name=value]...
                      [--audience api://local] [--port 4000] [--expires 3600] [--json]

Starts a local issuer on 127.0.0.1 (JWKS and discovery), prints a token it signed and the
variables that point an API at it (AUTH_PROVIDER=jwks…), and keeps serving until Ctrl+C so the
token verifies. For development only: the keys live in memory, and NODE_ENV=production is
refused. --claim values are JSON when they parse as JSON (--claim roles='["admin"]'), strings
otherwise. The token's aud is --audience (one, without a comma or surrounding spaces, as
AUTH_PROVIDER_AUDIENCE reads it back) and its iss the issuer's URL, as the printed variables say:
--claim aud= and --claim iss= are refused.`

/** Claims the printed variables describe: a --claim changing them would print a token that fails. */
const PRINTED_CLAIMS: ReadonlyMap<string, string> = new Map([
  ['aud', 'use --audience, so that AUTH_PROVIDER_AUDIENCE matches the token'],
  [
    'iss',
    'the iss is the local issuer’s URL (AUTH_PROVIDER_ISSUER), or the token would not verify',
  ],
])

/** The claims of `--sub`, `--scope` and each `--claim name=value`. */
function mintClaims(sub: string, scope: string | undefined, pairs: readonly string[]) {
  // No prototype: `--claim __proto__=…` (or `constructor`) is a claim like any other, not a
  // prototype set on the object, which would leave it out of the token without a word.
  const claims = Object.create(null) as Record<string, unknown>
  claims['sub'] = sub
  if (scope !== undefined) claims['scope'] = scope
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new UsageError(`--claim must be name=value, got ${JSON.stringify(pair)}`)
    const name = pair.slice(0, at)
    const instead = PRINTED_CLAIMS.get(name)
    if (instead !== undefined) throw new UsageError(`--claim ${name}= is not allowed: ${instead}`)
    const raw = pair.slice(at + 1)
    let value: unknown = raw
    try {
      value = JSON.parse(raw)
    } catch {
      // A plain string.
    }
    claims[name] = value
  }
  // The printed variables configure a provider that requires sub (RFC 7519 §4.1.2: a string).
  const subject = claims['sub']
  if (typeof subject !== 'string' || subject === '') {
    throw new UsageError(
      `the sub claim must be a non-empty string (--sub alice), got ${JSON.stringify(subject) ?? 'none'}`,
    )
  }
  return claims
}

/**
 * The printed AUTH_PROVIDER_AUDIENCE must read back as the token's aud: fromEnv() trims it, drops
 * it when blank and splits it at commas, so such an audience would print a setup that refuses the
 * token it prints.
 */
function checkAudience(audience: string): void {
  if (audience.trim() === '') throw new UsageError('--audience must not be empty')
  if (audience !== audience.trim()) {
    throw new UsageError(
      `--audience must not start or end with whitespace (AUTH_PROVIDER_AUDIENCE is read trimmed), got ${JSON.stringify(audience)}`,
    )
  }
  if (audience.includes(',')) {
    throw new UsageError(
      `--audience must be one audience without a comma (AUTH_PROVIDER_AUDIENCE is a comma-separated list), got ${JSON.stringify(audience)}`,
    )
  }
}

/** A whole number of the command line within `min`..`max`, written in digits only. */
function wholeNumber(text: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(text)) return undefined
  const value = Number(text)
  return value >= min && value <= max ? value : undefined
}

/**
 * `value` as one shell word that pastes back as itself: as is when every character is plain,
 * else single-quoted (a `'` written as `'\''`). `&`, `;`, spaces or `$` would otherwise run,
 * split or expand when the printed export line is pasted.
 */
function shellWord(value: string): string {
  if (/^[A-Za-z0-9_.:/@%+=,-]+$/.test(value)) return value
  return `'${value.replaceAll("'", `'\\''`)}'`
}

/**
 * The local issuer signs with keys it makes up: an API trusting it lets in tokens no identity
 * provider issued. The library's switch for that (`allowInProduction`) is no flag here on
 * purpose: a command line is for development, so the way forward is to leave production.
 */
function refuseInProduction(env: Io['env']): void {
  if (!isProduction(env) && !isProduction()) return
  throw new ConfigError([
    'refuses to start a local issuer while NODE_ENV=production: it is for development only (its keys are made up, so an API trusting it lets in tokens no identity provider issued); unset NODE_ENV (or set NODE_ENV=development) to use it',
  ])
}

const mint: Command = {
  name: 'mint',
  summary: 'start a local development issuer and print a token it signed',
  usage: MINT_USAGE,
  async run(args, io) {
    const { values } = parseCommandLine({
      args: [...args],
      options: {
        ...COMMON_FLAGS,
        sub: { type: 'string', default: 'dev-user' },
        scope: { type: 'string' },
        claim: { type: 'string', multiple: true, default: [] },
        audience: { type: 'string', default: 'api://local' },
        port: { type: 'string', default: '4000' },
        expires: { type: 'string', default: '3600' },
        'exit-after-print': { type: 'boolean', default: false },
      },
    })
    if (values.help) {
      io.out(MINT_USAGE)
      return 0
    }
    // Digits only: Number('') is 0 (a random port), Number(' 8e3 ') is 8000.
    const port = wholeNumber(values.port, 0, 65_535)
    const expiresInSec = wholeNumber(values.expires, 1, Number.MAX_SAFE_INTEGER)
    if (port === undefined) throw new UsageError('--port must be a port number: 0 to 65535')
    if (expiresInSec === undefined) throw new UsageError('--expires must be seconds > 0')
    checkAudience(values.audience)
    const claims = mintClaims(values.sub, values.scope, values.claim)
    refuseInProduction(io.env)
    const issuer = await createTestIssuer({ port, audience: values.audience })
    const token = issuer.mint(claims, { expiresInSec })
    const env = {
      AUTH_PROVIDER: 'jwks',
      AUTH_PROVIDER_ISSUER: issuer.issuer,
      AUTH_PROVIDER_JWKS_URI: issuer.jwksUri,
      AUTH_PROVIDER_AUDIENCE: values.audience,
    }
    print(io, values.json, { token, ...env }, () =>
      [
        `# local issuer ${issuer.issuer} (keys in memory; Ctrl+C stops it)`,
        ...Object.entries({ ...env, TOKEN: token }).map(
          ([name, value]) => `export ${name}=${shellWord(value)}`,
        ),
      ].join('\n'),
    )
    if (values['exit-after-print']) {
      await issuer.close()
      return 0
    }
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve())
    })
    await issuer.close()
    return 0
  },
}

/** verify, decode, mint. */
export const tokenCommands: readonly Command[] = [verify, decode, mint]

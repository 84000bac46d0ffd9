// The token commands of the CLI: verify (as fromEnv() configures), decode (unverified), mint (local issuer).

import { parseArgs } from 'node:util'
import { AuthError, createVerifier, fromEnv } from '../src/index.js'
import { parseJwt } from '../src/jwt.js'
import { createTestIssuer } from '../src/testing.js'
import type { Command, Io } from './dispatch.js'

const JSON_FLAG = { json: { type: 'boolean', default: false } } as const

function tokenArgument(positionals: readonly string[], command: string): string {
  const token = positionals[0]?.replace(/^Bearer\s+/i, '').trim()
  if (token === undefined || token === '' || positionals.length > 1) {
    throw new Error(`give one token: oidc-guard ${command} <token>`)
  }
  return token
}

function print(io: Io, json: boolean, value: unknown, text: () => string): void {
  io.out(json ? JSON.stringify(value, null, 2) : text())
}

const verify: Command = {
  name: 'verify',
  summary: 'verify a token as your API would (configured by the same variables as fromEnv())',
  usage: `Usage: oidc-guard verify <token> [--json]

Verifies the token with the providers the environment configures (AUTH_PROVIDER and the
provider's variables, exactly as fromEnv() reads them) and prints its verified claims, or the
check that failed and why. Exit code 0 when valid, 1 when refused or unavailable.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: JSON_FLAG,
      allowPositionals: true,
    })
    const token = tokenArgument(positionals, 'verify')
    const verifier = createVerifier({ ...fromEnv(io.env, { logger: false }), logger: false })
    try {
      const user = await verifier(token)
      const result = {
        valid: true,
        provider: user.provider,
        user: user.toJSON(),
        claims: user.claims,
      }
      print(io, values.json, result, () =>
        [`valid: verified by ${user.provider}`, JSON.stringify(user.claims, null, 2)].join('\n'),
      )
      return 0
    } catch (error) {
      if (!(error instanceof AuthError)) throw error
      const result = {
        valid: false,
        status: error.status,
        code: error.code,
        description: error.description,
      }
      print(
        io,
        values.json,
        result,
        () => `refused (${error.status} ${error.code}): ${error.description}`,
      )
      return 1
    }
  },
}

const decode: Command = {
  name: 'decode',
  summary: 'show a token’s header and claims WITHOUT verifying it',
  usage: `Usage: oidc-guard decode <token> [--json]

Prints the header and the claims of a compact JWT. Nothing is verified: anyone can write any
claims into a token; use "oidc-guard verify" to know whether to trust them.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: JSON_FLAG,
      allowPositionals: true,
    })
    const token = tokenArgument(positionals, 'decode')
    const { header, payload } = parseJwt(token, Number.MAX_SAFE_INTEGER)
    const times = ['exp', 'nbf', 'iat']
      .filter((name) => typeof payload[name] === 'number')
      .map((name) => `${name}: ${new Date((payload[name] as number) * 1000).toISOString()}`)
    print(io, values.json, { verified: false, header, claims: payload }, () =>
      [
        'UNVERIFIED: the signature was not checked',
        `header: ${JSON.stringify(header, null, 2)}`,
        `claims: ${JSON.stringify(payload, null, 2)}`,
        ...times,
      ].join('\n'),
    )
    return 0
  },
}

const mint: Command = {
  name: 'mint',
  summary: 'start a local development issuer and print a token it signed',
  usage: `Usage: oidc-guard mint [--sub alice] [--scope "orders.read"] [--claim name=value]...
                      [--audience api://local] [--port 4000] [--expires 3600] [--json]

Starts a local issuer on 127.0.0.1 (JWKS and discovery), prints a token it signed and the
variables that point an API at it (AUTH_PROVIDER=jwks…), and keeps serving until Ctrl+C so the
token verifies. For development only: the keys live in memory. --claim values are JSON when they
parse as JSON (--claim roles='["admin"]'), strings otherwise.`,
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        ...JSON_FLAG,
        sub: { type: 'string', default: 'dev-user' },
        scope: { type: 'string' },
        claim: { type: 'string', multiple: true, default: [] },
        audience: { type: 'string', default: 'api://local' },
        port: { type: 'string', default: '4000' },
        expires: { type: 'string', default: '3600' },
        'exit-after-print': { type: 'boolean', default: false },
      },
    })
    const port = Number(values.port)
    const expiresInSec = Number(values.expires)
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new Error('--port must be a port number')
    if (!Number.isInteger(expiresInSec) || expiresInSec <= 0)
      throw new Error('--expires must be seconds > 0')
    const claims: Record<string, unknown> = { sub: values.sub }
    if (values.scope !== undefined) claims['scope'] = values.scope
    for (const pair of values.claim) {
      const at = pair.indexOf('=')
      if (at <= 0) throw new Error(`--claim must be name=value, got ${JSON.stringify(pair)}`)
      const raw = pair.slice(at + 1)
      let value: unknown = raw
      try {
        value = JSON.parse(raw)
      } catch {
        // A plain string.
      }
      claims[pair.slice(0, at)] = value
    }
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
        ...Object.entries(env).map(([name, value]) => `export ${name}=${value}`),
        `export TOKEN=${token}`,
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

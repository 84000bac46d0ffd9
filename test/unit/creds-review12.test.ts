// Review 12 of the non-JWT credentials: an API key's zone-less expiry read as UTC on every host,
// basicAuth(...).authenticate refusing what its header path refuses, and URLs in configuration
// errors shown without their query.

import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repositoryKey } from '../../src/api-key-record.js'
import { parseBasicAuthorization } from '../../src/credentials.js'
import {
  basicAuth,
  ConfigError,
  fromEnv,
  hashPassword,
  InvalidRequestError,
  type CredentialsRepository,
} from '../../src/index.js'
import { urlProblem } from '../../src/options.js'

const root = join(import.meta.dirname, '..', '..')

/** Runs `script` (an ES module, TypeScript imports allowed) in a child node under time zone `tz`. */
function runInZone(tz: string, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: root, env: { PATH: process.env['PATH'] ?? '', TZ: tz }, timeout: 20_000 },
      (error, stdout, stderr) => (error === null ? resolve(stdout) : reject(new Error(stderr))),
    )
  })
}

const HASH = 'a'.repeat(64)

describe('an API key expiry without Z or an offset is UTC on every host (D1)', () => {
  // Built in the child, where the time zone is west of UTC: a zone-less time read as local time
  // there lies 7 or 8 hours after the same time read as UTC.
  const script = `
    const { repositoryKey } = await import(${JSON.stringify(join(root, 'src/api-key-record.ts'))})
    const { apiKeyAuth, hashApiKey } = await import(${JSON.stringify(join(root, 'src/index.ts'))})
    const at = (value) => repositoryKey({ id: 'k', hash: '${HASH}', expires_at: value }).refusedFromMs
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString().replace('T', ' ').slice(0, 19)
    const key = 'og_' + 'k'.repeat(40)
    const auth = apiKeyAuth({ keys: [{ id: 'billing', hash: hashApiKey(key), expiresAt: hourAgo }], logger: false })
    const answer = await auth.authenticate(key).then(() => 'accepted', (error) => error.status)
    console.log(JSON.stringify({
      offset: new Date(2030, 0, 1).getTimezoneOffset(),
      sqlite: at('2030-01-01 12:00:00'),
      minutes: at('2030-01-01T12:00'),
      fraction: at('2030-01-01t12:00:00.250'),
      dateOnly: at('2030-01-01'),
      zoned: at('2030-01-01T12:00:00Z'),
      expiredHourAgo: answer,
    }))
  `

  it.each(['America/Los_Angeles', 'Asia/Tokyo'])('under TZ=%s', async (tz) => {
    const seen = JSON.parse(await runInZone(tz, script)) as Record<string, unknown>
    expect(seen['offset']).not.toBe(0) // the child really ran away from UTC
    expect(seen).toMatchObject({
      sqlite: Date.UTC(2030, 0, 1, 12),
      minutes: Date.UTC(2030, 0, 1, 12),
      fraction: Date.UTC(2030, 0, 1, 12, 0, 0, 250),
      dateOnly: Date.UTC(2030, 0, 1),
      zoned: Date.UTC(2030, 0, 1, 12),
      // SQLite's datetime('now', '-1 hour'): expired, whatever the server's time zone.
      expiredHourAgo: 401,
    })
  })

  it('an offset of whole hours, as PostgreSQL writes it, reads after a T too', () => {
    const at = (value: string) => repositoryKey({ id: 'k', hash: HASH, expires_at: value })
    expect(at('2030-01-01T12:00:00+05').refusedFromMs).toBe(Date.UTC(2030, 0, 1, 7))
    expect(at('2030-01-01 12:00:00.5-03').refusedFromMs).toBe(Date.UTC(2030, 0, 1, 15, 0, 0, 500))
    // A date alone ends in what looks like an offset: still the date, at midnight UTC.
    expect(at('2030-01-07').refusedFromMs).toBe(Date.UTC(2030, 0, 7))
  })
})

describe('basicAuth(...).authenticate refuses what its header path refuses (D3)', () => {
  async function setup() {
    const passwordHash = await hashPassword('pw', { iterations: 1_000 })
    const asked: string[] = []
    const credentialsRepository: CredentialsRepository = {
      getCredentials(username) {
        asked.push(username)
        return username === 'alice' ? { username, passwordHash } : undefined
      },
    }
    const auth = basicAuth({ credentialsRepository, logger: false, verifiedCache: false })
    return { auth, asked }
  }

  /** The 400 the header path answers for `username:password`, if it refuses it. */
  function headerRefusal(username: string, password: string): string | undefined {
    const header = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
    try {
      parseBasicAuthorization(header)
      return undefined
    } catch (error) {
      return (error as InvalidRequestError).description
    }
  }

  it.each([
    ['a NUL in the username', 'alice\u0000', 'pw'],
    ['CR LF after the username', 'alice\r\n', 'pw'],
    ['DEL in the username', 'al\u007fice', 'pw'],
    ['a NUL in the password', 'alice', 'p\u0000w'],
    ['a tab in the password', 'alice', 'p\tw'],
  ])('%s: 400 as from the header, the repository never asked', async (_label, user, password) => {
    const { auth, asked } = await setup()
    const refused = await auth.authenticate(user, password).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(InvalidRequestError)
    expect(refused).toMatchObject({ status: 400, code: 'ERR_AUTH_INVALID_REQUEST' })
    expect((refused as InvalidRequestError).description).toBe(headerRefusal(user, password))
    expect(asked).toEqual([])
  })

  it('a colon in the username: 400, the repository never asked', async () => {
    const { auth, asked } = await setup()
    const refused = await auth.authenticate('al:ice', 'pw').catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(InvalidRequestError)
    expect(refused).toMatchObject({
      status: 400,
      description: 'a Basic username cannot contain ":"',
    })
    expect(asked).toEqual([])
  })

  it('a colon in the password is a password, as in the header', async () => {
    const { auth, asked } = await setup()
    await expect(auth.authenticate('alice', 'p:w')).rejects.toMatchObject({ status: 401 })
    expect(asked).toEqual(['alice'])
    await expect(auth.authenticate('alice', 'pw')).resolves.toMatchObject({ id: 'alice' })
  })
})

describe('a URL in a configuration error is shown without its query (extra)', () => {
  const secret = 'topsecret'

  function problemsOf(build: () => unknown): readonly string[] {
    try {
      build()
    } catch (error) {
      if (error instanceof ConfigError) return error.problems
      throw error
    }
    return []
  }

  it.each([
    [
      'with a space',
      `https://example.com/jwks?token=${secret} x`,
      '"https://example.com/jwks?[hidden]"',
    ],
    [
      'with an @ in the query',
      `https://example.com/jwks?token=${secret}@x y`,
      '"https://example.com/jwks?[hidden]"',
    ],
    [
      'a fragment',
      `https://example.com/jw ks#access_token=${secret}`,
      '"https://example.com/jw ks#[hidden]"',
    ],
    ['that does not parse', `https://a ex/jwks?token=${secret}`, '"https://a ex/jwks?[hidden]"'],
    ['not parsing, an @ in the query', `https://a ex/jwks?token=a@${secret}`, '"https://[hidden]"'],
    [
      'plain http',
      `http://idp.example/jwks?token=${secret} `,
      '"http://idp.example/jwks?[hidden]"',
    ],
  ])('%s', (_label, url, shown) => {
    const problem = urlProblem(url, true)
    expect(problem).toContain(shown)
    expect(problem).not.toContain(secret)
  })

  it('user information and query both hidden', () => {
    const problem = urlProblem(`https://user:pw@a.example/jw ks?token=${secret}`, false)
    expect(problem).toContain('"https://[hidden]@a.example/jw ks?[hidden]"')
  })

  it('AUTH_PROVIDER_JWKS_URI through fromEnv', () => {
    const problems = problemsOf(() =>
      fromEnv(
        {
          AUTH_PROVIDER: 'jwks',
          AUTH_PROVIDER_ISSUER: 'https://example.com/',
          AUTH_PROVIDER_JWKS_URI: `https://example.com/jwks?token=${secret} x`,
          AUTH_PROVIDER_AUDIENCE: 'api',
        },
        { logger: false },
      ),
    )
    expect(problems).toEqual([
      expect.stringContaining(
        'must not contain spaces or control characters, got "https://example.com/jwks?[hidden]"',
      ),
    ])
    expect(problems.join('\n')).not.toContain(secret)
  })
})

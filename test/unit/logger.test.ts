import { spawnSync } from 'node:child_process'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { resolveLogger, safeError } from '../../src/logger.js'

describe('resolveLogger', () => {
  it('redacts credentials in every record of the logger it creates', () => {
    const lines: string[] = []
    const own = resolveLogger(undefined, 'info')
    // Its destination is stdout: the record is read back through pino's own stream.
    const stream = (own as unknown as Record<symbol, { write(line: string): void }>)[
      pino.symbols.streamSym
    ]!
    const write = stream.write
    stream.write = (line: string) => void lines.push(line)
    try {
      own.info(
        {
          req: { headers: { authorization: 'Bearer secret-1', cookie: 'sid=secret-2' } },
          headers: { authorization: 'Bearer secret-3' },
          token: 'secret-4',
          nested: { token: 'secret-5', password: 'secret-6' },
        },
        'request',
      )
    } finally {
      stream.write = write
    }
    expect(lines).toHaveLength(1)
    expect(lines[0]).not.toMatch(/secret-\d/)
    expect(JSON.parse(lines[0]!)).toMatchObject({ name: 'oidc-guard', token: '[redacted]' })
  })

  it('keeps a caller’s own redaction in the records it writes through the caller’s logger', () => {
    // A child's redact replaces its parent's: the caller's paths are kept by adding none.
    const lines: string[] = []
    const caller = pino(
      { level: 'debug', redact: ['user'] },
      { write: (line: string) => void lines.push(line) },
    )
    resolveLogger(caller, 'info').info({ user: 'jane.doe@example.com' }, 'record')
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: 'oidc-guard', user: '[Redacted]' })
  })

  it('false silences oidc-guard', () => {
    expect(resolveLogger(false, 'trace').isLevelEnabled('fatal')).toBe(false)
  })

  it('creates its own logger at the given level', () => {
    expect(resolveLogger(undefined, 'warn').level).toBe('warn')
  })
})

describe('safeError: what of a foreign error may be logged', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ'

  it('keeps type, code, message and stack, with tokens and credentials removed', () => {
    const error = Object.assign(new TypeError(`upstream refused Bearer ${jwt} and ${jwt}`), {
      code: 'ECONNRESET',
      config: { headers: { Authorization: `Bearer ${jwt}` } },
    })
    const summary = safeError(error)
    expect(summary).toMatchObject({
      type: 'TypeError',
      code: 'ECONNRESET',
      message: 'upstream refused Bearer [redacted] and [redacted token]',
    })
    expect(JSON.stringify(summary)).not.toContain(jwt)
    expect(JSON.stringify(summary)).not.toContain('config')
    expect(safeError(new Error('Basic dXNlcjpwYXNzd29yZA== was refused')).message).toBe(
      'Basic [redacted] was refused',
    )
  })

  it('removes every token of a longer dotted run, JWE-shaped ones and URL passwords', () => {
    const jwe = 'eyJlbmMiOiJBMjU2R0NNIn0.bbbbbbbbb.ccccccccc.ddddddddd.eeeeeeeee'
    const text = `a.b.${jwt} ${jwt}.${jwt} ${jwe} redis://default:hunter2@cache:6379/0`
    expect(safeError(new Error(text)).message).toBe(
      'a.b.[redacted token] [redacted token] [redacted token] redis://[redacted]@cache:6379/0',
    )
    expect(safeError(new Error('v1.2.3 in file.name.ts, aaaaaaaaa.bbbbbbbbb')).message).toBe(
      'v1.2.3 in file.name.ts, aaaaaaaaa.bbbbbbbbb',
    )
  })

  it('keeps host names, which an operator needs to see which issuer or key set failed', () => {
    const text =
      'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json answered HTTP 404; ' +
      'discovery names "https://keycloak.internal.mycompany.com/realms/orders" where ' +
      `"https://identity.production.mycompany.com/realms/orders" is expected; token ${jwt}`
    expect(safeError(new Error(text)).message).toBe(
      'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json answered HTTP 404; ' +
        'discovery names "https://keycloak.internal.mycompany.com/realms/orders" where ' +
        '"https://identity.production.mycompany.com/realms/orders" is expected; token [redacted token]',
    )
  })

  it('still removes a token whose segments look like labels, by its header or its signature', () => {
    // Short random segments without a JSON header: a signature of 64+ characters or an _ gives it away.
    const longSignature = `aaaaaaaaa.bbbbbbbbb.${'c'.repeat(64)}`
    const underscore = 'aaaaaaaaa.bbbb_bbbb.ccccccccc'
    expect(safeError(new Error(`${longSignature} ${underscore}`)).message).toBe(
      '[redacted token] [redacted token]',
    )
  })

  // The old patterns backtracked from every character of a run without dots: 12,000 characters
  // took 0.8 s, a megabyte would take hours, and no test timeout interrupts a regular expression.
  // So the megabytes are scrubbed in a child process that is killed if it is still busy after
  // 20 s; done in linear time, they take well under a second.
  it('scrubs megabytes of letters, dots or URL-like text without stalling', () => {
    const logger = new URL('../../src/logger.ts', import.meta.url).href
    const script = `
      const { safeError } = await import(${JSON.stringify(logger)})
      for (const text of ['a'.repeat(1e6), 'a.'.repeat(5e5), 'a://'.repeat(25e4), 'Bearer '.repeat(2e5)]) {
        if (safeError(new Error(text)).message.length !== 1000) process.exit(2)
      }`
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        timeout: 20_000,
        encoding: 'utf8',
      },
    )
    expect({ status: child.status, signal: child.signal, stderr: child.stderr }).toEqual({
      status: 0,
      signal: null,
      stderr: '',
    })
  }, 30_000)

  it('leaves ordinary words alone and describes non-errors', () => {
    expect(safeError(new Error('the token has no "email" claim')).message).toBe(
      'the token has no "email" claim',
    )
    expect(safeError('plain text')).toEqual({ type: 'string', message: 'plain text' })
  })
})

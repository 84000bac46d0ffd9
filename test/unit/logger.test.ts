import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { resolveLogger, safeError } from '../../src/logger.js'

describe('resolveLogger', () => {
  it('redacts credentials in records written through a caller’s logger', () => {
    const lines: string[] = []
    const caller = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) })
    const logger = resolveLogger(caller, 'info')
    logger.info(
      {
        req: { headers: { authorization: 'Bearer secret-1', cookie: 'sid=secret-2' } },
        headers: { authorization: 'Bearer secret-3' },
        token: 'secret-4',
        nested: { token: 'secret-5', password: 'secret-6' },
      },
      'request',
    )
    expect(lines).toHaveLength(1)
    expect(lines[0]).not.toMatch(/secret-\d/)
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: 'oidc-guard', token: '[redacted]' })
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

  it('leaves ordinary words alone and describes non-errors', () => {
    expect(safeError(new Error('the token has no "email" claim')).message).toBe(
      'the token has no "email" claim',
    )
    expect(safeError('plain text')).toEqual({ type: 'string', message: 'plain text' })
  })
})

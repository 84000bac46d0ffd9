import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { resolveLogger } from '../../src/logger.js'

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

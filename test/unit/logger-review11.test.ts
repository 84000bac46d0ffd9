import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { neverThrows, scrub } from '../../src/logger.js'

describe('neverThrows', () => {
  it('gives one logger one wrapper, so that parts telling each of their loggers say an event once', () => {
    const logger = pino({ level: 'silent' })
    const wrapped = neverThrows(logger)
    expect(neverThrows(logger)).toBe(wrapped)
    expect(neverThrows(wrapped)).toBe(wrapped)
    expect(neverThrows(pino({ level: 'silent' }))).not.toBe(wrapped)
  })
})

describe('scrub', () => {
  it("cuts a MySQL URL's ssl JSON (a private key, its passphrase) out of an error text", () => {
    const ssl = encodeURIComponent(
      '{"key":"-----BEGIN PRIVATE KEY-----MIIsecret","passphrase":"Pa55"}',
    )
    const text = scrub(`connect failed: mysql://app@db:3306/authz?charset=utf8mb4&ssl=${ssl}&x=1`)
    expect(text).not.toMatch(/MIIsecret|Pa55/)
    expect(text).toContain('&ssl=[redacted]&x=1')
    expect(text).toContain('?charset=utf8mb4')
  })
})

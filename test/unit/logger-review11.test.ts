import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { neverThrows } from '../../src/logger.js'

describe('neverThrows', () => {
  it('gives one logger one wrapper, so that parts telling each of their loggers say an event once', () => {
    const logger = pino({ level: 'silent' })
    const wrapped = neverThrows(logger)
    expect(neverThrows(logger)).toBe(wrapped)
    expect(neverThrows(wrapped)).toBe(wrapped)
    expect(neverThrows(pino({ level: 'silent' }))).not.toBe(wrapped)
  })
})

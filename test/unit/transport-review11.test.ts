// Review 11: isProduction reads a NODE_ENV an env file left quoted as production.

import { describe, expect, it } from 'vitest'
import { isProduction } from '../../src/options.js'

describe('isProduction', () => {
  it.each([
    'production',
    '"production"',
    "'production'",
    ' "production" ',
    '" production "',
    '"PROD"',
    "'Prod'",
  ])('reads NODE_ENV=%s as production', (value) => {
    expect(isProduction({ NODE_ENV: value })).toBe(true)
  })

  it.each([undefined, '', '""', '"development"', "'test'"])(
    'reads NODE_ENV=%s as not production',
    (value) => {
      expect(isProduction(value === undefined ? {} : { NODE_ENV: value })).toBe(false)
    },
  )
})

// SQL store review 7 on embedded SQLite: maxValues bounded at construction, lookups in code point order.

import { describe, expect, it } from 'vitest'
import { SqlAuthzStore } from '../../providers/sql/index.js'
import { ConfigError } from '../../src/errors.js'
import { uniqueTables } from '../helpers/sql.js'

describe('maxValues', () => {
  // It becomes the LIMIT literal: 1e21 or 2**64 used to pass here, then fail every lookup.
  it.each([1e21, 2 ** 64, Number.MAX_SAFE_INTEGER, 1_000_001])(
    'refuses %d at construction, naming the bound',
    (maxValues) => {
      const build = () => new SqlAuthzStore({ url: 'sqlite::memory:', maxValues })
      expect(build).toThrow(ConfigError)
      expect(build).toThrow('maxValues must be a whole number from 1 to 1000000')
    },
  )

  it('takes 1,000,000, and answers with it', async () => {
    const store = new SqlAuthzStore({
      url: 'sqlite::memory:',
      tables: uniqueTables(),
      maxValues: 1_000_000,
    })
    try {
      await store.init()
      await store.grant('groups', 'alice', 'admin')
      expect(await store.lookup('groups', 'alice')).toEqual(['admin'])
    } finally {
      await store.close()
    }
  })
})

describe('the default maxValues', () => {
  it('is 1,000: a user with 1,000 values is answered, one more is a failure, never a cut list', async () => {
    const store = new SqlAuthzStore({ url: 'sqlite::memory:', tables: uniqueTables() })
    expect(store.maxValues).toBe(1_000)
    try {
      await store.init()
      for (let i = 0; i < 1_000; i++) await store.grant('roles', 'alice', `role-${i}`)
      expect(await store.lookup('roles', 'alice')).toHaveLength(1_000)
      await store.grant('roles', 'alice', 'one-more')
      await expect(store.lookup('roles', 'alice')).rejects.toThrow(/more than 1000 roles/)
    } finally {
      await store.close()
    }
  })
})

describe('lookup order', () => {
  it('is by code point, as UTF-8 bytes order, not by UTF-16 code unit', async () => {
    const store = new SqlAuthzStore({ url: 'sqlite::memory:', tables: uniqueTables() })
    const values = ['\u{1F600}', '\uFF21', '\uE000', 'z', '\u{10000}', 'Z', 'é', '\uD7FF']
    try {
      await store.init()
      for (const value of values) await store.grant('groups', 'alice', value)
      const sorted = [...values].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      expect(sorted).toEqual([
        'Z',
        'z',
        'é',
        '\uD7FF',
        '\uE000',
        '\uFF21',
        '\u{10000}',
        '\u{1F600}',
      ])
      expect(await store.lookup('groups', 'alice')).toEqual(sorted)
    } finally {
      await store.close()
    }
  })
})

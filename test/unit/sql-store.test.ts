// SQL store and sources on embedded SQLite: lookups, grants, the lookup key, failures, the gate.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  lookupKey,
  SqlAuthzStore,
  SqlGroupsProvider,
  SqlPermissionsProvider,
  SqlRolesProvider,
} from '../../providers/sql/index.js'
import { Gate, GateRefusedError } from '../../providers/sql/gate.js'
import { UnavailableError } from '../../src/errors.js'
import { User } from '../../src/user.js'
import { execute, sqliteDatabase, uniqueTables } from '../helpers/sql.js'

const tables = uniqueTables()
let store: SqlAuthzStore

beforeAll(async () => {
  store = new SqlAuthzStore({ url: 'sqlite::memory:', tables, maxValues: 5 })
  await store.init()
  await store.init() // idempotent
  await store.grant('groups', 'alice', 'admin')
  await store.grant('groups', 'alice', 'ops')
  await store.grant('roles', 'alice', 'editor')
  await store.grant('permissions', 'alice', 'orders:read')
  await store.grant('permissions', 'alice@example.com', 'orders:write')
})

afterAll(() => store.close())

function tokenUser(claims: Record<string, unknown>): User {
  return new User(
    { provider: 'test', claims: { iss: 'https://idp', ...claims } },
    { id: String(claims['sub'] ?? '') },
    {},
  )
}

describe('SqlAuthzStore on SQLite', () => {
  it('looks values up sorted and without duplicates; a user without rows has none', async () => {
    expect(await store.lookup('groups', 'alice')).toEqual(['admin', 'ops'])
    expect(await store.lookup('roles', 'alice')).toEqual(['editor'])
    expect(await store.lookup('groups', 'bob')).toEqual([])
  })

  it('grants once and revokes what was granted', async () => {
    expect(await store.grant('groups', 'carol', 'ops')).toBe(true)
    expect(await store.grant('groups', 'carol', 'ops')).toBe(false)
    expect(await store.lookup('groups', 'carol')).toEqual(['ops'])
    expect(await store.revoke('groups', 'carol', 'ops')).toBe(1)
    expect(await store.revoke('groups', 'carol', 'ops')).toBe(0)
    expect(await store.lookup('groups', 'carol')).toEqual([])
  })

  it.each([
    ['alice\u0000', /NUL/],
    ['\uD800alice', /well-formed/],
    ['', /non-empty/],
  ])('rejects the unusable key %j instead of answering', async (key, reason) => {
    await expect(store.lookup('groups', key)).rejects.toThrow(reason)
  })

  it('refuses to grant values the default tables cannot hold exactly', async () => {
    // The widths are the default tables' (varchar(500), varchar(100)): a store on them, in a file of
    // its own, where SQLite itself would take any length.
    const file = sqliteDatabase()
    const defaults = new SqlAuthzStore({ url: file.url })
    try {
      await defaults.init()
      await expect(defaults.grant('groups', 'x'.repeat(501), 'admin')).rejects.toThrow(
        /longer than 500/,
      )
      await expect(defaults.grant('groups', 'dave', 'y'.repeat(101))).rejects.toThrow(
        /longer than 100/,
      )
      expect(await defaults.lookup('groups', 'dave')).toEqual([])
    } finally {
      await defaults.close()
      file.cleanup()
    }
    // An app's own table is its database's to check: SQLite holds a value of any length.
    expect(await store.grant('groups', 'dave', 'y'.repeat(101))).toBe(true)
    expect(await store.revoke('groups', 'dave', 'y'.repeat(101))).toBe(1)
    await expect(store.grant('groups', 'dave', 'a\u0000b')).rejects.toThrow(/NUL/)
  })

  it('fails, never cuts silently, past maxValues', async () => {
    for (const n of [1, 2, 3, 4, 5, 6]) await store.grant('permissions', 'hoarder', `p${n}`)
    await expect(store.lookup('permissions', 'hoarder')).rejects.toThrow(/more than 5 permissions/)
  })

  it('skips NULL values and fails on values that are not text', async () => {
    const odd = `${tables.groups}_odd`
    // The suite's store and this helper share the one in-memory database (same URL and pool).
    await execute('sqlite::memory:', [
      `create table "${odd}" ("username" text, "group")`,
      `insert into "${odd}" values ('alice', 'admin'), ('alice', null), ('bob', x'61'), ('carol', 7)`,
    ])
    const other = new SqlAuthzStore({ url: 'sqlite::memory:', tables: { groups: odd } })
    expect(await other.lookup('groups', 'alice')).toEqual(['admin'])
    // A blob's bytes are no text, though cast() would make 'a' of them.
    await expect(other.lookup('groups', 'bob')).rejects.toThrow(/holds a value that is not text/)
    // A number is answered as its text, as every dialect answers a number column's values.
    expect(await other.lookup('groups', 'carol')).toEqual(['7'])
    await other.close()
  })

  it('fails on a table that does not exist, and after close', async () => {
    const other = new SqlAuthzStore({ url: 'sqlite::memory:', tables: { groups: 'missing_table' } })
    await expect(other.lookup('groups', 'alice')).rejects.toThrow(/no such table/)
    await other.close()
    await expect(other.lookup('groups', 'alice')).rejects.toThrow(/closed/)
  })

  it('stops waiting as soon as the signal aborts', async () => {
    const controller = new AbortController()
    controller.abort(new Error('no longer wanted'))
    await expect(store.lookup('groups', 'alice', controller.signal)).rejects.toThrow(
      'no longer wanted',
    )
  })
})

describe('the lookup key', () => {
  it('is the idClaim of a token user, sub by default', () => {
    const user = tokenUser({ sub: 's-1', email: 'alice@example.com', 'cognito:username': 'alice' })
    expect(lookupKey(user, 'sub')).toBe('s-1')
    expect(lookupKey(user, 'email')).toBe('alice@example.com')
    expect(lookupKey(user, 'cognito:username')).toBe('alice')
  })

  it('is the id of a user authenticated without a token (Basic, API key)', () => {
    expect(lookupKey(new User({ provider: 'basic' }, { id: 'alice' }, {}), 'email')).toBe('alice')
  })

  it.each([{}, { email: 42 }, { email: '' }, { email: ['a@x'] }])(
    'fails clearly, naming the claim and not its value, for %j',
    (claims) => {
      expect(() => lookupKey(tokenUser({ sub: 's-1', ...claims }), 'email')).toThrow(
        'the token has no "email" claim (a non-empty string)',
      )
    },
  )
})

describe('the sources', () => {
  it('answer each facet by the configured claim', async () => {
    const options = { store, idClaim: 'email' }
    const user = tokenUser({ sub: 's-1', email: 'alice@example.com' })
    expect(await new SqlPermissionsProvider(options).fetchPermissions(user)).toEqual([
      'orders:write',
    ])
    const bySub = tokenUser({ sub: 'alice' })
    expect(await new SqlGroupsProvider({ store }).fetchGroups(bySub)).toEqual(['admin', 'ops'])
    expect(await new SqlRolesProvider({ store }).fetchRoles(bySub)).toEqual(['editor'])
  })

  it('declare nothing about fromToken: their answers are cached across requests', () => {
    expect((new SqlGroupsProvider({ store }) as { fromToken?: boolean }).fromToken).toBeUndefined()
  })

  it('reject (never throw, never []) for a token without the claim; the user sees a 503', async () => {
    const source = new SqlGroupsProvider({ store, idClaim: 'email' })
    const user = tokenUser({ sub: 'alice' })
    const pending = source.fetchGroups(user)
    await expect(pending).rejects.toThrow(/no "email" claim/)
    const withSource = new User(
      { provider: 'test', claims: { sub: 'alice' } },
      { id: 'alice' },
      { groups: source },
    )
    const failure = await withSource.groups.catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(UnavailableError)
    expect(failure).toMatchObject({ code: 'ERR_AUTH_SOURCE_UNAVAILABLE', status: 503 })
  })

  it('leave a shared store open when they close', async () => {
    await new SqlGroupsProvider({ store }).close()
    expect(await store.lookup('groups', 'alice')).toEqual(['admin', 'ops'])
  })

  it('share one connection per URL and close it with the last source', async () => {
    // A SQLite file of their own (the suite's in-memory database stays open with its store), and
    // the default pool options, which the `execute` helper uses too: a temporary table, which lives
    // in one connection only, tells whether the helper ran on the sources' connection.
    const file = sqliteDatabase()
    const options = { url: file.url, tables }
    const a = new SqlGroupsProvider(options)
    const b = new SqlPermissionsProvider(options)
    try {
      await a.store.init()
      await a.store.grant('permissions', 'erin', 'p')
      expect(await b.fetchPermissions(tokenUser({ sub: 'erin' }))).toEqual(['p'])
      await execute(file.url, ['create temp table "shared_marker" ("x")'])
      await a.close()
      // Still the one connection: a's close did not end it while b holds it.
      expect(await b.fetchPermissions(tokenUser({ sub: 'erin' }))).toEqual(['p'])
      await expect(execute(file.url, ['select * from temp."shared_marker"'])).resolves.toEqual([[]])
      await b.close()
      // The last source closed it: the helper now opens a new connection, without the marker.
      await expect(execute(file.url, ['select * from temp."shared_marker"'])).rejects.toThrow(
        /no such table/,
      )
    } finally {
      await a.close()
      await b.close()
      file.cleanup()
    }
  })
})

describe('a missing driver', () => {
  it('is a ConfigError naming the package to install', async () => {
    vi.resetModules()
    vi.doMock('better-sqlite3', () => {
      throw new Error("Cannot find package 'better-sqlite3'")
    })
    try {
      const { SqlAuthzStore: Fresh } = await import('../../providers/sql/store.js')
      const fresh = new Fresh({ url: 'sqlite::memory:' })
      await expect(fresh.ready()).rejects.toThrow(
        'a sqlite URL needs the "better-sqlite3" package, which could not be loaded: npm install better-sqlite3',
      )
      await fresh.close()
    } finally {
      vi.doUnmock('better-sqlite3')
      vi.resetModules()
    }
  })
})

describe('Gate', () => {
  const hold = () => {
    let release!: () => void
    const done = new Promise<void>((resolve) => (release = resolve))
    return { done, release }
  }

  it('runs at most size tasks, queues maxWaiting more and refuses the rest at once', async () => {
    const gate = new Gate({ size: 1, maxWaiting: 2, acquireTimeoutMs: 60_000 })
    const first = hold()
    const running = gate.run(() => first.done)
    const waiting = [gate.run(async () => 'a'), gate.run(async () => 'b')]
    expect(gate.active).toBe(1)
    expect(gate.waiting).toBe(2)
    await expect(gate.run(async () => 'c')).rejects.toThrow(GateRefusedError)
    first.release()
    await running
    expect(await Promise.all(waiting)).toEqual(['a', 'b'])
    expect({ active: gate.active, waiting: gate.waiting }).toEqual({ active: 0, waiting: 0 })
  })

  it('gives up on a wait after acquireTimeoutMs, and frees the queue', async () => {
    vi.useFakeTimers()
    const gate = new Gate({ size: 1, maxWaiting: 5, acquireTimeoutMs: 1_000 })
    const first = hold()
    const running = gate.run(() => first.done)
    const late = gate.run(async () => 'never').catch((error: unknown) => error)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await late).toBeInstanceOf(GateRefusedError)
    expect(String(await late)).toMatch(
      /no database connection became free within 1000 ms \(pool size 1\)/,
    )
    expect(gate.waiting).toBe(0)
    first.release()
    await running
  })

  it('lets an aborted waiter leave the queue', async () => {
    const gate = new Gate({ size: 1, maxWaiting: 5, acquireTimeoutMs: 60_000 })
    const first = hold()
    const running = gate.run(() => first.done)
    const controller = new AbortController()
    const waiting = gate
      .run(async () => 'never', controller.signal)
      .catch((error: unknown) => error)
    controller.abort(new Error('timed out upstream'))
    expect(String(await waiting)).toMatch('timed out upstream')
    expect(gate.waiting).toBe(0)
    first.release()
    await running
    expect(gate.active).toBe(0)
  })

  it('frees the slot when a task fails', async () => {
    const gate = new Gate({ size: 1, maxWaiting: 0, acquireTimeoutMs: 10 })
    await expect(gate.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    expect(await gate.run(async () => 'ok')).toBe('ok')
  })
})

// Review 8 of the CLI: SQL options per command, arguments checked first, values shown unambiguously,
// SQLite files never made by a lookup, mint's audience, verify's cause of an outage.

import { existsSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../bin/dispatch.js'
import { tokenCommands } from '../../bin/token-commands.js'
import { sqlCommands } from '../../providers/sql/cli.js'
import { SqlAuthzStore, SqlGroupsProvider } from '../../providers/sql/index.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { sqliteDatabase, uniqueTables } from '../helpers/sql.js'

async function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(
    args,
    { out: (line) => void out.push(line), err: (line) => void err.push(line), env },
    [...sqlCommands, ...tokenCommands],
  )
  return { code, out: out.join('\n'), err: err.join('\n') }
}

describe('the SQL commands', () => {
  const db = sqliteDatabase()
  const path = db.url.slice('sqlite:'.length)
  const tables = uniqueTables()
  const flags = ['--url', db.url, '--groups-table', tables.groups]
  const groupsOf = async (user: string) => (await cli(['groups', user, '--json', ...flags])).out

  beforeAll(async () => {
    expect(
      (await cli(['sql', 'init', '--url', db.url, '--groups-table', tables.groups])).code,
    ).toBe(0)
  })
  afterAll(() => db.cleanup())

  it('a wrong sql word is refused without echoing it: a URL there would print its password', async () => {
    for (const words of [
      ['init', 'postgres://app:hunter2@db/authz'],
      ['postgres://app:hunter2@db/authz'],
      ['mysql://root:hunter2@db/app', 'init'],
    ]) {
      const { code, err } = await cli(['sql', ...words])
      expect(code).toBe(2)
      expect(err).toMatch(/give the URL as --url URL/)
      expect(err).not.toContain('hunter2')
    }
    expect((await cli(['sql', 'drop'])).err).toMatch(/expected "sql init"/)
  })

  it.each([
    [['grant', 'group', 'alice', 'admin', '--print'], /Unknown option '--print'/],
    [['revoke', 'group', 'alice', 'admin', '--json'], /Unknown option '--json'/],
    [['groups', 'alice', '--print'], /Unknown option '--print'/],
    [['roles', 'alice', '--dialect', 'mysql'], /Unknown option '--dialect'/],
    [['sql', 'init', '--json'], /Unknown option '--json'/],
  ])(
    '%j: an option the command does not read is refused (exit 2), nothing written',
    async (args, message) => {
      const { code, err } = await cli([...args, ...flags])
      expect(code).toBe(2)
      expect(err).toMatch(message)
      expect(await groupsOf('alice')).toBe('[]')
    },
  )

  it('--dialect only with --print, and never contradicting --url', async () => {
    const missing = `${path}-never`
    const alone = await cli(['sql', 'init', '--dialect', 'sqlite', '--url', `sqlite:${missing}`])
    expect(alone).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--dialect goes with --print/),
    })
    expect(existsSync(missing)).toBe(false)
    const contradicting = await cli([
      'sql',
      'init',
      '--print',
      '--dialect',
      'mysql',
      '--url',
      db.url,
    ])
    expect(contradicting).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--dialect mysql contradicts --url, which is sqlite/),
    })
    const agreeing = await cli(['sql', 'init', '--print', '--dialect', 'sqlite', '--url', db.url])
    expect(agreeing.code).toBe(0)
    expect(agreeing.out).toMatch(/^create table if not exists "authz_groups"/)
  })

  it.each([
    ['an empty user', ['grant', 'group', '', 'admin'], 'the user is empty'],
    ['an empty value', ['grant', 'group', 'alice', ''], 'the value is empty'],
    ['an empty user to revoke', ['revoke', 'group', '', 'admin'], 'the user is empty'],
    ['an empty user to look up', ['groups', ''], 'the user is empty'],
    [
      '101 characters',
      ['grant', 'group', 'alice', 'x'.repeat(101)],
      'the value is longer than 100 characters',
    ],
    [
      'a 501-character user',
      ['grant', 'group', 'u'.repeat(501), 'x'],
      'the user is longer than 500 characters',
    ],
  ])(
    '%s is a wrong command line (exit 2, no database in the message)',
    async (_name, args, message) => {
      // A URL nobody answers: the arguments are refused before any connection is tried.
      const { code, err } = await cli([...args, '--url', 'postgres://app:pw@127.0.0.1:1/authz'])
      expect(code).toBe(2)
      expect(err).toMatch(new RegExp(`^oidc-guard \\w+: ${message}[:\\n]`))
      expect(err).not.toContain('127.0.0.1')
    },
  )

  it('widths count code points: 100 emoji are granted; revoke takes any length', async () => {
    const emoji = '😀'.repeat(100)
    expect(await cli(['grant', 'group', 'bob', emoji, ...flags])).toMatchObject({ code: 0 })
    expect(await groupsOf('bob')).toBe(JSON.stringify([emoji]))
    const long = await cli(['revoke', 'group', 'bob', 'x'.repeat(300), ...flags])
    expect(long).toMatchObject({ code: 0, out: `bob did not have groups ${'x'.repeat(300)}` })
  })

  it('prints as JSON strings the values that would read ambiguously in text', async () => {
    const values = [
      'admin\nops',
      'admin ',
      ' admin',
      '\u001b[31mred',
      '\u009b31mred',
      'ad\u200bmin',
      'a\u00a0b',
      '"quoted"',
      'plain value',
    ]
    const granted: string[] = []
    for (const value of values) {
      granted.push((await cli(['grant', 'group', 'carol\t', value, ...flags])).out)
    }
    expect(granted[0]).toBe('granted groups "admin\\nops" to "carol\\t"')
    expect(granted.at(-1)).toBe('granted groups plain value to "carol\\t"')
    const { out } = await cli(['groups', 'carol\t', ...flags])
    expect(out.split('\n').sort()).toEqual(
      [
        '" admin"',
        '"\\"quoted\\""',
        '"\\u001b[31mred"',
        '"\\u009b31mred"',
        '"a\\u00a0b"',
        '"ad\\u200bmin"',
        '"admin "',
        '"admin\\nops"',
        'plain value',
      ].sort(),
    )
    expect(JSON.parse(await groupsOf('carol\t')).sort()).toEqual([...values].sort())
  })
})

describe('a SQLite file is created by sql init (init()) only', () => {
  const db = sqliteDatabase()
  const path = db.url.slice('sqlite:'.length)
  afterAll(() => db.cleanup())

  it('lookups, grants and revokes on a missing file fail (exit 1) and leave no file behind', async () => {
    for (const args of [
      ['groups', 'alice'],
      ['grant', 'group', 'alice', 'admin'],
      ['revoke', 'group', 'alice', 'admin'],
    ]) {
      const { code, err } = await cli([...args, '--url', db.url])
      expect(code).toBe(1)
      expect(err).toContain(`no database file at ${path}`)
      expect(existsSync(path)).toBe(false)
    }
    expect((await cli(['sql', 'init', '--url', db.url])).code).toBe(0)
    expect(existsSync(path)).toBe(true)
    expect((await cli(['grant', 'group', 'alice', 'admin', '--url', db.url])).code).toBe(0)
  })

  it('the library’s store and sources refuse a missing file too; init() creates it', async () => {
    const other = sqliteDatabase()
    const file = other.url.slice('sqlite:'.length)
    const store = new SqlAuthzStore({ url: other.url })
    const groups = new SqlGroupsProvider({ url: other.url })
    try {
      await expect(store.ready()).rejects.toThrow(`no database file at ${file}`)
      await expect(store.lookup('groups', 'alice')).rejects.toThrow('no database file')
      await expect(groups.ready()).rejects.toThrow('no database file')
      expect(existsSync(file)).toBe(false)
      await store.init()
      expect(existsSync(file)).toBe(true)
      expect(await groups.fetchGroups({ id: 'alice', claims: {} } as never)).toEqual([])
    } finally {
      await groups.close()
      await store.close()
      other.cleanup()
    }
  })

  it('an existing empty file is a database: init() fills it', async () => {
    const other = sqliteDatabase()
    const file = other.url.slice('sqlite:'.length)
    writeFileSync(file, '')
    const store = new SqlAuthzStore({ url: other.url })
    try {
      await store.init()
      expect(await store.grant('roles', 'alice', 'admin')).toBe(true)
    } finally {
      await store.close()
      other.cleanup()
    }
  })
})

describe('mint refuses an audience the printed AUTH_PROVIDER_AUDIENCE cannot say', () => {
  it.each([
    ['', /--audience must not be empty/],
    [' ', /--audience must not be empty/],
    [' api://x', /--audience must not start or end with whitespace/],
    ['api://x\n', /--audience must not start or end with whitespace/],
    ['api://a,api://b', /--audience must be one audience without a comma/],
  ])('--audience %j: exit code 2, nothing printed', async (audience, message) => {
    const { code, out, err } = await cli([
      'mint',
      '--audience',
      audience,
      '--port',
      '0',
      '--exit-after-print',
    ])
    expect(code).toBe(2)
    expect(out).toBe('')
    expect(err).toMatch(message)
  })
})

describe('verify names the cause of an outage', () => {
  let idp: TestIssuer
  beforeAll(async () => {
    idp = await createTestIssuer({ audience: 'api://cli8' })
  })
  afterAll(() => idp.close())

  it('the JWKS answering 401: in text and in --json', async () => {
    idp.respondWith('jwks', { status: 401, body: { error: 'unauthorized' } })
    try {
      const env = {
        AUTH_PROVIDER: 'jwks',
        AUTH_PROVIDER_ISSUER: idp.issuer,
        AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
        AUTH_PROVIDER_AUDIENCE: 'api://cli8',
      }
      const token = idp.mint({ sub: 'alice' })
      const text = await cli(['verify', token], env)
      expect(text.code).toBe(1)
      expect(text.out).toBe(
        `refused (503 ERR_AUTH_KEYS_UNAVAILABLE): signing keys are temporarily unavailable\ncause: ${idp.jwksUri} answered HTTP 401`,
      )
      const json = await cli(['verify', token, '--json'], env)
      expect(JSON.parse(json.out)).toEqual({
        valid: false,
        status: 503,
        code: 'ERR_AUTH_KEYS_UNAVAILABLE',
        description: 'signing keys are temporarily unavailable',
        cause: `${idp.jwksUri} answered HTTP 401`,
      })
    } finally {
      idp.respondWith('jwks', undefined)
    }
  })

  it('a discovery document naming another issuer (a trailing slash)', async () => {
    idp.setDiscovery({ issuer: `${idp.issuer}/` })
    try {
      const { code, out } = await cli(['verify', idp.mint({ sub: 'alice' })], {
        AUTH_PROVIDER: 'oidc',
        AUTH_PROVIDER_ISSUER: idp.issuer,
        AUTH_PROVIDER_AUDIENCE: 'api://cli8',
      })
      expect(code).toBe(1)
      expect(out).toMatch(/^refused \(503 ERR_AUTH_KEYS_UNAVAILABLE\)/)
      expect(out).toMatch(/\ncause: the discovery document names another issuer .*trailing slash/)
    } finally {
      idp.setDiscovery(undefined)
    }
  })
})

// The CLI's SQL commands: in process for every path, and spawned against SQLite and PostgreSQL.

import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../../bin/dispatch.js'
import { sqlCommands } from '../../providers/sql/cli.js'
import {
  dropTables,
  sqliteDatabase,
  testDatabases,
  uniqueTables,
  type TestDatabase,
} from '../helpers/sql.js'

const root = join(import.meta.dirname, '..', '..')

async function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(
    args,
    { out: (line) => void out.push(line), err: (line) => void err.push(line), env },
    sqlCommands,
  )
  return { code, out: out.join('\n'), err: err.join('\n') }
}

function spawnCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(root, 'bin', 'oidc-guard.ts'), ...args],
      { cwd: root, env: { PATH: process.env['PATH'] ?? '' }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

describe('the SQL commands, in process', () => {
  const db = sqliteDatabase()
  const tables = uniqueTables()
  const flags = [
    '--url',
    db.url,
    '--groups-table',
    tables.groups,
    '--roles-table',
    tables.roles,
    '--permissions-table',
    tables.permissions,
  ]

  afterAll(() => db.cleanup())

  it('creates the tables, grants, lists and revokes', async () => {
    expect(await cli(['sql', 'init', ...flags])).toMatchObject({
      code: 0,
      out: `tables ready in ${db.url}: ${tables.groups}, ${tables.roles}, ${tables.permissions}`,
    })
    expect(await cli(['grant', 'group', 'alice', 'admin', ...flags])).toMatchObject({
      code: 0,
      out: 'granted groups admin to alice',
    })
    expect((await cli(['grant', 'groups', 'alice', 'admin', ...flags])).out).toBe(
      'alice already had groups admin',
    )
    await cli(['grant', 'group', 'alice', 'ops', ...flags])
    expect(await cli(['groups', 'alice', ...flags])).toMatchObject({ code: 0, out: 'admin\nops' })
    expect((await cli(['groups', 'alice', '--json', ...flags])).out).toBe('["admin","ops"]')
    expect(await cli(['roles', 'alice', ...flags])).toMatchObject({ code: 0, out: '' })
    expect((await cli(['revoke', 'group', 'alice', 'ops', ...flags])).out).toBe(
      'revoked groups ops from alice',
    )
    expect((await cli(['revoke', 'group', 'alice', 'ops', ...flags])).out).toBe(
      'alice did not have groups ops',
    )
    expect((await cli(['groups', 'alice', ...flags])).out).toBe('admin')
  })

  it('reads the URL from AUTHZ_DATABASE_URL (or the seed’s alias) without --url', async () => {
    const rest = flags.slice(2)
    const viaEnv = await cli(['groups', 'alice', ...rest], { AUTHZ_DATABASE_URL: db.url })
    expect(viaEnv).toMatchObject({ code: 0, out: 'admin' })
    const viaAlias = await cli(['groups', 'alice', ...rest], {
      AUTHZ_SQLALCHEMY_DATABASE_URI: db.url,
    })
    expect(viaAlias).toMatchObject({ code: 0, out: 'admin' })
  })

  it('prints the schema of any dialect without connecting', async () => {
    const printed = await cli(['sql', 'init', '--print', '--dialect', 'mysql'])
    expect(printed.code).toBe(0)
    expect(printed.out).toContain('create table if not exists `authz_groups`')
    expect(printed.out.split('\n').every((line) => line.endsWith(';'))).toBe(true)
    const fromUrl = await cli(['sql', 'init', '--print', '--url', 'postgres://nowhere.invalid/x'])
    expect(fromUrl.out).toContain('create table if not exists "authz_groups"')
  })

  it.each([
    [[], /Usage: oidc-guard <command>/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['groups'], /expected exactly one USER/],
    [['groups', 'alice', '--colour'], /Unknown option '--colour'/],
    [['groups', 'alice'], /--url is required/],
    [['grant', 'team', 'alice', 'x', '--url', 'sqlite::memory:'], /facet must be group/],
    [['grant', 'group', 'alice', '--url', 'sqlite::memory:'], /expected FACET USER VALUE/],
    [['sql', 'drop', '--url', 'sqlite::memory:'], /expected "sql init"/],
    [['sql', 'init', '--print', '--dialect', 'oracle'], /--dialect must be/],
    [['groups', 'alice', '--url', 'redis://x'], /url must start with/],
    [['groups', 'alice', '--url', 'sqlite::memory:', '--groups-table', 'x;y'], /tables.groups/],
  ])('exits 2 with the usage for %j', async (args, message) => {
    const { code, err } = await cli(args)
    expect(code).toBe(2)
    expect(err).toMatch(message)
    expect(err).not.toMatch(/\n\s+at /)
  })

  it('prints help with exit code 0', async () => {
    expect(await cli(['--help'])).toMatchObject({
      code: 0,
      out: expect.stringMatching(/Commands:/),
    })
    expect((await cli(['help', 'grant'])).out).toMatch(/Usage: oidc-guard grant/)
    expect((await cli(['permissions', '--help'])).out).toMatch(/Usage: oidc-guard permissions USER/)
  })

  it('exits 1 when the database fails, in one line without stack or password', async () => {
    const { code, err } = await cli([
      'permissions',
      'alice',
      '--url',
      'postgres://app:hunter2@127.0.0.1:1/authz',
    ])
    expect(code).toBe(1)
    expect(err).toBe(
      'oidc-guard permissions: postgres://app:***@127.0.0.1:1/authz: connect ECONNREFUSED 127.0.0.1:1',
    )
  })
})

describe.each(await testDatabases(['postgres', 'sqlite']))(
  'the oidc-guard command on $name',
  (db: TestDatabase) => {
    const tables = uniqueTables()
    const flags = [
      '--url',
      db.url,
      '--groups-table',
      tables.groups,
      '--roles-table',
      tables.roles,
      '--permissions-table',
      tables.permissions,
    ]

    afterAll(async () => {
      if (db.name !== 'sqlite') await dropTables(db.url, Object.values(tables))
      db.cleanup()
    })

    it('initialises, grants, lists and revokes, with exit codes and no stack traces', async () => {
      expect((await spawnCli(['sql', 'init', ...flags])).code).toBe(0)
      const granted = await spawnCli(['grant', 'permission', 'alice', 'orders:read', ...flags])
      expect(granted).toMatchObject({
        code: 0,
        stdout: 'granted permissions orders:read to alice\n',
      })
      expect(await spawnCli(['permissions', 'alice', ...flags])).toMatchObject({
        code: 0,
        stdout: 'orders:read\n',
      })
      expect(
        (await spawnCli(['revoke', 'permission', 'alice', 'orders:read', ...flags])).code,
      ).toBe(0)
      expect(await spawnCli(['permissions', 'alice', '--json', ...flags])).toMatchObject({
        code: 0,
        stdout: '[]\n',
      })
      const wrong = await spawnCli(['permissions', ...flags])
      expect(wrong.code).toBe(2)
      expect(wrong.stderr).toMatch(/^oidc-guard permissions: expected exactly one USER/)
      expect(wrong.stderr).not.toMatch(/\n\s+at /)
    }, 60_000) // six processes, each loading TypeScript through tsx
  },
)

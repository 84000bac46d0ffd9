// JsonCredentialsRepository: the seed's file format, groups kept, every bad entry named at construction.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { JsonCredentialsRepository } from '../../src/credentials.js'
import { ConfigError } from '../../src/errors.js'
import { verifyPassword } from '../../src/passwords.js'

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'users.json')
const HASH = `pbkdf2_sha256$1000$${'a1'.repeat(16)}$${'0f'.repeat(32)}`
const dir = mkdtempSync(join(tmpdir(), 'oidc-guard-credentials-'))

afterAll(() => rmSync(dir, { recursive: true, force: true }))

function fileWith(text: string): string {
  const path = join(dir, `users-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(path, text)
  return path
}

function problemsOf(create: () => unknown): string[] {
  try {
    create()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return [...(error as ConfigError).problems]
  }
  throw new Error('expected a ConfigError')
}

describe('JsonCredentialsRepository', () => {
  const repository = new JsonCredentialsRepository({ path: FIXTURE })

  it('loads every user with id, name, email, groups, roles, permissions and scopes', async () => {
    expect(repository.size).toBe(5)
    expect(repository.path).toBe(FIXTURE)
    const alice = repository.getCredentials('alice')!
    expect(alice).toMatchObject({
      id: 'u-alice',
      username: 'alice',
      name: 'Alice',
      email: 'alice@example.com',
      groups: ['admin', 'ops'],
      roles: ['editor'],
      permissions: ['orders:read', 'orders:write'],
      scopes: ['orders.read'],
    })
    expect(await verifyPassword('alice-password', alice.passwordHash)).toBe(true)
    expect(Object.isFrozen(alice)).toBe(true)
  })

  it("reads the seed's format (hashed_pwd) and keeps its groups, which the seed dropped", async () => {
    const bob = repository.getCredentials('bob')!
    expect(bob.groups).toEqual(['ops'])
    expect(await verifyPassword('bob:pa:ss', bob.passwordHash)).toBe(true)
  })

  it('answers undefined for unknown users, including inherited property names', () => {
    for (const name of ['mallory', '__proto__', 'constructor', 'toString', 'ALICE']) {
      expect(repository.getCredentials(name)).toBeUndefined()
    }
  })

  it('takes its path from AUTH_MIDDLEWARE_JSON_REPOSITORY_PATH, relative to the working directory', () => {
    const env = { AUTH_MIDDLEWARE_JSON_REPOSITORY_PATH: relative(process.cwd(), FIXTURE) }
    expect(new JsonCredentialsRepository({ env }).getCredentials('alice')?.id).toBe('u-alice')
  })

  it('without a path or the variable, names both', () => {
    const [problem] = problemsOf(() => new JsonCredentialsRepository({ env: {} }))
    expect(problem).toMatch(/AUTH_MIDDLEWARE_JSON_REPOSITORY_PATH is required/)
    expect(problem).toMatch(/path option/)
  })

  it('names a missing file and where its path came from', () => {
    const env = { AUTH_MIDDLEWARE_JSON_REPOSITORY_PATH: join(dir, 'missing.json') }
    const [problem] = problemsOf(() => new JsonCredentialsRepository({ env }))
    expect(problem).toContain('missing.json')
    expect(problem).toContain('AUTH_MIDDLEWARE_JSON_REPOSITORY_PATH')
    expect(problem).toContain('ENOENT')
  })

  it('names the file and position of invalid JSON without quoting its content', () => {
    const path = fileWith(`{\n  "alice": { "passwordHash": "${HASH}" },\n  oops\n}`)
    const [problem] = problemsOf(() => new JsonCredentialsRepository({ path }))
    expect(problem).toContain(path)
    expect(problem).toMatch(/not valid JSON \(line 3, column \d+\)/)
    expect(problem).not.toContain('a1a1')
  })

  it.each([
    ['a list', '[]'],
    ['a string', '"users"'],
    ['null', 'null'],
  ])('refuses a file holding %s', (_case, text) => {
    expect(problemsOf(() => new JsonCredentialsRepository({ path: fileWith(text) }))[0]).toMatch(
      /must hold a JSON object keyed by username/,
    )
  })

  it('lists every bad entry, naming it, and never echoes a hash', () => {
    const secretLooking = 'pbkdf2_sha256$600000$zz$not-a-hash'
    const path = fileWith(
      JSON.stringify({
        ok: { passwordHash: HASH },
        nohash: { name: 'No Hash' },
        badhash: { passwordHash: secretLooking },
        typo: { passwordHash: HASH, grups: ['admin'] },
        badgroups: { passwordHash: HASH, groups: 'admin' },
        emptyrole: { passwordHash: HASH, roles: [''] },
        both: { passwordHash: HASH, hashed_pwd: HASH },
        'with:colon': { passwordHash: HASH },
        badname: { passwordHash: HASH, email: 42 },
        notobject: 'x',
      }),
    )
    const problems = problemsOf(() => new JsonCredentialsRepository({ path }))
    const expected: [string, RegExp][] = [
      ['nohash', /passwordHash is missing or not a recognised hash/],
      ['badhash', /passwordHash is missing or not a recognised hash/],
      ['typo', /unknown field "grups"/],
      ['badgroups', /groups must be a list of non-empty strings/],
      ['emptyrole', /roles must be a list of non-empty strings/],
      ['both', /both passwordHash and hashed_pwd/],
      ['with:colon', /without ":"/],
      ['badname', /email must be a non-empty string/],
      ['notobject', /must be an object with a passwordHash/],
    ]
    for (const [entry, message] of expected) {
      expect(problems.some((p) => p.includes(`entry "${entry}"`) && message.test(p))).toBe(true)
    }
    expect(problems).toHaveLength(expected.length)
    expect(problems.every((p) => p.includes(path))).toBe(true)
    expect(problems.join('\n')).not.toContain(secretLooking)
    expect(problems.join('\n')).not.toContain(HASH)
  })
})

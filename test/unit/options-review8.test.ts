// Review 8 of nested options and forgetUser: a misspelt key, a fractional TTL or a wrong shape is
// refused, never quietly left to a default that keeps an answer longer than asked.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { createVerifier, hashPassword } from '../../src/index.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider
beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://options-review8.example'))
})
afterAll(() => idp.close())

const groups = { fetchGroups: () => ['staff'] }

function problemsOf(build: () => unknown): string[] {
  try {
    build()
    return []
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return [...(error as ConfigError).problems]
  }
}

describe('sourceCache and tokenCache refuse keys they do not take', () => {
  it.each([{ sharde: {} }, { ttl: 1 }, { ttlMS: 5 }, { enabled: false }])(
    'sourceCache %j',
    (sourceCache) => {
      const problems = problemsOf(() =>
        createVerifier({ provider, groups, logger: false, sourceCache: sourceCache as object }),
      )
      expect(problems.join('\n')).toMatch(/^sourceCache: "\w+" is not an option/m)
    },
  )

  it('names the option a key likely misspells', () => {
    const problems = problemsOf(() =>
      createVerifier({ provider, groups, logger: false, sourceCache: { ttlMS: 5 } as object }),
    )
    expect(problems.join('\n')).toContain('did you mean ttlMs?')
  })

  it.each([{ size: 1 }, { enabled: false }])('tokenCache %j', (tokenCache) => {
    const problems = problemsOf(() =>
      createVerifier({ provider, logger: false, tokenCache: tokenCache as object }),
    )
    expect(problems.join('\n')).toMatch(/^tokenCache: "\w+" is not an option/m)
  })

  it('a fractional sourceCache.ttlMs is a ConfigError naming it, not lru-cache’s TypeError', () => {
    const problems = problemsOf(() =>
      createVerifier({ provider, groups, logger: false, sourceCache: { ttlMs: 1.5 } }),
    )
    expect(problems.join('\n')).toContain('sourceCache.ttlMs')
  })

  it('the options each take still build', () => {
    expect(() =>
      createVerifier({
        provider,
        groups,
        logger: false,
        sourceCache: { ttlMs: 1000, max: 10 },
        tokenCache: { max: 10 },
      }),
    ).not.toThrow()
  })
})

describe('forgetUser refuses what it cannot forget', () => {
  const verify = () => createVerifier({ provider, groups, logger: false })

  it.each([
    [{ iss: 'https://options-review8.example', subject: 'alice' }],
    [{ issuer: 'https://options-review8.example', subject: undefined }],
    [{ issuer: 'https://options-review8.example', subject: 42 }],
    [{ issuer: 'https://options-review8.example', sub: 'alice' }],
    [{ issuer: '', subject: 'alice' }],
    [undefined],
    ['alice'],
  ])('%j: a TypeError', async (argument) => {
    await expect(verify().forgetUser(argument as never)).rejects.toThrow(
      /forgetUser takes a User or \{ issuer, subject \}/,
    )
  })

  it('takes a User and { issuer, subject }', async () => {
    const verifier = verify()
    const user = await verifier(idp.mint({ sub: 'alice' }))
    await expect(verifier.forgetUser(user)).resolves.toBeUndefined()
    await expect(
      verifier.forgetUser({ issuer: idp.issuer, subject: 'alice' }),
    ).resolves.toBeUndefined()
  })
})

describe('options given in the wrong place', () => {
  it('a shared tier given as sourceCache itself is refused, with the hint', () => {
    class FakeTier {
      get() {}
      set() {}
      invalidate() {}
      onInvalidate() {}
    }
    const problems = problemsOf(() =>
      createVerifier({
        provider,
        groups,
        logger: false,
        sourceCache: new FakeTier() as never,
      }),
    )
    expect(problems.join('\n')).toContain('did you mean sourceCache: { shared }?')
  })

  it('hashPassword refuses scrypt costs without the scrypt algorithm, and iterations with it', async () => {
    await expect(hashPassword('pw', { scrypt: { N: 2 ** 14, r: 8, p: 1 } })).rejects.toThrow(
      /scrypt is read only with algorithm: 'scrypt'/,
    )
    await expect(hashPassword('pw', { algorithm: 'scrypt', iterations: 1000 })).rejects.toThrow(
      /iterations is PBKDF2's/,
    )
    await expect(
      hashPassword('pw', { algorithm: 'scrypt', scrypt: { N: 2 ** 14, r: 8, p: 1 } }),
    ).resolves.toMatch(/^scrypt\$16384\$8\$1\$/)
  })
})

describe('a stored hash refused for its cost says so', () => {
  it('the JSON repository names the bound a too costly scrypt hash breaks', async () => {
    const { JsonCredentialsRepository } = await import('../../src/index.js')
    const salt = '00'.repeat(16)
    const hash = 'ab'.repeat(32)
    const folder = mkdtempSync(join(tmpdir(), 'options-review8-'))
    const path = join(folder, 'users.json')
    writeFileSync(
      path,
      JSON.stringify({ svc: { passwordHash: `scrypt$262144$8$1$${salt}$${hash}` } }),
    )
    const problems = problemsOf(() => new JsonCredentialsRepository({ path }))
    rmSync(folder, { recursive: true })
    expect(problems.join('\n')).toMatch(/refused for its cost: .*256 MiB/)
    expect(problems.join('\n')).not.toContain(hash)
  })
})

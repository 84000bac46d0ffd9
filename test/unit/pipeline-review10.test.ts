// Review 10: fromCache on a caller's missing token, and the `env` option checked at construction.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiKeyAuth, hashApiKey } from '../../src/api-key-auth.js'
import { basicAuth } from '../../src/basic-auth.js'
import { ConfigError } from '../../src/errors.js'
import { jwtAuth } from '../../src/middleware.js'
import { createVerifier } from '../../src/pipeline.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://pipeline-review10.example' })
})

afterAll(() => idp.close())

const provider = (): JwksProvider => new JwksProvider(idp.providerOptions)

/** The problems of the ConfigError `build` throws; a test failure if it throws anything else. */
function problemsOf(build: () => unknown): string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return [...(error as ConfigError).problems]
  }
  return expect.unreachable('expected a ConfigError')
}

describe('verify.fromCache on a token that is not a string', () => {
  it.each([undefined, null, 42])(
    'answers a miss for %s, and verify refuses it as malformed',
    async (token) => {
      const verify = createVerifier({ provider: provider(), logger: false })
      expect(verify.fromCache(token as unknown as string)).toBeUndefined()
      await expect(verify(token as unknown as string)).rejects.toMatchObject({
        status: 401,
        code: 'ERR_AUTH_TOKEN_MALFORMED',
      })
    },
  )

  it('still finds a remembered token after such a call', async () => {
    const verify = createVerifier({ provider: provider(), logger: false })
    const token = idp.mint({ sub: 'remembered' })
    expect((await verify(token)).id).toBe('remembered')
    expect(verify.fromCache(undefined as unknown as string)).toBeUndefined()
    expect(verify.fromCache(token)?.id).toBe('remembered')
  })
})

describe('the env option', () => {
  const NOT_AN_ENV =
    "env must be an object of environment variables (process.env, or { NAME: 'value' })"

  it.each([
    ['a string', 'production', 'a string'],
    ['null', null, 'null'],
    ['a list', [], 'a list'],
    ['a Map', new Map([['NODE_ENV', 'production']]), 'an object that is not a plain one'],
  ])('is refused when it is %s', (_kind, env, got) => {
    const problems = problemsOf(() =>
      jwtAuth({ provider: provider(), logger: false, env: env as never }),
    )
    expect(problems).toEqual([`${NOT_AN_ENV}, got ${got}`])
  })

  it('names a variable that is not a string, with the text meant, instead of a TypeError', () => {
    const problems = problemsOf(() =>
      jwtAuth({
        provider: provider(),
        logger: false,
        env: { AUTH_MIDDLEWARE_DISABLED: true, NODE_ENV: 1 } as never,
      }),
    )
    expect(problems).toEqual([
      "env.AUTH_MIDDLEWARE_DISABLED must be a string, as environment variables are (write 'true'), got a boolean",
      "env.NODE_ENV must be a string, as environment variables are (write '1'), got a number",
    ])
  })

  it("never shows a secret variable's value", () => {
    const problems = problemsOf(() =>
      jwtAuth({ provider: provider(), logger: false, env: { DB_PASSWORD: 271828 } as never }),
    )
    expect(problems).toEqual([
      'env.DB_PASSWORD must be a string, as environment variables are, got a number',
    ])
  })

  it('is refused, not a TypeError, where the log level or production are read from it', () => {
    const level = { AUTH_MIDDLEWARE_LOG_LEVEL: 5 } as never
    const expected =
      "env.AUTH_MIDDLEWARE_LOG_LEVEL must be a string, as environment variables are (write '5'), got a number"
    expect(problemsOf(() => jwtAuth({ provider: provider(), env: level }))).toEqual([expected])
    expect(problemsOf(() => jwtAuth({ provider: provider(), env: level, disabled: true }))).toEqual(
      [expected],
    )
    expect(problemsOf(() => createVerifier({ provider: provider(), env: level }))).toEqual([
      expected,
    ])
    const resourceMetadata = 'https://api.example/.well-known/oauth-protected-resource'
    expect(
      problemsOf(() =>
        jwtAuth({
          provider: provider(),
          logger: false,
          resourceMetadata,
          env: { NODE_ENV: 1 } as never,
        }),
      ),
    ).toEqual([
      "env.NODE_ENV must be a string, as environment variables are (write '1'), got a number",
    ])
  })

  it('is checked by basicAuth and apiKeyAuth too, once', () => {
    const env = { AUTH_MIDDLEWARE_LOG_LEVEL: 5 } as never
    const expected = [
      "env.AUTH_MIDDLEWARE_LOG_LEVEL must be a string, as environment variables are (write '5'), got a number",
    ]
    const credentialsRepository = { getCredentials: () => undefined }
    expect(problemsOf(() => basicAuth({ credentialsRepository, env }))).toEqual(expected)
    const keys = [{ id: 'k', hash: hashApiKey('a-key') }]
    expect(problemsOf(() => apiKeyAuth({ keys, env }))).toEqual(expected)
  })

  it('takes process.env, an object literal, one without a prototype, and unset variables', () => {
    const withoutPrototype = Object.assign(Object.create(null) as Record<string, string>, {
      AUTH_MIDDLEWARE_LOG_LEVEL: 'warn',
    })
    for (const env of [process.env, { NODE_ENV: 'test', UNSET: undefined }, withoutPrototype]) {
      expect(() => jwtAuth({ provider: provider(), logger: false, env })).not.toThrow()
      expect(() => createVerifier({ provider: provider(), logger: false, env })).not.toThrow()
    }
  })
})

// Diagnostics after the eighth review: a revocation store's failure is logged with its cause, a
// health() that never answers cannot hang the report, a caller's pino redaction is kept, the
// disabled switch checks its log level, a source's refusal is an event, and misspelt options of
// jwtAuth and createVerifier are refused.

import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { pino, type Logger } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  CHANNELS,
  ConfigError,
  createVerifier,
  ForbiddenError,
  fromEnv,
  jwtAuth,
  UnavailableError,
  type JwtProvider,
  type RevocationStore,
} from '../../src/index.js'
import { HEALTH_TIMEOUT_MS } from '../../src/health.js'
import { resolveLogger } from '../../src/logger.js'
import { OPTION_NAMES } from '../../src/verifier-options.js'
import { STORE_WARNING_INTERVAL_MS } from '../../src/revocation-answer.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://diag-review8.example'))
})

afterAll(() => idp.close())

afterEach(() => {
  vi.useRealTimers()
})

/** A pino logger at `level` whose records land, parsed, in `records`. */
function sink(level = 'info', options: { redact?: string[] } = {}) {
  const records: Array<Record<string, unknown>> = []
  const logger: Logger = pino(
    { level, ...options },
    { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) },
  )
  return { logger, records }
}

const ask = (verify: (token: string) => Promise<unknown>, sub: string) =>
  verify(idp.mint({ sub })).then(
    () => 'pass',
    (error: { code?: string }) => error.code,
  )

describe('a revocation store that cannot answer is logged with its cause (#1)', () => {
  it('warns once per outage, with the scrubbed cause, and says when the store answers again', async () => {
    const { logger, records } = sink()
    let failing = true
    const revocation: RevocationStore = {
      isRevoked: async () => {
        if (failing) throw new Error('connect ECONNREFUSED postgres://app:s3cret@db:5432/rev')
        return false
      },
    }
    const verify = createVerifier({ provider, revocation, logger, tokenCache: false })
    expect(await ask(verify, 'a')).toBe('ERR_AUTH_REVOCATION_UNAVAILABLE')
    expect(await ask(verify, 'b')).toBe('ERR_AUTH_REVOCATION_UNAVAILABLE')
    const warnings = records.filter((record) => record['level'] === 40)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({
      component: 'oidc-guard',
      msg: 'revocation store failed; answering 503 until it answers',
      err: { type: 'Error', message: expect.stringContaining('ECONNREFUSED') },
    })
    expect(JSON.stringify(records)).not.toContain('s3cret')

    failing = false
    expect(await ask(verify, 'c')).toBe('pass')
    expect(records.at(-1)).toMatchObject({ level: 30, msg: 'revocation store answers again' })
    // A new outage within the minute is not warned of again (a flapping store would write a
    // warning per failure), nor is its end; past the minute it is, counting those in between.
    failing = true
    expect(await ask(verify, 'd')).toBe('ERR_AUTH_REVOCATION_UNAVAILABLE')
    failing = false
    expect(await ask(verify, 'e')).toBe('pass')
    expect(records.filter((record) => record['level'] === 40)).toHaveLength(1)
    expect(records.filter((record) => record['level'] === 30)).toHaveLength(1)
    const now = Date.now()
    vi.useFakeTimers({ toFake: ['Date'], now: now + STORE_WARNING_INTERVAL_MS })
    try {
      failing = true
      expect(await ask(verify, 'f')).toBe('ERR_AUTH_REVOCATION_UNAVAILABLE')
    } finally {
      vi.useRealTimers()
    }
    const warnings2 = records.filter((record) => record['level'] === 40)
    expect(warnings2).toHaveLength(2)
    expect(warnings2[1]).toMatchObject({ failuresSinceLastWarning: 2 })
  })

  it('a store failing every other call writes one warning, not one per failure', async () => {
    const { logger, records } = sink()
    let calls = 0
    const revocation: RevocationStore = {
      isRevoked: () => {
        calls += 1
        if (calls % 2 === 0) throw new Error('timeout')
        return false
      },
    }
    const verify = createVerifier({ provider, revocation, logger, tokenCache: false })
    for (let index = 0; index < 40; index += 1) await ask(verify, `u${index}`)
    expect(records.filter((record) => record['level'] === 40)).toHaveLength(1)
    expect(records.filter((record) => record['level'] === 30)).toHaveLength(1)
  })

  it.each([
    [
      'throws',
      () => {
        throw new TypeError('store bug')
      },
      'store bug',
    ],
    ['answers neither true nor false', () => 'yes' as unknown as boolean, 'neither true nor false'],
    ['resolves to neither', async () => 1 as unknown as boolean, 'neither true nor false'],
  ])(
    'warns when the store %s, on the fast path of a remembered token too',
    async (_, isRevoked, text) => {
      const { logger, records } = sink()
      let broken = false
      const revocation: RevocationStore = {
        isRevoked: () => (broken ? isRevoked() : false),
      }
      const verify = createVerifier({ provider, revocation, logger })
      const token = idp.mint({ sub: 'remembered' })
      await verify(token) // remembered: fromCache asks the store next time
      broken = true
      expect(verify.fromCache(token)).toBeUndefined()
      await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_AUTH_REVOCATION_UNAVAILABLE' })
      expect(records.filter((record) => record['level'] === 40)).toEqual([
        expect.objectContaining({
          err: expect.objectContaining({ message: expect.stringContaining(text) }),
        }),
      ])
    },
  )

  it('logs a store’s ConfigError as an unexpected error, on every request', async () => {
    const { logger, records } = sink()
    const revocation: RevocationStore = {
      isRevoked: () => {
        throw new ConfigError(['the store has no table name'])
      },
    }
    const verify = createVerifier({ provider, revocation, logger, tokenCache: false })
    expect(await ask(verify, 'a')).toBe('ERR_AUTH_REVOCATION_UNAVAILABLE')
    expect(await ask(verify, 'b')).toBe('ERR_AUTH_REVOCATION_UNAVAILABLE')
    const errors = records.filter((record) => record['level'] === 50)
    expect(errors).toHaveLength(2)
    expect(errors[0]).toMatchObject({
      msg: 'unexpected error from the revocation store; answering 503',
      err: { type: 'ConfigError', message: expect.stringContaining('no table name') },
    })
  })

  it('leaves a store’s own refusal to the store (the Redis store logs its outages itself)', async () => {
    const { logger, records } = sink()
    const revocation: RevocationStore = {
      isRevoked: () =>
        Promise.reject(
          new UnavailableError('ERR_AUTH_REVOCATION_UNAVAILABLE', 'revocation store unavailable'),
        ),
    }
    const verify = createVerifier({ provider, revocation, logger, tokenCache: false })
    expect(await ask(verify, 'a')).toBe('ERR_AUTH_REVOCATION_UNAVAILABLE')
    expect(records).toEqual([])
  })
})

describe('health() answers within a time limit (#2)', () => {
  const hung = () => new Promise<never>(() => undefined)
  const detail = `health() did not answer within ${HEALTH_TIMEOUT_MS} ms`

  it('reports a revocation store whose health() never settles as not ok', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const revocation = { isRevoked: () => false, health: hung }
    const verify = createVerifier({ provider, revocation, logger: false })
    const report = verify.health()
    await vi.advanceTimersByTimeAsync(HEALTH_TIMEOUT_MS)
    expect(HEALTH_TIMEOUT_MS).toBe(2_000)
    await expect(report).resolves.toMatchObject({ ok: false, revocation: { ok: false, detail } })
  })

  it('reports a provider whose health() never settles as not ok, the others as they are', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const stuck: JwtProvider = {
      name: 'stuck',
      issuers: ['https://stuck.example'],
      verifyToken: () => Promise.reject(new Error('unused')),
      createUser: () => {
        throw new Error('unused')
      },
      health: hung as unknown as NonNullable<JwtProvider['health']>,
    }
    const verify = createVerifier({ providers: [stuck], logger: false })
    const report = verify.health()
    await vi.advanceTimersByTimeAsync(HEALTH_TIMEOUT_MS)
    await expect(report).resolves.toMatchObject({
      ok: false,
      providers: [{ name: 'stuck', ok: false, keyCount: 0, lastError: detail }],
    })
  })

  it('leaves no timer behind once every part has answered', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const revocation = { isRevoked: () => false, health: async () => ({ ok: true }) }
    const verify = createVerifier({ provider, revocation, logger: false })
    await verify.health()
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('a caller’s logger keeps its own redaction (#3)', () => {
  it('redacts the caller’s paths in the records oidc-guard writes through it', () => {
    const { logger, records } = sink('info', { redact: ['user'] })
    resolveLogger(logger, 'info').error({ user: 'jane.doe@example.com' }, 'record of ours')
    expect(records).toEqual([
      expect.objectContaining({ component: 'oidc-guard', user: '[Redacted]' }),
    ])
  })
})

describe('the disabled switch checks its log level (#4)', () => {
  it.each([
    [{ disabled: true, logLevel: 'verbose' }, 'logLevel must be one of'],
    [
      { env: { AUTH_MIDDLEWARE_DISABLED: 'true', AUTH_MIDDLEWARE_LOG_LEVEL: 'verbose' } },
      'AUTH_MIDDLEWARE_LOG_LEVEL must be one of',
    ],
  ])('refuses %j with a ConfigError', (options, problem) => {
    const build = () => jwtAuth(options as never)
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(problem)
  })

  it('reports it with the middleware’s other problems', () => {
    const build = () => jwtAuth({ disabled: true, logLevel: 'verbose' as never, realm: 'a"b' })
    expect(build).toThrow(/2 configuration problems[\s\S]*realm[\s\S]*logLevel/)
  })
})

describe('a source’s refusal is an oidc-guard:source event (#5)', () => {
  it('publishes outcome refused with the refusal’s code', async () => {
    const events: unknown[] = []
    const listen = (event: unknown) => void events.push(event)
    subscribe(CHANNELS.source, listen)
    try {
      const verify = createVerifier({
        provider,
        logger: false,
        permissions: {
          fetchPermissions: () => Promise.reject(new ForbiddenError('no permissions for you')),
        },
      })
      const user = await verify(idp.mint({ sub: 'refused' }))
      await expect(user.permissions).rejects.toBeInstanceOf(ForbiddenError)
    } finally {
      unsubscribe(CHANNELS.source, listen)
    }
    expect(events).toEqual([
      {
        facet: 'permissions',
        provider: provider.name,
        outcome: 'refused',
        code: 'ERR_AUTH_FORBIDDEN',
      },
    ])
  })
})

describe('misspelt options are refused (#6)', () => {
  it('jwtAuth names the key, the option it likely means, and the options', () => {
    const build = () => jwtAuth({ provider, logger: false, credentialRequired: true } as never)
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(
      'jwtAuth: "credentialRequired" is not an option (did you mean credentialsRequired?); the options are provider, providers,',
    )
  })

  it('refuses a misspelling with the disabled switch on too', () => {
    expect(() =>
      jwtAuth({ disabled: true, logger: false, credentialRequired: true } as never),
    ).toThrow('"credentialRequired" is not an option')
  })

  it('createVerifier refuses one, and names no option for a key like none', () => {
    const revocation = { isRevoked: () => false }
    expect(() =>
      createVerifier({ provider, logger: false, revocaton: revocation } as never),
    ).toThrow('createVerifier: "revocaton" is not an option (did you mean revocation?)')
    expect(() => createVerifier({ provider, logger: false, colour: 'blue' } as never)).toThrow(
      /"colour" is not an option; the options are/,
    )
  })

  it('accepts every option jwtAuth documents, and createVerifier takes jwtAuth’s options too', () => {
    const every = Object.fromEntries(OPTION_NAMES.map((name) => [name, undefined]))
    expect(() => jwtAuth({ ...every, provider, logger: false, disabled: false })).not.toThrow()
    expect(() =>
      createVerifier({ ...every, provider, logger: false, credentialsRequired: true } as never),
    ).not.toThrow()
  })

  it('takes what fromEnv() builds, in jwtAuth and createVerifier alike', () => {
    const options = fromEnv(
      {
        AUTH_PROVIDER: 'jwks',
        AUTH_PROVIDER_ISSUER: idp.issuer,
        AUTH_PROVIDER_JWKS_URI: idp.jwksUri,
        AUTH_PROVIDER_AUDIENCE: idp.audience as string,
        AUTH_CREDENTIALS_REQUIRED: 'true',
        AUTH_REALM: 'api',
        AUTH_SOURCE_TIMEOUT_MS: '1000',
      },
      { logger: false },
    )
    expect(() => jwtAuth(options)).not.toThrow()
    expect(() => createVerifier(options)).not.toThrow()
  })
})

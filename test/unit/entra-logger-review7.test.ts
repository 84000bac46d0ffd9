// The logger option of EntraIdProvider, GraphGroupResolver and OidcProvider: checked at
// construction (a ConfigError, never a TypeError or a wrong status later), `false` for none.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuthError, ConfigError, createVerifier, type User } from '../../src/index.js'
import { EntraIdProvider, GraphGroupResolver } from '../../providers/entra-id/index.js'
import { OidcProvider } from '../../providers/jwks/index.js'
import { createEntraIssuer, JANE, TENANT, type EntraTestIssuer } from '../fake-idp/entra.js'

let entra: EntraTestIssuer

beforeAll(async () => {
  entra = await createEntraIssuer()
})

afterAll(() => entra.close())

const failing: typeof fetch = () => Promise.resolve(new Response('down', { status: 500 }))

const builders: Record<string, (logger: unknown) => unknown> = {
  EntraIdProvider: (logger) =>
    new EntraIdProvider({ ...entra.providerOptions, logger: logger as false }),
  GraphGroupResolver: (logger) =>
    new GraphGroupResolver({ getGraphToken: () => 't', logger: logger as false }),
  OidcProvider: (logger) =>
    new OidcProvider({
      issuer: 'https://idp.example.com',
      audience: 'api',
      logger: logger as false,
    }),
}

describe.each(Object.keys(builders))('%s logger', (name) => {
  const build = builders[name]!

  it.each<[string, unknown]>([
    ['an empty object', {}],
    ['console', console],
    ['a string', 'debug'],
    ['null', null],
  ])('refuses %s with a ConfigError naming the option', (_what, logger) => {
    let error: unknown
    try {
      build(logger)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).problems).toEqual([expect.stringMatching(/^logger must be /)])
  })

  it('takes false for none', () => {
    expect(() => build(false)).not.toThrow()
  })
})

describe('a provider logging nowhere', () => {
  it.each<[string, unknown]>([
    ['false', false],
    ['left out', undefined],
  ])('(%s) answers an outage of discovery 503', async (_what, logger) => {
    const provider = new EntraIdProvider({
      ...entra.providerOptions,
      fetch: failing,
      ...(logger === undefined ? {} : { logger: logger as false }),
    })
    const verify = createVerifier({ provider, logger: false })
    await expect(verify(entra.v2())).rejects.toMatchObject({
      status: 503,
      code: 'ERR_AUTH_KEYS_UNAVAILABLE',
    })
  })

  it('GraphGroupResolver with logger false answers an outage of Graph 503', async () => {
    const graph = new GraphGroupResolver({
      getGraphToken: () => 't',
      fetch: failing,
      logger: false,
    })
    const user = { claims: { oid: JANE.oid, tid: TENANT }, isM2M: false } as unknown as User
    const error = await graph.fetchGroups(user).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(error).toBeInstanceOf(AuthError)
    expect(error).toMatchObject({ status: 503, code: 'ERR_AUTH_SOURCE_UNAVAILABLE' })
  })
})

// Review 9: protectedResourceMetadata and authErrorHandler refuse option names they do not know
// (a misspelt one was dropped without a word), and maxAgeSec is a delta-seconds a cache can read.

import { describe, expect, it } from 'vitest'
import { authErrorHandler, ConfigError, protectedResourceMetadata } from '../../src/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'

const ISSUER = 'https://issuer.example'
const provider = new JwksProvider({ issuer: ISSUER, jwksUri: `${ISSUER}/jwks`, audience: 'api' })
const RESOURCE = 'https://api.example.com/mcp'

/** The ConfigError's message of `build`, or 'accepted'. */
function outcome(build: () => unknown): string {
  try {
    build()
    return 'accepted'
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
}

const metadata = (options: Record<string, unknown>) => () =>
  protectedResourceMetadata({ resource: RESOURCE, providers: [provider], ...options } as never)

describe('protectedResourceMetadata option names (defect 2)', () => {
  it.each([
    ['scopes_supported', { scopes_supported: ['mcp:tools'] }, 'scopesSupported'],
    ['scopes', { scopes: ['mcp:tools'] }, 'the options are resource, authorizationServers'],
    ['maxAge', { maxAge: 60 }, 'maxAgeSec'],
    ['resource_name', { resource_name: 'Orders' }, 'resourceName'],
  ])('refuses %s, naming it', (name, options, hint) => {
    const message = outcome(metadata(options))
    expect(message).toContain(`"${name}" is not an option`)
    expect(message).toContain(hint)
  })

  it('accepts every option it documents', () => {
    const all = {
      authorizationServers: [ISSUER],
      scopesSupported: ['mcp:tools'],
      resourceName: 'Orders',
      resourceDocumentation: 'https://docs.example.com/api#auth',
      maxAgeSec: 60,
    }
    expect(outcome(metadata(all))).toBe('accepted')
  })
})

describe('authErrorHandler option names (defect 2)', () => {
  it('refuses resource_metadata, pointing at resourceMetadata', () => {
    const message = outcome(() =>
      authErrorHandler({ resource_metadata: 'https://api.example.com/x' } as never),
    )
    expect(message).toContain(
      '"resource_metadata" is not an option (did you mean resourceMetadata?)',
    )
  })

  it('refuses a misspelt realm and accepts both options', () => {
    expect(outcome(() => authErrorHandler({ relm: 'api' } as never))).toContain('realm')
    const both = { realm: 'api', resourceMetadata: 'https://api.example.com/x' }
    expect(outcome(() => authErrorHandler(both))).toBe('accepted')
    expect(outcome(() => authErrorHandler())).toBe('accepted')
  })
})

describe('protectedResourceMetadata maxAgeSec bounds (defect 5)', () => {
  it.each([
    [1e21, 'refused'],
    [2_147_483_649, 'refused'],
    [-1, 'refused'],
    [1.5, 'refused'],
    [Number.POSITIVE_INFINITY, 'refused'],
    ['60', 'refused'],
    [2_147_483_648, 'accepted'],
    [0, 'accepted'],
  ])('maxAgeSec %s is %s', (maxAgeSec, expected) => {
    const message = outcome(metadata({ maxAgeSec }))
    if (expected === 'accepted') expect(message).toBe('accepted')
    else expect(message).toContain('maxAgeSec must be a whole number from 0 to 2147483648')
  })
})

describe('review 9 follow-up', () => {
  it('hints the option a name lacking its unit or qualifier means', () => {
    const build = () =>
      new JwksProvider({
        issuer: ISSUER,
        jwksUri: `${ISSUER}/jwks`,
        audience: 'api',
        clockTolerance: 5,
      } as never)
    expect(outcome(build)).toContain(
      '"clockTolerance" is not an option (did you mean clockToleranceSec?)',
    )
    const metadata = () =>
      protectedResourceMetadata({
        resource: RESOURCE,
        providers: [provider],
        scopes: ['a'],
        maxAge: 60,
      } as never)
    expect(outcome(metadata)).toContain('(did you mean scopesSupported?)')
    expect(outcome(metadata)).toContain('(did you mean maxAgeSec?)')
  })

  it('refuses authErrorHandler mounted without its call, saying how to mount it', () => {
    const fakeRequest = { method: 'GET', headers: {}, url: '/' }
    const handler = authErrorHandler as unknown as (req: unknown) => unknown
    expect(outcome(() => handler(fakeRequest))).toBe(
      'oidc-guard: authErrorHandler is an error handler factory: write app.use(authErrorHandler())',
    )
  })
})

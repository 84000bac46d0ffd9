// Every cache's `max` is bounded: lru-cache allocates its tables for `max` when it is built, so a
// billion entries would end the process (out of memory) rather than fail as a ConfigError.

import { describe, expect, it } from 'vitest'
import { GraphGroupResolver } from '../../providers/entra-id/index.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import { basicAuth } from '../../src/basic-auth.js'
import { ConfigError, createVerifier } from '../../src/index.js'

const provider = new JwksProvider({
  issuer: 'https://issuer.example',
  jwksUri: 'https://issuer.example/jwks',
  audience: 'api',
})
const noCredentials = { getCredentials: () => undefined }

const builders: ReadonlyArray<[string, (max: number) => unknown]> = [
  ['tokenCache.max', (max) => createVerifier({ provider, logger: false, tokenCache: { max } })],
  ['sourceCache.max', (max) => createVerifier({ provider, logger: false, sourceCache: { max } })],
  [
    'verifiedCache.max',
    (max) =>
      basicAuth({ credentialsRepository: noCredentials, verifiedCache: { max }, logger: false }),
  ],
  ['cache.max', (max) => new GraphGroupResolver({ getGraphToken: () => 'token', cache: { max } })],
]

describe('cache sizes', () => {
  it.each(builders)(
    '%s of a billion is a ConfigError, not an out-of-memory crash',
    (name, build) => {
      expect(() => build(1e9)).toThrow(ConfigError)
      expect(() => build(1e9)).toThrow(
        `${name} must be a whole number from 1 to 10000000, got 1000000000`,
      )
    },
  )

  it.each(builders)('%s of ten million is accepted', (_name, build) => {
    expect(() => build(10_000_000)).not.toThrow()
  })
})

// Review 13's mutation testing: one-line changes of security checks that no test noticed. Each test
// here fails with its mutation applied (named in the test) and passes on the code as it is.

import { describe, expect, it } from 'vitest'
import { createVerifier } from '../../src/index.js'
import { buildFromEnv, EnvReader, Problems } from '../../src/spi.js'
import { EntraIdProvider } from '../../providers/entra-id/index.js'
import { isTenantId } from '../../providers/entra-id/authority.js'
import { retryAfterOf } from '../../providers/entra-id/graph-answers.js'
import { ClaimGroupsProvider } from '../../providers/claims/index.js'
import { sqlSourcesEnv } from '../../providers/sql/env.js'
import { silentLogger, type EnvContext } from '../../src/spi.js'
import { createEntraIssuer } from '../../src/testing-entra.js'
import { JANE, TENANT } from '../fake-idp/entra.js'
import { problemsOf, refusal } from '../helpers/problems.js'

describe('Entra ID token rules', () => {
  it('an empty id claim is refused (token-rules: || id === "" removed)', async () => {
    const entra = await createEntraIssuer()
    try {
      const provider = new EntraIdProvider({ ...entra.providerOptions, logger: false })
      const error = await refusal(provider.verifyToken(entra.v2(JANE, { oid: '' })))
      expect(error.description).toBe('invalid oid claim')
    } finally {
      await entra.close()
    }
  })

  it('a user token whose sub is its oid but that carries scp is a user, not an app (isAppOnly: scp === undefined && removed)', async () => {
    const entra = await createEntraIssuer()
    try {
      const verify = createVerifier({
        provider: new EntraIdProvider({ ...entra.providerOptions, logger: false }),
        logger: false,
      })
      const user = await verify(entra.v2(JANE, { sub: JANE.oid }))
      expect(user.claims['scp']).toBeDefined()
      expect(user.isM2M).toBe(false)
    } finally {
      await entra.close()
    }
  })

  it('a B2C user signed in with a social account (idp: google.com) is no guest (guest rule: && policies === undefined removed)', async () => {
    const entra = await createEntraIssuer({ b2cTenantName: 'contosob2c' })
    try {
      const provider = new EntraIdProvider({ ...entra.providerOptions, logger: false })
      const verified = await provider.verifyToken(entra.b2c(JANE, { idp: 'google.com' }))
      expect(verified.claims['idp']).toBe('google.com')
    } finally {
      await entra.close()
    }
  })

  it('a tenant id is a lower-case GUID and nothing around it (authority: ^ dropped, /i added)', () => {
    expect(isTenantId(TENANT)).toBe(true)
    expect(isTenantId(TENANT.toUpperCase())).toBe(false)
    expect(isTenantId(`x${TENANT}`)).toBe(false)
    expect(isTenantId(`${TENANT}x`)).toBe(false)
  })
})

describe('Graph', () => {
  it('a Retry-After is passed on 300 s at the most (graph-answers: Math.min removed)', () => {
    const answer = (value: string) => new Response(null, { headers: { 'retry-after': value } })
    expect(retryAfterOf(answer('120'))).toBe(120)
    expect(retryAfterOf(answer('100000'))).toBe(300)
  })
})

describe('environment', () => {
  it('a positive number is above 0 and at most its maximum (env: > 0 → >= 0, <= max → < max)', () => {
    const read = (value: string) => {
      const problems = new Problems()
      const got = new EnvReader({ X_MS: value }, problems).positive('X_MS', { max: 10 })
      return problems.size === 0 ? got : 'refused'
    }
    expect(read('0')).toBe('refused')
    expect(read('10')).toBe(10)
    expect(read('10.5')).toBe('refused')
  })

  it('two sets of variables configuring one source facet are a problem (from-env: the check skipped)', () => {
    const groups = new ClaimGroupsProvider({ claim: 'groups' })
    const factory = { variables: [], create: () => ({ groups }) }
    const problems = problemsOf(() =>
      buildFromEnv(
        { providers: [], sources: [factory, factory] },
        { AUTH_MIDDLEWARE_DISABLED: 'true' },
        { logger: false },
      ),
    )
    expect(problems).toContain('two sets of variables configure the groups source; keep one')
  })
})

describe('SQL sources from the environment', () => {
  const context: EnvContext = {
    jwksCache: undefined as never,
    logger: silentLogger,
    production: false,
  }
  async function build(env: Record<string, string>) {
    const problems = new Problems()
    const sources = sqlSourcesEnv.create(new EnvReader(env, problems), context)
    const built = Object.keys(sources)
    await Promise.all(
      Object.values(sources).map((source) => (source as { close(): Promise<void> }).close()),
    )
    return { built, problems: problems.size }
  }

  it('facets are read whatever their case (sql env: toLowerCase dropped)', async () => {
    const got = await build({
      AUTHZ_DATABASE_URL: 'sqlite::memory:',
      AUTHZ_SQL_FACETS: 'Groups,ROLES',
    })
    expect(got).toEqual({ built: ['groups', 'roles'], problems: 0 })
  })

  it('the URL and its alias set to the same URL is no conflict, to different ones is (sql env: && primary !== alias removed)', async () => {
    const url = 'sqlite::memory:'
    expect(await build({ AUTHZ_DATABASE_URL: url, AUTHZ_SQLALCHEMY_DATABASE_URI: url })).toEqual({
      built: ['permissions'],
      problems: 0,
    })
    const other = await build({
      AUTHZ_DATABASE_URL: url,
      AUTHZ_SQLALCHEMY_DATABASE_URI: 'postgres://127.0.0.1/test',
    })
    expect(other.problems).toBe(1)
  })
})

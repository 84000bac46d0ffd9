// Review 9: scopes are a list, never a string tested for substrings; has* warn without middleware.

import { readFileSync } from 'node:fs'
import type { Request } from 'express'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createVerifier, JwksCache } from '../../src/index.js'
import { bearerChallenge, CredentialsRequiredError, ForbiddenError } from '../../src/errors.js'
import type { JwtClaims } from '../../src/jwt.js'
import type * as HasChecks from '../../src/has-checks.js'
import { facetRule, scopeRule } from '../../src/rules.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { User, type UserIdentity } from '../../src/user.js'
import { JwksProvider } from '../../providers/jwks/index.js'

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, issuer: 'https://review9.example' })
})

afterAll(() => idp.close())

afterEach(() => {
  vi.restoreAllMocks()
})

const origin = { provider: 't', token: 't' }

/** A provider subclass written in JavaScript (or with a cast): `scope` handed on unsplit. */
class RawScopeProvider extends JwksProvider {
  protected override identity(claims: JwtClaims): UserIdentity {
    return { ...super.identity(claims), scopes: claims.scope as unknown as string[] }
  }
}

describe('identity().scopes must be a list of strings', () => {
  it.each([
    ['a string', 'nonadmin'],
    ['a number', 7],
    ['an object', { 0: 'admin', length: 1 }],
    ['a list with a number', ['admin', 7]],
    ['a sparse list', [, 'admin']], // eslint-disable-line no-sparse-arrays
  ])('%s is a TypeError naming what to return', (_case, scopes) => {
    const identity = { id: 'u', scopes } as unknown as UserIdentity
    expect(() => new User(origin, identity, {})).toThrow(
      /identity\(\)\.scopes must be a list of strings/,
    )
  })

  it('the message never carries the scope string itself', () => {
    const identity = { id: 'u', scopes: 'secret-ish' } as unknown as UserIdentity
    expect(() => new User(origin, identity, {})).toThrow(/got a string/)
    expect(() => new User(origin, identity, {})).not.toThrow(/secret-ish/)
  })

  it('a list is kept as a frozen copy; a frozen list as it is; undefined and null are none', () => {
    const given = ['a', 'b']
    const user = new User(origin, { id: 'u', scopes: given }, {})
    expect(user.scopes).toEqual(['a', 'b'])
    expect(Object.isFrozen(user.scopes)).toBe(true)
    given.push('admin')
    expect(user.scopes).toEqual(['a', 'b'])
    const frozen = Object.freeze(['x'])
    expect(new User(origin, { id: 'u', scopes: frozen }, {}).scopes).toBe(frozen)
    expect(new User(origin, { id: 'u' }, {}).scopes).toEqual([])
    const nullScopes = { id: 'u', scopes: null } as unknown as UserIdentity
    expect(new User(origin, nullScopes, {}).scopes).toEqual([])
  })

  it.each(['nonadmin', 'badminton'])(
    'a subclass returning scope %j unsplit: the token is refused (a provider bug), never granted admin',
    async (scope) => {
      const provider = new RawScopeProvider({
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: idp.audience,
        jwksCache: new JwksCache({ fetch: idp.fetch }),
      })
      const verify = createVerifier({ provider, logger: false })
      const refusal: unknown = await verify(idp.mint({ sub: 'alice', scope })).catch((e) => e)
      // The pipeline answers any provider bug as an invalid token, with the bug as its cause.
      expect(refusal).toMatchObject({ status: 401, error: 'invalid_token' })
      expect((refusal as Error).cause).toBeInstanceOf(TypeError)
      expect(String((refusal as Error).cause)).toMatch(
        /identity\(\)\.scopes must be a list of strings/,
      )
    },
  )
})

describe('rules fail closed on a req.currentUser that is not a User', () => {
  function lookalike(facets: Record<string, unknown>): User {
    return { isAuthenticated: true, isSynthetic: false, token: 't', ...facets } as unknown as User
  }

  it.each(['nonadmin', 'badminton', 'admin'])('scopes %j (a string) grant nothing', (scopes) => {
    expect(scopeRule(['admin'], 'any').check(lookalike({ scopes }))).toMatchObject({
      status: 403,
      error: 'insufficient_scope',
    })
  })

  it.each(['groups', 'roles', 'permissions'] as const)(
    '%s answering a string grant nothing',
    async (facet) => {
      const user = lookalike({ [facet]: Promise.resolve('nonadmin') })
      await expect(facetRule(facet, ['admin'], 'any').check(user)).resolves.toBeInstanceOf(
        ForbiddenError,
      )
    },
  )

  it('a permission that is not a string is skipped, not a 500', async () => {
    const user = lookalike({ permissions: Promise.resolve([['*'], 'orders:read']) })
    await expect(facetRule('permissions', ['admin:do'], 'any').check(user)).resolves.toBeInstanceOf(
      ForbiddenError,
    )
    await expect(
      facetRule('permissions', ['orders:read'], 'any').check(user),
    ).resolves.toBeUndefined()
  })

  it('hasScopes and hasGroups answer false', async () => {
    const { hasGroups, hasScopes } = await import('../../src/has-checks.js')
    const req = {
      currentUser: lookalike({ scopes: 'nonadmin', groups: Promise.resolve('nonadmin') }),
    } as unknown as Request
    expect(hasScopes(req, ['admin'])).toBe(false)
    await expect(hasGroups(req, ['admin'])).resolves.toBe(false)
  })
})

describe('has* on a request no authentication middleware ran on', () => {
  function noMiddlewareWarnings(spy: { mock: { calls: unknown[][] } }): unknown[][] {
    return spy.mock.calls.filter(
      (call) =>
        (call[1] as { code?: string } | undefined)?.code === 'OIDC_GUARD_NO_AUTH_MIDDLEWARE',
    )
  }

  // Once per process: each case loads the guards (and warnOnce) afresh.
  async function freshGuards(): Promise<typeof HasChecks> {
    vi.resetModules()
    return import('../../src/has-checks.js')
  }

  it.each(['hasGroups', 'hasRoles', 'hasPermissions', 'hasScopes'] as const)(
    '%s answers false and warns once per process',
    async (name) => {
      const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
      const guards = await freshGuards()
      const check = guards[name] as (req: Request, list: string[]) => boolean | Promise<boolean>
      for (let attempt = 0; attempt < 3; attempt += 1) {
        expect(await check({} as Request, ['admin'])).toBe(false)
      }
      const warnings = noMiddlewareWarnings(emitted)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]![0]).toMatch(/has\* check answers false/)
      expect(warnings[0]![0]).toMatch(/mount jwtAuth \(or basicAuth\/apiKeyAuth\) before/)
    },
  )

  it('a request with a user, anonymous included, does not warn', async () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const guards = await freshGuards()
    const { User: FreshUser } = await import('../../src/user.js')
    const req = { currentUser: FreshUser.anonymous } as unknown as Request
    expect(guards.hasScopes(req, ['admin'])).toBe(false)
    await expect(guards.hasGroups(req, ['admin'])).resolves.toBe(false)
    expect(noMiddlewareWarnings(emitted)).toHaveLength(0)
  })
})

describe('docs/authorization.md: the challenge of a missing token', () => {
  const doc = readFileSync(new URL('../../docs/authorization.md', import.meta.url), 'utf8')

  function challengeCell(situation: string): string {
    const row = doc.split('\n').find((line) => line.startsWith(`| ${situation} |`))
    expect(row, `the answers table has a row for ${situation}`).toBeDefined()
    return row!.split(' | ').at(-1)!
  }

  it('is a bare Bearer without a realm, as jwtAuth answers, and names realm as optional', () => {
    expect(bearerChallenge(new CredentialsRequiredError(), undefined)).toBe('Bearer')
    expect(bearerChallenge(new CredentialsRequiredError(), 'api')).toBe('Bearer realm="api"')
    const cell = challengeCell('no token')
    expect(cell.startsWith('`Bearer` ')).toBe(true)
    expect(cell).toMatch(/when `realm` is set/)
  })
})

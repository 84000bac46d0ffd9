// entraIdEnv: an EntraIdProvider from AUTH_PROVIDER_AZURE_ENTRA_ID_* variables, every problem reported.

import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, JwksCache } from '../../src/index.js'
import { buildFromEnv, EnvReader, Problems, type Env } from '../../src/spi.js'
import { EntraIdProvider, entraIdEnv } from '../../providers/entra-id/index.js'
import {
  APP_ID_URI,
  CLIENT_ID,
  createEntraIssuer,
  OTHER_TENANT,
  TENANT,
  type EntraTestIssuer,
} from '../fake-idp/entra.js'

const BASE: Env = {
  AUTH_PROVIDER: 'entra-id',
  AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: TENANT,
  AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID: CLIENT_ID,
}

function sink(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) })
  return { logger, lines }
}

function build(env: Env): EntraIdProvider {
  const options = buildFromEnv({ providers: [entraIdEnv], sources: [] }, env, { logger: false })
  const provider = options.providers?.[0]
  expect(provider).toBeInstanceOf(EntraIdProvider)
  return provider as EntraIdProvider
}

function problemsOf(env: Env): readonly string[] {
  try {
    buildFromEnv({ providers: [entraIdEnv], sources: [] }, env, { logger: false })
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  return expect.unreachable('the environment was accepted')
}

let entra: EntraTestIssuer

beforeAll(async () => {
  entra = await createEntraIssuer()
})

afterAll(() => entra.close())

describe('entraIdEnv', () => {
  it('is selected by AUTH_PROVIDER=entra-id and lists the variables it reads', () => {
    expect(entraIdEnv.name).toBe('entra-id')
    expect(entraIdEnv.variables).toContain('AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID')
    expect(entraIdEnv.variables).toContain('AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID')
    expect(
      entraIdEnv.variables.every((name) => name.startsWith('AUTH_PROVIDER_AZURE_ENTRA_ID_')),
    ).toBe(true)
  })

  it('builds a single-tenant provider from the seed’s two variables', () => {
    const provider = build(BASE)
    expect(provider.tenantId).toBe(TENANT)
    expect(provider.audience).toEqual([CLIENT_ID, `api://${CLIENT_ID}`])
    expect(provider.issuers).toEqual([`https://login.microsoftonline.com/${TENANT}/v2.0`])
  })

  it('reads the audience list, versions, authority host and allow-list', () => {
    const provider = build({
      ...BASE,
      AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: 'organizations',
      AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID: `${CLIENT_ID}, ${APP_ID_URI}`,
      AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS: `${TENANT},${OTHER_TENANT}`,
      AUTH_PROVIDER_AZURE_ENTRA_ID_AUTHORITY_HOST: 'login.microsoftonline.us',
      AUTH_PROVIDER_AZURE_ENTRA_ID_TOKEN_VERSIONS: '1.0,2.0',
    })
    expect(provider.authority).toBe('https://login.microsoftonline.us')
    expect(provider.audience).toEqual([CLIENT_ID, APP_ID_URI, `api://${CLIENT_ID}`])
    expect(provider.claimsIssuer(`https://login.microsoftonline.us/${OTHER_TENANT}/v2.0`)).toBe(
      true,
    )
    expect(provider.claimsIssuer(`https://sts.windows.net/${OTHER_TENANT}/`)).toBe(true)
    expect(provider.claimsIssuer(`https://login.microsoftonline.com/${OTHER_TENANT}/v2.0`)).toBe(
      false,
    )
  })

  it('takes the host of the seed’s discovery URL template', () => {
    const provider = build({
      ...BASE,
      AUTH_PROVIDER_AZURE_ENTRA_ID_JWKS_URL_TEMPLATE:
        'https://login.partner.microsoftonline.cn/{}/v2.0/.well-known/openid-configuration',
    })
    expect(provider.authority).toBe('https://login.partner.microsoftonline.cn')
  })

  it('verifies tokens with the process-wide cache and a JWKS URI override', async () => {
    const problems = new Problems()
    const env = new EnvReader(
      {
        ...BASE,
        AUTH_PROVIDER_AZURE_ENTRA_ID_JWKS_URI: `https://login.microsoftonline.com/${TENANT}/discovery/v2.0/keys`,
        AUTH_PROVIDER_AZURE_ENTRA_ID_LEEWAY: '30',
        AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOW_GUEST_USERS: 'true',
        AUTH_PROVIDER_AZURE_ENTRA_ID_ID_CLAIM: 'sub',
      },
      problems,
    )
    const context = {
      jwksCache: new JwksCache({ fetch: entra.fetch }),
      logger: pino({ level: 'silent' }),
      production: false,
    }
    const provider = entraIdEnv.create(env, context) as EntraIdProvider
    problems.throwIfAny()
    // 20 s past exp: inside the seed's leeway of 30 s; a guest, allowed.
    const token = entra.v2(undefined, { acct: 1, exp: Math.floor(Date.now() / 1000) - 20 })
    const verified = await provider.verifyToken(token)
    expect(provider.createUser(verified, {}).id).toBe(verified.claims.sub)
    expect(entra.requested).not.toContain(
      `https://login.microsoftonline.com/${TENANT}/v2.0/.well-known/openid-configuration`,
    )
    const strict = new EntraIdProvider({
      tenantId: TENANT,
      audience: CLIENT_ID,
      fetch: entra.fetch,
      allowGuestUsers: true,
    })
    await expect(strict.verifyToken(token)).rejects.toMatchObject({
      code: 'ERR_AUTH_TOKEN_EXPIRED',
    })
  })

  it('warns when every tenant is accepted', () => {
    const { logger, lines } = sink()
    const problems = new Problems()
    const env = new EnvReader(
      {
        ...BASE,
        AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: 'common',
        AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS: '*',
      },
      problems,
    )
    entraIdEnv.create(env, { jwksCache: new JwksCache(), logger, production: false })
    problems.throwIfAny()
    expect(lines.map((line) => line['msg'])).toContain(
      'AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS=*: tokens of every Entra tenant are accepted',
    )
  })

  it('builds a B2C provider', () => {
    const provider = build({
      ...BASE,
      AUTH_PROVIDER_AZURE_ENTRA_ID_B2C_TENANT_NAME: 'contoso',
      AUTH_PROVIDER_AZURE_ENTRA_ID_B2C_POLICIES: 'B2C_1_signupsignin',
    })
    expect(provider.issuers).toEqual([`https://contoso.b2clogin.com/${TENANT}/v2.0/`])
  })

  it('reports every problem at once', () => {
    const problems = problemsOf({
      AUTH_PROVIDER: 'entra-id',
      AUTH_PROVIDER_AZURE_ENTRA_ID_TOKEN_VERSIONS: '3.0',
      AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOW_GUEST_USERS: 'maybe',
      AUTH_PROVIDER_AZURE_ENTRA_ID_LEEWAY: '-1',
      AUTH_PROVIDER_AZURE_ENTRA_ID_JWKS_URL_TEMPLATE: 'https://login.microsoftonline.com/{}/keys',
    })
    expect(problems.join('\n')).toMatch(/AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID is required/)
    expect(problems.join('\n')).toMatch(/AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID is required/)
    expect(problems.join('\n')).toMatch(/TOKEN_VERSIONS must list 1.0 and\/or 2.0/)
    expect(problems.join('\n')).toMatch(/ALLOW_GUEST_USERS must be true or false/)
    expect(problems.join('\n')).toMatch(/LEEWAY must be a number of seconds/)
    expect(problems.join('\n')).toMatch(/JWKS_URL_TEMPLATE must look like/)
  })

  it.each<[string, Env, RegExp]>([
    [
      'ENT-02: a multi-tenant tenant without an allow-list',
      { AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: 'organizations' },
      /ALLOWED_TENANTS\) is required with tenantId organizations/,
    ],
    [
      '* mixed with tenant ids',
      {
        AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: 'common',
        AUTH_PROVIDER_AZURE_ENTRA_ID_ALLOWED_TENANTS: `*,${TENANT}`,
      },
      /either \* or a list of tenant ids/,
    ],
    [
      'a tenant domain',
      { AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: 'contoso.onmicrosoft.com' },
      /must be the directory \(tenant\) ID/,
    ],
    [
      'an unknown id claim',
      { AUTH_PROVIDER_AZURE_ENTRA_ID_ID_CLAIM: 'email' },
      /ID_CLAIM must be one of oid, sub/,
    ],
  ])('%s is a problem', (_name, extra, problem) => {
    expect(problemsOf({ ...BASE, ...extra }).join('\n')).toMatch(problem)
  })
})

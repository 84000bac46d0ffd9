// Entra ID's authority host: errors never show a password, a seed template's host is reported under
// the template's own variable, and the public cloud's alias hosts are refused at construction.

import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/index.js'
import { buildFromEnv, type Env } from '../../src/spi.js'
import {
  EntraIdProvider,
  entraIdEnv,
  type EntraIdProviderOptions,
} from '../../providers/entra-id/index.js'
import { createEntraIssuer } from '../../src/testing-entra.js'
import { CLIENT_ID, TENANT } from '../fake-idp/entra.js'

const PASSWORD = 'S3cretPW'
const TEMPLATE = 'AUTH_PROVIDER_AZURE_ENTRA_ID_JWKS_URL_TEMPLATE'
const AUTHORITY_HOST = 'AUTH_PROVIDER_AZURE_ENTRA_ID_AUTHORITY_HOST'
const BASE: Env = {
  AUTH_PROVIDER: 'entra-id',
  AUTH_PROVIDER_AZURE_ENTRA_ID_TENANT_ID: TENANT,
  AUTH_PROVIDER_AZURE_ENTRA_ID_AUDIENCE_ID: CLIENT_ID,
}
const template = (host: string) => `https://${host}/{}/v2.0/.well-known/openid-configuration`

function provider(options: Partial<EntraIdProviderOptions> = {}): EntraIdProvider {
  return new EntraIdProvider({ tenantId: TENANT, audience: CLIENT_ID, logger: false, ...options })
}

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  return expect.unreachable('the configuration was accepted')
}

const fromEnv = (env: Env) => () =>
  buildFromEnv({ providers: [entraIdEnv], sources: [] }, { ...BASE, ...env }, { logger: false })

describe('authorityHost with user information', () => {
  it('says "must not carry credentials" and shows no value', () => {
    const problems = problemsOf(() =>
      provider({ authorityHost: `https://user:${PASSWORD}@login.microsoftonline.us` }),
    )
    expect(problems).toEqual([`authorityHost (${AUTHORITY_HOST}) must not carry credentials`])
  })

  it.each([
    ['without a scheme', `user:${PASSWORD}@login.microsoftonline.us`],
    ['that does not parse', `https://user:${PASSWORD}@login microsoftonline.us`],
    ['with an @ in the password', `https://user:${PASSWORD}@x@login microsoftonline.us`],
    ['with a path', `ftp://user:${PASSWORD}@login.microsoftonline.us/x`],
  ])('never shows the password of a value %s', (_, authorityHost) => {
    const problems = problemsOf(() => provider({ authorityHost }))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toContain(`authorityHost (${AUTHORITY_HOST})`)
    expect(problems[0]).not.toContain(PASSWORD)
  })

  it('still shows a value without user information, so the user sees what was read', () => {
    expect(problemsOf(() => provider({ authorityHost: 'http://login.example.com' }))).toEqual([
      expect.stringContaining('got "http://login.example.com"'),
    ])
  })

  it('from the environment: the credentials problem, under AUTHORITY_HOST, without the password', () => {
    const problems = problemsOf(
      fromEnv({ [AUTHORITY_HOST]: `https://user:${PASSWORD}@login.microsoftonline.us` }),
    )
    expect(problems).toEqual([
      expect.stringContaining(`(${AUTHORITY_HOST}) must not carry credentials`),
    ])
    expect(problems.join('\n')).not.toContain(PASSWORD)
  })
})

describe('the seed template JWKS_URL_TEMPLATE', () => {
  it.each([
    ['user information', template(`user:${PASSWORD}@login.microsoftonline.us`)],
    ['a space in its host', template('login microsoftonline.us')],
    ['a tab in its host', template('login.microsoftonline.us\t')],
  ])('with %s is refused under its own name, the password never shown', (_, value) => {
    const problems = problemsOf(fromEnv({ [TEMPLATE]: value }))
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^${TEMPLATE} must look like`))])
    expect(problems.join('\n')).not.toContain('authorityHost (')
    expect(problems.join('\n')).not.toContain(PASSWORD)
  })

  it.each([
    ['a port out of range', 'login.microsoftonline.us:99999', 'must be a host name'],
    ['a query', 'login.microsoftonline.us?x=1', 'must be a host name'],
    ['an alias host', 'login.windows.net', 'an alias of login.microsoftonline.com'],
  ])('whose host is refused (%s) names the template, not AUTHORITY_HOST', (_, host, words) => {
    const problems = problemsOf(fromEnv({ [TEMPLATE]: template(host) }))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(new RegExp(`^${TEMPLATE}: its host `))
    expect(problems[0]).toContain(words)
    expect(problems[0]).not.toContain(AUTHORITY_HOST)
  })

  it('with a good host still sets the authority', () => {
    const options = fromEnv({ [TEMPLATE]: template('login.microsoftonline.us') })()
    expect((options.providers?.[0] as EntraIdProvider).issuers).toEqual([
      `https://login.microsoftonline.us/${TENANT}/v2.0`,
    ])
  })
})

describe('AUTHORITY_HOST and the seed template both set', () => {
  it('the explicit AUTHORITY_HOST wins: the template is read only in its absence', () => {
    const options = fromEnv({
      [TEMPLATE]: template('login.microsoftonline.us'),
      [AUTHORITY_HOST]: 'login.chinacloudapi.cn',
    })()
    expect((options.providers?.[0] as EntraIdProvider).issuers).toEqual([
      `https://login.chinacloudapi.cn/${TENANT}/v2.0`,
    ])
  })

  it("a template the explicit host overrides is not checked: it cannot refuse the user's setup", () => {
    expect(() =>
      fromEnv({ [TEMPLATE]: 'https://x/{}', [AUTHORITY_HOST]: 'login.microsoftonline.us' })(),
    ).not.toThrow()
  })
})

describe("the public cloud's alias hosts", () => {
  it.each([
    'login.windows.net',
    'login.microsoft.com',
    'https://LOGIN.WINDOWS.NET',
    'login.microsoft.com:443',
  ])(
    '%s is refused, naming login.microsoftonline.com (Entra issuers never name the alias)',
    (authorityHost) => {
      const problems = problemsOf(() => provider({ authorityHost }))
      expect(problems).toHaveLength(1)
      expect(problems[0]).toMatch(
        new RegExp(
          `^authorityHost \\(${AUTHORITY_HOST}\\) must not be login\\.(windows\\.net|microsoft\\.com), an alias of login\\.microsoftonline\\.com: .*use login\\.microsoftonline\\.com$`,
        ),
      )
    },
  )

  it('is refused from the environment too, under AUTHORITY_HOST', () => {
    expect(problemsOf(fromEnv({ [AUTHORITY_HOST]: 'login.windows.net' }))).toEqual([
      expect.stringContaining(`(${AUTHORITY_HOST}) must not be login.windows.net, an alias`),
    ])
  })

  it.each([
    ['login.microsoftonline.com', `https://login.microsoftonline.com/${TENANT}/v2.0`],
    ['https://Login.MicrosoftOnline.com', `https://login.microsoftonline.com/${TENANT}/v2.0`],
    ['login.microsoftonline.us', `https://login.microsoftonline.us/${TENANT}/v2.0`],
    // China's table names no issuer host: both of its sign-in hosts are taken as given.
    ['login.partner.microsoftonline.cn', `https://login.partner.microsoftonline.cn/${TENANT}/v2.0`],
    ['login.chinacloudapi.cn', `https://login.chinacloudapi.cn/${TENANT}/v2.0`],
    ['contoso.ciamlogin.com', `https://${TENANT}.ciamlogin.com/${TENANT}/v2.0`],
    ['http://127.0.0.1:8443', `http://127.0.0.1:8443/${TENANT}/v2.0`],
  ])('%s is still accepted', (authorityHost, issuer) => {
    expect(provider({ authorityHost }).issuers).toEqual([issuer])
  })
})

describe('an alias host on a provider that builds no issuer from it', () => {
  it('is kept for v1 tokens only with a jwksUri: v1 issuers name sts.windows.net whatever the host', async () => {
    const entra = await createEntraIssuer({ host: 'login.windows.net' })
    // Entra's keys name login.microsoftonline.com whatever host they are fetched from.
    entra.setKeyIssuer('https://login.microsoftonline.com/{tenantid}/v2.0')
    try {
      const keys = 'https://login.windows.net/common/discovery/v2.0/keys'
      const options = {
        ...entra.providerOptions,
        authorityHost: 'login.windows.net',
        jwksUri: keys,
        acceptV1: true,
        logger: false as const,
      }
      const v1Only = new EntraIdProvider({ ...options, acceptV2: false })
      const verified = await v1Only.verifyToken(entra.v1())
      expect(verified.claims.iss).toBe(`https://sts.windows.net/${entra.tid}/`)
      // With v2 tokens too, or without a jwksUri, issuers or discovery come from the host: refused.
      expect(problemsOf(() => new EntraIdProvider(options))).toEqual([
        expect.stringContaining('must not be login.windows.net, an alias'),
      ])
      const { jwksUri: _discovered, ...discovering } = options
      expect(problemsOf(() => new EntraIdProvider({ ...discovering, acceptV2: false }))).toEqual([
        expect.stringContaining('must not be login.windows.net, an alias'),
      ])
    } finally {
      await entra.close()
    }
  })
})

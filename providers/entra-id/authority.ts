// Entra ID's authorities and issuers: hosts, tenant ids, the v1/v2/B2C issuer forms, parsing `iss`.

/** The public cloud's authority host. */
export const PUBLIC_AUTHORITY_HOST = 'login.microsoftonline.com'

/** The tenant of personal Microsoft accounts (Outlook.com, Xbox…), as `tid` names it. */
export const CONSUMER_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad'

/** The placeholder Entra's multi-tenant discovery documents and keys put in their `issuer`. */
export const TENANT_TEMPLATE = '{tenantid}'

/** Pseudo-tenants that name a set of tenants in URLs; never stamped into a token's `iss`. */
export type MultiTenant = 'organizations' | 'common'

/** Which token format an issuer string is (Entra's `ver` claim says the same). */
export type TokenVersion = '1.0' | '2.0'

// Entra stamps tenant ids in lower case; anything else in `tid` or `iss` is not Entra's.
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Whether `value` is a tenant id as Entra writes it: a lower-case GUID. */
export function isTenantId(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value)
}

// v1 tokens keep the old STS host of their cloud whatever authority issued them.
const V1_ISSUER_HOSTS: Readonly<Record<string, string>> = {
  'login.microsoftonline.com': 'sts.windows.net',
  'login.microsoftonline.us': 'sts.windows.net',
  'login.partner.microsoftonline.cn': 'sts.chinacloudapi.cn',
  'login.chinacloudapi.cn': 'sts.chinacloudapi.cn',
}

/**
 * One authority (cloud instance, or an External ID / B2C host) and the issuer strings its tokens
 * carry. Issuers are compared as exact strings: Microsoft's "Access tokens" page gives the v1 form
 * with a trailing slash and the v2 form without.
 */
export class Authority {
  /** `https://login.microsoftonline.com` (scheme, host and port only). */
  readonly origin: string
  readonly host: string
  /** The v1 issuer's host: `sts.windows.net` in the public cloud. */
  readonly v1Host: string
  /** External ID (customers) tenants issue from `https://{tid}.ciamlogin.com/{tid}/v2.0`. */
  readonly ciam: boolean
  /**
   * The host Entra's keys and discovery documents name when this host is an alias of another of
   * its cloud (`login.microsoftonline.com` for `login.windows.net`); `undefined` otherwise.
   */
  readonly #canonicalHost: string | undefined

  constructor(origin: string) {
    const url = new URL(origin)
    this.origin = url.origin
    this.host = url.host
    this.v1Host = V1_ISSUER_HOSTS[url.hostname] ?? 'sts.windows.net'
    this.ciam = url.hostname.endsWith('.ciamlogin.com')
    this.#canonicalHost = issuerHostOf(url.hostname)
  }

  /** `https://login.microsoftonline.com/{tid}/v2.0` (or the External ID form). */
  v2Issuer(tid: string): string {
    if (this.ciam) return `https://${tid}.ciamlogin.com/${tid}/v2.0`
    return `${this.origin}/${tid}/v2.0`
  }

  /**
   * The v2 issuer of `tid` as Entra's keys name it: {@link v2Issuer}, but on the cloud's canonical
   * host when this one is an alias (a v1-only provider may keep `login.windows.net`, and the keys
   * still say `https://login.microsoftonline.com/{tenantid}/v2.0`). Never another cloud's host.
   */
  keyV2Issuer(tid: string): string {
    const host = this.#canonicalHost
    return host === undefined ? this.v2Issuer(tid) : `https://${host}/${tid}/v2.0`
  }

  /** `https://sts.windows.net/{tid}/` */
  v1Issuer(tid: string): string {
    return `https://${this.v1Host}/${tid}/`
  }

  /** Azure AD B2C user-flow tokens: `https://{tenant}.b2clogin.com/{tid}/v2.0/` (note the slash). */
  b2cIssuer(tid: string): string {
    return `${this.origin}/${tid}/v2.0/`
  }

  /** The issuer a token of `version` from tenant `tid` must carry. */
  issuer(version: TokenVersion, tid: string): string {
    return version === '2.0' ? this.v2Issuer(tid) : this.v1Issuer(tid)
  }

  /** Where discovery starts: `https://login.microsoftonline.com/{tenant}/v2.0`. */
  discoveryBase(tenant: string): string {
    return `${this.origin}/${tenant}/v2.0`
  }

  /**
   * Reads an Entra issuer of this authority: its version and the tenant id it names, or
   * `undefined` for anything else (another cloud, a pseudo-tenant, `{tenantid}`, a near miss).
   */
  parse(iss: string): { version: TokenVersion; tenant: string } | undefined {
    const v1 = `https://${this.v1Host}/`
    if (iss.startsWith(v1) && iss.endsWith('/')) {
      const tenant = iss.slice(v1.length, -1)
      return isTenantId(tenant) ? { version: '1.0', tenant } : undefined
    }
    if (!iss.endsWith('/v2.0')) return undefined
    const tenant = iss.slice(iss.lastIndexOf('/', iss.length - 6) + 1, -'/v2.0'.length)
    return isTenantId(tenant) && iss === this.v2Issuer(tenant)
      ? { version: '2.0', tenant }
      : undefined
  }
}

/** Each national cloud's sign-in hosts and Microsoft Graph hosts. */
const CLOUDS: readonly {
  readonly name: string
  readonly logins: readonly string[]
  /**
   * The sign-in host the cloud's discovery documents and v2 issuers name, whichever of `logins`
   * the client used; left out where that is not known here.
   */
  readonly issuerHost?: string
  readonly graphs: readonly string[]
}[] = [
  {
    name: 'the public cloud',
    logins: ['login.microsoftonline.com', 'login.microsoft.com', 'login.windows.net'],
    issuerHost: PUBLIC_AUTHORITY_HOST,
    graphs: ['graph.microsoft.com'],
  },
  {
    name: 'US Government',
    logins: ['login.microsoftonline.us'],
    graphs: ['graph.microsoft.us', 'dod-graph.microsoft.us'],
  },
  {
    name: 'China (21Vianet)',
    // v1 tokens' issuer host too: unlike sts.windows.net, which two clouds share, it is China's.
    logins: ['login.partner.microsoftonline.cn', 'login.chinacloudapi.cn', 'sts.chinacloudapi.cn'],
    graphs: ['microsoftgraph.chinacloudapi.cn'],
  },
]

/**
 * The host Entra's issuers name when `host` is another sign-in host of the same cloud
 * (`login.windows.net` and `login.microsoft.com` for `login.microsoftonline.com`), or `undefined`.
 * Issuers built from such an alias would match no token Entra issues.
 */
export function issuerHostOf(host: string): string | undefined {
  const cloud = CLOUDS.find(({ logins }) => logins.includes(host.toLowerCase()))
  const issuerHost = cloud?.issuerHost
  return issuerHost === undefined || issuerHost === host.toLowerCase() ? undefined : issuerHost
}

function cloudOfLogin(host: string) {
  // External ID tenants (`{tenant}.ciamlogin.com`) exist in the public cloud only.
  const login = host.endsWith('.ciamlogin.com') ? PUBLIC_AUTHORITY_HOST : host
  return CLOUDS.find(({ logins }) => logins.includes(login))
}

/**
 * Why Microsoft Graph at `graphHost` cannot serve the users of sign-in host `loginHost`, when the
 * two are of different national clouds, or `undefined`. A host of no known cloud (a custom domain,
 * B2C, a stand-in, a proxy) is left alone.
 */
export function graphCloudConflict(loginHost: string, graphHost: string): string | undefined {
  const login = cloudOfLogin(loginHost.toLowerCase())
  const graph = CLOUDS.find(({ graphs }) => graphs.includes(graphHost.toLowerCase()))
  if (login === undefined || graph === undefined || login === graph) return undefined
  const expected = login.graphs.map((host) => `https://${host}`).join(' or ')
  return `${loginHost} is of ${login.name}, whose Microsoft Graph is ${expected}, not ${graphHost} (${graph.name}'s)`
}

/** The audiences of Microsoft Graph: its app id and its resource URIs (v1 and v2 tokens). */
const GRAPH_AUDIENCES: ReadonlySet<string> = new Set([
  '00000003-0000-0000-c000-000000000000',
  'https://graph.microsoft.com',
  'https://graph.microsoft.com/',
  'https://graph.microsoft.us',
  'https://dod-graph.microsoft.us',
  'https://microsoftgraph.chinacloudapi.cn',
  // The retired Azure AD Graph, still requested by old clients.
  '00000002-0000-0000-c000-000000000000',
  'https://graph.windows.net',
  'https://graph.windows.net/',
])

/** Whether an `aud` value (string or list) names Microsoft Graph. */
export function namesGraph(aud: unknown): boolean {
  if (typeof aud === 'string') return GRAPH_AUDIENCES.has(aud)
  return Array.isArray(aud) && aud.some((item) => GRAPH_AUDIENCES.has(item as string))
}

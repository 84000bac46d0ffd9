// OAuth 2.0 Protected Resource Metadata (RFC 9728): tells clients (MCP clients among them) which
// authorization servers issue tokens for this API and which scopes it knows.

import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type { JwtProvider } from './contracts.js'
import {
  checkNormalForm,
  checkNumber,
  checkOptionNames,
  checkUrl,
  isProduction,
  Problems,
  type OptionFlags,
} from './options.js'
import { checkList } from './rules.js'

/** Options of {@link protectedResourceMetadata}. */
export interface ResourceMetadataOptions {
  /** This API's resource identifier: an https URL without fragment (RFC 9728 §2), e.g. `https://api.example.com`. */
  resource: string
  /** The issuers that mint tokens for this API. Default: the issuers of `providers`. */
  authorizationServers?: readonly string[]
  /** The providers of your `jwtAuth`, whose issuers become `authorization_servers`. */
  providers?: readonly JwtProvider[]
  /** Scopes the API understands (`scopes_supported`). */
  scopesSupported?: readonly string[]
  /** A human-readable name (`resource_name`). */
  resourceName?: string
  /**
   * Where people read about the API (`resource_documentation`): an absolute URL, https in
   * production as `resource`; a query or a fragment (`#auth`) is fine.
   */
  resourceDocumentation?: string
  /** Seconds clients may cache the document: a whole number from 0 to 2147483648. Default 3600. */
  maxAgeSec?: number
}

// Every option: a misspelt one (`scopes`, `maxAge`) would otherwise leave the document without
// what the caller meant it to say.
const RESOURCE_METADATA_OPTIONS = Object.keys({
  resource: true,
  authorizationServers: true,
  providers: true,
  scopesSupported: true,
  resourceName: true,
  resourceDocumentation: true,
  maxAgeSec: true,
} as const satisfies OptionFlags<ResourceMetadataOptions>)

// RFC 9111 §1.2.2: a cache must handle delta-seconds up to 2^31 and may send that for any greater
// value; a larger number would be written in exponent form (`1e+21`), which is no delta-seconds.
const MAX_AGE_LIMIT_SEC = 2_147_483_648

const WELL_KNOWN = '/.well-known/oauth-protected-resource'

/** How a value that should have been something else is shown in a message. */
function kindOf(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (Array.isArray(value)) return 'a list'
  if (value === null) return 'null'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** The issuers of `providers`, or undefined when the option is not a list of providers. */
function issuersOf(problems: Problems, providers: unknown): string[] | undefined {
  if (providers === undefined) return []
  if (!Array.isArray(providers)) {
    problems.add(`providers must be a list: write providers: [provider], got ${kindOf(providers)}`)
    return undefined
  }
  const list: unknown[] = Array.from(providers as unknown[])
  const bad = list.findIndex(
    (provider) => !Array.isArray((provider as Partial<JwtProvider> | null)?.issuers),
  )
  if (bad !== -1) {
    problems.add(`providers[${bad}] is not a provider (it has no issuers list)`)
    return undefined
  }
  return [...new Set((list as JwtProvider[]).flatMap((provider) => provider.issuers))]
}

/** `authorization_servers`: the issuers given, else those of the providers. */
function authorizationServers(
  problems: Problems,
  given: ResourceMetadataOptions,
  production: boolean,
): readonly string[] {
  // Checked even when authorizationServers is given: a wrong option is a mistake either way.
  const fromProviders = issuersOf(problems, given.providers)
  const listed: unknown = given.authorizationServers
  if (listed === undefined && fromProviders === undefined) return []
  const servers = listed ?? fromProviders
  if (typeof servers === 'string') {
    problems.add(
      `authorizationServers takes a list of issuer URLs, not a string: write authorizationServers: [${JSON.stringify(servers)}]`,
    )
    return []
  }
  if (!Array.isArray(servers)) {
    problems.add(`authorizationServers must be a list of issuer URLs, got ${kindOf(servers)}`)
    return []
  }
  if (servers.length === 0) {
    problems.add(
      listed === undefined
        ? 'authorizationServers is required when the providers name no fixed issuer (give the issuer URLs clients should use)'
        : 'authorizationServers must list at least one issuer URL',
    )
  }
  const list: unknown[] = Array.from(servers as unknown[])
  list.forEach((server, index) =>
    checkUrl(problems, `authorizationServers[${index}]`, server, production),
  )
  return list as string[]
}

/** `scopes_supported`: scope tokens as requireScopes takes them, not scopes no token can carry. */
function checkScopes(problems: Problems, scopes: unknown): void {
  if (scopes === undefined) return
  if (typeof scopes === 'string') {
    problems.add(
      `scopesSupported takes a list of scopes, not a string: write scopesSupported: [${JSON.stringify(scopes)}]`,
    )
  } else if (!Array.isArray(scopes)) {
    problems.add(`scopesSupported must be a list of scope names, got ${kindOf(scopes)}`)
  } else if (scopes.length > 0) {
    checkList(problems, 'scopesSupported', 'scopes', scopes)
  }
}

// A space or an ASCII control character (anything but visible ASCII and non-ASCII), as urlProblem
// refuses them: the URL parser drops or escapes them, so the text served is not what was given.
const SPACE_OR_CONTROL = /[^\x21-\x7e\u0080-\uffff]/

/**
 * `resourceDocumentation`: a page people read, not a URL keys are fetched from, so a query or a
 * fragment (`https://docs.example.com/api#auth`) is fine; the rest is checked as `resource` is
 * (absolute, https in production, no credentials).
 */
function checkDocumentation(problems: Problems, value: unknown, production: boolean): void {
  if (value === undefined) return
  const page = typeof value === 'string' ? value.replace(/[?#][\s\S]*/, '') : value
  checkUrl(problems, 'resourceDocumentation', page, production)
  if (page !== value && SPACE_OR_CONTROL.test(value as string)) {
    problems.add('resourceDocumentation must not contain spaces or control characters')
  }
}

/**
 * The path the client asked for, wherever the handler is mounted: `req.path` is relative to the
 * mount point, so in a router at `/mcp` it would answer at `/mcp/.well-known/…`, a URL no client
 * builds (RFC 9728 §3.1 puts the document at the host's root).
 */
function requestedPath(req: Request): string {
  const target = req.originalUrl
  const end = target.search(/[?#]/)
  const pathOnly = end === -1 ? target : target.slice(0, end)
  // An absolute-form target (`GET http://host/path`, RFC 9112 §3.2.2): Express's own parse of it.
  return pathOnly.startsWith('/') ? pathOnly : req.baseUrl + req.path
}

/**
 * Serves this API's protected resource metadata at `/.well-known/oauth-protected-resource` (with
 * the resource's path appended, RFC 9728 §3.1), and gives its `url` to put in every challenge:
 * clients that get a 401 learn where to obtain a token. The document is public, cacheable and
 * readable cross-origin. It answers at that path from the host's root wherever it is mounted: mount
 * it on the app (or a router every request passes through, or at `/.well-known`), not in a router
 * mounted at the resource's path, which requests for the well-known URL never reach.
 *
 * @example
 * const metadata = protectedResourceMetadata({ resource: 'https://api.example.com', providers: [provider], scopesSupported: ['orders.read'] })
 * app.use(metadata)
 * app.use(jwtAuth({ provider, resourceMetadata: metadata.url }))
 *
 * @throws {ConfigError} when `resource` is not an https URL (plain http is allowed only on
 *   loopback, or anywhere outside production), or no authorization server is known (templated
 *   issuers, such as Entra's multi-tenant ones, must be listed in `authorizationServers`); when
 *   `providers` or `authorizationServers` is not a list (of providers, of issuer URLs), a scope of
 *   `scopesSupported` is not one `requireScopes` takes (RFC 6749 §3.3: printable ASCII without
 *   spaces, '"' or '\\'), `resourceName` is not a non-empty string, `resourceDocumentation` is
 *   not an absolute URL without credentials (https in production; a query or fragment is fine),
 *   `maxAgeSec` is not a whole number from 0 to 2147483648 (RFC 9111 §1.2.2), or an option name is
 *   unknown (`scopes` for `scopesSupported`).
 */
export function protectedResourceMetadata(
  options: ResourceMetadataOptions,
): RequestHandler & { readonly url: string; readonly document: Readonly<Record<string, unknown>> } {
  const problems = new Problems()
  const production = isProduction()
  const given = options ?? ({} as ResourceMetadataOptions)
  checkOptionNames(problems, 'protectedResourceMetadata', given, RESOURCE_METADATA_OPTIONS)
  checkUrl(problems, 'resource', given.resource, production)
  // Clients compare the document's resource with the URL they built the well-known one from.
  checkNormalForm(problems, 'resource', given.resource)
  const servers = authorizationServers(problems, given, production)
  checkDocumentation(problems, given.resourceDocumentation, production)
  const { scopesSupported, resourceName, maxAgeSec = 3600 } = given
  checkScopes(problems, scopesSupported)
  if (
    resourceName !== undefined &&
    (typeof resourceName !== 'string' || resourceName.trim() === '')
  ) {
    problems.add(
      `resourceName must be a non-empty string (the name people see for this API), got ${kindOf(resourceName)}`,
    )
  }
  checkNumber(problems, 'maxAgeSec', maxAgeSec, 0, { max: MAX_AGE_LIMIT_SEC, integer: true })
  problems.throwIfAny()

  const resource = new URL(given.resource)
  // RFC 9728 §3.1: the resource's path follows the well-known one as it is, a final slash included
  // (clients build the URL that way); the same path without that slash is answered too.
  const path = resource.pathname === '/' ? WELL_KNOWN : `${WELL_KNOWN}${resource.pathname}`
  const unslashed = path.endsWith('/') ? path.slice(0, -1) : path
  const url = `${resource.origin}${path}`
  const document: Record<string, unknown> = {
    resource: given.resource,
    authorization_servers: [...servers],
    bearer_methods_supported: ['header'],
  }
  if (scopesSupported !== undefined) document['scopes_supported'] = [...scopesSupported]
  if (resourceName !== undefined) document['resource_name'] = resourceName
  if (given.resourceDocumentation !== undefined) {
    document['resource_documentation'] = given.resourceDocumentation
  }
  const body = JSON.stringify(document)

  function resourceMetadata(req: Request, res: Response, next: NextFunction): void {
    const requested = requestedPath(req)
    if (
      (requested !== path && requested !== unslashed) ||
      (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS')
    ) {
      return next()
    }
    res.set('Access-Control-Allow-Origin', '*')
    if (req.method === 'OPTIONS') {
      res.set('Access-Control-Allow-Methods', 'GET')
      // MCP clients in a browser send MCP-Protocol-Version on discovery: a preflight that does not
      // allow it fails the GET. The document is public and read without credentials, so `*` holds.
      res.set('Access-Control-Allow-Headers', '*')
      res.status(204).end()
      return
    }
    res.set('Cache-Control', `public, max-age=${maxAgeSec}`)
    res.type('application/json').send(body)
  }
  return Object.assign(resourceMetadata, { url, document: Object.freeze(document) })
}

// OAuth 2.0 Protected Resource Metadata (RFC 9728): tells clients (MCP clients among them) which
// authorization servers issue tokens for this API and which scopes it knows.

import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type { JwtProvider } from './contracts.js'
import { checkNormalForm, checkUrl, isProduction, Problems } from './options.js'

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
  /** Where people read about the API (`resource_documentation`). */
  resourceDocumentation?: string
  /** Seconds clients may cache the document. Default 3600. */
  maxAgeSec?: number
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource'

function issuersOf(providers: readonly JwtProvider[] | undefined): string[] {
  return [...new Set((providers ?? []).flatMap((provider) => provider.issuers))]
}

/**
 * Serves this API's protected resource metadata at `/.well-known/oauth-protected-resource` (with
 * the resource's path appended, RFC 9728 §3.1), and gives its `url` to put in every challenge:
 * clients that get a 401 learn where to obtain a token. The document is public, cacheable and
 * readable cross-origin.
 *
 * @example
 * const metadata = protectedResourceMetadata({ resource: 'https://api.example.com', providers: [provider], scopesSupported: ['orders.read'] })
 * app.use(metadata)
 * app.use(jwtAuth({ provider, resourceMetadata: metadata.url }))
 *
 * @throws {ConfigError} when `resource` is not an https URL (http on loopback outside production),
 *   or no authorization server is known (templated issuers, such as Entra's multi-tenant ones, must
 *   be listed in `authorizationServers`).
 */
export function protectedResourceMetadata(
  options: ResourceMetadataOptions,
): RequestHandler & { readonly url: string; readonly document: Readonly<Record<string, unknown>> } {
  const problems = new Problems()
  const production = isProduction()
  const given = options ?? ({} as ResourceMetadataOptions)
  checkUrl(problems, 'resource', given.resource, production)
  // Clients compare the document's resource with the URL they built the well-known one from.
  checkNormalForm(problems, 'resource', given.resource)
  const servers = given.authorizationServers ?? issuersOf(given.providers)
  if (!Array.isArray(servers) || servers.length === 0) {
    problems.add(
      'authorizationServers is required when the providers name no fixed issuer (give the issuer URLs clients should use)',
    )
  } else
    servers.forEach((server, index) =>
      checkUrl(problems, `authorizationServers[${index}]`, server, production),
    )
  if (given.resourceDocumentation !== undefined) {
    checkUrl(problems, 'resourceDocumentation', given.resourceDocumentation, production)
  }
  const { scopesSupported, maxAgeSec = 3600 } = given
  if (
    scopesSupported !== undefined &&
    (!Array.isArray(scopesSupported) ||
      !scopesSupported.every((s) => typeof s === 'string' && s !== ''))
  ) {
    problems.add('scopesSupported must be a list of scope names')
  }
  if (!Number.isInteger(maxAgeSec) || maxAgeSec < 0)
    problems.add('maxAgeSec must be a whole number ≥ 0')
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
  if (given.resourceName !== undefined) document['resource_name'] = given.resourceName
  if (given.resourceDocumentation !== undefined) {
    document['resource_documentation'] = given.resourceDocumentation
  }
  const body = JSON.stringify(document)

  function resourceMetadata(req: Request, res: Response, next: NextFunction): void {
    if (
      (req.path !== path && req.path !== unslashed) ||
      (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS')
    ) {
      return next()
    }
    res.set('Access-Control-Allow-Origin', '*')
    if (req.method === 'OPTIONS') {
      res.set('Access-Control-Allow-Methods', 'GET')
      res.status(204).end()
      return
    }
    res.set('Cache-Control', `public, max-age=${maxAgeSec}`)
    res.type('application/json').send(body)
  }
  return Object.assign(resourceMetadata, { url, document: Object.freeze(document) })
}

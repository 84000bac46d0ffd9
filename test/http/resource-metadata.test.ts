// RFC 9728: the protected resource metadata document and the resource_metadata challenge parameter.

import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, jwtAuth, protectedResourceMetadata, requireScopes } from '../../src/index.js'
import type { TestIssuer } from '../../src/testing.js'
import type { JwksProvider } from '../../providers/jwks/index.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://login.example.com'))
})

afterAll(() => idp.close())

describe.each(EXPRESS_MAJORS)('protected resource metadata on %s', (_name, createApp) => {
  function appFor(resource: string) {
    const metadata = protectedResourceMetadata({
      resource,
      providers: [provider],
      scopesSupported: ['orders.read', 'orders.write'],
      resourceName: 'Orders API',
    })
    const app = createApp()
    app.use(metadata)
    app.use(jwtAuth({ provider, logger: false, resourceMetadata: metadata.url, realm: 'orders' }))
    app.get('/orders', requireScopes(['orders.read']), (_req, res) => res.json([]))
    return { app, metadata }
  }

  it('serves the document at the well-known path, public, cacheable and cross-origin', async () => {
    const { app, metadata } = appFor('https://api.example.com')
    expect(metadata.url).toBe('https://api.example.com/.well-known/oauth-protected-resource')
    const res = await request(app).get('/.well-known/oauth-protected-resource')
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    expect(res.headers['access-control-allow-origin']).toBe('*')
    expect(res.headers['cache-control']).toBe('public, max-age=3600')
    expect(res.body).toEqual({
      resource: 'https://api.example.com',
      authorization_servers: ['https://login.example.com'],
      bearer_methods_supported: ['header'],
      scopes_supported: ['orders.read', 'orders.write'],
      resource_name: 'Orders API',
    })
  })

  it('answers a browser preflight that sends a custom header (MCP-Protocol-Version) with its permission', async () => {
    const { app } = appFor('https://api.example.com')
    const res = await request(app)
      .options('/.well-known/oauth-protected-resource')
      .set('Origin', 'https://inspector.example')
      .set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Headers', 'mcp-protocol-version')
    expect(res.status).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBe('*')
    expect(res.headers['access-control-allow-methods']).toBe('GET')
    // Without it a browser refuses the GET that follows: the document is public, any header goes.
    expect(res.headers['access-control-allow-headers']).toBe('*')
  })

  it('a resource with a path has the path appended to the well-known one (RFC 9728 §3.1)', async () => {
    const { app, metadata } = appFor('https://api.example.com/orders/')
    // The final slash stays, as a client builds the URL from the resource it calls.
    expect(metadata.url).toBe(
      'https://api.example.com/.well-known/oauth-protected-resource/orders/',
    )
    for (const path of ['/orders/', '/orders']) {
      const res = await request(app).get(`/.well-known/oauth-protected-resource${path}`)
      expect(res.status).toBe(200)
      expect(res.body.resource).toBe('https://api.example.com/orders/')
    }
    expect((await request(app).get('/.well-known/oauth-protected-resource')).status).toBe(404)
  })

  it('every challenge carries resource_metadata', async () => {
    const { app, metadata } = appFor('https://api.example.com')
    const anonymous = await request(app).get('/orders')
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers['www-authenticate']).toBe(
      `Bearer realm="orders", resource_metadata="${metadata.url}"`,
    )
    const noScope = await request(app)
      .get('/orders')
      .set('Authorization', `Bearer ${idp.mint({ sub: 'a', scope: 'profile' })}`)
    expect(noScope.status).toBe(403)
    expect(noScope.headers['www-authenticate']).toContain(`resource_metadata="${metadata.url}"`)
    expect(noScope.headers['www-authenticate']).toContain('scope="orders.read"')
  })
})

describe('protected resource metadata options', () => {
  it.each([
    [{ resource: 'ftp://api.example.com', providers: [] }, /resource must use https/],
    [
      { resource: 'https://api.example.com#x', authorizationServers: ['https://i'] },
      /resource must not have/,
    ],
    [{ resource: 'https://api.example.com' }, /authorizationServers is required/],
    [
      { resource: 'https://api.example.com', authorizationServers: ['not a url'] },
      /authorizationServers\[0\]/,
    ],
    [
      {
        resource: 'https://api.example.com',
        authorizationServers: ['https://i'],
        scopesSupported: 'a',
      },
      /scopesSupported/,
    ],
  ])('refuses %j', (options, message) => {
    expect(() => protectedResourceMetadata(options as never)).toThrow(ConfigError)
    expect(() => protectedResourceMetadata(options as never)).toThrow(message)
  })

  it('jwtAuth refuses a resourceMetadata that is not a URL', () => {
    expect(() => jwtAuth({ provider, resourceMetadata: 'somewhere' })).toThrow(/resourceMetadata/)
  })

  // RFC 9728 §3.3: the document's resource must be the very identifier the client used; a resource
  // written otherwise than the URL parser writes it would differ from the URL built from it.
  it.each([
    ['https://API.Example.com/mcp', 'https://api.example.com/mcp'],
    ['https://api.example.com:443/mcp', 'https://api.example.com/mcp'],
    ['https://api.example.com/a/../mcp', 'https://api.example.com/mcp'],
    ['https://api.example.com/ménu', 'https://api.example.com/m%C3%A9nu'],
  ])('refuses the resource %s, naming its normal form', (resource, written) => {
    const build = () => protectedResourceMetadata({ resource, providers: [provider] })
    expect(build).toThrow(`resource must be written as "${written}"`)
    expect(() => jwtAuth({ provider, resourceMetadata: resource })).toThrow(
      `resourceMetadata must be written as "${written}"`,
    )
  })

  it('accepts a resource in normal form, with or without the root path', () => {
    for (const resource of [
      'https://api.example.com',
      'https://api.example.com/',
      'https://api.example.com/mcp/',
    ]) {
      expect(() => protectedResourceMetadata({ resource, providers: [provider] })).not.toThrow()
    }
  })
})

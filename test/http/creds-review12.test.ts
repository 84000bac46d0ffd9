// Review 12 of the non-JWT credentials, over HTTP: apiKeyAuth({ scheme: 'Bearer' }) alone answers
// with RFC 6750's Bearer challenges, the rate-limiter recipe of docs/basic-auth.md never throttles
// an authenticated client, and `oidc-guard mint --claim __proto__=…` puts that claim in the token.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express'
import request from 'supertest'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { runCli, type Io } from '../../bin/dispatch.js'
import { tokenCommands } from '../../bin/token-commands.js'
import * as oidcGuard from '../../src/index.js'
import {
  apiKeyAuth,
  basicAuth,
  generateApiKey,
  hashPassword,
  requireScopes,
  requireUser,
  type ApiKeyAuthOptions,
  type CredentialsRepository,
} from '../../src/index.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'

const root = join(import.meta.dirname, '..', '..')

describe.each(EXPRESS_MAJORS)(
  "apiKeyAuth({ scheme: 'Bearer' }) alone answers RFC 6750 challenges on %s (D4)",
  (_name, createApp) => {
    const live = generateApiKey({ prefix: 'og_' })
    const expired = generateApiKey({ prefix: 'og_' })
    const revoked = generateApiKey({ prefix: 'og_' })
    const INVALID = 'Bearer realm="r", error="invalid_token", error_description="invalid API key"'

    function appWith(options: Partial<ApiKeyAuthOptions>): Express {
      const app = createApp()
      const repository = {
        getApiKey(hash: string) {
          if (hash === live.hash) return { id: 'billing', hash, scopes: ['invoices.read'] }
          if (hash === expired.hash) return { id: 'old', hash, expires_at: '2020-01-01 00:00:00' }
          if (hash === revoked.hash) return { id: 'gone', hash, revoked_at: '2024-05-01' }
          return undefined
        },
      }
      app.use(apiKeyAuth({ repository, realm: 'r', logger: false, ...options }))
      app.get('/me', requireUser(), (_req, res) => void res.json({ ok: true }))
      app.get('/invoices', requireScopes(['invoices.write']), (_req, res) => void res.end())
      return app
    }

    it.each([
      ['an unknown key', () => generateApiKey().key],
      ['an expired key', () => expired.key],
      ['a revoked key', () => revoked.key],
    ])('%s: 401 error="invalid_token"', async (_label, key) => {
      const res = await request(appWith({ scheme: 'Bearer' }))
        .get('/me')
        .set('authorization', `Bearer ${key()}`)
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe(INVALID)
      expect(res.body).toEqual({
        error: 'invalid_credentials',
        error_description: 'invalid API key',
      })
    })

    it('no key: the bare challenge, on a guard and under credentialsRequired', async () => {
      const guarded = await request(appWith({ scheme: 'Bearer' })).get('/me')
      expect(guarded.status).toBe(401)
      expect(guarded.headers['www-authenticate']).toBe('Bearer realm="r"')
      const required = await request(appWith({ scheme: 'Bearer', credentialsRequired: true })).get(
        '/me',
      )
      expect(required.status).toBe(401)
      expect(required.headers['www-authenticate']).toBe('Bearer realm="r"')
    })

    it('a key without the scope: 403 error="insufficient_scope" with the scope', async () => {
      const res = await request(appWith({ scheme: 'Bearer' }))
        .get('/invoices')
        .set('authorization', `Bearer ${live.key}`)
      expect(res.status).toBe(403)
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="r", error="insufficient_scope", error_description="the credentials lack a required scope", scope="invoices.write"',
      )
    })

    it('a malformed key: 400 error="invalid_request", as jwtAuth answers', async () => {
      const res = await request(appWith({ scheme: 'Bearer' }))
        .get('/me')
        .set('authorization', 'Bearer a"b')
      expect(res.status).toBe(400)
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="r", error="invalid_request", error_description="malformed API key"',
      )
    })

    it('onError handing the error to Express: its headers carry the same challenge', async () => {
      const app = appWith({
        scheme: 'Bearer',
        onError: (error, _req, _res, next) => next(error),
      })
      const res = await request(app).get('/me').set('authorization', `Bearer ${expired.key}`)
      expect(res.status).toBe(401)
      expect(res.headers['www-authenticate']).toBe(INVALID)
    })

    it('authenticate(key) rejects with those headers too', async () => {
      const auth = apiKeyAuth({
        scheme: 'Bearer',
        keys: [{ id: 'k', hash: live.hash }],
        realm: 'r',
      })
      const refused = await auth.authenticate(generateApiKey().key).catch((error: unknown) => error)
      expect((refused as oidcGuard.AuthError).headers['WWW-Authenticate']).toBe(INVALID)
    })

    it('the ApiKey scheme keeps its own challenge, and none on 403', async () => {
      const app = appWith({ scheme: 'ApiKey' })
      const unknown = await request(app)
        .get('/me')
        .set('authorization', `ApiKey ${generateApiKey().key}`)
      expect(unknown.status).toBe(401)
      expect(unknown.headers['www-authenticate']).toBe('ApiKey realm="r"')
      const scope = await request(app).get('/invoices').set('authorization', `ApiKey ${live.key}`)
      expect(scope.status).toBe(403)
      expect(scope.headers['www-authenticate']).toBeUndefined()
    })
  },
)

/**
 * express-rate-limit 8 as far as the recipe uses it (it is not installed here): every request
 * counts against its key; with `skipSuccessfulRequests`, one is taken back once the answer is sent
 * if `requestWasSuccessful` says so, by default `res.statusCode < 400`. Over `limit`, 429.
 */
function fakeRateLimit(options: {
  limit: number
  skipSuccessfulRequests?: boolean
  requestWasSuccessful?: (req: Request, res: Response) => boolean
  keyGenerator: (req: Request) => string
}): RequestHandler {
  const hits = new Map<string, number>()
  const succeeded = options.requestWasSuccessful ?? ((_req, res) => res.statusCode < 400)
  return (req: Request, res: Response, next: NextFunction) => {
    const key = options.keyGenerator(req)
    const count = (hits.get(key) ?? 0) + 1
    hits.set(key, count)
    if (count > options.limit) return void res.status(429).send('Too many requests')
    if (options.skipSuccessfulRequests === true) {
      res.on('finish', () => {
        if (succeeded(req, res)) hits.set(key, hits.get(key)! - 1)
      })
    }
    next()
  }
}

/** The recipe's code block, as JavaScript to run with `require` and `app` given. */
function rateLimitRecipe(): string {
  const markdown = readFileSync(join(root, 'docs', 'basic-auth.md'), 'utf8')
  const blocks = [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!)
  const recipe = blocks.find((block) => block.includes("from 'express-rate-limit'"))
  expect(recipe).toBeDefined()
  return ts.transpileModule(recipe!, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText
}

describe("docs/basic-auth.md's rate limiter counts failed authentications only (D2)", () => {
  it('an authenticated client answered 404 is never throttled; wrong passwords are', async () => {
    const passwordHash = await hashPassword('correct horse battery staple', { iterations: 1_000 })
    const credentialsRepository: CredentialsRepository = {
      getCredentials: (username) => (username === 'alice' ? { username, passwordHash } : undefined),
    }
    const express = createRequire(import.meta.url)('express') as () => Express
    const app = express()
    const modules: Record<string, unknown> = {
      'express-rate-limit': { rateLimit: fakeRateLimit, ipKeyGenerator: (ip: string) => ip },
      'oidc-guard': {
        ...oidcGuard,
        basicAuth: (options: oidcGuard.BasicAuthOptions) =>
          basicAuth({ ...options, logger: false }),
      },
    }
    const names = ['require', 'exports', 'app', 'credentialsRepository']
    const run = new Function(...names, rateLimitRecipe()) as (
      require: (name: string) => unknown,
      exports: object,
      app: Express,
      repository: CredentialsRepository,
    ) => void
    run((name) => modules[name], {}, app, credentialsRepository)
    app.get('/health', (_req, res) => void res.json({ ok: true }))
    app.get('/orders/:id', requireUser(), (req, res) =>
      req.params['id'] === '1' ? void res.json({ id: 1 }) : void res.status(404).end(),
    )

    const basic = (password: string) =>
      `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`
    const statuses = async (count: number, send: () => request.Test) => {
      const seen: number[] = []
      for (let index = 0; index < count; index += 1) seen.push((await send()).status)
      return seen
    }
    const right = basic('correct horse battery staple')
    const missing = await statuses(25, () =>
      request(app).get('/orders/9').set('authorization', right),
    )
    expect(missing).toEqual(Array<number>(25).fill(404))
    expect((await request(app).get('/orders/1').set('authorization', right)).status).toBe(200)
    // A health check polled without credentials is no failed authentication either.
    expect(await statuses(25, () => request(app).get('/health'))).toEqual(
      Array<number>(25).fill(200),
    )
    const wrong = await statuses(21, () =>
      request(app).get('/orders/1').set('authorization', basic('x')),
    )
    expect(wrong.slice(0, 20)).toEqual(Array<number>(20).fill(401))
    expect(wrong[20]).toBe(429)
  })
})

describe('oidc-guard mint --claim __proto__=… keeps the claim (D5)', () => {
  it('__proto__, constructor and prototype are claims like any other', async () => {
    const out: string[] = []
    const err: string[] = []
    const io: Io = {
      out: (line) => void out.push(line),
      err: (line) => void err.push(line),
      env: {},
    }
    const code = await runCli(
      [
        'mint',
        ...['--port', '0', '--exit-after-print', '--json'],
        ...['--claim', '__proto__={"roles":["admin"]}'],
        ...['--claim', 'constructor=1', '--claim', 'prototype=x', '--claim', 'roles2=["x"]'],
      ],
      io,
      tokenCommands,
    )
    expect({ code, err: err.join('\n') }).toEqual({ code: 0, err: '' })
    const { token } = JSON.parse(out.join('\n')) as { token: string }
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >
    expect(Object.getOwnPropertyDescriptor(payload, '__proto__')?.value).toEqual({
      roles: ['admin'],
    })
    expect(Object.hasOwn(payload, 'constructor') && payload['constructor']).toBe(1)
    expect(Object.hasOwn(payload, 'prototype') && payload['prototype']).toBe('x')
    expect(payload).toMatchObject({ sub: 'dev-user', aud: 'api://local', roles2: ['x'] })
  })
})

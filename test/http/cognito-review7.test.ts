// Review 7 of Cognito over HTTP: the documented profile route survives a Cognito failure on Express 4.

import type { Express, NextFunction, Request, RequestHandler, Response } from 'express'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import request from 'supertest'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { authErrorHandler, jwtAuth, requireUser, UnavailableError } from '../../src/index.js'
import {
  CognitoProfileProvider,
  CognitoProvider,
  type AwsClientLike,
} from '../../providers/cognito/index.js'
import { createCognitoIssuer, type CognitoTestIssuer } from '../fake-idp/cognito.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'

const root = join(import.meta.dirname, '..', '..')
const POOL = 'eu-west-1_TestPool1'

let cognito: CognitoTestIssuer

beforeAll(async () => {
  cognito = await createCognitoIssuer(POOL)
})

afterAll(async () => {
  await cognito.close()
})

/** The source text of the last argument of `app.get('/me', …)` in `code`: the route's handler. */
function meHandlerSource(code: string): string {
  const file = ts.createSourceFile('example.ts', code, ts.ScriptTarget.Latest, true)
  let found: string | undefined
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      node.expression.getText(file) === 'app.get' &&
      ts.isStringLiteral(node.arguments[0]!) &&
      (node.arguments[0] as ts.StringLiteral).text === '/me'
    ) {
      found = node.arguments.at(-1)!.getText(file)
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
  if (found === undefined) throw new Error("no app.get('/me', …) in the example")
  return found
}

/** The handler as written in the docs, compiled to run. */
function compile(source: string): RequestHandler {
  const js = ts.transpile(`(${source})`, { target: ts.ScriptTarget.ES2022 })
  return new Function(`return ${js}`)() as RequestHandler
}

/** The first ```ts block of a Markdown section. */
function firstBlockOf(markdown: string, heading: string): string {
  const section = markdown.slice(markdown.indexOf(heading))
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
  if (block === undefined) throw new Error(`no code block under ${heading}`)
  return block
}

/** The `@example` of the class's TSDoc, without the comment's stars. */
function tsdocExampleOf(file: string): string {
  const text = readFileSync(join(root, file), 'utf8')
  const example = /@example\n([\s\S]*?)\n \*\n \* @throws/.exec(text)?.[1]
  if (example === undefined) throw new Error(`no @example in ${file}`)
  return example.replace(/^ \* ?/gm, '')
}

const EXAMPLES: readonly [string, () => string][] = [
  [
    'docs/providers/cognito.md, "Profile: user attributes"',
    () =>
      firstBlockOf(
        readFileSync(join(root, 'docs/providers/cognito.md'), 'utf8'),
        '## Profile: user attributes',
      ),
  ],
  [
    'the TSDoc of CognitoProfileProvider',
    () => tsdocExampleOf('providers/cognito/profile-provider.ts'),
  ],
]

/** An SDK client whose every call fails as AWS's do (a 500). */
const failingClient: AwsClientLike = {
  send: () =>
    Promise.reject(
      Object.assign(new Error('We encountered an internal error'), {
        name: 'InternalErrorException',
        $metadata: { httpStatusCode: 500 },
      }),
    ),
}

describe.each(EXAMPLES)('the profile route of %s', (_name, example) => {
  it('hands a failing profile to next() instead of rejecting (Express 4 would end the process)', async () => {
    const handler = compile(meHandlerSource(example()))
    const failure = new UnavailableError('ERR_AUTH_SOURCE_UNAVAILABLE', 'the profile is down')
    const profile = Promise.reject(failure)
    profile.catch(() => undefined)
    const req = { currentUser: { profile } } as unknown as Request
    const res = { json: vi.fn() } as unknown as Response
    const next = vi.fn() as NextFunction
    await expect(Promise.resolve(handler(req, res, next))).resolves.toBeUndefined()
    expect(next).toHaveBeenCalledWith(failure)
    expect(res.json).not.toHaveBeenCalled()
  })

  it.each(EXPRESS_MAJORS)('answers 503 on %s when AdminGetUser fails', async (_major, create) => {
    const handler = compile(meHandlerSource(example()))
    const provider = new CognitoProvider(cognito.providerOptions)
    const profile = new CognitoProfileProvider({ userPoolId: POOL, client: failingClient })
    const app: Express = create()
    app.use(jwtAuth({ provider, profile, logger: false }))
    app.get('/me', requireUser(), handler)
    app.use(authErrorHandler())
    const res = await request(app).get('/me').set('Authorization', `Bearer ${cognito.access()}`)
    expect(res.status).toBe(503)
    expect(res.headers['retry-after']).toBeDefined()
    expect(res.body.error).toBe('temporarily_unavailable')
  })
})

describe.each(EXPRESS_MAJORS)(
  "CognitoProfileProvider with operation 'GetUser' on %s",
  (_major, create) => {
    it('refuses an ID token with 401 invalid_token, not a 503 to retry, and never calls AWS', async () => {
      const send = vi.fn(failingClient.send)
      const provider = new CognitoProvider({ ...cognito.providerOptions, tokenUse: 'any' })
      const profile = new CognitoProfileProvider({
        userPoolId: POOL,
        operation: 'GetUser',
        client: { send },
      })
      const app: Express = create()
      app.use(jwtAuth({ provider, profile, logger: false }))
      app.get('/me', requireUser(), async (req, res, next) => {
        try {
          res.json(await req.currentUser.profile)
        } catch (error) {
          next(error)
        }
      })
      app.use(authErrorHandler())
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const res = await request(app).get('/me').set('Authorization', `Bearer ${cognito.id()}`)
        expect(res.status).toBe(401)
        expect(res.headers['retry-after']).toBeUndefined()
        expect(res.headers['www-authenticate']).toContain('error="invalid_token"')
        expect(res.body).toEqual({
          error: 'invalid_token',
          error_description: 'the profile needs an access token',
        })
      }
      expect(send).not.toHaveBeenCalled()
    })
  },
)

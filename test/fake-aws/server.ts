// A fake AWS on 127.0.0.1 speaking JSON 1.1 for Cognito's AdminGetUser, GetUser, GetId, GetCredentialsForIdentity.

import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** The operations the fake answers. */
export type FakeAwsOperation = 'AdminGetUser' | 'GetUser' | 'GetId' | 'GetCredentialsForIdentity'

/** A user of the fake user pool. */
export interface FakeAwsUser {
  readonly username: string
  readonly sub: string
  readonly attributes: Readonly<Record<string, string>>
}

/** How an operation misbehaves. */
export interface FakeAwsFailure {
  /** HTTP status. Default 500. */
  status?: number
  /** The AWS error type (`__type`). Default `InternalErrorException`. */
  type?: string
  /** The error's message. Default `failing`. */
  message?: string
  /** Answer this body with a 200 instead of an error (malformed answers). */
  body?: unknown
}

export interface FakeAwsOptions {
  userPoolId: string
  identityPoolId: string
  /** Lifetime of issued credentials, in seconds (from `Date.now()`, so fake dates apply). Default 3600. */
  credentialsLifetimeSec?: number
  users?: readonly FakeAwsUser[]
}

/** One request the fake received. */
export interface FakeAwsRequest {
  readonly operation: string
  readonly body: Record<string, unknown>
  readonly headers: IncomingMessage['headers']
}

export interface FakeAws {
  /** `http://127.0.0.1:<port>`: give it to the SDK clients as `endpoint`. */
  readonly endpoint: string
  /** Requests per operation (failing and hanging ones included). */
  readonly counts: Readonly<Record<FakeAwsOperation, number>>
  /** Every request received, oldest first. */
  readonly requests: readonly FakeAwsRequest[]
  /** The `Logins` key of the user pool: `cognito-idp.{region}.amazonaws.com/{userPoolId}`. */
  readonly loginKey: string
  /** Make one operation, or all, fail; undefined restores it. */
  fail(operation: FakeAwsOperation | 'all', failure: FakeAwsFailure | undefined): void
  /** Make one operation, or all, never answer (until `close`); false restores it. */
  hang(operation: FakeAwsOperation | 'all', on?: boolean): void
  /**
   * `GlobalSignOut` of one user: their access tokens issued so far (`iat` up to now) are refused
   * by `GetUser` with `NotAuthorizedException: Access Token has been revoked`, as Cognito does.
   */
  globalSignOut(username: string): void
  /**
   * Adds a user, or replaces the one with the same username: `deleteUser` then a new sign-up of
   * that username, as Cognito allows (the newcomer has another `sub`).
   */
  putUser(user: FakeAwsUser): void
  /** Deletes a user: `AdminGetUser` and `GetUser` then answer `UserNotFoundException`. */
  deleteUser(username: string): void
  /** Forget failures, hangs, sign-outs, counts and requests, and restore the users given at start. */
  reset(): void
  close(): Promise<void>
}

/** Static fake credentials for SDK clients in tests, so they never look for real ones. */
export const FAKE_CREDENTIALS = Object.freeze({
  accessKeyId: 'AKIAFAKEFAKEFAKEFAKE',
  secretAccessKey: 'fake/secret/key/fake/secret/key/fake/secret',
})

const TARGETS = new Map<string, FakeAwsOperation>([
  ['AWSCognitoIdentityProviderService.AdminGetUser', 'AdminGetUser'],
  ['AWSCognitoIdentityProviderService.GetUser', 'GetUser'],
  ['AWSCognitoIdentityService.GetId', 'GetId'],
  ['AWSCognitoIdentityService.GetCredentialsForIdentity', 'GetCredentialsForIdentity'],
])

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message)
  }
}

/** The claims of a JWT, unverified: the fake trusts whatever it is sent. */
function claimsOf(token: unknown): Record<string, unknown> {
  const payload = typeof token === 'string' ? token.split('.')[1] : undefined
  try {
    return JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'))
  } catch {
    throw new AwsError('NotAuthorizedException', 'Invalid login token.')
  }
}

function identityIdFor(region: string, sub: string): string {
  const hex = createHash('sha256').update(sub).digest('hex')
  return `${region}:${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/** Starts the fake on a random port of 127.0.0.1. */
export async function startFakeAws(options: FakeAwsOptions): Promise<FakeAws> {
  const { userPoolId, identityPoolId, credentialsLifetimeSec = 3600 } = options
  const region = userPoolId.split('_')[0]!
  const loginKey = `cognito-idp.${region}.amazonaws.com/${userPoolId}`
  const initialUsers = options.users ?? []
  const users = [...initialUsers]
  const counts: Record<FakeAwsOperation, number> = {
    AdminGetUser: 0,
    GetUser: 0,
    GetId: 0,
    GetCredentialsForIdentity: 0,
  }
  const requests: FakeAwsRequest[] = []
  const failures = new Map<FakeAwsOperation | 'all', FakeAwsFailure>()
  const hangs = new Set<FakeAwsOperation | 'all'>()
  const identities = new Set<string>()
  // username → the second up to which their access tokens are revoked.
  const signedOut = new Map<string, number>()

  function attributesOf(user: FakeAwsUser): { Name: string; Value: string }[] {
    return Object.entries({ sub: user.sub, ...user.attributes }).map(([Name, Value]) => ({
      Name,
      Value,
    }))
  }

  /**
   * The user a name designates: its username, else (as Cognito's Admin APIs take either) its sub.
   * Usernames are unique in the pool, and matched first: the sub of one user is never taken for
   * the username of another.
   */
  function userNamed(name: unknown): FakeAwsUser {
    const user =
      users.find((candidate) => candidate.username === name) ??
      users.find((candidate) => candidate.sub === name)
    if (user === undefined) throw new AwsError('UserNotFoundException', 'User does not exist.')
    return user
  }

  function removeUser(username: string): void {
    const index = users.findIndex((candidate) => candidate.username === username)
    if (index !== -1) users.splice(index, 1)
  }

  function checkLogins(logins: unknown): Record<string, unknown> {
    const entries = Object.entries((logins ?? {}) as Record<string, unknown>)
    if (entries.length !== 1 || entries[0]![0] !== loginKey) {
      throw new AwsError('NotAuthorizedException', 'Invalid login token. Issuer does not match.')
    }
    const claims = claimsOf(entries[0]![1])
    if (claims['token_use'] !== 'id') {
      throw new AwsError(
        'NotAuthorizedException',
        'Invalid login token. Not a valid OpenId Connect identity token.',
      )
    }
    return claims
  }

  const handlers: Record<FakeAwsOperation, (body: Record<string, unknown>) => unknown> = {
    AdminGetUser(body) {
      if (body['UserPoolId'] !== userPoolId) {
        throw new AwsError('ResourceNotFoundException', 'User pool does not exist.')
      }
      const user = userNamed(body['Username'])
      const created = Date.now() / 1000 - 86_400
      return {
        Username: user.username,
        UserAttributes: attributesOf(user),
        UserCreateDate: created,
        UserLastModifiedDate: created,
        Enabled: true,
        UserStatus: 'CONFIRMED',
      }
    },
    GetUser(body) {
      const claims = claimsOf(body['AccessToken'])
      if (claims['token_use'] !== 'access') {
        throw new AwsError('NotAuthorizedException', 'Invalid Access Token')
      }
      const revokedUntil = signedOut.get(String(claims['username']))
      if (revokedUntil !== undefined && Number(claims['iat']) <= revokedUntil) {
        throw new AwsError('NotAuthorizedException', 'Access Token has been revoked')
      }
      const user = userNamed(claims['username'])
      return { Username: user.username, UserAttributes: attributesOf(user) }
    },
    GetId(body) {
      if (body['IdentityPoolId'] !== identityPoolId) {
        throw new AwsError('ResourceNotFoundException', 'IdentityPool not found.')
      }
      const claims = checkLogins(body['Logins'])
      const identityId = identityIdFor(region, String(claims['sub']))
      identities.add(identityId)
      return { IdentityId: identityId }
    },
    GetCredentialsForIdentity(body) {
      const identityId = body['IdentityId']
      if (typeof identityId !== 'string' || !identities.has(identityId)) {
        throw new AwsError('ResourceNotFoundException', 'Identity not found.')
      }
      const claims = checkLogins(body['Logins'])
      if (identityIdFor(region, String(claims['sub'])) !== identityId) {
        throw new AwsError('NotAuthorizedException', 'Logins do not match the identity.')
      }
      return {
        IdentityId: identityId,
        Credentials: {
          AccessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
          SecretKey: randomBytes(30).toString('base64'),
          SessionToken: randomBytes(120).toString('base64'),
          Expiration: Math.floor(Date.now() / 1000) + credentialsLifetimeSec,
        },
      }
    },
  }

  function answer(res: ServerResponse, status: number, body: unknown, type?: string): void {
    const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1' }
    if (type !== undefined) headers['x-amzn-errortype'] = `${type}:http://internal.amazon.com/`
    res.writeHead(status, headers).end(JSON.stringify(body))
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = ''
    req.setEncoding('utf8')
    for await (const chunk of req) text += chunk
    const target = String(req.headers['x-amz-target'] ?? '')
    const operation = TARGETS.get(target)
    const body = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>
    requests.push({ operation: operation ?? target, body, headers: req.headers })
    if (operation === undefined) {
      return answer(res, 400, { __type: 'UnknownOperationException' }, 'UnknownOperationException')
    }
    counts[operation] += 1
    if (hangs.has(operation) || hangs.has('all')) return // never answered; close() ends it
    const failure = failures.get(operation) ?? failures.get('all')
    if (failure?.body !== undefined) return answer(res, 200, failure.body)
    if (failure !== undefined) {
      const type = failure.type ?? 'InternalErrorException'
      const message = failure.message ?? 'failing'
      return answer(res, failure.status ?? 500, { __type: type, message }, type)
    }
    try {
      answer(res, 200, handlers[operation](body))
    } catch (error) {
      if (!(error instanceof AwsError)) throw error
      answer(res, error.status, { __type: error.type, message: error.message }, error.type)
    }
  }

  const server = createServer((req, res) => {
    serve(req, res).catch(() => res.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  let closing: Promise<void> | undefined

  return {
    endpoint: `http://127.0.0.1:${port}`,
    loginKey,
    get counts() {
      return Object.freeze({ ...counts })
    },
    get requests() {
      return [...requests]
    },
    fail(operation, failure) {
      if (failure === undefined) failures.delete(operation)
      else failures.set(operation, failure)
    },
    hang(operation, on = true) {
      if (on) hangs.add(operation)
      else hangs.delete(operation)
    },
    globalSignOut(username) {
      signedOut.set(username, Math.floor(Date.now() / 1000))
    },
    putUser(user) {
      removeUser(user.username)
      users.push(user)
    },
    deleteUser(username) {
      removeUser(username)
    },
    reset() {
      failures.clear()
      hangs.clear()
      signedOut.clear()
      users.splice(0, users.length, ...initialUsers)
      requests.length = 0
      for (const name of Object.keys(counts) as FakeAwsOperation[]) counts[name] = 0
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}

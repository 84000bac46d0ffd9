// req.currentUser as an accessor of http.IncomingMessage.prototype, its values kept in a WeakMap.

import { IncomingMessage } from 'node:http'
import { ConfigError } from './errors.js'

// Express gives every request the app's prototype (Object.setPrototypeOf), after which V8 builds a
// new hidden class for each property then added to that request: about 2 µs per request for an own
// `req.currentUser` on the benchmark machine, against 0.2 µs for a WeakMap entry (see
// docs/performance.md). An accessor inherited from IncomingMessage.prototype (which Passport
// extends too) keeps the WeakMap cost and the `req.currentUser = user` syntax. Requests that are
// not IncomingMessages (HTTP/2 compatibility requests, hand-made mocks) get an own property.
//
// Since no two requests share a hidden class, `req.currentUser` written as a property access
// misses V8's inline cache on every request, and each miss is a lookup in V8's runtime that caches
// a handler no later request uses. Reflect.get and Reflect.set take V8's generic lookup, which
// gives the same answer without touching the caches: oidc-guard reads and writes the request's
// properties that way on the hot path (readRequest, setCurrentUser, currentUserOf).
const users = new WeakMap<object, unknown>()
let installed = false

function readCurrentUser(this: object): unknown {
  const user = users.get(this)
  return user === undefined ? inheritedUser(Object.getPrototypeOf(this) as object | null) : user
}

/** An object made from a request (`Object.create(req)`) sees its user, as with an own property. */
function inheritedUser(holder: object | null): unknown {
  for (; holder !== null; holder = Object.getPrototypeOf(holder) as object | null) {
    const user = users.get(holder)
    if (user !== undefined) return user
  }
  return undefined
}

function writeCurrentUser(this: object, user: unknown): void {
  users.set(this, user)
}

/**
 * Defines the accessor once, when the first authentication middleware is built (not on import:
 * the package has no side effects until used). An existing `currentUser` on the prototype (another
 * copy of oidc-guard) is left as it is: every copy writes through `req.currentUser`.
 *
 * @throws {ConfigError} `ERR_AUTH_CONFIG` when something else made `currentUser` read-only there.
 */
export function installCurrentUser(): void {
  if (installed) return
  const prototype = IncomingMessage.prototype
  const existing = Object.getOwnPropertyDescriptor(prototype, 'currentUser')
  if (existing === undefined) {
    Object.defineProperty(prototype, 'currentUser', {
      get: readCurrentUser,
      set: writeCurrentUser,
      configurable: true,
      enumerable: false,
    })
  } else if (existing.set === undefined && existing.writable !== true) {
    throw new ConfigError([
      'http.IncomingMessage.prototype.currentUser is read-only (defined by another library): ' +
        'oidc-guard cannot set req.currentUser',
    ])
  }
  installed = true
}

/**
 * `req[name]`, read without an inline-cache miss (see above): for the properties of a request
 * that Express has not read itself by then (a miss is paid once per hidden class and name).
 */
export function readRequest(req: object, name: string): unknown {
  return Reflect.get(req, name)
}

/**
 * `req.currentUser = user`, without an inline-cache miss (see above).
 *
 * @throws {TypeError} when the request's `currentUser` is read-only, as the assignment would.
 */
export function setCurrentUser(req: object, user: unknown): void {
  if (!Reflect.set(req, 'currentUser', user)) {
    throw new TypeError('req.currentUser is read-only: oidc-guard cannot set the user')
  }
}

/** `req.currentUser`, read without an inline-cache miss (see above). */
export function currentUserOf(req: object): unknown {
  return Reflect.get(req, 'currentUser')
}

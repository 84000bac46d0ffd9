// req.currentUser as an accessor of IncomingMessage.prototype: installed once, never over another's.

import { IncomingMessage } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type * as CurrentUser from '../../src/current-user.js'

const prototype = IncomingMessage.prototype

/** A request as the accessor sees it. */
type Carrier = IncomingMessage & { currentUser?: unknown }

function newRequest(): Carrier {
  return new IncomingMessage(null as never)
}
const original = Object.getOwnPropertyDescriptor(prototype, 'currentUser')

afterEach(() => {
  delete (prototype as { currentUser?: unknown }).currentUser
  if (original !== undefined) Object.defineProperty(prototype, 'currentUser', original)
})

/** The module as a new process, or another copy of oidc-guard in this one, would load it. */
async function freshCopy(): Promise<typeof CurrentUser> {
  vi.resetModules()
  return import('../../src/current-user.js')
}

describe('installCurrentUser', () => {
  it('defines a non-enumerable accessor whose values belong to each request', async () => {
    delete (prototype as { currentUser?: unknown }).currentUser
    ;(await freshCopy()).installCurrentUser()
    const descriptor = Object.getOwnPropertyDescriptor(prototype, 'currentUser')
    expect(typeof descriptor?.get).toBe('function')
    expect(typeof descriptor?.set).toBe('function')
    expect(descriptor?.enumerable).toBe(false)
    const first = newRequest()
    const second = newRequest()
    expect(first.currentUser).toBeUndefined()
    first.currentUser = 'alice'
    expect(first.currentUser).toBe('alice')
    expect(second.currentUser).toBeUndefined()
    expect(Object.hasOwn(first, 'currentUser')).toBe(false)
    expect(Object.keys(first)).not.toContain('currentUser')
  })

  it('an object made from a request sees its user; a user set on it stays its own', async () => {
    ;(await freshCopy()).installCurrentUser()
    const req = newRequest()
    req.currentUser = 'alice'
    const derived = Object.create(req) as Carrier
    expect(derived.currentUser).toBe('alice')
    derived.currentUser = 'bob'
    expect(derived.currentUser).toBe('bob')
    expect(req.currentUser).toBe('alice')
  })

  it("another copy leaves the first copy's accessor in place, so both see one user", async () => {
    ;(await freshCopy()).installCurrentUser()
    const installed = Object.getOwnPropertyDescriptor(prototype, 'currentUser')
    ;(await freshCopy()).installCurrentUser()
    expect(Object.getOwnPropertyDescriptor(prototype, 'currentUser')).toEqual(installed)
  })

  it('a writable property defined by something else is left alone', async () => {
    delete (prototype as { currentUser?: unknown }).currentUser
    Object.defineProperty(prototype, 'currentUser', {
      value: null,
      writable: true,
      configurable: true,
    })
    ;(await freshCopy()).installCurrentUser()
    const req = newRequest()
    req.currentUser = 'alice'
    expect(Object.hasOwn(req, 'currentUser')).toBe(true)
  })

  it('a read-only currentUser defined by something else is a ConfigError at construction', async () => {
    delete (prototype as { currentUser?: unknown }).currentUser
    Object.defineProperty(prototype, 'currentUser', { get: () => null, configurable: true })
    const copy = await freshCopy()
    expect(() => copy.installCurrentUser()).toThrow(
      expect.objectContaining({
        code: 'ERR_AUTH_CONFIG',
        message: expect.stringMatching(/read-only/),
      }),
    )
  })
})

// The hot path's reads and writes (Reflect, to spare V8's inline caches) must mean exactly what
// `req.currentUser` and `req[name]` mean.
describe('setCurrentUser, currentUserOf and readRequest', () => {
  it('go through the accessor, as the property syntax does', async () => {
    const copy = await freshCopy()
    copy.installCurrentUser()
    const req = newRequest()
    copy.setCurrentUser(req, 'alice')
    expect(req.currentUser).toBe('alice')
    expect(Object.hasOwn(req, 'currentUser')).toBe(false)
    req.currentUser = 'bob'
    expect(copy.currentUserOf(req)).toBe('bob')
    expect(copy.currentUserOf(Object.create(req))).toBe('bob')
    expect(copy.currentUserOf(newRequest())).toBeUndefined()
  })

  it('give a request that is not an IncomingMessage an own property', async () => {
    const copy = await freshCopy()
    const mock: { currentUser?: unknown } = {}
    copy.setCurrentUser(mock, 'alice')
    expect(Object.hasOwn(mock, 'currentUser')).toBe(true)
    expect(copy.currentUserOf(mock)).toBe('alice')
  })

  it('refuse to leave an earlier user in place where currentUser cannot be written', async () => {
    const copy = await freshCopy()
    const frozen = Object.freeze({ currentUser: 'mallory' })
    expect(() => copy.setCurrentUser(frozen, 'alice')).toThrow(TypeError)
    const getterOnly = Object.defineProperty({}, 'currentUser', { get: () => 'mallory' })
    expect(() => copy.setCurrentUser(getterOnly, 'alice')).toThrow(/read-only/)
  })

  it('readRequest reads own properties and getters with the request as this', async () => {
    const copy = await freshCopy()
    const req = newRequest()
    req.rawHeaders.push('Authorization', 'Bearer abc')
    expect(copy.readRequest(req, 'rawHeaders')).toBe(req.rawHeaders)
    expect(copy.readRequest(req, 'headers')).toBe(req.headers)
    const derived = Object.create(req) as object
    expect(copy.readRequest(derived, 'rawHeaders')).toBe(req.rawHeaders)
    expect(copy.readRequest({}, 'rawHeaders')).toBeUndefined()
  })
})

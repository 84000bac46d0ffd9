// Test setup: a request to anywhere but loopback is a test failure, never a silent internet call.

import { afterEach, vi } from 'vitest'

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])
const realFetch = globalThis.fetch

/** Hosts tests tried to reach off the machine; afterEach fails the test that did it. */
const offMachine: string[] = []

globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url)
  if (!LOOPBACK.has(url.hostname)) {
    offMachine.push(url.host)
    throw new TypeError(`fetch failed: tests may only reach loopback, not ${url.host}`)
  }
  return realFetch(input, init)
}

afterEach(() => {
  vi.useRealTimers()
  if (offMachine.length > 0) {
    const hosts = offMachine.splice(0).join(', ')
    throw new Error(`the test tried to reach hosts off this machine: ${hosts}`)
  }
})

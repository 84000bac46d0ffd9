// One autocannon run against a server: a token per request from a stream, every status checked.

import autocannon, { type RequestSpec } from 'autocannon'
import type { TokenKind } from './shared.js'
import type { NextToken } from './tokens.js'

/** How to load a server. */
export interface LoadOptions {
  url: string
  next: () => NextToken
  /** The statuses a response to a token of `kind` may have. */
  expected: (kind: TokenKind) => readonly number[]
  connections: number
  /** Seconds; ignored when `amount` is given. */
  duration?: number
  /** Send exactly this many requests. */
  amount?: number
  /** Called on every response (the memory mode samples RSS with it). */
  onResponse?: (completed: number) => void
}

/** What one run measured. */
export interface LoadResult {
  requests: number
  seconds: number
  requestsPerSec: number
  p50Ms: number
  p99Ms: number
  errors: number
  timeouts: number
  /** Responses whose status was not the expected one, by `kind:status`. */
  unexpected: Record<string, number>
  statuses: Record<string, number>
}

/** Runs autocannon; resolves when it is done. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const unexpected: Record<string, number> = {}
  let completed = 0
  const request: RequestSpec = {
    method: 'GET',
    path: '/',
    // With pipelining 1 each connection has one request in flight, so its context still holds
    // the token kind of the request a response answers.
    setupRequest: (spec, context) => {
      const { token, kind } = options.next()
      context['kind'] = kind
      spec.headers = { authorization: `Bearer ${token}` }
      return spec
    },
    onResponse: (status, _body, context) => {
      completed += 1
      const kind = context['kind'] as TokenKind
      if (!options.expected(kind).includes(status)) {
        const key = `${kind}:${status}`
        unexpected[key] = (unexpected[key] ?? 0) + 1
      }
      options.onResponse?.(completed)
    },
  }
  const started = process.hrtime.bigint()
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    timeout: 10,
    ...(options.amount === undefined
      ? { duration: options.duration ?? 5 }
      : { amount: options.amount }),
    requests: [request],
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const statuses: Record<string, number> = {}
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) statuses[status] = count
  return {
    requests: completed,
    seconds,
    requestsPerSec: completed / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    unexpected,
    statuses,
  }
}

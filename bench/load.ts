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

/** The middle value of a non-empty list (the lower of the two middle ones for an even count). */
function middle(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[(sorted.length - 1) >> 1] ?? 0
}

/**
 * Several loads of one server taken as one: requests and seconds summed (so the rate is over them
 * all), statuses and problems added up, latencies the middle of the loads' own percentiles.
 */
export function combineLoads(loads: readonly LoadResult[]): LoadResult {
  const combined: LoadResult = {
    requests: 0,
    seconds: 0,
    requestsPerSec: 0,
    p50Ms: middle(loads.map((one) => one.p50Ms)),
    p99Ms: middle(loads.map((one) => one.p99Ms)),
    errors: 0,
    timeouts: 0,
    unexpected: {},
    statuses: {},
  }
  for (const one of loads) {
    combined.requests += one.requests
    combined.seconds += one.seconds
    combined.errors += one.errors
    combined.timeouts += one.timeouts
    addCounts(combined.unexpected, one.unexpected)
    addCounts(combined.statuses, one.statuses)
  }
  combined.requestsPerSec = combined.seconds > 0 ? combined.requests / combined.seconds : 0
  return combined
}

function addCounts(into: Record<string, number>, counts: Readonly<Record<string, number>>): void {
  for (const [key, count] of Object.entries(counts)) into[key] = (into[key] ?? 0) + count
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

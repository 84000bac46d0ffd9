// One autocannon run against a server: a token per request from a stream, every status checked.

import { performance } from 'node:perf_hooks'
import autocannon, { type RequestSpec } from 'autocannon'
import type { TokenKind } from './shared.js'
import type { NextToken } from './tokens.js'

/**
 * How often autocannon takes a sample, in ms. It checks whether a load's duration is up only when
 * it samples (every second by default), so a load of 0.5 s ran about 1 s and one of 1.5 s about
 * 2 s. Sampling every 10 ms ended loads of 0.5 s on 64 connections after 0.52–0.6 s on a machine
 * shared with other work (the rest is the event loop's lag and opening the connections); every
 * 50 ms, after 0.56–0.63 s. A sample costs a few µs.
 */
export const SAMPLE_MS = 10

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

/**
 * When a request still unanswered at the end of a load counts as lost.
 *
 * Counting alone cannot tell a lost request from one in flight: with pipelining 1 a connection
 * whose request is never answered sends nothing more, so at the cut it has one request
 * outstanding, just as a healthy connection has one on its way (sent − answered is the number of
 * connections either way). autocannon then destroys its connections, and a request in flight
 * simply disappears: not a response, not an error, not a time-out (those take 10 s). So each
 * request sent and not answered at the cut is one of:
 * - in flight: normal, at most one per connection; its answer would come after the cut, which
 *   measures no more, so it is neither answered nor lost;
 * - lost: a server that never answers it (the method marks a time-out failed), or a connection
 *   that failed under it (autocannon counts that error too).
 * It is lost when it was sent more than LOST_AFTER_MS before the cut, and either the load got no
 * answer at all, or both of these hold:
 * - the server answered at least LOST_OVERTAKEN_BY × connections requests after it was sent.
 *   Requests are answered about in turn, so a request overtaken by every other connection twice
 *   over is not queued but dropped. A stall of the whole machine, of the driver's process or of
 *   the server's (a shared machine, a long garbage collection) delays every answer alike: with
 *   this process starved at the end of a slice, its last 64 requests were 264–288 ms old at the
 *   cut, and had been overtaken by 0 to 63 answers;
 * - it was not its connection's first request, which autocannon builds before it opens the
 *   connection: on the same starved machine, 12 of a slice's 64 new connections had no answer
 *   after 0.6 s while the others were answered about five times each, the time it took to open
 *   them, not to answer them.
 * LOST_AFTER_MS is more than twice the slowest p99 latency of the published runs (about 100 ms),
 * and half a measured slice: a request a target never answers is caught when it was sent in the
 * first half of a slice, and a target that hangs on some kind of token does so in every slice.
 */
export const LOST_AFTER_MS = 250
export const LOST_OVERTAKEN_BY = 2

/** A request on its way: when it was sent, how many answers the load had had by then. */
export interface Sent {
  sentAt: number
  answeredBefore: number
  /** Its connection's first request, built before the connection is open. */
  first: boolean
}

/** How many of the requests unanswered at `cut` are lost (see LOST_AFTER_MS). */
export function countLost(
  unanswered: Iterable<Sent>,
  cut: { at: number; answered: number },
  connections: number,
): number {
  let lost = 0
  for (const { sentAt, answeredBefore, first } of unanswered) {
    if (cut.at - sentAt <= LOST_AFTER_MS) continue
    const overtaken = cut.answered - answeredBefore >= LOST_OVERTAKEN_BY * connections
    if (cut.answered === 0 || (overtaken && !first)) lost += 1
  }
  return lost
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
  /** Requests sent (tokens drawn from the stream), answered or not. */
  sent: number
  /** Requests sent and never answered (see LOST_AFTER_MS): a failure. */
  unanswered: number
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
    sent: 0,
    unanswered: 0,
    unexpected: {},
    statuses: {},
  }
  for (const one of loads) {
    combined.requests += one.requests
    combined.seconds += one.seconds
    combined.errors += one.errors
    combined.timeouts += one.timeouts
    combined.sent += one.sent
    combined.unanswered += one.unanswered
    addCounts(combined.unexpected, one.unexpected)
    addCounts(combined.statuses, one.statuses)
  }
  combined.requestsPerSec = combined.seconds > 0 ? combined.requests / combined.seconds : 0
  return combined
}

/** The unexpected statuses, failed, timed-out and lost requests of some loads, for a failure message. */
export function loadProblems(loads: readonly LoadResult[]): string[] {
  return loads.flatMap((run) => [
    ...Object.entries(run.unexpected).map(([what, count]) => `${count}× ${what}`),
    ...(run.errors > 0 ? [`${run.errors} request errors`] : []),
    ...(run.timeouts > 0 ? [`${run.timeouts} timeouts`] : []),
    ...(run.unanswered > 0 ? [`${run.unanswered} requests never answered`] : []),
  ])
}

function addCounts(into: Record<string, number>, counts: Readonly<Record<string, number>>): void {
  for (const [key, count] of Object.entries(counts)) into[key] = (into[key] ?? 0) + count
}

type Context = Record<string, unknown>

/** Runs autocannon; resolves when it is done. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const unexpected: Record<string, number> = {}
  let completed = 0
  let sent = 0
  // Each request's context (autocannon makes a new one per request) until it is answered.
  const inFlight = new Set<Context>()
  const request: RequestSpec = {
    method: 'GET',
    path: '/',
    // With pipelining 1 each connection has one request in flight, so its context still holds
    // the token kind of the request a response answers. autocannon builds each request it sends,
    // and only those, with setupRequest (a connection's first one when it is created).
    setupRequest: (spec, context) => {
      const { token, kind } = options.next()
      context['kind'] = kind
      // autocannon builds every connection's first request when it creates the connections, one
      // after the other, before any answer: the load's first `connections` requests.
      const first = sent < options.connections
      context['sent'] = {
        sentAt: performance.now(),
        answeredBefore: completed,
        first,
      } satisfies Sent
      inFlight.add(context)
      sent += 1
      spec.headers = { authorization: `Bearer ${token}` }
      return spec
    },
    onResponse: (status, _body, context) => {
      completed += 1
      inFlight.delete(context)
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
    sampleInt: SAMPLE_MS,
    ...(options.amount === undefined
      ? { duration: options.duration ?? 5 }
      : { amount: options.amount }),
    requests: [request],
  })
  const cut = { at: performance.now(), answered: completed }
  const unanswered = countLost(
    [...inFlight].map((context) => context['sent'] as Sent),
    cut,
    options.connections,
  )
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
    sent,
    unanswered,
    unexpected,
    statuses,
  }
}

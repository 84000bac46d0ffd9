// What a test issuer's routes can be made to serve (respondWith's behaviours, setJwks's value),
// checked when it is set: what could not be served is a TypeError at the call, not an outage at
// the next fetch, and serves the same over HTTP and through the in-memory fetch.

import { validateHeaderName, validateHeaderValue } from 'node:http'
import {
  anything,
  checkMembers,
  isBoolean,
  isRecord,
  show,
  toJson,
  type MemberRules,
} from './test-kit-options.js'

/** How a route misbehaves; see {@link TestIssuer.respondWith}. */
export interface RouteBehaviour {
  /** HTTP status, 200 to 599. Default 200. */
  status?: number
  /**
   * Body: a string is sent as is, any other value as its JSON, encoded when `respondWith` is
   * called (a value JSON cannot encode, such as a BigInt or a function, is a TypeError there).
   * Default: the normal document.
   */
  body?: string | unknown
  /**
   * Response headers; they replace the defaults of the same name (case-insensitive). A name or
   * value HTTP cannot carry (`'bad header'`, a line break) is a TypeError at `respondWith`, as are
   * the headers that frame, encode or manage the connection (`content-length`,
   * `transfer-encoding`, `content-encoding`, `trailer`, `connection`, `keep-alive`,
   * `proxy-connection`, `te`, `upgrade`): the issuer sends the body itself, as is.
   */
  headers?: Record<string, string>
  /** Wait this long before answering, 0 to 2147483647 ms (the longest a Node timer holds). */
  delayMs?: number
  /** Never answer: the request stays open until the client aborts or the issuer closes. */
  hang?: boolean
}

// status and delayMs have their own range checks (a RangeError).
const BEHAVIOUR_RULES: MemberRules = {
  status: [anything, 'an integer from 200 to 599'],
  body: [anything, 'a string or a JSON value'],
  headers: [
    (value) =>
      isRecord(value) && Object.values(value as object).every((v) => typeof v === 'string'),
    'an object of header names to string values',
  ],
  delayMs: [anything, 'a number of milliseconds'],
  hang: [isBoolean, 'true or false'],
}

/** The longest delay a Node timer holds (2^31 - 1 ms); a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1

const FRAMES_THE_BODY = 'frames the body, which the server does itself'
/**
 * Headers the issuer cannot take from a test. Over HTTP a wrong `content-length` truncated the
 * body or left the fetch hanging, `transfer-encoding: gzip` or `content-encoding: gzip` failed it,
 * while the in-memory fetch served the document whole: a test's result hung on the transport. The
 * connection-specific ones (RFC 9110 §7.6.1) are the server's to send, and mean nothing in memory.
 */
const SERVER_HEADERS: ReadonlyMap<string, string> = new Map([
  ['content-length', `${FRAMES_THE_BODY} (only the body's own byte length may be given)`],
  ['transfer-encoding', FRAMES_THE_BODY],
  ['trailer', FRAMES_THE_BODY],
  ['content-encoding', 'makes an HTTP client decode a body the issuer sends as is'],
  ...['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade'].map(
    (name) => [name, 'manages the connection, which the server does itself'] as const,
  ),
])

/**
 * `behaviour` checked and made ready to serve: its headers valid, its body encoded once. Accepted
 * and sent later, a bad header name or a BigInt body failed every fetch of the route, which the
 * provider under test took for an outage (so a test expecting a 503 passed for the wrong reason).
 */
export function checkBehaviour(behaviour: RouteBehaviour | undefined): RouteBehaviour | undefined {
  checkMembers('respondWith', behaviour, BEHAVIOUR_RULES)
  if (behaviour === undefined) return undefined
  const { status, delayMs, headers, body } = behaviour
  if (status !== undefined && !(Number.isInteger(status) && status >= 200 && status <= 599)) {
    throw new RangeError(`respondWith: status must be an integer from 200 to 599, got ${status}`)
  }
  // Node fires a longer timer after 1 ms: the "slow" answer would come at once.
  if (
    delayMs !== undefined &&
    !(typeof delayMs === 'number' && delayMs >= 0 && delayMs <= MAX_TIMER_MS)
  ) {
    throw new RangeError(
      `respondWith: delayMs must be a number of milliseconds from 0 to ${MAX_TIMER_MS} (the longest a timer holds), got ${show(delayMs)}; hang: true never answers`,
    )
  }
  const encoded = body === undefined ? undefined : encodeBody(body)
  for (const [name, value] of Object.entries(headers ?? {})) {
    // The one framing header a test may set: the body's true length, as the server would send it
    // (a client that refuses a large set before reading it reads that header), never another.
    if (name.toLowerCase() === 'content-length' && declaresLength(value, encoded)) continue
    checkHeader(name, value)
  }
  return encoded === undefined ? { ...behaviour } : { ...behaviour, body: encoded }
}

/** Whether `value` is the byte length of `body` (a body given in the same call). */
function declaresLength(value: unknown, body: string | undefined): boolean {
  return (
    body !== undefined && typeof value === 'string' && value === String(Buffer.byteLength(body))
  )
}

/** Refuses a header HTTP cannot carry, or one the server sends itself. */
function checkHeader(name: string, value: string): void {
  try {
    validateHeaderName(name)
    validateHeaderValue(name, value)
  } catch (error) {
    throw new TypeError(
      `respondWith: headers must be sendable HTTP headers, got ${show(name)}: ${show(value)} (${(error as Error).message})`,
    )
  }
  const reason = SERVER_HEADERS.get(name.toLowerCase())
  if (reason !== undefined) {
    throw new TypeError(
      `respondWith: headers cannot set ${show(name)}: it ${reason}, and would make the answer over HTTP differ from the in-memory fetch's; drop it`,
    )
  }
}

/** A body as it is sent: a string as is, any other value as its JSON (a TypeError if it has none). */
function encodeBody(body: unknown): string {
  if (typeof body === 'string') return body
  return encodeValue('respondWith: body', 'a string or a JSON value', body)
}

/**
 * `setJwks`'s value checked: a JSON value, or undefined (the issuer's own keys again). A function
 * or a Symbol, which JSON.stringify turns into nothing rather than refusing, served an empty body.
 */
export function checkJwksValue(value: unknown): void {
  if (value !== undefined) encodeValue('setJwks: value', 'a JSON value', value)
}

/** `value`'s JSON, or a TypeError naming `what` when it has none (a BigInt, a function). */
function encodeValue(what: string, expected: string, value: unknown): string {
  const text = toJson(what, expected, value)
  if (text === undefined) throw new TypeError(`${what} must be ${expected}, got ${show(value)}`)
  return text
}

// Bounded JSON fetches for key sets and discovery: a time-out, no redirects, a size cap.

import { scrub } from './logger.js'

/** The `fetch` signature oidc-guard calls; tests and special networks may supply their own. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>

/** Limits applied to every fetch of a key set or discovery document. */
export interface FetchLimits {
  readonly fetch: FetchFunction
  readonly timeoutMs: number
  readonly maxResponseBytes: number
}

/** A failed fetch; `message` is for logs (it names the URL, never a token). */
export class FetchFailure extends Error {
  override readonly name = 'FetchFailure'
  /** The HTTP status of an answer that was not 200, when that is what failed. */
  readonly status: number | undefined

  constructor(message: string, options?: ErrorOptions & { status?: number }) {
    super(message, options)
    this.status = options?.status
  }
}

/**
 * Settles like `promise`, or rejects with the signal's reason once it aborts: the time-out holds
 * even with a fetch (or a body stream) that ignores its signal.
 */
function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  discard?: (late: T) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        if (signal.aborted) discard?.(value)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

/** Cancels a body that will not be read, without waiting for (or failing on) the cancellation. */
function discardBody(response: Response): void {
  response.body?.cancel().catch(() => undefined)
}

/**
 * Reads a body as text, refusing it once it passes `maxBytes` (before buffering more): an endless
 * or huge answer must not exhaust memory. `signal` stops a read that hangs.
 *
 * @throws {FetchFailure} when the body is larger than `maxBytes`.
 */
export async function readCapped(
  response: Response,
  maxBytes: number,
  url: string = response.url,
  signal?: AbortSignal,
): Promise<string> {
  const declared = Number(response.headers.get('content-length'))
  if (declared > maxBytes) {
    discardBody(response)
    throw new FetchFailure(`${url} answered more than ${maxBytes} bytes`)
  }
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await (signal === undefined
        ? reader.read()
        : abortable(reader.read(), signal))
      if (done) break
      size += value.byteLength
      // An endless or huge body is cut off here, before it is buffered (jose has no such cap).
      if (size > maxBytes) throw new FetchFailure(`${url} answered more than ${maxBytes} bytes`)
      chunks.push(value)
    }
  } catch (error) {
    reader.cancel().catch(() => undefined)
    throw error
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Parses JSON after one leading byte order mark, which some servers write and `JSON.parse` refuses
 * (`Response.json()`, and so jose, skip it as the Encoding standard's UTF-8 decode does).
 */
function parseJson(text: string): unknown {
  return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
}

/**
 * Reads a capped body (see {@link readCapped}) and parses it as JSON.
 *
 * @throws {FetchFailure} when the body is too large or not JSON.
 */
export async function readJsonCapped(
  response: Response,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<unknown> {
  const text = await readCapped(response, maxBytes, response.url, signal)
  try {
    return parseJson(text)
  } catch {
    throw new FetchFailure(`${response.url || 'the server'} answered something that is not JSON`)
  }
}

/**
 * GETs `url` and parses its JSON body. Redirects are not followed (a redirect to another host
 * would let whoever controls the first answer choose the keys); only a 200 is an answer. The
 * time-out covers the whole exchange, the body included.
 *
 * @throws {FetchFailure} on a network error, time-out, non-200 status, oversized or non-JSON body.
 */
export async function fetchJson(url: string, limits: FetchLimits): Promise<unknown> {
  let signal: AbortSignal
  let response: Response
  try {
    signal = AbortSignal.timeout(limits.timeoutMs)
    const init: RequestInit = {
      method: 'GET',
      redirect: 'manual',
      headers: { accept: 'application/json' },
      signal,
    }
    response = await abortable(Promise.resolve(limits.fetch(url, init)), signal, discardBody)
  } catch (error) {
    throw new FetchFailure(`${url} could not be fetched: ${describe(error)}`, { cause: error })
  }
  // A fetch given by the app may drop `init` (a proxy wrapper written as `(url) => fetch(url, {
  // dispatcher })`) and follow the redirect itself: its 200 then comes from wherever the first
  // server sent it, so a followed redirect fails the fetch as one refused would.
  if (response.redirected === true || response.type === 'opaqueredirect') {
    discardBody(response)
    throw new FetchFailure(`${url} redirected elsewhere; redirects are not followed`)
  }
  if (response.status !== 200) {
    discardBody(response)
    throw new FetchFailure(`${url} answered HTTP ${response.status}`, { status: response.status })
  }
  let text: string
  try {
    text = await readCapped(response, limits.maxResponseBytes, url, signal)
  } catch (error) {
    if (error instanceof FetchFailure) throw error
    throw new FetchFailure(`${url} could not be read: ${describe(error)}`, { cause: error })
  }
  try {
    return parseJson(text)
  } catch {
    throw new FetchFailure(`${url} did not answer JSON`)
  }
}

// The nested cause quoted in a failure's message is cut here: it is the socket's or TLS's own.
const MAX_CAUSE_LENGTH = 200

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  if (error.name === 'TimeoutError') return 'timed out'
  const cause = describeCause(error.cause)
  return cause === undefined ? error.message : `${error.message} (${cause})`
}

/**
 * The code and message of a network error's cause: undici's `TypeError('fetch failed')` says only
 * that, the reason (ECONNREFUSED, ENOTFOUND, DEPTH_ZERO_SELF_SIGNED_CERT…) is in its `cause`. The
 * whole message, this included, is scrubbed wherever it is shown (health, logs, the channel).
 */
function describeCause(cause: unknown): string | undefined {
  if (typeof cause !== 'object' || cause === null) return undefined
  const { code, message } = cause as { code?: unknown; message?: unknown }
  const codeText = typeof code === 'string' || typeof code === 'number' ? String(code) : ''
  const messageText = typeof message === 'string' ? message : ''
  let text = messageText
  // Node's messages usually quote the code ('connect ECONNREFUSED 127.0.0.1:443'): said once.
  if (codeText !== '' && !messageText.includes(codeText)) {
    text = messageText === '' ? codeText : `${codeText}: ${messageText}`
  }
  if (text === '') return undefined
  // Scrubbed before it is cut: a cut between a URL's `user:` and its `@`, or inside a token, would
  // leave what the scrubber no longer recognises.
  const safe = scrub(text)
  return safe.length > MAX_CAUSE_LENGTH ? `${safe.slice(0, MAX_CAUSE_LENGTH)}…` : safe
}

/** Whether a value is a plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

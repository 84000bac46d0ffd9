// Bounded JSON fetches for key sets and discovery: a time-out, no redirects, a size cap.

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
}

async function readCapped(response: Response, maxBytes: number, url: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'))
  if (declared > maxBytes) {
    await response.body?.cancel()
    throw new FetchFailure(`${url} answered more than ${maxBytes} bytes`)
  }
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    // An endless or huge body is cut off here, before it is buffered (jose has no such cap).
    if (size > maxBytes) {
      await reader.cancel()
      throw new FetchFailure(`${url} answered more than ${maxBytes} bytes`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * GETs `url` and parses its JSON body. Redirects are not followed (a redirect to another host
 * would let whoever controls the first answer choose the keys); only a 200 is an answer.
 *
 * @throws {FetchFailure} on a network error, time-out, non-200 status, oversized or non-JSON body.
 */
export async function fetchJson(url: string, limits: FetchLimits): Promise<unknown> {
  let response: Response
  try {
    response = await limits.fetch(url, {
      method: 'GET',
      redirect: 'manual',
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(limits.timeoutMs),
    })
  } catch (error) {
    throw new FetchFailure(`${url} could not be fetched: ${describe(error)}`, { cause: error })
  }
  if (response.status !== 200) {
    await response.body?.cancel()
    throw new FetchFailure(`${url} answered HTTP ${response.status}`)
  }
  let text: string
  try {
    text = await readCapped(response, limits.maxResponseBytes, url)
  } catch (error) {
    if (error instanceof FetchFailure) throw error
    throw new FetchFailure(`${url} could not be read: ${describe(error)}`, { cause: error })
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new FetchFailure(`${url} did not answer JSON`)
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    return error.name === 'TimeoutError' ? 'timed out' : error.message
  }
  return String(error)
}

/** Whether a value is a plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

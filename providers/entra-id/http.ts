// Bounded reads of the JSON answers Entra's endpoints and Microsoft Graph send.

/** A response body larger than the cap, or one that is not JSON. */
export class ResponseError extends Error {
  override readonly name = 'ResponseError'
}

/**
 * Reads a body as text, refusing it once it passes `maxBytes` (before buffering more): an endless
 * or huge answer must not exhaust memory.
 */
export async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'))
  if (declared > maxBytes) {
    response.body?.cancel().catch(() => undefined)
    throw new ResponseError(`the answer is larger than ${maxBytes} bytes`)
  }
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) throw new ResponseError(`the answer is larger than ${maxBytes} bytes`)
      chunks.push(value)
    }
  } catch (error) {
    reader.cancel().catch(() => undefined)
    throw error
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Reads a capped body and parses it as JSON. */
export async function readJson(response: Response, maxBytes: number): Promise<unknown> {
  const text = await readCapped(response, maxBytes)
  try {
    return JSON.parse(text)
  } catch {
    throw new ResponseError('the answer is not JSON')
  }
}

/** Whether a value is a plain JSON object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

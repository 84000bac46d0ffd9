// fetchJson: only a 200 with a JSON body within the size cap and the time-out is an answer.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { endlessBody, startCountingServer } from '../helpers/http.js'
import {
  FetchFailure,
  fetchJson,
  isJsonObject,
  readJsonCapped,
  type FetchFunction,
} from '../../src/fetch-json.js'
import { createTestIssuer } from '../../src/testing.js'

const URL_ = 'https://idp.test/jwks'

const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function limits(
  fetch: FetchFunction,
  overrides: { timeoutMs?: number; maxResponseBytes?: number } = {},
) {
  return { fetch, timeoutMs: 1_000, maxResponseBytes: 1024, ...overrides }
}

/** A fetch that answers `response` (a fresh one per call) and records every call. */
function answering(response: () => Response): FetchFunction & {
  calls: { input: string; init: RequestInit }[]
} {
  const calls: { input: string; init: RequestInit }[] = []
  const fetch = (input: string, init: RequestInit): Promise<Response> => {
    calls.push({ input, init })
    return Promise.resolve(response())
  }
  return Object.assign(fetch, { calls })
}

async function failure(promise: Promise<unknown>): Promise<FetchFailure> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(FetchFailure)
  return error as FetchFailure
}

/** Rejects when `promise` has not settled after `ms` (real time), so a hang fails fast. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/** A body stream of `chunkSize`-byte chunks, endless unless `total` is given; counts what was pulled. */
function chunkStream(chunkSize: number, total = Number.POSITIVE_INFINITY) {
  const stats = { pulled: 0, cancelled: false }
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (stats.pulled * chunkSize >= total) {
        controller.close()
        return
      }
      stats.pulled += 1
      controller.enqueue(new Uint8Array(chunkSize).fill(0x20))
    },
    cancel() {
      stats.cancelled = true
    },
  })
  return { stream, stats }
}

async function tinyServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; readonly hits: number }> {
  const server = await startCountingServer(handler)
  cleanups.push(server.close)
  return {
    url: `${server.url}/doc`,
    get hits() {
      return server.hits
    },
  }
}

describe('fetchJson: the request', () => {
  it('GETs the URL with redirect manual, an accept header and a time-out signal', async () => {
    const fetch = answering(() => Response.json({ keys: [] }))
    await expect(fetchJson(URL_, limits(fetch))).resolves.toEqual({ keys: [] })
    expect(fetch.calls).toHaveLength(1)
    const call = fetch.calls[0]
    expect(call?.input).toBe(URL_)
    expect(call?.init).toMatchObject({
      method: 'GET',
      redirect: 'manual',
      headers: { accept: 'application/json' },
    })
    expect(call?.init.signal).toBeInstanceOf(AbortSignal)
    expect(call?.init.signal?.aborted).toBe(false)
  })

  it('turns a network error into a FetchFailure naming the URL, with the cause', async () => {
    const cause = new TypeError('fetch failed')
    const error = await failure(
      fetchJson(
        URL_,
        limits(() => Promise.reject(cause)),
      ),
    )
    expect(error.message).toBe(`${URL_} could not be fetched: fetch failed`)
    expect(error.cause).toBe(cause)
    expect(error.name).toBe('FetchFailure')
  })

  it('turns a fetch that throws synchronously into a FetchFailure', async () => {
    const error = await failure(
      fetchJson(
        URL_,
        limits(() => {
          throw new Error('boom')
        }),
      ),
    )
    expect(error.message).toMatch(/could not be fetched: boom/)
  })
})

describe('fetchJson: status', () => {
  it.each([201, 202, 203, 204, 206, 301, 302, 304, 307, 400, 401, 404, 429, 500, 502, 503])(
    'refuses HTTP %i, even with a JSON body',
    async (status) => {
      const nullBody = status === 204 || status === 304
      const fetch = answering(
        () =>
          new Response(nullBody ? null : '{"keys":[]}', { status, headers: { location: '/x' } }),
      )
      const error = await failure(fetchJson(URL_, limits(fetch)))
      expect(error.message).toBe(`${URL_} answered HTTP ${status}`)
    },
  )

  it('does not follow a real 302: the target is never reached', async () => {
    const target = await tinyServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}')
    })
    const redirector = await tinyServer((_req, res) => {
      res.writeHead(302, { location: target.url }).end()
    })
    const error = await failure(fetchJson(redirector.url, limits(globalThis.fetch)))
    expect(error.message).toBe(`${redirector.url} answered HTTP 302`)
    expect(redirector.hits).toBe(1)
    expect(target.hits).toBe(0)
  })
})

describe('fetchJson: body', () => {
  it.each([
    ['text', 'not json'],
    ['HTML', '<html><body>login</body></html>'],
    ['an empty body', ''],
    ['truncated JSON', '{"keys":['],
  ])('refuses %s', async (_, body) => {
    const fetch = answering(() => new Response(body, { status: 200 }))
    const error = await failure(fetchJson(URL_, limits(fetch)))
    expect(error.message).toBe(`${URL_} did not answer JSON`)
  })

  it.each([
    ['an object', '{"a":1}', { a: 1 }],
    ['an array', '[1,2]', [1, 2]],
    ['null', 'null', null],
    ['a string', '"x"', 'x'],
  ])('returns any JSON value (%s); the caller checks its shape', async (_, body, value) => {
    const fetch = answering(() => new Response(body))
    await expect(fetchJson(URL_, limits(fetch))).resolves.toEqual(value)
  })

  it('decodes UTF-8 split across chunks', async () => {
    const bytes = Buffer.from(JSON.stringify({ name: 'Zoë 🔑' }), 'utf8')
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const byte of bytes) controller.enqueue(Uint8Array.of(byte))
        controller.close()
      },
    })
    const fetch = answering(() => new Response(stream))
    await expect(fetchJson(URL_, limits(fetch))).resolves.toEqual({ name: 'Zoë 🔑' })
  })
})

describe('fetchJson: a UTF-8 byte order mark', () => {
  const BOM = Uint8Array.of(0xef, 0xbb, 0xbf)
  const withBom = (text: string, marks = 1) =>
    Buffer.concat([...Array.from({ length: marks }, () => BOM), Buffer.from(text, 'utf8')])

  it('skips one leading BOM, as Response.json() (and so jose) does', async () => {
    const fetch = answering(() => new Response(withBom('{"keys":[]}')))
    await expect(fetchJson(URL_, limits(fetch))).resolves.toEqual({ keys: [] })
    await expect(new Response(withBom('{"keys":[]}')).json()).resolves.toEqual({ keys: [] })
  })

  it('skips it from a real server too', async () => {
    const server = await tinyServer((_req, res) => res.end(withBom('{"keys":[]}')))
    const fetch: FetchFunction = (input, init) => globalThis.fetch(input, init)
    await expect(fetchJson(server.url, limits(fetch))).resolves.toEqual({ keys: [] })
  })

  it('skips it in readJsonCapped', async () => {
    await expect(readJsonCapped(new Response(withBom('{"a":1}')), 1024)).resolves.toEqual({ a: 1 })
  })

  it('skips only one: a second BOM is not JSON', async () => {
    const fetch = answering(() => new Response(withBom('{"keys":[]}', 2)))
    const error = await failure(fetchJson(URL_, limits(fetch)))
    expect(error.message).toBe(`${URL_} did not answer JSON`)
  })

  it('keeps a BOM inside a string value', async () => {
    const fetch = answering(() => new Response('{"a":"\ufeffx"}'))
    await expect(fetchJson(URL_, limits(fetch))).resolves.toEqual({ a: '\ufeffx' })
  })
})

describe('fetchJson: size cap', () => {
  const body = (size: number): string => `"${'a'.repeat(size - 2)}"`

  it('accepts a body of exactly maxResponseBytes, with or without content-length', async () => {
    const plain = answering(() => new Response(body(1024)))
    await expect(fetchJson(URL_, limits(plain))).resolves.toHaveLength(1022)
    const declared = answering(
      () => new Response(body(1024), { headers: { 'content-length': '1024' } }),
    )
    await expect(fetchJson(URL_, limits(declared))).resolves.toHaveLength(1022)
  })

  it('refuses one byte more, streamed without content-length', async () => {
    const fetch = answering(() => new Response(body(1025)))
    const error = await failure(fetchJson(URL_, limits(fetch)))
    expect(error.message).toBe(`${URL_} answered more than 1024 bytes`)
  })

  it('refuses a declared content-length above the cap without reading the body', async () => {
    const { stream, stats } = chunkStream(100, 5 * 1024 * 1024)
    const fetch = answering(
      () => new Response(stream, { headers: { 'content-length': String(5 * 1024 * 1024) } }),
    )
    const error = await failure(fetchJson(URL_, limits(fetch)))
    expect(error.message).toBe(`${URL_} answered more than 1024 bytes`)
    await new Promise((resolve) => setImmediate(resolve))
    expect(stats.pulled).toBeLessThanOrEqual(1) // at most the stream's own first pull
    expect(stats.cancelled).toBe(true)
  })

  it('stops reading an endless stream just past the cap and cancels it', async () => {
    const { stream, stats } = chunkStream(100)
    const fetch = answering(() => new Response(stream))
    const error = await failure(fetchJson(URL_, limits(fetch)))
    expect(error.message).toBe(`${URL_} answered more than 1024 bytes`)
    await new Promise((resolve) => setImmediate(resolve))
    expect(stats.pulled).toBeLessThanOrEqual(12) // 11 chunks exceed 1 024 bytes, one may be queued
    expect(stats.cancelled).toBe(true)
  })

  it('cuts off a real endless chunked HTTP stream at 1 MiB', async () => {
    const server = await tinyServer((_req, res) => endlessBody(res))
    const error = await failure(
      fetchJson(
        server.url,
        limits(globalThis.fetch, { timeoutMs: 10_000, maxResponseBytes: 1024 * 1024 }),
      ),
    )
    expect(error.message).toBe(`${server.url} answered more than 1048576 bytes`)
  })
})

describe('fetchJson: time-out', () => {
  it('aborts a fetch that honours its signal after timeoutMs', async () => {
    const idp = await createTestIssuer({ algorithms: ['ES256'], listen: false })
    cleanups.push(() => idp.close())
    idp.respondWith('jwks', { hang: true })
    const started = performance.now()
    const error = await failure(fetchJson(idp.jwksUri, limits(idp.fetch, { timeoutMs: 50 })))
    expect(error.message).toBe(`${idp.jwksUri} could not be fetched: timed out`)
    expect(performance.now() - started).toBeGreaterThanOrEqual(40)
  })

  it('gives up on a fetch that ignores its signal', async () => {
    const neverAnswers: FetchFunction = () => new Promise<Response>(() => undefined)
    const error = await failure(
      within(1_000, fetchJson(URL_, limits(neverAnswers, { timeoutMs: 50 }))),
    )
    expect(error.message).toBe(`${URL_} could not be fetched: timed out`)
  })

  it('gives up on a body that stops coming, and cancels it', async () => {
    const stats = { cancelled: false }
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"keys":'))
      },
      cancel() {
        stats.cancelled = true
      },
    })
    const fetch = answering(() => new Response(stalled))
    const error = await failure(within(1_000, fetchJson(URL_, limits(fetch, { timeoutMs: 50 }))))
    expect(error.message).toBe(`${URL_} could not be read: timed out`)
    expect(stats.cancelled).toBe(true)
  })

  it('times out a real server that sends headers, then nothing', async () => {
    const server = await tinyServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"keys":')
    })
    const error = await failure(fetchJson(server.url, limits(globalThis.fetch, { timeoutMs: 100 })))
    expect(error.message).toBe(`${server.url} could not be read: timed out`)
  })

  it('times out a real server that never answers', async () => {
    const server = await tinyServer(() => undefined)
    const started = performance.now()
    const error = await failure(fetchJson(server.url, limits(globalThis.fetch, { timeoutMs: 100 })))
    expect(error.message).toBe(`${server.url} could not be fetched: timed out`)
    expect(performance.now() - started).toBeGreaterThanOrEqual(90)
  })

  it('reports an impossible time-out as a FetchFailure, not a RangeError', async () => {
    const fetch = answering(() => Response.json({}))
    const error = await failure(fetchJson(URL_, limits(fetch, { timeoutMs: -1 })))
    expect(error.message).toMatch(/could not be fetched/)
    expect(fetch.calls).toHaveLength(0)
  })
})

describe('isJsonObject', () => {
  it.each([
    [{}, true],
    [{ a: 1 }, true],
    [[], false],
    [null, false],
    ['x', false],
    [1, false],
    [undefined, false],
  ])('%j → %s', (value, expected) => {
    expect(isJsonObject(value)).toBe(expected)
  })
})

// The calls every example announces: a request to try, the curl that makes it, and a runner that
// makes them all and prints what each got (or, with --serve, prints the curls and keeps serving).

/** A request to try, with the answer it gets. */
export interface ExampleCall {
  readonly title: string
  readonly method: 'GET' | 'POST' | 'DELETE'
  readonly path: string
  readonly token: string | undefined
  readonly expectedStatus: number
}

/** Builds a call (positional, so a list of calls reads like a table). */
export function call(
  title: string,
  method: ExampleCall['method'],
  path: string,
  token: string | undefined,
  expectedStatus: number,
): ExampleCall {
  return { title, method, path, token, expectedStatus }
}

/** The curl command for a call, exactly as printed. */
export function curlFor(url: string, example: ExampleCall): string {
  const method = example.method === 'GET' ? '' : ` -X ${example.method}`
  const auth = example.token === undefined ? '' : ` -H 'Authorization: Bearer ${example.token}'`
  return `curl -i${method}${auth} ${url}${example.path}`
}

/** A running example: where it listens, what to try, and how to stop it. */
export interface RunningCalls {
  readonly url: string
  readonly calls: readonly ExampleCall[]
  close(): Promise<void>
}

/**
 * The `main` of an example script: starts it (on PORT with --serve, else on a free port), then
 * either prints the curls and keeps serving, or makes every call, prints each answer and stops.
 */
export async function runExample(start: (port: number) => Promise<RunningCalls>): Promise<void> {
  const serve = process.argv.includes('--serve')
  const example = await start(serve ? Number(process.env['PORT'] ?? 3000) : 0)
  for (const each of example.calls) {
    if (serve) {
      console.log(`# ${each.title}: expect ${each.expectedStatus}\n${curlFor(example.url, each)}\n`)
      continue
    }
    const headers: Record<string, string> =
      each.token === undefined ? {} : { authorization: `Bearer ${each.token}` }
    const res = await fetch(`${example.url}${each.path}`, { method: each.method, headers })
    const detail = res.headers.get('www-authenticate') ?? (await res.text())
    console.log(`${each.method} ${each.path} (${each.title}): ${res.status}  ${detail}`)
  }
  if (serve) console.log(`Serving on ${example.url}; Ctrl+C to stop.`)
  else await example.close()
}

// examples/entra-id.ts: every call it makes answers the status it announces.

import { afterAll, beforeAll, expect, it } from 'vitest'
import { startEntraExample, type RunningEntraExample } from '../../examples/entra-id.js'

let example: RunningEntraExample

beforeAll(async () => {
  example = await startEntraExample(0)
})

afterAll(() => example.close())

it('every call of the Entra ID example answers the status printed beside it', async () => {
  for (const call of example.calls) {
    const headers: Record<string, string> =
      call.token === undefined ? {} : { authorization: `Bearer ${call.token}` }
    const res = await fetch(`${example.url}${call.path}`, { method: call.method, headers })
    await res.arrayBuffer()
    expect({ call: call.title, status: res.status }).toEqual({
      call: call.title,
      status: call.expectedStatus,
    })
  }
})

// examples/cognito.ts: every call it makes answers the status it announces.

import { afterAll, beforeAll, expect, it } from 'vitest'
import { startCognitoExample, type RunningCognitoExample } from '../../examples/cognito.js'

let example: RunningCognitoExample

beforeAll(async () => {
  example = await startCognitoExample(0)
})

afterAll(() => example.close())

it('every call of the Cognito example answers the status printed beside it', async () => {
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

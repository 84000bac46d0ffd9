// The runnable example of docs/authorization.md answers what the guide says it does.

import { expect, it } from 'vitest'
import { runAuthorizationExample } from '../../examples/authorization.js'

it('examples/authorization.ts answers as docs/authorization.md shows', async () => {
  expect(await runAuthorizationExample()).toEqual([
    ['GET /orders as anonymous', 401],
    ['GET /orders as bob', 200],
    ['DELETE /orders/7 as alice', 200],
    ['DELETE /orders/7 as bob', 403],
    ['GET /ops as alice', 200],
    ['GET /admin as bob', 200],
    ['POST /refunds as alice', 200],
    ['POST /refunds as bob', 403],
    ['GET /reports as alice', 200],
  ])
})

// Review 8: has* checks accept a guard's status and redirect (one options object may serve both)
// and ignore them; any other key is refused with a message that says only match counts there.

import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JwksProvider } from '../../providers/jwks/index.js'
import {
  hasGroups,
  hasScopes,
  jwtAuth,
  requireGroups,
  type ListGuardOptions,
} from '../../src/index.js'
import type { TestIssuer } from '../../src/testing.js'
import { EXPRESS_MAJORS } from '../helpers/http.js'
import { localIssuerAndProvider } from '../helpers/local-issuer.js'

let idp: TestIssuer
let provider: JwksProvider

beforeAll(async () => {
  ;({ idp, provider } = await localIssuerAndProvider('https://misc-review8.example'))
})

afterAll(() => idp.close())

describe('has* with a guard options object', () => {
  // One object for the guard and the check inside the handler: the check answers true or false.
  const shared: ListGuardOptions = { match: 'all', status: 404, redirect: '/login' }

  function app() {
    const created = EXPRESS_MAJORS[0]![1]()
    created.use(
      jwtAuth({
        provider,
        logger: false,
        groups: { fetchGroups: () => ['ops'] },
      }),
    )
    created.get('/report', requireGroups(['ops'], shared), (req, res, next) => {
      Promise.all([hasGroups(req, ['ops', 'audit'], shared), hasGroups(req, ['ops'], shared)])
        .then(([both, ops]) =>
          res.json({
            both,
            ops,
            scopes: hasScopes(req, ['a', 'b'], shared),
            // Unchecked too: has* never answers with them.
            unchecked: hasScopes(req, ['a'], { status: 200, redirect: '' } as ListGuardOptions),
          }),
        )
        .catch(next)
    })
    return created
  }

  it('status and redirect are ignored, match counts', async () => {
    const res = await request(app())
      .get('/report')
      .set('Authorization', `Bearer ${idp.mint({ sub: 'u', scope: 'a' })}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ both: false, ops: true, scopes: false, unchecked: true })
  })

  it('another key is refused, saying only match counts and why status and redirect pass', async () => {
    const expected =
      'hasGroups: "mode" is not an option; the options are match, status, redirect ' +
      '(a has* check uses only match: status and redirect are accepted, and ignored, so that one ' +
      'options object can serve a require* guard and a has* check)'
    await expect(hasGroups({} as never, ['ops'], { mode: 'all' } as never)).rejects.toThrow(
      expected,
    )
    expect(() => hasScopes({} as never, ['a'], { mode: 'all' } as never)).toThrow(
      expected.replace('hasGroups', 'hasScopes'),
    )
  })

  it('the list guards name their options without the has* note', () => {
    expect(() => requireGroups(['ops'], { mode: 'all' } as never)).toThrow(
      /the options are match, status, redirect$/,
    )
  })
})

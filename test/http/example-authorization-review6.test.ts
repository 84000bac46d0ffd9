// Review 6: the output docs/authorization.md shows is what examples/authorization.ts prints.

import { readFileSync } from 'node:fs'
import { expect, it } from 'vitest'
import { explainAnswers, runAuthorizationExample } from '../../examples/authorization.js'

it('docs/authorization.md shows the lines examples/authorization.ts prints, explanations included', async () => {
  const guide = readFileSync(new URL('../../docs/authorization.md', import.meta.url), 'utf8')
  const block = /prints what each call got:\n\n```\n([\s\S]*?)```/.exec(guide)?.[1]
  expect(block).toBeDefined()
  expect(explainAnswers(await runAuthorizationExample())).toEqual(block!.trimEnd().split('\n'))
})

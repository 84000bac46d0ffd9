// Review 12: a delimited claim drops only the spaces and tabs around each piece, so a group whose
// name differs from `admin` by a no-break space, U+3000 or a BOM is not read as `admin`.

import { describe, expect, it } from 'vitest'
import { ClaimGroupsProvider } from '../../providers/claims/index.js'
import { User } from '../../src/user.js'

function userWith(claims: Record<string, unknown>): User {
  return new User({ provider: 't', claims: { sub: 'u', ...claims }, token: 't' }, { id: 'u' }, {})
}

describe('a delimited claim keeps every character of a name but the blanks around it', () => {
  const source = new ClaimGroupsProvider({ claim: 'groups', delimiter: ',' })

  it.each(['admin\u00a0', '\u3000admin', 'admin\ufeff', '\u2028admin', 'admin\u2003'])(
    '%j stays a name of its own, as it would in a list claim',
    (name) => {
      expect(source.fetchGroups(userWith({ groups: `ops,${name}` }))).toEqual(['ops', name])
      expect(source.fetchGroups(userWith({ groups: name }))).toEqual([name])
    },
  )

  it('a CRLF list split on \\n loses its carriage returns', () => {
    const lines = new ClaimGroupsProvider({ claim: 'groups', delimiter: '\n' })
    expect(lines.fetchGroups(userWith({ groups: 'admins\r\nops\r\n' }))).toEqual(['admins', 'ops'])
  })

  it('spaces and tabs around a delimiter are still dropped', () => {
    expect(source.fetchGroups(userWith({ groups: ' ops ,\tadmin\t, ,' }))).toEqual(['ops', 'admin'])
  })
})

describe("a claim named like an Object.prototype member is read from the token's own claims only", () => {
  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty'])(
    'a token without %s has no groups from it: an empty list, never the inherited member',
    (name) => {
      for (const claim of [name, [name], `nested.${name}`]) {
        const source = new ClaimGroupsProvider({ claim })
        expect(source.fetchGroups(userWith({ nested: {} }))).toEqual([])
      }
    },
  )

  it('a token that carries the claim is read as any other', () => {
    const source = new ClaimGroupsProvider({ claim: 'toString' })
    expect(source.fetchGroups(userWith({ toString: ['admins'] }))).toEqual(['admins'])
  })
})

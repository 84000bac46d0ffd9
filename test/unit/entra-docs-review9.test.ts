// The Entra guide says what GraphGroupResolver answers (object ids) and which Graph each cloud has;
// the authorization guide says forgetUser reaches the sources' own caches, and how to join in.

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const read = (path: string) =>
  readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8').replace(/\s+/g, ' ')
const guide = read('docs/providers/entra-id.md')
const authorization = read('docs/authorization.md')

describe('docs/providers/entra-id.md on GraphGroupResolver', () => {
  it('says it answers object ids, and that requireGroups should name groups by object id', () => {
    expect(guide).not.toContain('the same ids the `groups` claim would have carried')
    expect(guide).toContain('answers **object ids**')
    expect(guide).toContain('`sAMAccountName`, display names or only the groups assigned')
    expect(guide).toContain('have `requireGroups` name groups by **object id**')
  })

  it('gives each cloud’s Graph endpoint and token scope', () => {
    for (const [host, graph] of [
      ['login.microsoftonline.com', 'https://graph.microsoft.com'],
      ['login.microsoftonline.us', 'https://graph.microsoft.us'],
      ['login.microsoftonline.us', 'https://dod-graph.microsoft.us'],
      ['login.partner.microsoftonline.cn', 'https://microsoftgraph.chinacloudapi.cn'],
    ]) {
      expect(guide).toMatch(
        new RegExp(`\\| \`${host}\`[^|]*\\| \`${graph}\`[^|]*\\| \`${graph}/\\.default\` \\|`),
      )
    }
  })
})

describe('docs/authorization.md on forgetUser', () => {
  it('says it reaches the sources’ own caches, and documents forget and clear', () => {
    expect(authorization).toContain(
      '`forgetUser` and `clearSourceCache` also reach the caches sources keep of their own',
    )
    expect(authorization).toContain(
      'forget({ issuer, subject }: { issuer: string; subject: string }): void',
    )
    expect(authorization).toContain('clear(): void')
  })
})

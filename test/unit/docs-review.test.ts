// Docs that once drifted from the code: the known gaps, the typ default, the .unless mapping, the
// source alert, and the docs and licence the package ships.

import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import express from 'express'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHANNELS, createVerifier, jwtAuth } from '../../src/index.js'
import { checkHeader } from '../../src/jwt.js'
import { createTestIssuer, type TestIssuer } from '../../src/testing.js'
import { JwksProvider } from '../../providers/jwks/index.js'
import {
  DOC_PATH,
  GAPS_BEGIN,
  GAPS_END,
  readCatalog,
  withKnownGaps,
} from '../security/catalog-doc.js'
import { CATALOG_INDEX, catalogIds, type IndexEntry } from '../security/catalog-index.js'

const root = join(import.meta.dirname, '..', '..')
const read = (file: string) => readFileSync(join(root, file), 'utf8')

/** The text of the Markdown section that starts with `heading`, up to the next `## `. */
const section = (doc: string, heading: string) => doc.split(`\n${heading}\n`)[1]!.split('\n## ')[0]!

let idp: TestIssuer

beforeAll(async () => {
  idp = await createTestIssuer({ listen: false, audience: 'api' })
})

afterAll(() => idp.close())

const provider = () =>
  new JwksProvider({ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: 'api', fetch: idp.fetch })

describe('docs/security.md: Known gaps', () => {
  const ids = catalogIds(readCatalog())
  const doc = readFileSync(DOC_PATH, 'utf8')

  it('lists exactly the rows the catalog index marks open (regenerate: npm run docs:security)', () => {
    expect(doc).toContain(GAPS_BEGIN)
    expect(doc).toContain(GAPS_END)
    expect(doc).toBe(withKnownGaps(doc, ids))
  })

  it('names no row outside the generated list', () => {
    const gaps = section(doc, '## Known gaps')
    const outside = gaps.slice(0, gaps.indexOf(GAPS_BEGIN)) + gaps.slice(gaps.indexOf(GAPS_END))
    expect(outside.match(/\b[A-Z]+-\d{2}\b/g) ?? []).toEqual([])
  })

  it('would fail on a gap the index marks open but the section omits, and list it', () => {
    const open: Record<string, readonly IndexEntry[]> = {
      ...CATALOG_INDEX,
      'CLM-07': [
        {
          kind: 'gap',
          file: 'test/security/catalog.test.ts',
          name: 'CLM-07: a lifetime bound',
          bug: 'no option bounds exp − iat',
        },
      ],
    }
    const regenerated = withKnownGaps(doc, ids, open)
    expect(regenerated).not.toBe(doc)
    expect(section(regenerated, '## Known gaps')).toContain(
      '- CLM-07: no option bounds exp − iat (it.fails in `test/security/catalog.test.ts` › CLM-07: a lifetime bound)',
    )
    // …and a gap since closed is dropped again: the docs follow the index both ways.
    expect(withKnownGaps(regenerated, ids)).toBe(doc)
  })
})

describe('docs/security.md: the token type default', () => {
  const row = read('docs/security.md')
    .split('\n')
    .find((line) => line.startsWith('| token type |'))!
  const documented = [...row.split(' | ')[1]!.matchAll(/`([a-z_]+\+jwt)`/g)].map((m) => m[1]!)
  const refused = [
    ...read('src/jwt.ts')
      .split('const FOREIGN_TYPES = new Set([')[1]!
      .split('])')[0]!
      .matchAll(/'([^']+)'/g),
  ].map((m) => m[1]!)

  it('names every typ refused by default, and only those', () => {
    expect(refused.length).toBeGreaterThan(3)
    expect([...documented].sort()).toEqual([...refused].sort())
  })

  it.each(documented)('a %s token is refused without a typ option', (typ) => {
    const policy = { algorithms: new Set(['RS256' as const]), typ: undefined }
    expect(() => checkHeader({ alg: 'RS256', typ }, policy)).toThrow(
      expect.objectContaining({ code: 'ERR_AUTH_TOKEN_TYPE_INVALID' }),
    )
    expect(checkHeader({ alg: 'RS256', typ: 'JWT' }, policy).alg).toBe('RS256')
  })

  it('names maxTokenLifetimeSec among the stricter settings', async () => {
    expect(section(read('docs/security.md'), '## Defaults and how to make them stricter')).toMatch(
      /\| token lifetime \|.*`maxTokenLifetimeSec`/,
    )
    const verify = createVerifier({
      provider: new JwksProvider({
        issuer: idp.issuer,
        jwksUri: idp.jwksUri,
        audience: 'api',
        fetch: idp.fetch,
        maxTokenLifetimeSec: 3600,
      }),
      logger: false,
    })
    await expect(verify(idp.mint({ sub: 'a' }, { expiresInSec: 86_400 }))).rejects.toMatchObject({
      code: 'ERR_AUTH_CLAIM_INVALID',
    })
  })
})

describe("docs/migration/from-express-jwt.md: express-jwt's .unless", () => {
  const doc = read('docs/migration/from-express-jwt.md')

  it('maps .unless to routes mounted before jwtAuth, as the After example does', () => {
    const row = doc.split('\n').find((line) => line.startsWith('| `.unless('))!
    expect(row).toContain('before `jwtAuth`')
    const after = doc.split('\nAfter:\n')[1]!.split('```')[1]!
    expect(after.indexOf("app.get('/health'")).toBeGreaterThan(-1)
    expect(after.indexOf("app.get('/health'")).toBeLessThan(after.indexOf('jwtAuth({'))
    expect(doc).not.toContain('with or without a token')
  })

  it('a stale token is 401 on an unguarded route after jwtAuth, but never read before it', async () => {
    const expired = idp.mint({ sub: 'a' }, { expiresInSec: -3600 })
    const app = express()
    app.get('/before', (_req, res) => void res.json({ ok: true }))
    app.use(jwtAuth({ provider: provider(), logger: false }))
    app.get('/after', (_req, res) => void res.json({ ok: true }))
    const before = await request(app).get('/before').set('Authorization', `Bearer ${expired}`)
    const after = await request(app).get('/after').set('Authorization', `Bearer ${expired}`)
    expect([before.status, after.status]).toEqual([200, 401])
  })
})

describe('docs/scaling.md: alerts', () => {
  const alerts = read('docs/scaling.md')
    .split('\n\n')
    .find((paragraph) => paragraph.startsWith('Alert on '))!
    .replaceAll('\n', ' ')

  it('alerts on failing sources by a metric examples/prometheus.ts defines', () => {
    expect(alerts).toContain('`oidc_guard_source_lookups_total{outcome="failed"}`')
    expect(read('examples/prometheus.ts')).toContain("name: 'oidc_guard_source_lookups_total'")
    expect(alerts).not.toMatch(/outcome="unavailable"}` \([^)]*sources/)
  })

  it('a failing source answers 503 while the verification is reported as a pass', async () => {
    const events: string[] = []
    const onVerify = (m: unknown) =>
      void events.push(`verify:${(m as { outcome: string }).outcome}`)
    const onSource = (m: unknown) =>
      void events.push(`source:${(m as { outcome: string }).outcome}`)
    subscribe(CHANNELS.verify, onVerify)
    subscribe(CHANNELS.source, onSource)
    try {
      const verify = createVerifier({
        provider: provider(),
        logger: false,
        permissions: {
          fetchPermissions() {
            throw new Error('database down')
          },
        },
      })
      const user = await verify(idp.mint({ sub: 'a' }))
      await expect(user.permissions).rejects.toMatchObject({ status: 503 })
      expect(events).toEqual(['verify:pass', 'source:failed'])
    } finally {
      unsubscribe(CHANNELS.verify, onVerify)
      unsubscribe(CHANNELS.source, onSource)
    }
  })
})

describe('the npm package', () => {
  const pkg = JSON.parse(read('package.json')) as { files: string[]; license: string }
  const shipped = (path: string) =>
    pkg.files.some((entry) => path === entry || path.startsWith(`${entry}/`))

  it('ships the docs the README, runtime hints and TSDoc point at', () => {
    const links = [
      ...read('README.md').matchAll(/\]\(((?:docs|examples|src|test)\/[^)#\s]+|LICENSE(?=\)))/g),
    ]
    const hints = ['src', 'providers'].flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts'))
        .flatMap((file) => [...read(join(dir, file)).matchAll(/\bdocs\/[\w/-]+\.md\b/g)]),
    )
    const targets = new Set([...links.map((m) => m[1]!), ...hints.map((m) => m[0])])
    expect(targets).toContain('docs/configuration.md')
    expect(targets).toContain('LICENSE')
    expect(targets.size).toBeGreaterThan(10)
    for (const target of targets) {
      expect(existsSync(join(root, target)), target).toBe(true)
      expect(shipped(target), `${target} is not in package.json "files"`).toBe(true)
    }
  })

  it('ships an MIT LICENSE matching "license"', () => {
    expect(pkg.license).toBe('MIT')
    expect(pkg.files).toContain('LICENSE')
    const licence = read('LICENSE')
    expect(licence).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the oidc-guard authors\n/)
    expect(licence).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND')
  })
})

// Every TypeScript code block of README.md and docs/**/*.md type-checks against the source, and the
// test files the docs show pass.
//
// How: each ```ts / ```typescript block is written under test-results/docs-code/<pid>/check/
// (gitignored; one folder per test process, so concurrent runs never collide), one folder per
// Markdown file, as its own module (an `export {}` is appended, so top-level await works
// and its declarations stay its own). All of them are type-checked in ONE TypeScript program with
// the repository's compiler options (strict, exactOptionalPropertyTypes, verbatimModuleSyntax,
// NodeNext), and a generated tsconfig maps the package's specifiers to the source with `paths`:
//   'oidc-guard'                  -> src/index.ts
//   'oidc-guard/providers/<name>' -> providers/<name>/index.ts
//   'oidc-guard/testing'          -> src/testing.ts
//   'oidc-guard/redis'            -> providers/redis/index.ts
// A failure names the Markdown file, the line and the compiler's message, and the generated files
// are then kept to reproduce it by hand (`npx tsc -p test-results/docs-code/<pid>/check`):
//   docs/x.md:42 (block at line 40): TS2304 Cannot find name 'db'.
// After a run without failures they are removed.
//
// Fragments may use these names without declaring them (the ambient PREAMBLE below); a block's own
// declarations and imports shadow them:
//   app: Express        req: Request      res: Response     next: NextFunction
//   handler: RequestHandler (any route handler)             provider: JwksProvider
//   token: string       issuer: string    user: User
//
// Files: a block whose first line is only a comment naming a file (`// app.ts`, `// test/app.test.ts`)
// is written under that name, so the other blocks of the same Markdown file import it as a
// project would (`import { createApp } from './app.js'`). A named `*.test.ts` block is also RUN:
// the named blocks of its Markdown file are copied to test-results/docs-code/<pid>/run/ with the package's
// specifiers rewritten to the source, and the test file is imported here, so its tests run as
// tests of this file. Named blocks must therefore be complete modules (no preamble names).
//
// A block that cannot be TypeScript (shell-like pseudo-code, an interface sketch) opts out with
//   <!-- docs-code: skip (the reason) -->
// on the line right before its fence. Keep them rare: the skipped blocks are listed, with their
// reasons, as tests of their own.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')
const baseDir = join(root, 'test-results', 'docs-code')
const workDir = join(baseDir, String(process.pid))
const checkDir = join(workDir, 'check')
const runDir = join(workDir, 'run')

/** The ambient names fragments may use; see the top of this file. */
const PREAMBLE = `// Names documentation fragments may use without declaring them (test/unit/docs-code.test.ts).
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express'
import type { User } from 'oidc-guard'
import type { JwksProvider } from 'oidc-guard/providers/jwks'

declare global {
  const app: Express
  const req: Request
  const res: Response
  const next: NextFunction
  const handler: RequestHandler
  const provider: JwksProvider
  const token: string
  const issuer: string
  const user: User
}
`

/** Where the package's public specifiers point in the source, relative to the repository root. */
function sourceOf(specifier: string): string | undefined {
  if (specifier === 'oidc-guard') return 'src/index.ts'
  if (specifier === 'oidc-guard/testing') return 'src/testing.ts'
  if (specifier === 'oidc-guard/redis') return 'providers/redis/index.ts'
  const provider = /^oidc-guard\/providers\/([\w-]+)$/.exec(specifier)?.[1]
  return provider === undefined ? undefined : `providers/${provider}/index.ts`
}

/** `paths` of the generated tsconfig: the same mapping as {@link sourceOf}, relative to it. */
function pathsFrom(dir: string): Record<string, string[]> {
  const to = (source: string) => [relative(dir, join(root, source))]
  return {
    'oidc-guard': to('src/index.ts'),
    'oidc-guard/testing': to('src/testing.ts'),
    'oidc-guard/redis': to('providers/redis/index.ts'),
    'oidc-guard/providers/*': to('providers/*/index.ts'),
  }
}

/** A fenced TypeScript block of a Markdown file. */
interface CodeBlock {
  /** The Markdown file, relative to the repository root. */
  readonly file: string
  /** 1-based line of the opening fence; the code starts on the next line. */
  readonly line: number
  readonly code: string
  /** The file the block is, from a first line such as `// app.ts`. */
  readonly name?: string
  /** Why the block is not checked, from its `<!-- docs-code: skip (reason) -->` comment. */
  readonly skip?: string
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/
const SKIP = /^<!--\s*docs-code:\s*skip\s*\((.*)\)\s*-->$/
const FILE_NAME = /^\/\/\s*((?:[\w-][\w.-]*\/)*[\w-][\w.-]*\.ts)\s*$/
const TS_LANGUAGES = new Set(['ts', 'typescript'])

/** The reason of a skip comment, or undefined (also for an empty reason). */
function skipReason(line: string | undefined): string | undefined {
  const reason = SKIP.exec((line ?? '').trim())?.[1]?.trim()
  return reason === '' ? undefined : reason
}

/**
 * The TypeScript blocks of one Markdown text, and the problems with its markup: an unclosed fence,
 * a `docs-code` comment that is not `<!-- docs-code: skip (reason) -->` with a reason, a skip
 * comment that is not right before a TypeScript fence, two blocks naming the same file.
 */
function extractBlocks(
  file: string,
  markdown: string,
): { blocks: CodeBlock[]; problems: string[] } {
  const lines = markdown.split('\n')
  const blocks: CodeBlock[] = []
  const problems: string[] = []
  const names = new Set<string>()
  let index = 0
  while (index < lines.length) {
    const text = lines[index]!
    const comment = text.trim()
    if (comment.startsWith('<!--') && comment.includes('docs-code')) {
      const fence = FENCE.exec(lines[index + 1] ?? '')
      if (skipReason(comment) === undefined) {
        problems.push(
          `${file}:${index + 1}: write the opt-out as <!-- docs-code: skip (the reason) -->`,
        )
      } else if (fence === null || !TS_LANGUAGES.has(fence[3]!.toLowerCase())) {
        problems.push(
          `${file}:${index + 1}: a skip comment must be right before a TypeScript fence`,
        )
      }
    }
    const open = FENCE.exec(text)
    if (open === null) {
      index += 1
      continue
    }
    const indent = open[1]!
    const marker = open[2]!
    const close = new RegExp(`^\\s*${marker[0] === '`' ? '`' : '~'}{${marker.length},}\\s*$`)
    const body: string[] = []
    let end = index + 1
    while (end < lines.length && !close.test(lines[end]!)) {
      // Fences in list items are indented: the code is indented as much.
      const line = lines[end]!
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart())
      end += 1
    }
    if (end >= lines.length) problems.push(`${file}:${index + 1}: the code fence is never closed`)
    if (TS_LANGUAGES.has(open[3]!.toLowerCase())) {
      const skip = skipReason(lines[index - 1])
      const name = FILE_NAME.exec(body[0] ?? '')?.[1]
      if (name !== undefined && names.has(name)) {
        problems.push(`${file}:${index + 1}: another block of this file is already ${name}`)
      }
      if (name !== undefined) names.add(name)
      blocks.push({
        file,
        line: index + 1,
        code: body.join('\n'),
        ...(name === undefined ? {} : { name }),
        ...(skip === undefined ? {} : { skip }),
      })
    }
    index = end + 1
  }
  return { blocks, problems }
}

/** README.md and every Markdown file under docs/, relative to the root, sorted. */
function markdownFiles(): string[] {
  const docs = readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.md'))
    .map((file) => join('docs', file))
  return ['README.md', ...docs.sort()]
}

/** Where a block is written, relative to a base folder: one folder per Markdown file. */
function pathOf(block: CodeBlock): string {
  return join(block.file.replace(/[^A-Za-z0-9]+/g, '_'), block.name ?? `L${block.line}.ts`)
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, text)
}

// Blocks that prove the checker is not vacuous: a type error is reported, an import of a name the
// package does not export is reported (so 'oidc-guard' resolves to the source, not to `any`), and
// the subpaths resolve.
const CANARIES = {
  'type-error.ts': `const port: number = 'three thousand'\nexport {}\n`,
  'missing-export.ts': `import { jwtAuthenticate } from 'oidc-guard'\nvoid jwtAuthenticate\n`,
  'resolves.ts': `import { jwtAuth, type JwtAuthOptions } from 'oidc-guard'
import { JwksProvider } from 'oidc-guard/providers/jwks'
import { ClaimRolesProvider } from 'oidc-guard/providers/claims'
import { createTestIssuer } from 'oidc-guard/testing'
const options: JwtAuthOptions = { provider: new JwksProvider({ issuer, jwksUri: issuer, audience: null }) }
void [jwtAuth(options), new ClaimRolesProvider(), createTestIssuer]
`,
} as const

/** Writes the blocks to check, the preamble, the canaries and a tsconfig. */
function writeForCheck(blocks: readonly CodeBlock[]): Map<string, CodeBlock> {
  const written = new Map<string, CodeBlock>()
  for (const block of blocks) {
    if (block.skip !== undefined) continue
    const path = join(checkDir, pathOf(block))
    written.set(path, block)
    write(path, `${block.code}\nexport {}\n`)
  }
  for (const [name, code] of Object.entries(CANARIES))
    write(join(checkDir, '__canaries', name), code)
  write(join(checkDir, 'preamble.d.ts'), PREAMBLE)
  const tsconfig = {
    extends: relative(checkDir, join(root, 'tsconfig.json')),
    compilerOptions: { noEmit: true, paths: pathsFrom(checkDir) },
    include: ['**/*.ts'],
  }
  write(join(checkDir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`)
  return written
}

/** Rewrites the package's specifiers in `code`, written at `path`, to relative paths of the source. */
function pointAtSource(code: string, path: string): string {
  return code.replace(
    /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(['"])(oidc-guard(?:\/[\w/-]+)?)\2/g,
    (whole, keyword: string, quote: string, specifier: string) => {
      const source = sourceOf(specifier)
      if (source === undefined) return whole
      const target = relative(dirname(path), join(root, source)).replace(/\.ts$/, '.js')
      return `${keyword}${quote}${target.startsWith('.') ? target : `./${target}`}${quote}`
    },
  )
}

/** Copies the named blocks of every Markdown file that has a test block; its test files, per file. */
function writeForRun(blocks: readonly CodeBlock[]): Map<string, string[]> {
  const tests = new Map<string, string[]>()
  const named = blocks.filter((block) => block.name !== undefined && block.skip === undefined)
  const withTests = new Set(
    named.filter((block) => block.name!.endsWith('.test.ts')).map((block) => block.file),
  )
  for (const block of named.filter((candidate) => withTests.has(candidate.file))) {
    const path = join(runDir, pathOf(block))
    write(path, pointAtSource(`${block.code}\nexport {}\n`, path))
    if (block.name!.endsWith('.test.ts'))
      tests.set(block.file, [...(tests.get(block.file) ?? []), path])
  }
  return tests
}

interface Checked {
  /** Compiler messages per Markdown file, already located in the Markdown. */
  readonly failures: ReadonlyMap<string, string[]>
  /** Compiler messages per canary file. */
  readonly canaries: ReadonlyMap<string, string[]>
  /** Messages about the program itself (options, the preamble). */
  readonly global: readonly string[]
}

function describeDiagnostic(diagnostic: ts.Diagnostic): { line: number; text: string } {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
  const { file, start } = diagnostic
  const line =
    file === undefined || start === undefined
      ? 0
      : file.getLineAndCharacterOfPosition(start).line + 1
  return { line, text: `TS${diagnostic.code} ${message}` }
}

/** Type-checks everything written under checkDir in one program. */
function typeCheck(written: ReadonlyMap<string, CodeBlock>): Checked {
  const configErrors: ts.Diagnostic[] = []
  const config = ts.getParsedCommandLineOfConfigFile(
    join(checkDir, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => configErrors.push(d) },
  )
  const global = configErrors.map((d) => describeDiagnostic(d).text)
  if (config === undefined) return { failures: new Map(), canaries: new Map(), global }
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options })
  const own = (path: string) => {
    const sourceFile = program.getSourceFile(path)
    if (sourceFile === undefined) return [{ line: 0, text: `not in the program: ${path}` }]
    return [
      ...program.getSyntacticDiagnostics(sourceFile),
      ...program.getSemanticDiagnostics(sourceFile),
    ].map(describeDiagnostic)
  }
  global.push(
    ...[
      ...config.errors,
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
    ].map((d) => describeDiagnostic(d).text),
    ...own(join(checkDir, 'preamble.d.ts')).map((d) => `preamble: ${d.text}`),
  )
  const failures = new Map<string, string[]>()
  for (const [path, block] of written) {
    for (const { line, text } of own(path)) {
      const list = failures.get(block.file) ?? []
      list.push(`${block.file}:${block.line + line} (block at line ${block.line}): ${text}`)
      failures.set(block.file, list)
    }
  }
  const canaries = new Map(
    Object.keys(CANARIES).map((name) => [
      name,
      own(join(checkDir, '__canaries', name)).map((d) => d.text),
    ]),
  )
  return { failures, canaries, global }
}

/** Removes the folders of test processes that are gone (kept because they failed), then ours. */
function clean(): void {
  if (!existsSync(baseDir)) return
  for (const entry of readdirSync(baseDir)) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid <= 0) continue
    try {
      if (pid !== process.pid)
        process.kill(pid, 0) // throws when no such process
      else rmSync(join(baseDir, entry), { recursive: true, force: true })
    } catch {
      rmSync(join(baseDir, entry), { recursive: true, force: true })
    }
  }
}

clean()
const files = markdownFiles()
const extracted = files.map((file) => extractBlocks(file, readFileSync(join(root, file), 'utf8')))
const blocks = extracted.flatMap((result) => result.blocks)
const skipped = blocks.filter((block) => block.skip !== undefined)
const written = writeForCheck(blocks)
const runnable = writeForRun(blocks)

describe('the block extractor', () => {
  const sample = [
    '# Title', // 1
    '```ts', // 2
    "import { jwtAuth } from 'oidc-guard'", // 3
    '```', // 4
    '```sh', // 5
    'npm start', // 6
    '```', // 7
    '<!-- docs-code: skip (an interface sketch) -->', // 8
    '```typescript', // 9
    'interface X { a(...) }', // 10
    '```', // 11
    '````md', // 12
    '```ts', // 13
    'not a block: inside another fence', // 14
    '```', // 15
    '````', // 16
    '- a list item:', // 17
    '  ```ts', // 18
    '  // src/app.ts', // 19
    '  const a = 1', // 20
    '  ```', // 21
  ].join('\n')

  it('finds ts and typescript fences, with their line, file name and skip reason, and nothing else', () => {
    const { blocks: found, problems } = extractBlocks('x.md', sample)
    expect(problems).toEqual([])
    expect(found).toEqual([
      { file: 'x.md', line: 2, code: "import { jwtAuth } from 'oidc-guard'" },
      { file: 'x.md', line: 9, code: 'interface X { a(...) }', skip: 'an interface sketch' },
      { file: 'x.md', line: 18, code: '// src/app.ts\nconst a = 1', name: 'src/app.ts' },
    ])
  })

  it.each([
    ['a skip without a reason', '<!-- docs-code: skip -->\n```ts\nx\n```', /skip \(the reason\)/],
    ['an empty reason', '<!-- docs-code: skip ( ) -->\n```ts\nx\n```', /the reason/],
    [
      'a skip far from its fence',
      '<!-- docs-code: skip (why) -->\n\n```ts\nx\n```',
      /right before/,
    ],
    [
      'a skip before a shell block',
      '<!-- docs-code: skip (why) -->\n```sh\nx\n```',
      /right before/,
    ],
    ['an unclosed fence', 'text\n```ts\nconst a = 1\n', /never closed/],
    ['two blocks naming one file', '```ts\n// a.ts\n```\n```ts\n// a.ts\n```', /already a\.ts/],
  ])('reports %s', (_name, markdown, message) => {
    const { blocks: found, problems } = extractBlocks('x.md', markdown)
    expect(problems.join('\n')).toMatch(message)
    expect(found.every((block) => block.skip === undefined)).toBe(true)
  })

  it('points the package at the source in the copies it runs', () => {
    const path = join(root, 'test-results', 'x', 'app.ts')
    const code = [
      "import { jwtAuth } from 'oidc-guard'",
      "import { JwksProvider } from 'oidc-guard/providers/jwks'",
      "import { createTestIssuer } from 'oidc-guard/testing'",
      "import express from 'express'",
      "import { createApp } from './app.js'",
    ].join('\n')
    expect(pointAtSource(code, path).split('\n')).toEqual([
      "import { jwtAuth } from '../../src/index.js'",
      "import { JwksProvider } from '../../providers/jwks/index.js'",
      "import { createTestIssuer } from '../../src/testing.js'",
      "import express from 'express'",
      "import { createApp } from './app.js'",
    ])
  })
})

describe('documentation code blocks type-check', () => {
  let checked: Checked

  beforeAll(() => {
    checked = typeCheck(written)
  }, 60_000)

  afterAll(() => {
    // Kept to reproduce a failure by hand; nothing to look at otherwise.
    const failed = checked === undefined || checked.failures.size > 0 || checked.global.length > 0
    if (!failed) rmSync(checkDir, { recursive: true, force: true })
  })

  it('finds the blocks it checks, and the program builds', () => {
    expect(blocks.length).toBeGreaterThan(20)
    expect(checked.global).toEqual([])
  })

  it('is not vacuous: type errors and missing exports are reported, subpaths resolve', () => {
    expect(checked.canaries.get('type-error.ts')).toEqual([expect.stringMatching(/^TS2322 /)])
    // TS2305 "has no exported member", not TS2307 "cannot find module": the mapping found the source.
    expect(checked.canaries.get('missing-export.ts')).toEqual([
      expect.stringMatching(/^TS2305 .*jwtAuthenticate/),
    ])
    expect(checked.canaries.get('resolves.ts')).toEqual([])
  })

  it.each(files)('%s: its Markdown is well-formed for the checker', (file) => {
    expect(extracted[files.indexOf(file)]!.problems).toEqual([])
  })

  it.each(files)('%s: every TypeScript block type-checks', (file) => {
    const failures = checked.failures.get(file) ?? []
    const hint = `\n(reproduce: npx tsc -p ${relative(root, checkDir)})`
    expect(failures, failures.join('\n') + hint).toEqual([])
  })
})

describe('blocks opted out of the check', () => {
  it('are few', () => {
    expect(skipped.length).toBeLessThanOrEqual(Math.max(3, Math.floor(blocks.length / 10)))
  })

  it.each(skipped.map((block) => [`${block.file}:${block.line}`, block.skip!]))(
    '%s is skipped: %s',
    (_where, reason) => {
      expect(reason.length).toBeGreaterThan(3)
    },
  )
})

for (const [file, tests] of runnable) {
  describe(`${file}: the test files it shows pass`, async () => {
    for (const test of tests) await import(pathToFileURL(test).href)
  })
}

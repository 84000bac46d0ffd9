// The tarball smoke test: `npm pack`, then a consumer outside the repository imports every
// subpath with import and require, type-checks against the published types, and serves a request
// through Express 4 and Express 5. Run by .ci/run after the build: node scripts/pack-smoke.mjs

import { execFileSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const subpaths = Object.keys(pkg.exports)
  .filter((key) => key !== './package.json')
  .map((key) => (key === '.' ? 'oidc-guard' : `oidc-guard/${key.slice(2)}`))
const work = mkdtempSync(join(tmpdir(), 'oidc-guard-pack-'))
const run = (command, args, cwd = work) =>
  execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })

try {
  const tarball = run('npm', ['pack', '--silent', '--pack-destination', work], root)
    .trim()
    .split('\n')
    .pop()
  const consumer = join(work, 'consumer')
  const modules = join(consumer, 'node_modules')
  mkdirSync(join(modules, 'oidc-guard'), { recursive: true })
  run('tar', [
    '-xzf',
    join(work, tarball),
    '-C',
    join(modules, 'oidc-guard'),
    '--strip-components=1',
  ])
  // Source maps carry their sources: the .ts files they name are not in the tarball, and a stack
  // trace under --enable-source-maps (or vitest) would otherwise point at missing files.
  const shipped = join(modules, 'oidc-guard')
  const maps = readdirSync(shipped, { recursive: true }).filter((file) => file.endsWith('.map'))
  for (const file of maps) {
    const map = JSON.parse(readFileSync(join(shipped, file), 'utf8'))
    const contents = map.sourcesContent ?? []
    if (
      contents.length !== map.sources.length ||
      contents.some((text) => typeof text !== 'string')
    ) {
      throw new Error(`${file} names sources the package does not ship, without their content`)
    }
  }
  console.log(`source maps: ${maps.length}, each with its sources inlined`)

  // The consumer's other packages: the ones the repository installed (no network needed).
  const dependencies = [
    ...Object.keys(pkg.dependencies ?? {}),
    'express',
    'express4',
    '@types/express',
    '@types/node',
    'typescript',
    ...Object.keys(pkg.peerDependencies ?? {}).filter((name) => name !== 'express'),
  ]
  for (const name of new Set(dependencies)) {
    const target = join(root, 'node_modules', name)
    const link = join(modules, name)
    mkdirSync(join(link, '..'), { recursive: true })
    symlinkSync(target, link, 'dir')
  }
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', type: 'module', private: true }),
  )

  // ESM: every subpath imports, and an app answers through Express 5 and Express 4.
  writeFileSync(
    join(consumer, 'esm.mjs'),
    `${subpaths.map((path, index) => `import * as m${index} from '${path}'`).join('\n')}
import express5 from 'express'
import express4 from 'express4'
const modules = [${subpaths.map((_p, index) => `m${index}`).join(', ')}]
if (modules.some((m) => Object.keys(m).length === 0)) throw new Error('a subpath exports nothing')
const { jwtAuth, requireUser } = m0
const { createTestIssuer } = m${subpaths.indexOf('oidc-guard/testing')}
const { JwksProvider } = m${subpaths.indexOf('oidc-guard/providers/jwks')}
const issuer = await createTestIssuer({ listen: false })
const provider = new JwksProvider({ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: issuer.audience, fetch: issuer.fetch })
for (const [name, express] of [['express 5', express5], ['express 4', express4]]) {
  const app = express()
  app.use(jwtAuth({ provider, logger: false }))
  app.get('/me', requireUser(), (req, res) => res.json({ id: req.currentUser.id }))
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const url = 'http://127.0.0.1:' + server.address().port + '/me'
  const ok = await fetch(url, { headers: { authorization: 'Bearer ' + issuer.mint({ sub: 'alice' }) } })
  const anonymous = await fetch(url)
  server.close()
  if (ok.status !== 200 || (await ok.json()).id !== 'alice' || anonymous.status !== 401) {
    throw new Error(name + ': unexpected answers ' + ok.status + ' ' + anonymous.status)
  }
}
await issuer.close()
console.log('esm: ' + modules.length + ' subpaths, express 4 and 5 ok')
`,
  )
  process.stdout.write(run('node', ['esm.mjs'], consumer))

  // CommonJS: require() of ESM works on Node 20.19+.
  writeFileSync(
    join(consumer, 'cjs.cjs'),
    `${subpaths.map((path, index) => `const m${index} = require('${path}')`).join('\n')}
const modules = [${subpaths.map((_p, index) => `m${index}`).join(', ')}]
if (modules.some((m) => Object.keys(m).length === 0)) throw new Error('a subpath exports nothing')
if (typeof m0.jwtAuth !== 'function') throw new Error('jwtAuth missing under require')
console.log('cjs: ' + modules.length + ' subpaths ok')
`,
  )
  process.stdout.write(run('node', ['cjs.cjs'], consumer))

  // TypeScript: the published types check in a strict NodeNext project.
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        noEmit: true,
        types: ['node'],
        skipLibCheck: false,
        exactOptionalPropertyTypes: true,
      },
      files: ['consumer.ts'],
    }),
  )
  writeFileSync(
    join(consumer, 'consumer.ts'),
    `import express from 'express'
import { fromEnv, jwtAuth, requireGroups, requireScopes, type User } from 'oidc-guard'
import { JwksProvider } from 'oidc-guard/providers/jwks'
import { ClaimRolesProvider } from 'oidc-guard/providers/claims'
import { CognitoProvider } from 'oidc-guard/providers/cognito'
import { createTestIssuer } from 'oidc-guard/testing'
${subpaths.map((path, index) => `import * as t${index} from '${path}'`).join('\n')}
void [${subpaths.map((_p, index) => `t${index}`).join(', ')}]
const app = express()
const provider = new JwksProvider({ issuer: 'https://i.example', jwksUri: 'https://i.example/k', audience: 'api' })
app.use(jwtAuth({ provider, roles: new ClaimRolesProvider({ claim: 'realm_access.roles' }) }))
app.get('/a', requireGroups(['ops']), requireScopes(['x']), async (req, res) => {
  const user: User = req.currentUser
  const groups: readonly string[] = await user.groups
  res.json({ id: user.id, groups })
})
void fromEnv
void CognitoProvider
void createTestIssuer
`,
  )
  run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], consumer)
  console.log('typescript: consumer type-checks with Express 5 types')

  // Older projects (module commonjs, moduleResolution node10) ignore `exports`: the root's
  // `types` and the subpaths' `typesVersions` must lead them to the same declarations.
  writeFileSync(
    join(consumer, 'tsconfig.node10.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'commonjs',
        moduleResolution: 'node10',
        esModuleInterop: true,
        target: 'ES2022',
        noEmit: true,
        types: ['node'],
        skipLibCheck: false,
      },
      files: ['consumer.ts'],
    }),
  )
  run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.node10.json'], consumer)
  console.log('typescript: consumer type-checks under moduleResolution node10')

  // The same consumer with Express 4 and its types (@types/express 4): our .d.ts files import
  // 'express', which must resolve to whatever version the consumer has.
  const consumer4 = join(work, 'consumer4')
  const modules4 = join(consumer4, 'node_modules')
  mkdirSync(join(modules4, '@types'), { recursive: true })
  mkdirSync(join(modules4, 'oidc-guard'))
  run('tar', [
    '-xzf',
    join(work, tarball),
    '-C',
    join(modules4, 'oidc-guard'),
    '--strip-components=1',
  ])
  for (const name of new Set(dependencies)) {
    if (name === 'express' || name === '@types/express' || name.startsWith('@types/')) continue
    mkdirSync(join(modules4, name, '..'), { recursive: true })
    symlinkSync(join(root, 'node_modules', name), join(modules4, name), 'dir')
  }
  symlinkSync(join(root, 'node_modules', 'express4'), join(modules4, 'express'), 'dir')
  symlinkSync(
    join(root, 'node_modules', '@types', 'express4'),
    join(modules4, '@types', 'express'),
    'dir',
  )
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(modules4, '@types', 'node'), 'dir')
  // Express 4's own core types (the repository's top-level copies are Express 5's).
  for (const name of ['express-serve-static-core', 'serve-static', 'send']) {
    const nested = join(root, 'node_modules', '@types', 'express4', 'node_modules', '@types', name)
    if (existsSync(nested)) symlinkSync(nested, join(modules4, '@types', name), 'dir')
  }
  for (const file of ['package.json', 'tsconfig.json', 'consumer.ts']) {
    writeFileSync(join(consumer4, file), readFileSync(join(consumer, file)))
  }
  run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], consumer4)
  console.log('typescript: consumer type-checks with Express 4 types')

  run(join(root, 'node_modules', '.bin', 'publint'), ['--strict', join(modules, 'oidc-guard')])
  console.log('publint: ok')
} finally {
  rmSync(work, { recursive: true, force: true })
}

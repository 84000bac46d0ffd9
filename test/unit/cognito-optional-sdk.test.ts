// The AWS SDK is an optional peer: verifying Cognito tokens works without it, and using a source that needs it says what to install.

import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')
const folder = join(root, 'providers', 'cognito')
const scratch = mkdtempSync(join(tmpdir(), 'oidc-guard-no-sdk-'))

afterAll(() => rmSync(scratch, { recursive: true, force: true }))

describe('the AWS SDK clients are optional', () => {
  it('no module of providers/cognito imports the SDK at run time except through import()', () => {
    for (const file of readdirSync(folder).filter((name) => name.endsWith('.ts'))) {
      const text = readFileSync(join(folder, file), 'utf8')
      const eager = [...text.matchAll(/^\s*import\s+(?!type\b)[^;]*?from\s+'(@aws-sdk\/[^']+)'/gm)]
      expect({ file, eager: eager.map((match) => match[1]) }).toEqual({ file, eager: [] })
    }
  })

  it('tokens verify with the SDK missing; the profile then answers 503 naming the package to install', async () => {
    // A resolve hook that makes every @aws-sdk/* package missing, as in an app that never installed it.
    writeFileSync(
      join(scratch, 'hooks.mjs'),
      `export async function resolve(specifier, context, next) {
        if (specifier.startsWith('@aws-sdk/')) {
          throw Object.assign(new Error('Cannot find package ' + specifier), { code: 'ERR_MODULE_NOT_FOUND' })
        }
        return next(specifier, context)
      }`,
    )
    writeFileSync(
      join(scratch, 'register.mjs'),
      `import { register } from 'node:module'\nregister('./hooks.mjs', import.meta.url)\n`,
    )
    const url = (path: string) => JSON.stringify(pathToFileURL(join(root, path)).href)
    writeFileSync(
      join(scratch, 'main.mts'),
      `const { CognitoProvider, CognitoProfileProvider } = await import(${url('providers/cognito/index.ts')})
      const { createCognitoIssuer } = await import(${url('test/fake-idp/cognito.ts')})
      const { createVerifier } = await import(${url('src/index.ts')})
      const cognito = await createCognitoIssuer()
      const provider = new CognitoProvider({ userPoolId: cognito.pool.userPoolId, clientId: cognito.clientId, fetch: cognito.idp.fetch })
      const profile = new CognitoProfileProvider({ userPoolId: cognito.pool.userPoolId })
      const user = await createVerifier({ provider, profile, logger: false })(cognito.access())
      const failure = await user.profile.catch((error) => error)
      console.log(JSON.stringify({ id: user.id, groups: await user.groups, status: failure.status, cause: failure.cause?.message }))
      await cognito.close()`,
    )
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--import', join(scratch, 'register.mjs'), join(scratch, 'main.mts')],
      { cwd: root },
    )
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({
      id: '6b3c9f2e-6a1d-4c8e-9f0a-1b2c3d4e5f60',
      groups: ['admin', 'editors'],
      status: 503,
      cause:
        'oidc-guard: CognitoProfileProvider needs the AWS SDK: npm install @aws-sdk/client-cognito-identity-provider',
    })
  })
})

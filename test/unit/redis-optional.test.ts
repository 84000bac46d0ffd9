// ioredis is an optional peer dependency: without it the stores say what to install, and a
// revocation check fails closed rather than letting tokens through.

import { expect, it, vi } from 'vitest'

vi.mock('ioredis', () => {
  throw new Error("Cannot find package 'ioredis'")
})

it('explains that ioredis must be installed, and fails closed meanwhile', async () => {
  const { RedisRevocationStore, RedisSharedCache } = await import('../../providers/redis/index.js')
  const store = new RedisRevocationStore({ url: 'redis://127.0.0.1:6379', timeoutMs: 100 })
  const shared = new RedisSharedCache({ url: 'redis://127.0.0.1:6379', timeoutMs: 100 })
  const claims = { iss: 'https://i.example', sub: 'alice' }
  await expect(
    store.isRevoked({ token: 't', header: { alg: 'RS256' }, claims }),
  ).rejects.toMatchObject({ status: 503 })
  await expect(store.ready(100)).rejects.toThrow(/npm install ioredis/)
  await expect(store.revokeToken('j')).rejects.toMatchObject({
    cause: { code: 'ERR_AUTH_CONFIG' },
  })
  await expect(shared.get('groups\nhttps://i.example\nalice')).rejects.toThrow(
    /npm install ioredis/,
  )
  expect(shared.health()).toMatchObject({ ok: true, detail: expect.stringMatching(/ioredis/) })
  await Promise.all([store.close(), shared.close()])
})

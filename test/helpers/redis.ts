// The suite's Redis: its URL, and a connection to it for a test file's own set-up and clean-up.

import { Redis } from 'ioredis'

export const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'

/**
 * Connects to the suite's Redis, failing (never skipping) when it cannot be reached: in CI, and
 * here, Redis is part of the suite. Disconnect it in `afterAll`.
 */
export async function connectTestRedis(): Promise<Redis> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  await redis.connect().catch((cause: unknown) => {
    throw new Error(`these tests need Redis at ${REDIS_URL} (.ci/run starts it)`, { cause })
  })
  return redis
}

/** Deletes every key under `prefix` (a test file's own), after each test. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
}

/**
 * Deletes every key under `prefix` a page at a time (SCAN), for a file that may leave many keys:
 * KEYS walks the whole key space in one command that blocks Redis, and one DEL of thousands of
 * keys spreads them all as arguments.
 */
export async function deleteKeysInPages(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
}

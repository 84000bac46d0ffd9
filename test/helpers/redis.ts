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

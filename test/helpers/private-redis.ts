// A redis-server of a test's own, on a free port: settings (a memory limit, eviction, ACL users)
// the shared server on 6379 must not get. Stopped by its PID through stop().

import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'

/** A private redis-server, with an admin connection to it. */
export interface PrivateRedis {
  readonly url: string
  readonly admin: Redis
  /** Over its memory limit from now on: every write that could grow it is refused (OOM). */
  fill(): Promise<void>
  /** Room again. */
  empty(): Promise<void>
  stop(): Promise<void>
}

// Outside CI a machine without the redis-server binary skips these; in CI (CI=true) they run
// and fail: a skipped test is not a pass.
export const skipPrivate =
  !(await new Promise<boolean>((resolve) => {
    const probe = spawn('redis-server', ['--version'], { stdio: 'ignore' })
    probe.on('error', () => resolve(false))
    probe.on('exit', (code) => resolve(code === 0))
  })) && process.env['CI'] !== 'true'

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export async function privateRedis(settings: string[]): Promise<PrivateRedis> {
  const port = await freePort()
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      ...settings,
    ],
    { stdio: 'ignore' },
  )
  const url = `redis://127.0.0.1:${port}/11`
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  client.on('error', () => undefined) // refused until the server listens
  for (let attempt = 0; ; attempt += 1) {
    try {
      await client.connect()
      break
    } catch (error) {
      if (attempt > 50) throw error
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return {
    url,
    admin: client,
    fill: async () => void (await client.config('SET', 'maxmemory', '1')),
    empty: async () => void (await client.config('SET', 'maxmemory', '0')),
    async stop() {
      client.disconnect()
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}

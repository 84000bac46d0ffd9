// The Redis link of the stores: ioredis loaded on first use, a command connection, and a subscriber
// that reports when it is (re)subscribed and in step, and when it is lost (once per episode).

import type { Redis, RedisOptions } from 'ioredis'
import {
  checkTimeout,
  ConfigError,
  MAX_TIMER_MS,
  type OptionFlags,
  neverThrows,
  packageResolves,
  percentDecodes,
  silentLogger,
  type Logger,
  type Problems,
} from '../../src/spi.js'

/**
 * Checks the `timeoutMs` given to a store's `ready()` as the constructor checks its own: a value
 * no timer holds (`Infinity`, `NaN`, a negative one, more than 2^31 - 1 ms) makes Node's timer fire
 * at once, and `ready()` would reject with "not reachable" while Redis is up.
 *
 * @throws {TypeError} for a value that is not a number; {RangeError} for one outside 1 to
 *   {@link MAX_TIMER_MS}.
 */
export function checkReadyTimeout(timeoutMs: unknown): void {
  if (timeoutMs === undefined) return
  if (typeof timeoutMs !== 'number') {
    throw new TypeError(
      `ready(timeoutMs): timeoutMs must be a number of milliseconds, got a ${typeof timeoutMs}`,
    )
  }
  if (!(timeoutMs >= 1 && timeoutMs <= MAX_TIMER_MS)) {
    throw new RangeError(
      `ready(timeoutMs): timeoutMs must be from 1 to ${MAX_TIMER_MS} ms (the longest a timer ` +
        `holds), got ${timeoutMs}`,
    )
  }
}

/** How the stores of `oidc-guard/redis` reach Redis. Give `url` or `client`, not both. */
export interface RedisConnectionOptions {
  /**
   * `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS): the store opens and closes
   * its own connections. May carry a password: it is never logged nor shown in an error.
   */
  url?: string
  /**
   * An ioredis client the application owns (a Sentinel or TLS setup, say). The store uses it for
   * commands and subscribes through a `duplicate()` of it; `close()` leaves it open.
   */
  client?: Redis
  /**
   * Prefix of every key and channel, so several APIs can share one Redis: give each its own.
   * Default `oidc-guard:`. The database number of the URL does not set APIs apart: Redis pub/sub
   * ignores it, so APIs on `/9` and `/10` with one prefix hear each other's revocations and cache
   * invalidations.
   */
  prefix?: string
  /**
   * Longest wait for Redis (connecting, each command, with a `client` of your own too), in
   * milliseconds. Default 1000.
   */
  timeoutMs?: number
  /**
   * How often the subscriber is pinged, in milliseconds, so that a silent network (no reset, no
   * close) is noticed. Default 5000.
   */
  heartbeatMs?: number
  /** Where outages and recoveries are logged (once per episode). Default: nowhere. */
  logger?: Logger
}

export const DEFAULT_PREFIX = 'oidc-guard:'
export const DEFAULT_TIMEOUT_MS = 1_000
const DEFAULT_HEARTBEAT_MS = 5_000

/** The options every Redis store takes. */
export const CONNECTION_OPTIONS = {
  url: true,
  client: true,
  prefix: true,
  timeoutMs: true,
  heartbeatMs: true,
  logger: true,
} as const satisfies OptionFlags<RedisConnectionOptions>

/** Adds a problem for each connection option that is wrong; the URL itself is never echoed. */
export function checkConnectionOptions(problems: Problems, options: RedisConnectionOptions): void {
  const { url, client, prefix } = options
  if (url !== undefined && client !== undefined) problems.add('give either url or client, not both')
  if (url === undefined && client === undefined) {
    problems.add('url (redis://host:6379) or client (an ioredis client) is required')
  }
  if (url !== undefined) {
    const problem = redisUrlProblem(url)
    if (problem !== undefined) problems.add(`url ${problem}`)
    // Said now, not by every request answering 503 once the first one tries to connect. A client
    // of the application's own needs no import of ours.
    if (client === undefined && !ioredisInstalled()) problems.add(`url needs ${IOREDIS_MISSING}`)
  }
  if (client !== undefined && (typeof client !== 'object' || client === null)) {
    problems.add('client must be an ioredis client')
  } else if (client !== undefined && typeof client.duplicate !== 'function') {
    problems.add('client must be an ioredis client (it has no duplicate method)')
  }
  if (prefix !== undefined && typeof prefix !== 'string') problems.add('prefix must be a string')
  checkTimeout(problems, 'timeoutMs', options.timeoutMs)
  checkTimeout(problems, 'heartbeatMs', options.heartbeatMs)
  checkLinkLogger(problems, options.logger)
}

/** The link logs through `warn()` and `info()`: anything without them would fail in an outage. */
function checkLinkLogger(problems: Problems, logger: unknown): void {
  if (logger === undefined) return
  const methods = logger as Partial<Record<string, unknown>> | null
  const usable =
    typeof logger === 'object' &&
    methods !== null &&
    typeof methods.warn === 'function' &&
    typeof methods.info === 'function'
  if (!usable)
    problems.add('logger must be a pino logger (pino() from the pino package), or left out')
}

const HIDDEN = '(value hidden: it may carry a password)'

/** What is wrong with a Redis URL, without repeating it (it may carry a password). */
export function redisUrlProblem(value: unknown): string | undefined {
  const expected = `must be a redis:// or rediss:// URL ${HIDDEN}`
  if (typeof value !== 'string') return expected
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return portProblem(value) ?? expected
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    return expected
  }
  if (url.port === '0') return PORT_OUT_OF_RANGE
  // ioredis takes the path (or `?db=`) as the database and sends `SELECT NaN` for anything but a
  // number: a rejection no one handles, which ends the process.
  const db = url.searchParams.get('db')
  if (!/^\/?\d*$/.test(url.pathname) || (db !== null && !/^\d+$/.test(db))) {
    return `must name its database by number, as in redis://host:6379/2, or not at all ${HIDDEN}`
  }
  // ioredis decodes the user and password on first use: one that does not decode throws there,
  // every time, and the store would never reach Redis.
  if (!percentDecodes(url.username) || !percentDecodes(url.password)) {
    return `must percent-encode its user and password (a % as %25) ${HIDDEN}`
  }
  return undefined
}

/** What a URL needs that is missing, and what to run: "url needs …". */
export const IOREDIS_MISSING =
  'the "ioredis" package (oidc-guard/redis connects through it), which is not installed: npm install ioredis'

/** Whether ioredis can be imported, checked without importing it (that waits for the first use). */
export function ioredisInstalled(): boolean {
  return packageResolves('ioredis')
}

const PORT_OUT_OF_RANGE = `must have a port from 1 to 65535, or none for 6379 ${HIDDEN}`

// The port of a redis:// URL: after the user information (up to the last `@` of the authority) and
// the host (an IPv6 one in brackets).
const REDIS_PORT = /^rediss?:\/\/(?:[^/?#]*@)?(?:\[[^\]/?#]+\]|[^:/?#]+):(\d+)(?:[/?#]|$)/i

/**
 * For a URL the parser refused over its port only (`redis://host:99999`), that the port is wrong. A
 * port that is not digits may be a password's end with a `/` in it: that is left to the general
 * message, never read as a port.
 */
function portProblem(value: string): string | undefined {
  const match = REDIS_PORT.exec(value)
  const port = match?.[1]
  if (port === undefined || (Number(port) >= 1 && Number(port) <= 65_535)) return undefined
  // `redis://app:987654/xyz@cache:6379`: the digits are a password's start, cut at its `/`.
  const after = value.slice(match!.index + match![0].length)
  if (/^[^?#]*@/.test(after)) return SLASH_IN_CREDENTIALS
  return PORT_OUT_OF_RANGE
}

const SLASH_IN_CREDENTIALS = `must percent-encode its user and password (a / as %2F) ${HIDDEN}`

type RedisConstructor = new (url: string, options: RedisOptions) => Redis

/** Imports ioredis, or explains that it must be installed. */
async function loadRedis(): Promise<RedisConstructor> {
  try {
    const module = await import('ioredis')
    return module.Redis as unknown as RedisConstructor
  } catch (cause) {
    const error = new ConfigError([
      'oidc-guard/redis needs the "ioredis" package, which could not be loaded: npm install ioredis',
    ])
    throw Object.assign(error, { cause })
  }
}

/** What a store does with its link. */
export interface LinkHandlers {
  /** The channel the subscriber listens on. */
  readonly channel: string
  /** A message on the channel. */
  onMessage(message: string): void
  /**
   * Runs after each (re)subscription, before the link reports itself live: load the state that
   * messages keep current from then on (what was published while away was missed). Its commands
   * go through `run`, each bounded by the time-out.
   */
  onSubscribed(run: RunCommand): Promise<void>
}

/** Sends commands on the command connection, bounded by the link's time-out. */
export type RunCommand = <T>(send: (command: Redis) => Promise<T>) => Promise<T>

/**
 * A command connection and a subscriber to one channel. `live` is true once the subscriber is
 * subscribed and `onSubscribed` has loaded the state, until the subscriber is lost (closed, or
 * silent past a heartbeat). Every outage is logged once, and its end once.
 */
export class RedisLink {
  readonly #handlers: LinkHandlers
  readonly #logger: Logger
  readonly #timeoutMs: number
  readonly #owned: boolean
  readonly #what: string
  readonly #options: RedisConnectionOptions
  #started: Promise<void> | undefined
  #command: Redis | undefined
  #subscriber: Redis | undefined
  #heartbeat: NodeJS.Timeout | undefined
  #live = false
  #down = false
  #closed = false
  #lastError: string | undefined
  #liveWaiters: Array<() => void> = []
  #commandReady: Promise<void> | undefined
  // Bumped by every 'ready' and 'close' of the subscriber: only the load of the latest
  // subscription may report the link live, never one that started before a reconnection.
  #attempt = 0
  // Loads failed in a row: a failure that lasts (a database Redis refuses) is retried ever less
  // often, not on a fresh connection every few milliseconds.
  #failedLoads = 0
  // Whether the command connection is on its database, checked once per connection.
  #selected: Promise<void> | undefined
  readonly #reselected = (): void => {
    this.#selected = undefined
  }

  /** @param what names the store in log lines ("revocation store"…). */
  constructor(options: RedisConnectionOptions, handlers: LinkHandlers, what: string) {
    this.#handlers = handlers
    // Its calls run inside ioredis's event handlers and un-awaited steps, where a logger that
    // throws (a broken sink) would end the process: a failed record is dropped instead.
    this.#logger = neverThrows(options.logger ?? silentLogger)
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#owned = options.client === undefined
    this.#what = what
    this.#options = options
  }

  /**
   * Opens the connections, once. Nothing is opened before the first use, so a configuration that
   * is thrown away (one `fromEnv` problem elsewhere) leaves no connection behind.
   */
  open(): Promise<void> {
    if (this.#closed && this.#started === undefined) {
      return Promise.reject(new Error('the redis store was closed'))
    }
    if (this.#started === undefined) {
      this.#started = this.#start(this.#options).catch((error: unknown) => {
        this.#lost(error)
        throw error
      })
      this.#started.catch(() => undefined) // Reported through commands and health.
    }
    return this.#started
  }

  /** Whether the subscriber is subscribed and the state loaded since. */
  get live(): boolean {
    return this.#live
  }

  /** Whether an outage is going on (the subscriber was lost and is not back). */
  get down(): boolean {
    return this.#down
  }

  /** The last connection error seen, for health reports. */
  get lastError(): string | undefined {
    return this.#lastError
  }

  /**
   * The command connection once it is ready; waits for the first connection (bounded by the
   * time-out), and fails at once while Redis is known to be unreachable, unless `reconnecting` is
   * to be waited for too (when the subscriber is back and reloads the state).
   */
  async #connection(options: { waitForReconnection?: boolean }): Promise<Redis> {
    await withTimeout(this.open(), this.#timeoutMs, 'connecting to redis timed out')
    const command = this.#command
    if (command === undefined) throw new Error('the redis store was closed')
    if (command.status === 'ready') return this.#onItsDatabase(command)
    const pending = ['wait', 'connecting', 'connect']
    if (options.waitForReconnection === true) pending.push('reconnecting')
    if (!pending.includes(command.status)) {
      throw new Error(`redis is unreachable (${this.#lastError ?? command.status})`)
    }
    // One listener for every caller waiting on the connection.
    this.#commandReady ??= new Promise<void>((resolve) =>
      command.once('ready', () => {
        this.#commandReady = undefined
        resolve()
      }),
    )
    await withTimeout(this.#commandReady, this.#timeoutMs, 'connecting to redis timed out')
    return this.#onItsDatabase(command)
  }

  /**
   * Sends commands (`send` gets the command connection once ready) and bounds their answer by
   * `timeoutMs`: the one place every command of the stores goes through. A client the application
   * gave may have no command time-out of its own, and a silent network (no reset) would then hold
   * `revokeToken` or `invalidateUser` until the kernel gives up, minutes later.
   */
  async run<T>(
    send: (command: Redis) => Promise<T>,
    options: { waitForReconnection?: boolean } = {},
  ): Promise<T> {
    const command = await this.#connection(options)
    return withTimeout(
      send(command),
      this.#timeoutMs,
      `redis did not answer within ${this.#timeoutMs} ms (timeoutMs)`,
    )
  }

  /**
   * The command connection once it is known to be on its database. ioredis selects it on each
   * connection but only emits an error when Redis refuses (`/99` on a server of 16 databases), and
   * goes on in database 0: revocations and answers would land where no other instance looks.
   */
  async #onItsDatabase(command: Redis): Promise<Redis> {
    const database = Number(command.options.db ?? 0)
    if (database === 0) return command // always there
    // Only a success is kept: a SELECT that failed for a passing reason (Redis slow past the
    // command time-out) is asked again by the next command, not held against the connection.
    const selected = (this.#selected ??= command.select(database).then(
      () => undefined,
      (error: unknown) => {
        if (this.#selected === selected) this.#selected = undefined
        const reason = error instanceof Error ? error.message : String(error)
        throw new Error(
          (error as { name?: unknown } | null)?.name === 'ReplyError' // Redis's own answer
            ? `redis refused database ${database} (${reason})`
            : `selecting redis database ${database} failed (${reason})`,
        )
      },
    ))
    await withTimeout(selected, this.#timeoutMs, 'selecting the redis database timed out')
    return command
  }

  /** Resolves `true` once live, or `false` after `timeoutMs`. */
  whenLive(timeoutMs: number = this.#timeoutMs): Promise<boolean> {
    if (this.#live) return Promise.resolve(true)
    void this.open().catch(() => undefined)
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        resolve(true)
      }
      const timer = setTimeout(() => {
        this.#liveWaiters = this.#liveWaiters.filter((waiter) => waiter !== done)
        resolve(false)
      }, timeoutMs)
      timer.unref?.()
      this.#liveWaiters.push(done)
    })
  }

  /** Closes the connections the link opened (a client the application gave stays open). */
  async close(): Promise<void> {
    this.#closed = true
    this.#live = false
    clearInterval(this.#heartbeat)
    await this.#started?.catch(() => undefined)
    const subscriber = this.#subscriber
    const command = this.#command
    subscriber?.disconnect()
    if (this.#owned) command?.disconnect()
    else command?.off('ready', this.#reselected) // the application's client stays open
  }

  async #start(options: RedisConnectionOptions): Promise<void> {
    // Commands fail at once while Redis is away (no offline queue): a request must not wait for
    // a reconnection that may never come; the stores degrade as documented instead.
    const overrides: RedisOptions = {
      enableOfflineQueue: false,
      autoResubscribe: false,
      connectTimeout: this.#timeoutMs,
      commandTimeout: this.#timeoutMs,
      maxRetriesPerRequest: 0,
      // A socket dropped on a silent network waits this long for the peer's goodbye (2 s by
      // default) before it is destroyed and reconnected.
      disconnectTimeout: this.#timeoutMs,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      // A duplicate of a `lazyConnect` client would be lazy too, and would never connect.
      lazyConnect: false,
    }
    if (options.client !== undefined) {
      this.#command = options.client
      // A `lazyConnect` client no one connected yet: its 'ready' would never come. A failure is
      // reported like any other (the 'error' events, and commands that fail or time out).
      if (this.#command.status === 'wait') {
        this.#command.connect().catch((error: Error) => this.#noteError(error))
      }
    } else {
      const Redis = await loadRedis()
      if (this.#closed) return
      this.#command = new Redis(options.url!, overrides)
      this.#command.on('error', (error: Error) => this.#noteError(error))
    }
    // Each connection selects its database again: check it again.
    this.#command.on('ready', this.#reselected)
    const subscriber = this.#command.duplicate(overrides)
    this.#subscriber = subscriber
    subscriber.on('error', (error: Error) => this.#noteError(error))
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.#handlers.channel) this.#handlers.onMessage(message)
    })
    subscriber.on('ready', () => void this.#subscribe(subscriber, ++this.#attempt))
    subscriber.on('close', () => {
      this.#attempt += 1
      this.#lost(new Error(this.#lastError ?? 'connection closed'))
    })
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
    this.#heartbeat = setInterval(() => void this.#beat(subscriber), heartbeatMs)
    this.#heartbeat.unref?.()
  }

  /** Subscribes and loads the state; `attempt` tells whether a newer subscription replaced it. */
  async #subscribe(subscriber: Redis, attempt: number): Promise<void> {
    const current = () => !this.#closed && attempt === this.#attempt
    try {
      await subscriber.subscribe(this.#handlers.channel)
      // The command connection answering, on its database, whether or not the store loads anything.
      await this.#commandAnswers()
      await this.#handlers.onSubscribed((send) => this.run(send, { waitForReconnection: true }))
      // A load that outlived its subscription may have missed what was published meanwhile: only
      // the newest one (still running) can tell that the state is in step.
      if (!current() || subscriber.status !== 'ready') return
      this.#live = true
      this.#failedLoads = 0
      if (this.#down) this.#logger.info('redis %s is back in step', this.#what)
      this.#down = false
      const waiters = this.#liveWaiters
      this.#liveWaiters = []
      for (const waiter of waiters) waiter()
    } catch (error) {
      // Subscribed without the state, or not at all: start over on a fresh connection (unless a
      // newer subscription already did, whose load is running).
      if (!current()) return
      this.#lost(error)
      const delayMs = Math.min(100 * 2 ** this.#failedLoads, 5_000)
      this.#failedLoads += 1
      const retry = setTimeout(() => {
        if (current()) subscriber.disconnect(true)
      }, delayMs)
      retry.unref?.()
    }
  }

  /**
   * A round trip on the command connection: a link is live only once it answers. After a silent
   * network its socket may still look ready, and never answer again until the kernel gives up (a
   * quarter of an hour): one the link opened is then reconnected.
   */
  async #commandAnswers(): Promise<void> {
    const command = await this.#connection({ waitForReconnection: true })
    let answered = false
    const ping = command.ping().finally(() => (answered = true))
    try {
      await withTimeout(ping, this.#timeoutMs, 'redis did not answer a ping')
    } catch (error) {
      if (!answered) this.#reconnectCommand() // an answer, even an error, says the socket works
      throw error
    }
  }

  /** A subscriber on a network that drops packets is never closed: a ping that fails tells. */
  async #beat(subscriber: Redis): Promise<void> {
    if (!this.#live || this.#closed) return
    try {
      await withTimeout(subscriber.ping(), this.#timeoutMs, 'redis did not answer a ping')
    } catch (error) {
      if (this.#closed) return
      this.#lost(error)
      subscriber.disconnect(true)
      // The command connection went silent with it, most likely, and would hold every command
      // for `timeoutMs` until TCP gives up; the stores fail at once meanwhile (`down`).
      this.#reconnectCommand()
    }
  }

  /** A fresh socket for the command connection, if the link opened it (never the app's client). */
  #reconnectCommand(): void {
    if (this.#owned && !this.#closed) this.#command?.disconnect(true)
  }

  #noteError(error: Error): void {
    this.#lastError = error.message
  }

  #lost(error: unknown): void {
    this.#live = false
    if (this.#closed || this.#down) return
    this.#down = true
    if (error instanceof Error) this.#lastError = error.message
    this.#logger.warn(
      { err: { message: this.#lastError } },
      'redis %s unreachable (%s)',
      this.#what,
      this.#lastError,
    )
  }
}

/** Races `promise` against a timer that rejects with `message`; the timer never outlives it. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
    timer.unref?.()
  })
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(timer))
}

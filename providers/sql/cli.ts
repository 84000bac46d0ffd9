// The SQL commands of the oidc-guard CLI: create the tables, list, grant and revoke a user's rights.

import type { ParseArgsConfig } from 'node:util'
import {
  ConfigError,
  EnvReader,
  parseCommandLine,
  Problems,
  UsageError,
  type Env,
} from '../../src/spi.js'
import { waitingForLocks } from './connection.js'
import {
  resolveSchema,
  SQL_FACETS,
  usesDefaultColumns,
  type SqlColumnNames,
  type SqlFacet,
  type SqlTableNames,
} from './schema.js'
import { SqlAuthzStore } from './store.js'
import { changeProblem, unusableText } from './text.js'
import { readDatabaseUrl, type DatabaseUrlSetting } from './env.js'
import {
  parseDatabaseUrl,
  URL_EXAMPLES,
  urlSecrets,
  type DatabaseTarget,
  type SqlDialectName,
} from './url.js'

/** What a command reads and writes: lines out, lines to the error stream, the environment. */
export interface CliIo {
  out(line: string): void
  err(line: string): void
  readonly env: Env
}

/** One command of the CLI; `run` resolves to the process exit code. */
export interface CliCommand {
  readonly name: string
  readonly summary: string
  readonly usage: string
  run(args: readonly string[], io: CliIo): Promise<number>
}

/** Exit codes: done; the database failed; the command line was wrong. */
export const EXIT = Object.freeze({ ok: 0, failure: 1, usage: 2 })

const NAME_FLAGS = [
  'groups-table',
  'roles-table',
  'permissions-table',
  'user-column',
  'id-column',
  'groups-column',
  'roles-column',
  'permissions-column',
] as const

type Options = NonNullable<ParseArgsConfig['options']>

// Each command takes only the options it reads: a flag it would ignore (`grant --print`, which
// would still write the row) is refused as unknown instead.
const COMMON_OPTIONS: Options = {
  url: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'no-id-column': { type: 'boolean' },
  ...Object.fromEntries(NAME_FLAGS.map((flag) => [flag, { type: 'string' }])),
}
const INIT_OPTIONS: Options = {
  ...COMMON_OPTIONS,
  print: { type: 'boolean' },
  dialect: { type: 'string' },
}
const LOOKUP_OPTIONS: Options = { ...COMMON_OPTIONS, json: { type: 'boolean' } }

const COMMON = `Options:
  --url URL               postgres://…, mysql://… or sqlite:./authz.db (default: AUTHZ_DATABASE_URL)
  --groups-table NAME     also --roles-table, --permissions-table (default authz_groups…)
  --user-column NAME      also --id-column, --groups-column, --roles-column, --permissions-column
  --no-id-column          the tables have no id column (the library's columns.id: null)
  --timeout SECONDS       longest wait for the database (default 10; sql init's CREATE statements: 600)
  -h, --help              this help`

type Parsed = { values: Record<string, string | boolean | undefined>; positionals: string[] }

function parse(args: readonly string[], options: Options): Parsed {
  const { values, positionals } = parseCommandLine({
    args: [...args],
    options,
    allowPositionals: true,
    strict: true,
  })
  return { values: values as Parsed['values'], positionals }
}

function facetOf(word: string | undefined): SqlFacet {
  const facet = SQL_FACETS.find((name) => name === word || name === `${word}s`)
  if (facet === undefined) {
    // The word is echoed only when it is one: a database URL put in its place (its password
    // included) must not reach a terminal's scroll-back or a CI log.
    const got = /^[A-Za-z_-]{0,32}$/.test(word ?? '') ? `, got ${JSON.stringify(word ?? '')}` : ''
    throw new UsageError(
      `the facet must be group(s), role(s) or permission(s)${got} (give the URL as --url URL)`,
    )
  }
  return facet
}

function names(values: Parsed['values']): { tables: SqlTableNames; columns: SqlColumnNames } {
  const tables: SqlTableNames = {}
  const columns: SqlColumnNames = {}
  for (const facet of SQL_FACETS) {
    const table = values[`${facet}-table`]
    const column = values[`${facet}-column`]
    if (typeof table === 'string') tables[facet] = table
    if (typeof column === 'string') columns[facet] = column
  }
  if (typeof values['user-column'] === 'string') columns.user = values['user-column']
  if (typeof values['id-column'] === 'string') columns.id = values['id-column']
  if (values['no-id-column'] === true) {
    if (columns.id !== undefined)
      throw new UsageError('give --id-column or --no-id-column, not both')
    columns.id = null
  }
  return { tables, columns }
}

/**
 * The URL: --url, else AUTHZ_DATABASE_URL, else its alias (both set to different URLs is refused,
 * as fromEnv() refuses it); a URL that cannot be used is reported under the name it came by.
 */
function urlOf(
  values: Parsed['values'],
  io: CliIo,
): DatabaseUrlSetting & { target: DatabaseTarget } {
  let setting: DatabaseUrlSetting | undefined
  if (typeof values['url'] === 'string') {
    setting = { url: values['url'], variable: '--url' }
  } else {
    const problems = new Problems()
    setting = readDatabaseUrl(new EnvReader(io.env, problems), (text) => problems.add(text))
    problems.throwIfAny()
  }
  if (setting === undefined) throw new UsageError(`--url is required (${URL_EXAMPLES})`)
  const target = parseDatabaseUrl(setting.url)
  if (typeof target === 'string') throw new UsageError(`${setting.variable} ${target}`)
  return { ...setting, target }
}

const DEFAULT_TIMEOUT_SEC = 10
/** `sql init`'s: indexing a large existing table may take minutes. */
const DEFAULT_INIT_TIMEOUT_SEC = 600
const MAX_TIMEOUT_SEC = 86_400

/** `--timeout SECONDS` in ms, or `fallback` seconds when it is not given. */
function timeoutOf(values: Parsed['values'], fallbackSec: number): number {
  const text = values['timeout']
  if (text === undefined) return fallbackSec * 1000
  const seconds = typeof text === 'string' && /^\s*[0-9.]+\s*$/.test(text) ? Number(text) : NaN
  if (!(seconds > 0 && seconds <= MAX_TIMEOUT_SEC)) {
    throw new UsageError(
      `--timeout must be a number of seconds above 0, at most ${MAX_TIMEOUT_SEC}`,
    )
  }
  return Math.max(1, Math.round(seconds * 1000))
}

/**
 * Runs `work` on a store for the command line's URL and names, closing it after. Its queries wait
 * at most `--timeout` (default 10 s); `sql init` passes that to `init()` instead, keeping 10 s for
 * connecting. A SQLite file another process holds locked is waited for up to the same bound, not
 * the 50 ms an app's lookups wait: the command serves no requests, and a grant should not fail
 * because a writer held the file for a second.
 */
async function withStore<T>(
  values: Parsed['values'],
  io: CliIo,
  work: (store: SqlAuthzStore) => Promise<T>,
  { ddl = false }: { ddl?: boolean } = {},
): Promise<T> {
  const { url, variable } = urlOf(values, io)
  const waitMs = ddl ? DEFAULT_TIMEOUT_SEC * 1000 : timeoutOf(values, DEFAULT_TIMEOUT_SEC)
  const store = namingTheUrl(
    variable,
    () =>
      new SqlAuthzStore({
        url,
        ...names(values),
        pool: { size: 1, acquireTimeoutMs: waitMs, queryTimeoutMs: waitMs },
      }),
  )
  try {
    return await waitingForLocks(() => work(store))
  } catch (error) {
    if (error instanceof ConfigError) throw error
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(`${store.database}: ${scrub(message, url)}`)
  } finally {
    await store.close()
  }
}

/**
 * `build()`, with the store's problems about its `url` option (a driver not installed) told under
 * the setting the URL came by, `--url` or `AUTHZ_DATABASE_URL`, as fromEnv() tells them: the one
 * reading them set no option named url.
 */
function namingTheUrl<T>(variable: string, build: () => T): T {
  try {
    return build()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    throw new ConfigError(error.problems.map((text) => text.replace(/^url /, `${variable} `)))
  }
}

/** Cuts the URL's secrets (password, `?password=`…) out of a driver's message that quotes it. */
function scrub(message: string, url: string): string {
  // Longest first, so a secret that contains another is cut out whole.
  const secrets = urlSecrets(url).sort((a, b) => b.length - a.length)
  return secrets.reduce((text, secret) => text.split(secret).join('***'), message)
}

function command(
  name: string,
  summary: string,
  usage: string,
  options: Options,
  body: (parsed: Parsed, io: CliIo) => Promise<number>,
): CliCommand {
  return {
    name,
    summary,
    usage,
    async run(args, io) {
      try {
        const parsed = parse(args, options)
        if (parsed.values['help'] === true) {
          io.out(usage)
          return EXIT.ok
        }
        return await body(parsed, io)
      } catch (error) {
        if (error instanceof UsageError) {
          io.err(`oidc-guard ${name}: ${error.message}\n\n${usage}`)
          return EXIT.usage
        }
        if (error instanceof ConfigError) {
          for (const problem of error.problems) io.err(`oidc-guard ${name}: ${problem}`)
          return EXIT.usage
        }
        io.err(`oidc-guard ${name}: ${error instanceof Error ? error.message : String(error)}`)
        return EXIT.failure
      }
    },
  }
}

const sqlInit = command(
  'sql',
  'sql init: create the authorization tables and indexes (if missing)',
  `Usage: oidc-guard sql init [--url URL] [--timeout SECONDS] [--print [--dialect postgres|mysql|sqlite]]

Creates authz_groups, authz_roles and authz_permissions with their indexes, if missing (and the
file of a sqlite: URL: the other commands never create one).

${COMMON}
  --print                 write the SQL instead of running it
  --dialect NAME          with --print, instead of a URL: postgres, mysql or sqlite`,
  INIT_OPTIONS,
  async ({ values, positionals }, io) => {
    // The words are not echoed: a URL given without --url would print its password.
    if (positionals[0] !== 'init') {
      throw new UsageError('expected "sql init", the one sql command (give the URL as --url URL)')
    }
    if (positionals.length > 1) {
      throw new UsageError('"sql init" takes no other word (give the URL as --url URL)')
    }
    if (values['print'] === true) {
      if (values['timeout'] !== undefined) {
        throw new UsageError('--timeout goes without --print, which runs nothing')
      }
      for (const statement of await SqlAuthzStore.statements(
        printDialect(values, io),
        names(values),
      )) {
        io.out(`${statement};`)
      }
      return EXIT.ok
    }
    if (values['dialect'] !== undefined) {
      throw new UsageError('--dialect goes with --print: the URL says which database it is')
    }
    const timeoutMs = timeoutOf(values, DEFAULT_INIT_TIMEOUT_SEC)
    await withStore(
      values,
      io,
      async (store) => {
        await store.init({ timeoutMs })
        const { tables } = store.schema
        io.out(
          `tables ready in ${store.database}: ${SQL_FACETS.map((facet) => tables[facet]).join(', ')}`,
        )
      },
      { ddl: true },
    )
    return EXIT.ok
  },
)

/** The dialect `--print` writes: --dialect's, else the URL's; both must agree. */
function printDialect(values: Parsed['values'], io: CliIo): SqlDialectName {
  const given = values['dialect']
  if (given === undefined) return urlOf(values, io).target.dialect
  if (given !== 'postgres' && given !== 'mysql' && given !== 'sqlite') {
    throw new UsageError('--dialect must be postgres, mysql or sqlite')
  }
  if (typeof values['url'] === 'string') {
    const fromUrl = urlOf(values, io).target.dialect
    if (fromUrl !== given) {
      throw new UsageError(`--dialect ${given} contradicts --url, which is ${fromUrl}`)
    }
  }
  return given
}

function lookupCommand(facet: SqlFacet): CliCommand {
  return command(
    facet,
    `${facet} USER: list a user's ${facet}`,
    `Usage: oidc-guard ${facet} USER [--url URL] [--json]

Lists the ${facet} granted to USER (the value of the id claim: sub by default), one per line.

${COMMON}
  --json                  print a JSON array`,
    LOOKUP_OPTIONS,
    async ({ values, positionals }, io) => {
      if (positionals.length !== 1) throw new UsageError('expected exactly one USER')
      const user = positionals[0]!
      const problem = unusableText(user)
      if (problem !== undefined) throw new UsageError(`the user ${problem}`)
      const found = await withStore(values, io, (store) => store.lookup(facet, user))
      if (values['json'] === true) io.out(JSON.stringify(found))
      else for (const value of found) io.out(shown(value))
      return EXIT.ok
    },
  )
}

function changeCommand(name: 'grant' | 'revoke'): CliCommand {
  const verb = name === 'grant' ? 'grants VALUE to USER' : 'revokes VALUE from USER'
  return command(
    name,
    `${name} FACET USER VALUE: ${name} a group, role or permission`,
    `Usage: oidc-guard ${name} group|role|permission USER VALUE [--url URL]

${name[0]!.toUpperCase()}${verb.slice(1)}. Running apps see the change when their cached answer
expires (30 s by default).

${COMMON}`,
    COMMON_OPTIONS,
    async ({ values, positionals }, io) => {
      if (positionals.length !== 3) throw new UsageError('expected FACET USER VALUE')
      const [word, user, value] = positionals as [string, string, string]
      const facet = facetOf(word)
      // Checked here, so that a wrong argument is a usage error (2), not a database failure (1).
      // The widths only for the default tables: an app's own table is its database's to check.
      const { tables, columns } = names(values)
      const widths =
        name === 'grant' &&
        usesDefaultColumns(resolveSchema(new Problems(), tables, columns), facet)
      const problem = changeProblem(user, value, { widths })
      if (problem !== undefined) throw new UsageError(problem)
      const [who, what] = [shown(user), shown(value)]
      await withStore(values, io, async (store) => {
        if (name === 'grant') {
          const added = await store.grant(facet, user, value)
          io.out(
            added ? `granted ${facet} ${what} to ${who}` : `${who} already had ${facet} ${what}`,
          )
        } else {
          const removed = await store.revoke(facet, user, value)
          io.out(
            removed > 0
              ? `revoked ${facet} ${what} from ${who}`
              : `${who} did not have ${facet} ${what}`,
          )
        }
      })
      return EXIT.ok
    },
  )
}

// A value that would print ambiguously as it is: control characters (a newline reads as a second
// grant, an ANSI escape drives the terminal), invisible characters (format characters, default
// ignorables such as variation selectors and Hangul fillers) and unusual spaces,
// whitespace at either end, or a leading quote (which the quoted form starts with).
const NEEDS_QUOTES = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{DI}]|[^\P{Zs} ]|^[\s"]|\s$/u
// What JSON.stringify leaves as it is among those: DEL and C1 controls, format characters, spaces.
const STILL_INVISIBLE = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{DI}]|[^\P{Zs} ]/gu

/** A user or value as text output shows it: as it is, or as a JSON string when it needs quotes. */
function shown(value: string): string {
  if (!NEEDS_QUOTES.test(value)) return value
  return JSON.stringify(value).replace(STILL_INVISIBLE, (character) =>
    character
      .split('')
      .map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`)
      .join(''),
  )
}

/** The SQL commands: `sql init`, `groups`, `roles`, `permissions`, `grant`, `revoke`. */
export const sqlCommands: readonly CliCommand[] = Object.freeze([
  sqlInit,
  ...SQL_FACETS.map(lookupCommand),
  changeCommand('grant'),
  changeCommand('revoke'),
])

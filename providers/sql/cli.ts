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
import { SQL_FACETS, type SqlColumnNames, type SqlFacet, type SqlTableNames } from './schema.js'
import { SqlAuthzStore } from './store.js'
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

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  print: { type: 'boolean' },
  dialect: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'no-id-column': { type: 'boolean' },
  ...Object.fromEntries(NAME_FLAGS.map((flag) => [flag, { type: 'string' }])),
} as const satisfies NonNullable<ParseArgsConfig['options']>

const COMMON = `Options:
  --url URL               postgres://…, mysql://… or sqlite:./authz.db (default: AUTHZ_DATABASE_URL)
  --groups-table NAME     also --roles-table, --permissions-table (default authz_groups…)
  --user-column NAME      also --id-column, --groups-column, --roles-column, --permissions-column
  --no-id-column          the tables have no id column (the library's columns.id: null)
  -h, --help              this help`

type Parsed = { values: Record<string, string | boolean | undefined>; positionals: string[] }

function parse(args: readonly string[]): Parsed {
  const { values, positionals } = parseCommandLine({
    args: [...args],
    options: OPTIONS,
    allowPositionals: true,
    strict: true,
  })
  return { values: values as Parsed['values'], positionals }
}

function facetOf(word: string | undefined): SqlFacet {
  const facet = SQL_FACETS.find((name) => name === word || name === `${word}s`)
  if (facet === undefined) {
    throw new UsageError(
      `the facet must be group(s), role(s) or permission(s), got ${JSON.stringify(word ?? '')}`,
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
function urlOf(values: Parsed['values'], io: CliIo): { url: string; target: DatabaseTarget } {
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
  return { url: setting.url, target }
}

/** Runs `work` on a store for the command line's URL and names, closing it after. */
async function withStore<T>(
  values: Parsed['values'],
  io: CliIo,
  work: (store: SqlAuthzStore) => Promise<T>,
): Promise<T> {
  const { url } = urlOf(values, io)
  const store = new SqlAuthzStore({
    url,
    ...names(values),
    pool: { size: 1, acquireTimeoutMs: 10_000, queryTimeoutMs: 10_000 },
  })
  try {
    return await work(store)
  } catch (error) {
    if (error instanceof ConfigError) throw error
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(`${store.database}: ${scrub(message, url)}`)
  } finally {
    await store.close()
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
  body: (parsed: Parsed, io: CliIo) => Promise<number>,
): CliCommand {
  return {
    name,
    summary,
    usage,
    async run(args, io) {
      try {
        const parsed = parse(args)
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
  `Usage: oidc-guard sql init [--url URL] [--print [--dialect postgres|mysql|sqlite]]

Creates authz_groups, authz_roles and authz_permissions with their indexes, if missing.
--print writes the SQL instead of running it (the dialect comes from --url or --dialect).

${COMMON}`,
  async ({ values, positionals }, io) => {
    if (positionals.length !== 1 || positionals[0] !== 'init') {
      throw new UsageError(`expected "sql init", got "sql ${positionals.join(' ')}"`)
    }
    if (values['print'] === true) {
      for (const statement of await SqlAuthzStore.statements(
        printDialect(values, io),
        names(values),
      )) {
        io.out(`${statement};`)
      }
      return EXIT.ok
    }
    await withStore(values, io, async (store) => {
      await store.init()
      const { tables } = store.schema
      io.out(
        `tables ready in ${store.database}: ${SQL_FACETS.map((facet) => tables[facet]).join(', ')}`,
      )
    })
    return EXIT.ok
  },
)

function printDialect(values: Parsed['values'], io: CliIo): SqlDialectName {
  const given = values['dialect']
  if (given === 'postgres' || given === 'mysql' || given === 'sqlite') return given
  if (given !== undefined) throw new UsageError('--dialect must be postgres, mysql or sqlite')
  return urlOf(values, io).target.dialect
}

function lookupCommand(facet: SqlFacet): CliCommand {
  return command(
    facet,
    `${facet} USER: list a user's ${facet}`,
    `Usage: oidc-guard ${facet} USER [--url URL] [--json]

Lists the ${facet} granted to USER (the value of the id claim: sub by default), one per line.

${COMMON}
  --json                  print a JSON array`,
    async ({ values, positionals }, io) => {
      if (positionals.length !== 1) throw new UsageError('expected exactly one USER')
      const found = await withStore(values, io, (store) => store.lookup(facet, positionals[0]!))
      if (values['json'] === true) io.out(JSON.stringify(found))
      else for (const value of found) io.out(value)
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
    async ({ values, positionals }, io) => {
      if (positionals.length !== 3) throw new UsageError('expected FACET USER VALUE')
      const [word, user, value] = positionals as [string, string, string]
      const facet = facetOf(word)
      await withStore(values, io, async (store) => {
        if (name === 'grant') {
          const added = await store.grant(facet, user, value)
          io.out(
            added
              ? `granted ${facet} ${value} to ${user}`
              : `${user} already had ${facet} ${value}`,
          )
        } else {
          const removed = await store.revoke(facet, user, value)
          io.out(
            removed > 0
              ? `revoked ${facet} ${value} from ${user}`
              : `${user} did not have ${facet} ${value}`,
          )
        }
      })
      return EXIT.ok
    },
  )
}

/** The SQL commands: `sql init`, `groups`, `roles`, `permissions`, `grant`, `revoke`. */
export const sqlCommands: readonly CliCommand[] = Object.freeze([
  sqlInit,
  ...SQL_FACETS.map(lookupCommand),
  changeCommand('grant'),
  changeCommand('revoke'),
])

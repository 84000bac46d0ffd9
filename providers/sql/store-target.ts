// Which database a store's options name: a URL or a client of the app's, checked and opened once.

import { missingPackages, type Logger, type Problems } from '../../src/spi.js'
import {
  clientKind,
  kyselyDialect,
  resolvePoolOptions,
  SqlConnection,
  type KyselyClient,
} from './connection.js'
import { driverPackages } from './drivers.js'
import type { SqlStoreOptions } from './store-options.js'
import { parseDatabaseUrl, type SqlDialectName } from './url.js'

const DIALECTS: readonly SqlDialectName[] = ['postgres', 'mysql', 'sqlite']

/** `dialect` as a problem's text when it is not one of ours (`mariadb` is spelt `mysql` here). */
export function dialectProblem(dialect: unknown): string | undefined {
  if (DIALECTS.includes(dialect as SqlDialectName)) return undefined
  return `dialect must be one of ${DIALECTS.join(', ')}, got ${JSON.stringify(dialect)}`
}

/** The problem of an option whose packages are not installed, naming the command that installs them. */
function packagesProblem(needer: string, names: readonly string[]): string | undefined {
  const missing = missingPackages(names)
  if (missing.length === 0) return undefined
  const which = missing.map((name) => `"${name}"`).join(' and ')
  const packages = missing.length === 1 ? `the package ${which}` : `the packages ${which}`
  return `${needer}, which needs ${packages}, not installed: npm install ${missing.join(' ')}`
}

/**
 * The connection `options` name (shared with every store given the same URL and pool options), or
 * undefined with the reasons added to `problems`.
 */
export function connectionFor(
  problems: Problems,
  options: SqlStoreOptions,
  logger: Logger,
): SqlConnection | undefined {
  const pool = resolvePoolOptions(problems, options.pool)
  const { url, client, dialect } = options
  const badDialect = dialect === undefined ? undefined : dialectProblem(dialect)
  if (badDialect !== undefined) problems.add(badDialect)
  if ((url === undefined) === (client === undefined)) {
    problems.add('give either url (postgres://, mysql://, sqlite:) or client, not both nor neither')
    return undefined
  }
  if (client === undefined) {
    const target = parseDatabaseUrl(url)
    if (typeof target === 'string') problems.add(`url ${target}`)
    else if (dialect !== undefined && dialect !== target.dialect) {
      problems.add(`dialect ${dialect} contradicts the url, which is ${target.dialect}`)
    } else {
      // Found now, at start-up, rather than as a 503 on every request needing a facet.
      const missing = packagesProblem(
        `url is a ${target.dialect} URL`,
        driverPackages(target.dialect),
      )
      if (missing === undefined) return SqlConnection.forTarget(target, pool, logger)
      problems.add(missing)
    }
    return undefined
  }
  const kind = clientKind(client)
  const known = kind === 'kysely' ? kyselyDialect(client as KyselyClient) : kind
  if (kind === undefined) {
    problems.add(
      'client must be a Kysely instance, a pg Pool, a mysql2 pool or a better-sqlite3 Database',
    )
  } else if (known !== undefined && dialect !== undefined && known !== dialect) {
    problems.add(`dialect ${dialect} contradicts the client, which is ${known}`)
  } else if (known === undefined && dialect === undefined) {
    problems.add(`dialect is required with this Kysely instance: 'postgres', 'mysql' or 'sqlite'`)
  } else {
    const missing = packagesProblem('client is given', ['kysely'])
    if (missing === undefined) {
      return SqlConnection.forClient(client as object, (known ?? dialect)!, kind, pool)
    }
    problems.add(missing)
  }
  return undefined
}

/** The path a `sqlite:` URL names (a file or `:memory:`); undefined for other URLs and clients. */
export function sqliteFileOf(url: string | undefined): string | undefined {
  const target = url === undefined ? undefined : parseDatabaseUrl(url)
  return typeof target === 'object' && 'path' in target ? target.path : undefined
}

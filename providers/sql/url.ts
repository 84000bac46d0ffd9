// Database URLs: which dialect a URL names, where it points, and how to show it without its secrets.

import { percentDecodes } from '../../src/spi.js'

/** The SQL dialects the SQL sources speak: PostgreSQL, MySQL/MariaDB, SQLite. */
export type SqlDialectName = 'postgres' | 'mysql' | 'sqlite'

/** Where a database URL points, once parsed. */
export type DatabaseTarget =
  | {
      readonly dialect: 'postgres' | 'mysql'
      /** The URL to hand the driver: the scheme normalised (`postgres:`/`mysql:`), no `+driver`. */
      readonly url: string
      /** The URL with its password masked, for errors and logs. */
      readonly display: string
    }
  | {
      readonly dialect: 'sqlite'
      /** A file path, or `:memory:`. */
      readonly path: string
      readonly display: string
    }

const SCHEMES: Readonly<Record<string, SqlDialectName>> = {
  postgres: 'postgres',
  postgresql: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  sqlite: 'sqlite',
  sqlite3: 'sqlite',
}
// SQLAlchemy URLs (the seed's AUTHZ_SQLALCHEMY_DATABASE_URI) name the driver after a `+`.
const SCHEME = /^([a-z][a-z0-9]*)(?:\+[a-z0-9_]+)?:/i
const MEMORY = ':memory:'

/** Examples shown when a URL cannot be used. */
export const URL_EXAMPLES =
  'postgres://user@host:5432/db, mysql://user@host:3306/db, sqlite:./authz.db or sqlite::memory:'

/**
 * Parses a database URL: `postgres://` or `postgresql://` (PostgreSQL), `mysql://` or
 * `mariadb://` (MySQL/MariaDB), `sqlite:` (SQLite); SQLAlchemy's `+driver` suffix is ignored.
 * SQLite paths: `sqlite:./authz.db` or `sqlite:/abs/authz.db` as written; SQLAlchemy's
 * `sqlite:///relative.db` and `sqlite:////absolute.db`; `sqlite::memory:` and `sqlite://` for
 * an in-memory database. Returns the problem, as text, when the URL cannot be used; the text
 * never contains the URL's password.
 */
export function parseDatabaseUrl(value: unknown): DatabaseTarget | string {
  if (typeof value !== 'string' || value.trim() === '') {
    return `must be a database URL (${URL_EXAMPLES})`
  }
  const match = SCHEME.exec(value)
  const dialect = match === null ? undefined : SCHEMES[match[1]!.toLowerCase()]
  if (match === null || dialect === undefined) {
    return `must start with postgres://, mysql://, mariadb:// or sqlite: (${URL_EXAMPLES})`
  }
  const rest = value.slice(match[0].length)
  return dialect === 'sqlite' ? sqliteTarget(rest) : serverTarget(dialect, rest)
}

function sqliteTarget(rest: string): DatabaseTarget | string {
  let path: string
  if (rest === '//' || rest === MEMORY || rest === `//${MEMORY}` || rest === `///${MEMORY}`) {
    path = MEMORY
  } else if (rest.startsWith('///')) {
    path = rest.slice(3) // SQLAlchemy: three slashes then a relative path, four for an absolute one
  } else if (rest.startsWith('//')) {
    return 'is a sqlite URL with a host; use sqlite:./file.db, sqlite:///relative.db or sqlite:////absolute.db'
  } else {
    path = rest
  }
  if (path === '') return 'is a sqlite URL without a path; use sqlite:./authz.db or sqlite::memory:'
  if (path.includes('?') || path.includes('\0')) {
    return 'is a sqlite URL with a query or a NUL character; give a plain file path'
  }
  return { dialect: 'sqlite', path, display: `sqlite:${path}` }
}

function serverTarget(dialect: 'postgres' | 'mysql', rest: string): DatabaseTarget | string {
  let url: URL
  try {
    url = new URL(`${dialect}:${rest}`)
  } catch {
    // The text may hold a password: never echo it.
    return `is not a valid URL (${URL_EXAMPLES})`
  }
  if (url.hostname === '') return `has no host (${URL_EXAMPLES})`
  // The drivers decode these parts when they connect: one that does not decode (a bare % in a
  // password) would throw there, at every lookup, instead of here, once.
  if (![url.username, url.password, url.hostname, url.pathname].every(percentDecodes)) {
    return 'must percent-encode its user, password, host and database name: a % as %25 (value hidden: it may carry a password)'
  }
  return { dialect, url: url.href, display: maskUrl(url.href) }
}

// Query parameters whose value is a secret the driver reads: pg takes `password` from the query
// (over the user information's), libpq-style URLs carry `sslpassword`, mysql2 takes `password1` to
// `password3` and `passwordSha1`. Compared in lower case, so a variant spelling is masked too.
const SECRET_PARAMETERS: ReadonlySet<string> = new Set([
  'password',
  'sslpassword',
  'password1',
  'password2',
  'password3',
  'passwordsha1',
])

/**
 * The URL with its password, and the value of every password query parameter (`?password=`,
 * `sslpassword=`, mysql2's `password1`…), replaced by `***`, for errors and logs. Text that is
 * not a URL is hidden whole, since it might still carry a secret.
 */
export function maskUrl(value: string): string {
  if (/^sqlite[0-9]*(?:\+[a-z0-9_]+)?:/i.test(value)) return value
  try {
    const url = new URL(value)
    if (url.password !== '') url.password = '***'
    if (url.search !== '') url.search = maskQuery(url.search)
    return url.href
  } catch {
    return `(${value.length} characters, hidden)`
  }
}

/**
 * The secrets a URL carries (its password, its password query parameters), as written and
 * decoded, so they can be cut out of a driver's message that quotes the URL.
 */
export function urlSecrets(value: string): string[] {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return []
  }
  const written = [url.password, ...queryPairs(url.search).flatMap((pair) => secretIn(pair) ?? [])]
  // The query decodes `+` as a space (as the drivers' URLSearchParams does), user information not.
  const decoded = written.flatMap((secret) => [decode(secret), decode(secret.replace(/\+/g, ' '))])
  return [...new Set([...written, ...decoded])].filter((secret) => secret !== '')
}

/** `?a=1&password=x` as written, with each secret value replaced by `***`. */
function maskQuery(search: string): string {
  const pairs = queryPairs(search).map((pair) =>
    secretIn(pair) === undefined ? pair : `${pair.slice(0, pair.indexOf('='))}=***`,
  )
  return `?${pairs.join('&')}`
}

function queryPairs(search: string): string[] {
  return search === '' ? [] : search.slice(1).split('&')
}

/** The value, as written, of a `name=value` pair that holds a password; undefined for others. */
function secretIn(pair: string): string | undefined {
  const equals = pair.indexOf('=')
  const value = pair.slice(equals + 1)
  if (equals < 0 || value === '') return undefined
  const name = decode(pair.slice(0, equals).replace(/\+/g, ' ')).toLowerCase()
  return SECRET_PARAMETERS.has(name) ? value : undefined
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text // a stray `%`: keep the text as written
  }
}

// Database URLs: which dialect a URL names, where it points, and how to show it without its password.

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
  return { dialect, url: url.href, display: maskUrl(url.href) }
}

/**
 * The URL with its password replaced by `***`, for errors and logs. Text that is not a URL is
 * hidden whole, since it might still carry a secret.
 */
export function maskUrl(value: string): string {
  if (/^sqlite[0-9]*(?:\+[a-z0-9_]+)?:/i.test(value)) return value
  try {
    const url = new URL(value)
    if (url.password !== '') url.password = '***'
    return url.href
  } catch {
    return `(${value.length} characters, hidden)`
  }
}

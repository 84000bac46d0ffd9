// Database URLs: which dialect a URL names, where it points, and how to show it without its secrets.

import { percentDecodes } from '../../src/spi.js'

/** The SQL dialects the SQL sources speak: PostgreSQL, MySQL/MariaDB, SQLite. */
export type SqlDialectName = 'postgres' | 'mysql' | 'sqlite'

/** The TLS a MySQL URL asks for with `ssl-mode`, in the names MySQL's own clients give the modes. */
export type MysqlSslMode = 'DISABLED' | 'REQUIRED' | 'VERIFY_CA' | 'VERIFY_IDENTITY'

/** Where a database URL points, once parsed. */
export type DatabaseTarget =
  | {
      readonly dialect: 'postgres' | 'mysql'
      /**
       * The URL to hand the driver: the scheme normalised (`postgres:`/`mysql:`), no `+driver`,
       * and for MySQL without its `ssl-mode`, which mysql2 does not read (see `sslMode`).
       */
      readonly url: string
      /** The URL with its password masked, for errors and logs. */
      readonly display: string
      /** MySQL only: the TLS the URL's `ssl-mode` (`sslmode`, `ssl_mode`) asks for, if it has one. */
      readonly sslMode?: MysqlSslMode
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

// libpq and SQLAlchemy name a Unix socket with an empty host and the socket in the query
// (postgres://user@/db?host=/var/run/postgresql, postgres:///db?host=…&user=…); mysql2 reads
// ?socketPath=. WHATWG URLs refuse an empty host after user information, so such a URL is parsed
// with `localhost` put in: pg lets the query's host override it, mysql2 connects to socketPath.
const EMPTY_HOST = /^\/\/([^/?#]*@)?(?=[/?]|$)/
const SOCKET_EXAMPLES =
  'for a Unix socket: postgres://user@/db?host=/var/run/postgresql or mysql://user@/db?socketPath=/run/mysqld/mysqld.sock'
const NOT_ENCODED =
  'must percent-encode its user, password, host and database name: a # as %23, a / as %2F, a ? as %3F, an @ as %40 (value hidden: it may carry a password)'

function serverTarget(dialect: 'postgres' | 'mysql', rest: string): DatabaseTarget | string {
  const url = serverUrl(dialect, rest)
  if (typeof url === 'string') return url
  // A password such as `4711#Sup3r` or `2024/Xk9`, not percent-encoded, ends the user information
  // early: the user becomes the host, the digits the port, and the rest of the secret lands in the
  // fragment, path or query, where no mask would look for it. Drivers never read a fragment.
  if (rest.includes('#') || `${url.pathname}${url.search}`.includes('@')) return NOT_ENCODED
  if (url.hostname === '') return `has no host (${URL_EXAMPLES}; ${SOCKET_EXAMPLES})`
  // The drivers decode these parts when they connect: one that does not decode (a bare % in a
  // password) would throw there, at every lookup, instead of here, once.
  if (![url.username, url.password, url.hostname, url.pathname].every(percentDecodes)) {
    return 'must percent-encode its user, password, host and database name: a % as %25 (value hidden: it may carry a password)'
  }
  const display = maskUrl(url.href)
  if (dialect === 'postgres') {
    const problem = postgresQueryProblem(url)
    return problem ?? { dialect, url: url.href, display }
  }
  const tls = mysqlQuery(url)
  if (typeof tls === 'string') return tls
  return { dialect, url: url.href, display, ...tls }
}

/** The URL parsed, an empty host before a Unix socket's query read as `localhost`; or the problem. */
function serverUrl(dialect: 'postgres' | 'mysql', rest: string): URL | string {
  const empty = EMPTY_HOST.exec(rest)
  const text = empty === null ? rest : `//${empty[1] ?? ''}localhost${rest.slice(empty[0].length)}`
  let url: URL
  try {
    url = new URL(`${dialect}:${text}`)
  } catch {
    // The text may hold a password: never echo it.
    return (
      portProblem(dialect, text) ??
      `is not a valid URL: percent-encode # / ? @ % in its password (${URL_EXAMPLES}; ${SOCKET_EXAMPLES})`
    )
  }
  if (url.port === '0') return portOutOfRange(dialect)
  if (empty !== null && !namesSocket(dialect, url.searchParams)) {
    return `has no host (${URL_EXAMPLES}; ${SOCKET_EXAMPLES})`
  }
  return url
}

const DEFAULT_PORTS = { postgres: 5432, mysql: 3306 } as const

function portOutOfRange(dialect: 'postgres' | 'mysql'): string {
  return `must have a port from 1 to 65535, or none for ${DEFAULT_PORTS[dialect]} (value hidden: it may carry a password)`
}

// The port of a server URL (the text after the scheme): after the user information (up to the last
// `@` of the authority) and the host (an IPv6 one in brackets), up to the end of the authority.
const SERVER_PORT = /^\/\/(?:[^/?#]*@)?(?:\[[^\]/?#]*\]|[^:/?#@]*):([^/?#@]*)(?=[/?#]|$)/

/**
 * For a URL the parser refused over its port (`postgres://app@db:99999/authz`, `:54x2`), that the
 * port is wrong, not the password, which the URL may not even have. When an `@` follows, the "port"
 * is rather a password's start cut at a `/`, `?` or `#` (`app:987654/xyz@db`): that is left to
 * the general message, which says to percent-encode them.
 */
function portProblem(dialect: 'postgres' | 'mysql', text: string): string | undefined {
  const match = SERVER_PORT.exec(text)
  const port = match?.[1]
  if (port === undefined || port === '') return undefined
  if (/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65_535) return undefined
  if (text.slice(match![0].length).includes('@')) return undefined
  return portOutOfRange(dialect)
}

function namesSocket(dialect: 'postgres' | 'mysql', query: URLSearchParams): boolean {
  return dialect === 'postgres'
    ? (query.get('host') ?? '').startsWith('/')
    : (query.get('socketPath') ?? '') !== ''
}

const isSslModeName = (name: string): boolean =>
  name.toLowerCase().replace(/[-_]/g, '') === 'sslmode'

/** pg reads `sslmode` only: MySQL's spellings of it would be ignored, and pg would connect in clear. */
function postgresQueryProblem(url: URL): string | undefined {
  const misspelt = [...url.searchParams.keys()].find(
    (name) => isSslModeName(name) && name !== 'sslmode',
  )
  return misspelt === undefined
    ? undefined
    : `has the query option ${quoteName(misspelt)}, which pg does not read (it would connect without TLS): write sslmode`
}

// mysql2 takes every query parameter as an option of its own, and one it does not know (such as
// ssl-mode) it ignores with a console warning: `?ssl-mode=REQUIRED` would connect in clear text.
// So a MySQL URL's query may hold only the options below, which mysql2 knows and which change
// neither how lookups run nor the bounds the pool options set; its TLS mode is read here, and its
// charset checked (see UNICODE_CHARSET).
const MYSQL_QUERY_OPTIONS: ReadonlySet<string> = new Set([
  'socketPath',
  'charset',
  'ssl',
  'password1',
  'password2',
  'password3',
  'passwordSha1',
  'enableCleartextPlugin',
  'connectAttributes',
  'localAddress',
  'compress',
  'maxPreparedStatements',
])
// mysql2 encodes text for a `latin1`, `ascii` or `binary` connection with Node's latin1, which
// keeps only the low byte of each UTF-16 unit (`ŲůůŴ` becomes `root`), and the server answers in
// that charset (`Ł` becomes `?`). The store writes keys and values as hexadecimal and reads values
// back the same way, so no charset changes a lookup; but anything else sent as text would, so only
// the Unicode charsets (`utf8mb4`, `utf8`, and their collations) are taken.
const UNICODE_CHARSET = /^utf8(?:mb[34])?(?:_[a-z0-9_]+)?$/i
const MYSQL_QUERY_HINT =
  'a MySQL URL takes ssl-mode (DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY) and these mysql2 options: ' +
  [...MYSQL_QUERY_OPTIONS].join(', ')

// MySQL's mode names, and libpq's (a SQLAlchemy URL may carry either); case and `_`/`-` ignored.
const SSL_MODES: Readonly<Record<string, MysqlSslMode | 'PREFERRED'>> = {
  disabled: 'DISABLED',
  disable: 'DISABLED',
  preferred: 'PREFERRED',
  prefer: 'PREFERRED',
  allow: 'PREFERRED',
  required: 'REQUIRED',
  require: 'REQUIRED',
  'verify-ca': 'VERIFY_CA',
  'verify-identity': 'VERIFY_IDENTITY',
  'verify-full': 'VERIFY_IDENTITY',
}

/**
 * Checks a MySQL URL's query and takes its `ssl-mode` out of it (mysql2 gets it as its `ssl`
 * option instead). Returns the mode (none when the URL gives none), or the problem.
 */
function mysqlQuery(url: URL): { sslMode?: MysqlSslMode } | string {
  const names = [...url.searchParams.keys()]
  const twice = names.find((name, index) => names.indexOf(name) !== index)
  if (twice !== undefined) return `has the query option ${quoteName(twice)} twice: give it once`
  const modes = names.filter(isSslModeName)
  if (modes.length > 1) return `gives the TLS mode twice (${modes.join(', ')}): give ssl-mode once`
  const unknown = names.find((name) => !isSslModeName(name) && !MYSQL_QUERY_OPTIONS.has(name))
  if (unknown !== undefined) {
    return `has the query option ${quoteName(unknown)}, which mysql2 would ignore or which would change how lookups run; ${MYSQL_QUERY_HINT}`
  }
  const charset = url.searchParams.get('charset')
  if (charset !== null && !UNICODE_CHARSET.test(charset)) {
    return `has the charset ${quoteName(charset)}, which would change user names and values on their way to and from the server: leave it out (mysql2's default is utf8mb4) or write charset=utf8mb4`
  }
  const ssl = url.searchParams.get('ssl')
  if (ssl !== null && !sslOptionUsable(ssl)) {
    return 'has an ssl query option that is neither a JSON object nor an SSL profile name: for TLS write ssl-mode=VERIFY_IDENTITY, without it ssl-mode=DISABLED'
  }
  const name = modes[0]
  if (name === undefined) return {}
  if (ssl !== null) return `gives both ${name} and ssl: give one`
  const mode = SSL_MODES[url.searchParams.get(name)!.toLowerCase().replace(/_/g, '-')]
  if (mode === undefined) {
    return `has an ${name} that is not DISABLED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY (nor libpq's disable, require, verify-ca, verify-full)`
  }
  if (mode === 'PREFERRED') {
    return `has ${name}=PREFERRED, which mysql2 cannot do (it always or never uses TLS): write VERIFY_IDENTITY, REQUIRED or DISABLED`
  }
  // Taken out as written, so that every other option reaches mysql2 byte for byte.
  url.search = queryPairs(url.search)
    .filter((pair) => !isSslModeName(decode(pair.split('=')[0]!.replace(/\+/g, ' '))))
    .join('&')
  return { sslMode: mode }
}

/** mysql2 reads `ssl` as JSON: an object of TLS options, or a string naming one of its profiles. */
function sslOptionUsable(value: string): boolean {
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    return true // a profile name, such as "Amazon RDS"
  }
  return (
    typeof parsed === 'string' ||
    (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
  )
}

/** An option name for a message: quoted, and cut short (the query is text the user wrote). */
function quoteName(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name)
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
// mysql2 reads `ssl` as JSON, whose `key`, `passphrase` and `pfx` are a client certificate's
// private key and its password: the whole value is masked (the CA it mostly holds is not worth
// showing, and pg's `ssl` is only true or false), and those members are secrets of their own.
const TLS_PARAMETER = 'ssl'
const TLS_SECRETS = ['key', 'passphrase', 'pfx'] as const

/**
 * The URL with its password, and the value of every password query parameter (`?password=`,
 * `sslpassword=`, mysql2's `password1`…) and of mysql2's `ssl` (which can hold a private key),
 * replaced by `***`, and its fragment dropped, for errors and logs. Text that is not a URL is
 * hidden whole, since it might still carry a secret, and so is a URL with an `@` past its host:
 * its user information was cut short by a `#`, `/` or `?` that is not percent-encoded, so even its
 * "host" and "port" may be part of the password.
 */
export function maskUrl(value: string): string {
  if (/^sqlite[0-9]*(?:\+[a-z0-9_]+)?:/i.test(value)) return value
  const hidden = `(${value.length} characters, hidden)`
  try {
    const url = new URL(value)
    if (`${url.pathname}${url.search}${url.hash}`.includes('@')) return hidden
    url.hash = ''
    if (url.password !== '') url.password = '***'
    if (url.search !== '') url.search = maskQuery(url.search)
    return url.href
  } catch {
    return hidden
  }
}

/**
 * The secrets a URL carries (its password, its password query parameters, the private key and
 * passphrase in mysql2's `ssl` JSON), as written and decoded, so they can be cut out of a driver's
 * message that quotes them.
 */
export function urlSecrets(value: string): string[] {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return []
  }
  const pairs = queryPairs(url.search).map(parameter)
  const written = [url.password, ...pairs.flatMap((pair) => (isSecret(pair) ? pair.value : []))]
  // The query decodes `+` as a space (as the drivers' URLSearchParams does), user information not.
  const decoded = written.flatMap((secret) => [decode(secret), decode(secret.replace(/\+/g, ' '))])
  const tls = pairs.flatMap((pair) => (pair.name === TLS_PARAMETER ? tlsSecrets(pair.value) : []))
  return [...new Set([...written, ...decoded, ...tls])].filter((secret) => secret !== '')
}

/** `?a=1&password=x` as written, with each secret value (and `ssl`'s) replaced by `***`. */
function maskQuery(search: string): string {
  const pairs = queryPairs(search).map((text) => {
    const pair = parameter(text)
    const masked = isSecret(pair) || (pair.name === TLS_PARAMETER && pair.value !== '')
    return masked ? `${text.slice(0, text.indexOf('='))}=***` : text
  })
  return `?${pairs.join('&')}`
}

function queryPairs(search: string): string[] {
  return search === '' ? [] : search.slice(1).split('&')
}

/** A `name=value` pair: its name decoded and in lower case, its value as written (none: ''). */
function parameter(pair: string): { name: string; value: string } {
  const equals = pair.indexOf('=')
  if (equals < 0) return { name: '', value: '' }
  const name = decode(pair.slice(0, equals).replace(/\+/g, ' ')).toLowerCase()
  return { name, value: pair.slice(equals + 1) }
}

/** Whether a pair holds a password. */
function isSecret(pair: { name: string; value: string }): boolean {
  return pair.value !== '' && SECRET_PARAMETERS.has(pair.name)
}

/**
 * The strings under `key`, `passphrase` and `pfx` of an `ssl` value (as written) that is a JSON
 * object, as mysql2 reads it; node's TLS also takes them as arrays, or objects `{ pem, passphrase }`.
 */
function tlsSecrets(written: string): string[] {
  const found: string[] = []
  const collect = (value: unknown): void => {
    if (typeof value === 'string') found.push(value)
    else if (typeof value === 'object' && value !== null) Object.values(value).forEach(collect)
  }
  for (const text of new Set([decode(written), decode(written.replace(/\+/g, ' '))])) {
    let options: unknown
    try {
      options = JSON.parse(text)
    } catch {
      continue // a profile name, such as "Amazon RDS"
    }
    if (typeof options !== 'object' || options === null) continue
    for (const name of TLS_SECRETS) collect((options as Record<string, unknown>)[name])
  }
  return found
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text // a stray `%`: keep the text as written
  }
}

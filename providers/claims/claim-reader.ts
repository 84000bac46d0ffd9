// Reads a list of strings out of verified claims: nested paths, dotted keys, delimiters, prefixes.

import {
  checkOptionNames,
  Problems,
  splitScope,
  type JwtClaims,
  type OptionFlags,
} from '../../src/spi.js'

/**
 * Where a list lives in the claims. A string is first looked up as one key (so Auth0's namespaced
 * `https://example.com/roles` works as written), then as a dot path (`realm_access.roles`). An
 * array names the path's segments explicitly, for keys that contain dots themselves:
 * `['resource_access', 'orders.api', 'roles']`.
 */
export type ClaimPath = string | readonly string[]

/** Options of the claim sources. */
export interface ClaimSourceOptions {
  /** The claim to read. */
  claim?: ClaimPath
  /** Several claims, merged in order with duplicates dropped (instead of `claim`). */
  claims?: readonly ClaimPath[]
  /**
   * Splits a claim that is a string into several values: `','` reads `"a,b,c"` as three. Without
   * it, a string claim is **one** value (`"Domain Admins"` is one group: issuers such as ADFS send
   * a single value as a string, several as a list). Give `' '` to split a claim on spaces. Never
   * applies to `scope` and `scp`: they are always split on spaces (RFC 6749 §3.3), as
   * `requireScopes` reads them, whatever `delimiter` says; a tab is no separator there either.
   */
  delimiter?: string
  /** Put before every value: `ROLE_` turns `admin` into `ROLE_admin` (Spring's authorities). */
  prefix?: string
}

// Every option of the claim sources: a misspelt `clam` would read the default claim instead, and
// grant roles from a claim nobody chose.
const CLAIM_SOURCE_OPTIONS = Object.keys({
  claim: true,
  claims: true,
  delimiter: true,
  prefix: true,
} as const satisfies OptionFlags<ClaimSourceOptions>)

/** A compiled reader: claims in, a frozen list of strings out. */
export type ClaimReader = (claims: JwtClaims) => readonly string[]

/**
 * The options, when they are an object (undefined is none); else a problem, and none. A string is
 * the likely slip (the path without `{ claim }`): read as no options, it would read the default.
 */
function optionsObject(problems: Problems, name: string, options: unknown): ClaimSourceOptions {
  if (options === undefined) return {}
  if (typeof options === 'object' && options !== null && !Array.isArray(options)) {
    return options as ClaimSourceOptions
  }
  const shown = typeof options === 'string' ? JSON.stringify(options) : describeValue(options)
  const hint = typeof options === 'string' ? ` (one claim is { claim: ${shown} })` : ''
  problems.add(
    `${name}: options must be an object ({ claim, claims, delimiter, prefix }) or left out, got ${shown}${hint}`,
  )
  return {}
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'function' ? 'a function' : String(value)
}

function checkPath(problems: Problems, name: string, path: unknown): path is ClaimPath {
  const ok =
    (typeof path === 'string' && path !== '') ||
    (Array.isArray(path) &&
      path.length > 0 &&
      path.every((segment) => typeof segment === 'string' && segment !== ''))
  if (!ok) {
    problems.add(
      `${name}: claim must be a claim name, a dot path ('realm_access.roles') or a list of path segments, got ${JSON.stringify(path)}`,
    )
  }
  return ok
}

/**
 * The value at `path`, or `undefined` when a key on the way is absent (or null). A step into
 * something that is not an object (a list, a string, a number) throws like a claim of the wrong
 * shape: the path does not fit the issuer's claims, and reading "no value" would deny (or, with
 * several claims merged, grant) without a word.
 */
function lookUp(claims: JwtClaims, path: ClaimPath): unknown {
  if (typeof path !== 'string') return walk(claims, path, describePath(path))
  if (Object.hasOwn(claims, path)) return claims[path]
  if (!path.includes('.')) return undefined
  return walk(claims, path.split('.'), path)
}

function walk(claims: JwtClaims, segments: readonly string[], label: string): unknown {
  let node: unknown = claims
  for (let index = 0; index < segments.length; index += 1) {
    if (node === undefined || node === null) return undefined
    if (typeof node !== 'object' || Array.isArray(node)) {
      const walked = segments.slice(0, index).join(' › ')
      throw new TypeError(
        `claim ${label}: ${walked} is not an object, so the path cannot be followed`,
      )
    }
    const segment = segments[index]!
    node = Object.hasOwn(node, segment) ? (node as Record<string, unknown>)[segment] : undefined
  }
  return node
}

/** The scope claims, whose string form is space-separated by definition (RFC 6749 §3.3). */
function isScopeClaim(path: ClaimPath): boolean {
  const name = typeof path === 'string' ? path : path.length === 1 ? path[0] : undefined
  return name === 'scope' || name === 'scp'
}

// Only the spaces, tabs and line ends written around a delimiter (`"a, b"`, CRLF lines split on
// `\n`): `trim()` would also strip a no-break space, U+3000 or a BOM, which makes another group's
// name (`admin\u00A0`) read as `admin`, where the same name sent as a list is kept exactly.
const SURROUNDING_BLANKS = /^[ \t\r\n]+|[ \t\r\n]+$/g

function trimmed(items: readonly string[]): string[] {
  return items.map((item) => item.replace(SURROUNDING_BLANKS, '')).filter((item) => item !== '')
}

function describePath(path: ClaimPath): string {
  return typeof path === 'string' ? path : path.join(' › ')
}

/**
 * Compiles the options into a reader, validating them once. A missing claim is an empty list (a
 * token without roles has none); a string is one value unless split (see `delimiter`), a list is
 * kept as written; a claim of another shape (a number, an object, a list holding non-strings), or
 * a path that runs into something other than an object, throws, which the facet answers as 503 and
 * logs: it is a misconfigured path or a broken issuer, and guessing would grant or deny by accident.
 *
 * @throws {ConfigError} for invalid options: not an object, an unknown name, an empty claim…
 */
export function compileClaimReader(
  name: string,
  given: ClaimSourceOptions | undefined,
  defaultClaim: string,
): ClaimReader {
  const problems = new Problems()
  const options = optionsObject(problems, name, given)
  checkOptionNames(problems, name, options, CLAIM_SOURCE_OPTIONS)
  const { claim, claims } = options
  if (claim !== undefined && claims !== undefined) {
    problems.add(`${name}: give claim or claims, not both`)
  }
  if (claims !== undefined && (!Array.isArray(claims) || claims.length === 0)) {
    problems.add(`${name}: claims must be a non-empty list of claim paths`)
  }
  // Only undefined is the default: a null claim is refused, never read as "the usual one".
  const paths: ClaimPath[] = Array.isArray(claims)
    ? [...claims]
    : [claim === undefined ? defaultClaim : claim]
  paths.forEach((path) => checkPath(problems, name, path))
  const { delimiter, prefix = '' } = options
  if (delimiter !== undefined && (typeof delimiter !== 'string' || delimiter === '')) {
    problems.add(`${name}: delimiter must be a non-empty string`)
  }
  if (typeof prefix !== 'string') problems.add(`${name}: prefix must be a string`)
  problems.throwIfAny()
  // Splitting a group name on its spaces would make a member of "Domain Admins" one of "Admins":
  // only an explicit delimiter, or the scope claims' own syntax, splits a string. A delimiter
  // meant for `permissions` must not turn "orders:read orders:write" in `scope` into one value.
  const splitters = paths.map((path): ((text: string) => string[]) => {
    // requireScopes's own splitter: the two must read one scope alike (no trimming of tabs).
    if (isScopeClaim(path)) return splitScope
    if (delimiter !== undefined) return (text) => trimmed(text.split(delimiter))
    return (text) => (text === '' ? [] : [text])
  })

  return (claims) => {
    const values = new Set<string>()
    for (let index = 0; index < paths.length; index += 1) {
      const path = paths[index]!
      const value = lookUp(claims, path)
      if (value === undefined || value === null) continue
      let items: string[]
      if (typeof value === 'string') items = splitters[index]!(value)
      else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
        items = value as string[]
      } else {
        throw new TypeError(`claim ${describePath(path)} is neither a string nor a list of strings`)
      }
      for (const item of items) values.add(prefix + item)
    }
    return Object.freeze([...values])
  }
}

// The authorization tables' names: the three facets, the table and column names (validated
// identifiers) with their defaults, and the widths of the tables `sql init` creates.

import { checkOptionNames, type OptionFlags, type Problems } from '../../src/spi.js'

/** The three facets the SQL sources serve. */
export type SqlFacet = 'groups' | 'roles' | 'permissions'

/** Every facet, in the order tables are created and listed. */
export const SQL_FACETS: readonly SqlFacet[] = Object.freeze(['groups', 'roles', 'permissions'])

/** Table of each facet. Defaults: `authz_groups`, `authz_roles`, `authz_permissions`. */
export interface SqlTableNames {
  groups?: string
  roles?: string
  permissions?: string
}

/** Column names. Defaults: the seed's `username`, `id`, `group`, `role`, `permission`. */
export interface SqlColumnNames {
  /** The column holding the lookup key (the `idClaim` value). Default `username`. */
  user?: string
  /** The row id, filled by `grant`; `null` for tables without one. Default `id`. */
  id?: string | null
  groups?: string
  roles?: string
  permissions?: string
}

const TABLE_OPTIONS = Object.keys({
  groups: true,
  roles: true,
  permissions: true,
} as const satisfies OptionFlags<SqlTableNames>)
const COLUMN_OPTIONS = Object.keys({
  user: true,
  id: true,
  groups: true,
  roles: true,
  permissions: true,
} as const satisfies OptionFlags<SqlColumnNames>)

/** Table and column names, resolved and validated. */
export interface SqlSchema {
  readonly tables: Readonly<Record<SqlFacet, string>>
  readonly user: string
  readonly id: string | null
  readonly values: Readonly<Record<SqlFacet, string>>
}

/** Widest lookup key and value the default tables hold (the seed's widths). */
export const USER_WIDTH = 500
export const VALUE_WIDTH = 100

/** The length of `text` as varchar(n) counts it in PostgreSQL and MySQL: code points, not UTF-16 units. */
export function codePoints(text: string): number {
  return [...text].length
}

const DEFAULT_SCHEMA: SqlSchema = Object.freeze({
  tables: Object.freeze({
    groups: 'authz_groups',
    roles: 'authz_roles',
    permissions: 'authz_permissions',
  }),
  user: 'username',
  id: 'id',
  values: Object.freeze({ groups: 'group', roles: 'role', permissions: 'permission' }),
})

/**
 * Whether `facet` reads the default table and columns, which `sql init` creates `varchar(500)` and
 * `varchar(100)` wide: `grant` checks those widths beforehand only there. An app's own table may be
 * wider, or `text`; its database then refuses what does not fit (`tooLongError`).
 */
export function usesDefaultColumns(schema: SqlSchema, facet: SqlFacet): boolean {
  return (
    schema.tables[facet] === DEFAULT_SCHEMA.tables[facet] &&
    schema.user === DEFAULT_SCHEMA.user &&
    schema.values[facet] === DEFAULT_SCHEMA.values[facet]
  )
}

// Letters, digits and underscores, not starting with a digit; short enough that `<table>_lookup_idx`
// fits every dialect's 63/64-character limit. Identifiers are quoted as well, never interpolated.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/

function identifier(problems: Problems, name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value === 'string' && IDENTIFIER.test(value)) return value
  problems.add(
    `${name} must be an SQL identifier (letters, digits and _, not starting with a digit, at most 48 characters)${shownValue(value)}`,
  )
  return fallback
}

/** `, got "…"` for a short value that cannot be a secret; nothing for one that might (a URL put there). */
function shownValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length <= 64 && !/[:@/]/.test(text) ? `, got ${text}` : ''
}

/** Checks table and column names, adding problems; returns them with defaults applied. */
export function resolveSchema(
  problems: Problems,
  tables: SqlTableNames | undefined,
  columns: SqlColumnNames | undefined,
): SqlSchema {
  const t = objectOption(problems, 'tables', tables)
  const c = objectOption(problems, 'columns', columns)
  // A misspelt name (`group`, `usr`) would silently read the default table or column.
  checkOptionNames(problems, 'tables', t, TABLE_OPTIONS)
  checkOptionNames(problems, 'columns', c, COLUMN_OPTIONS)
  const pick = (group: 'tables' | 'columns', facet: SqlFacet, source: Record<string, unknown>) =>
    identifier(
      problems,
      `${group}.${facet}`,
      source[facet],
      group === 'tables' ? DEFAULT_SCHEMA.tables[facet] : DEFAULT_SCHEMA.values[facet],
    )
  const schema: SqlSchema = {
    tables: Object.freeze({
      groups: pick('tables', 'groups', t),
      roles: pick('tables', 'roles', t),
      permissions: pick('tables', 'permissions', t),
    }),
    user: identifier(problems, 'columns.user', c['user'], DEFAULT_SCHEMA.user),
    id: c['id'] === null ? null : identifier(problems, 'columns.id', c['id'], 'id'),
    values: Object.freeze({
      groups: pick('columns', 'groups', c),
      roles: pick('columns', 'roles', c),
      permissions: pick('columns', 'permissions', c),
    }),
  }
  // Compared without case, as SQLite and MySQL (lower_case_table_names) name tables: two facets in
  // one table would grant one facet's values as the other's.
  const names = Object.values(schema.tables).map((name) => name.toLowerCase())
  if (new Set(names).size !== names.length) {
    problems.add('tables must name a different table for each facet')
  }
  checkDistinctColumns(problems, schema)
  return Object.freeze(schema)
}

/**
 * Each table's user, id and value columns must be three columns: with `columns: { user: 'group' }`
 * the lookup reads `where "group" = <key>`, and a user whose id is a group's name gets that group.
 * Compared without case, as MySQL and SQLite compare column names.
 */
function checkDistinctColumns(problems: Problems, schema: SqlSchema): void {
  const reported = new Set<string>()
  for (const facet of SQL_FACETS) {
    const named: [string, string][] = [['columns.user', schema.user]]
    if (schema.id !== null) named.push(['columns.id', schema.id])
    named.push([`columns.${facet}`, schema.values[facet]])
    named.forEach(([first, column], index) => {
      const same = named.slice(index + 1).find(([, other]) => sameName(column, other))
      if (same === undefined) return
      reported.add(
        `${first} and ${same[0]} both name the column ${JSON.stringify(column)}: each must name a different column`,
      )
    })
  }
  for (const problem of reported) problems.add(problem)
}

/** Whether two table or column names are one, compared without case as MySQL and SQLite do. */
export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

function objectOption(problems: Problems, name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value === 'object' && value !== null) return value as Record<string, unknown>
  problems.add(`${name} must be an object`)
  return {}
}

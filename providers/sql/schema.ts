// The authorization tables: their names (validated identifiers) and their DDL in each dialect.

import type * as KyselyModule from 'kysely'
import type { Kysely } from 'kysely'
import type { Problems } from '../../src/spi.js'
import type { SqlDialectName } from './url.js'

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

// Letters, digits and underscores, not starting with a digit; short enough that `<table>_lookup_idx`
// fits every dialect's 63/64-character limit. Identifiers are quoted as well, never interpolated.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/

function identifier(problems: Problems, name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value === 'string' && IDENTIFIER.test(value)) return value
  problems.add(
    `${name} must be an SQL identifier (letters, digits and _, not starting with a digit, at most 48 characters), got ${JSON.stringify(value)}`,
  )
  return fallback
}

/** Checks table and column names, adding problems; returns them with defaults applied. */
export function resolveSchema(
  problems: Problems,
  tables: SqlTableNames | undefined,
  columns: SqlColumnNames | undefined,
): SqlSchema {
  const t = objectOption(problems, 'tables', tables)
  const c = objectOption(problems, 'columns', columns)
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
  const names = Object.values(schema.tables)
  if (new Set(names).size !== names.length) {
    problems.add('tables must name a different table for each facet')
  }
  return Object.freeze(schema)
}

function objectOption(problems: Problems, name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value === 'object' && value !== null) return value as Record<string, unknown>
  problems.add(`${name} must be an object`)
  return {}
}

/** The unique index over (user, value): it serves lookups and keeps a grant from being stored twice. */
export function indexName(schema: SqlSchema, facet: SqlFacet): string {
  return `${schema.tables[facet]}_lookup_idx`
}

/**
 * The statements that create one facet's table and index, if missing. Tables keep the seed's
 * shape (`id`, `username`, `group`), so the seed's existing tables work unchanged; MySQL tables
 * compare with a binary collation, so `Alice` never matches `alice`.
 */
export function schemaStatements(
  db: Kysely<unknown>,
  kysely: typeof KyselyModule,
  dialect: SqlDialectName,
  schema: SqlSchema,
  facet: SqlFacet,
): KyselyModule.Compilable[] {
  const { sql } = kysely
  let table = db.schema.createTable(schema.tables[facet]).ifNotExists()
  if (schema.id !== null) {
    table = table.addColumn(schema.id, 'varchar(36)', (column) =>
      column.primaryKey().notNull().defaultTo(RANDOM_ID[dialect](sql)),
    )
  }
  table = table
    .addColumn(schema.user, `varchar(${USER_WIDTH})`, (column) => column.notNull())
    .addColumn(schema.values[facet], `varchar(${VALUE_WIDTH})`, (column) => column.notNull())
  if (dialect === 'mysql') table = table.modifyEnd(sql`character set utf8mb4 collate utf8mb4_bin`)
  let index = db.schema
    .createIndex(indexName(schema, facet))
    .unique()
    .on(schema.tables[facet])
    .columns([schema.user, schema.values[facet]])
  // MySQL has no CREATE INDEX IF NOT EXISTS; the store ignores its duplicate-key error instead.
  if (dialect !== 'mysql') index = index.ifNotExists()
  return [table, index]
}

type SqlTag = (typeof KyselyModule)['sql']

// A database-side default, so rows inserted by hand get an id too; `grant` sets its own.
const RANDOM_ID: Readonly<
  Record<SqlDialectName, (sql: SqlTag) => KyselyModule.RawBuilder<unknown>>
> = {
  postgres: (sql) => sql`gen_random_uuid()::text`,
  mysql: (sql) => sql`(uuid())`,
  sqlite: (sql) => sql`(lower(hex(randomblob(16))))`,
}

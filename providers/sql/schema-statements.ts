// The statements that create the authorization tables and their unique indexes, in each dialect.

import type * as KyselyModule from 'kysely'
import type { Kysely } from 'kysely'
import { loadKysely, offlineDialect } from './drivers.js'
import type { SqlTag } from './exact-text.js'
import { SQL_FACETS, USER_WIDTH, VALUE_WIDTH, type SqlFacet, type SqlSchema } from './schema.js'
import type { SqlDialectName } from './url.js'

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

/** Every facet's statements, compiled for `dialect` without any connection. */
export async function offlineStatements(
  dialect: SqlDialectName,
  schema: SqlSchema,
): Promise<string[]> {
  const kysely = await loadKysely()
  const db = new kysely.Kysely<unknown>({ dialect: offlineDialect(kysely, dialect) })
  return SQL_FACETS.flatMap((facet) =>
    schemaStatements(db, kysely, dialect, schema, facet).map(
      (statement) => statement.compile().sql,
    ),
  )
}

// A database-side default, so rows inserted by hand get an id too; `grant` sets its own.
const RANDOM_ID: Readonly<
  Record<SqlDialectName, (sql: SqlTag) => KyselyModule.RawBuilder<unknown>>
> = {
  postgres: (sql) => sql`gen_random_uuid()::text`,
  mysql: (sql) => sql`(uuid())`,
  sqlite: (sql) => sql`(lower(hex(randomblob(16))))`,
}

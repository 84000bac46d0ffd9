// oidc-guard/providers/sql: groups, roles and permissions from PostgreSQL, MySQL/MariaDB or SQLite.

export type { KyselyClient, SqlClient, SqlPoolOptions } from './connection.js'
export { sqlSourcesEnv } from './env.js'
export {
  SQL_FACETS,
  type SqlColumnNames,
  type SqlFacet,
  type SqlSchema,
  type SqlTableNames,
} from './schema.js'
export {
  lookupKey,
  SqlGroupsProvider,
  SqlPermissionsProvider,
  SqlRolesProvider,
  type SqlSourceOptions,
} from './sources.js'
export { SqlAuthzStore, type SqlStoreOptions } from './store.js'
export { maskUrl, parseDatabaseUrl, type DatabaseTarget, type SqlDialectName } from './url.js'

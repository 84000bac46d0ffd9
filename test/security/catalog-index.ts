// Where each row of the security catalog (../shared/research/security-catalog.md) is proven: a
// test, a known gap (an it.fails test naming the bug), or a one-line reason it does not apply.

import type { Row } from './harness.js'
import { AUTHZ_ROWS, OPS_ROWS } from './rows/authz.js'
import { CLM_ROWS, TYP_ROWS } from './rows/claims.js'
import { HTTP_ROWS } from './rows/http.js'
import { HDR_ROWS, PARSE_ROWS, SIG_ROWS } from './rows/tokens.js'

/** One piece of evidence for a catalog row. */
export type IndexEntry =
  /**
   * A test whose title contains `name` (a literal of `file`), or a row of the catalog tables; for
   * a table-driven test, `case` names the table entry (also a literal of `file`).
   */
  | { readonly kind: 'test'; readonly file: string; readonly name: string; readonly case?: string }
  /** A script outside `npm test` (the soak). */
  | { readonly kind: 'script'; readonly file: string; readonly name: string }
  /** A row the library does not meet yet: an `it.fails` test, and the bug in one line. */
  | { readonly kind: 'gap'; readonly file: string; readonly name: string; readonly bug: string }
  /** Why the row does not apply to a resource server built with oidc-guard, in one line. */
  | { readonly kind: 'n/a'; readonly reason: string }
  /** Waiting for code that has not landed; fails the index test once `until` exists. */
  | { readonly kind: 'pending'; readonly until: string; readonly reason: string }

const CATALOG = 'test/security/catalog.test.ts'
const ORDER = 'test/security/check-order.test.ts'
const OUTAGES = 'test/security/outages.test.ts'
const JWKS = 'test/security/jwks.test.ts'
const FUZZ = 'test/security/fuzz.test.ts'
const LOGS = 'test/security/logs.test.ts'
const COGNITO_UNIT = 'test/unit/cognito-provider.test.ts'
const COGNITO_HTTP = 'test/http/cognito.test.ts'
const ENTRA_UNIT = 'test/unit/entra-provider.test.ts'
const ENTRA_HTTP = 'test/http/entra.test.ts'
const PIPELINE = 'test/unit/pipeline.test.ts'

const test = (file: string, name: string, entry?: string): IndexEntry =>
  entry === undefined ? { kind: 'test', file, name } : { kind: 'test', file, name, case: entry }
const FAILING_ENDPOINT =
  '%s: 503 with Retry-After, handler not run; the next request after recovery passes'
const LYING_DISCOVERY = '%s: 503, no token accepted, nothing fetched but discovery'
const FAILING_SOURCE =
  'a %s source that answers "%s": 503 on the guarded route, handler not run, other routes served, then recovery with the cache on'

/** The rows of the HTTP tables in test/security/rows, run by catalog.test.ts. */
export const TABLE_ROWS: readonly Row[] = [
  ...HTTP_ROWS,
  ...PARSE_ROWS,
  ...SIG_ROWS,
  ...HDR_ROWS,
  ...CLM_ROWS,
  ...TYP_ROWS,
  ...AUTHZ_ROWS,
  ...OPS_ROWS,
]

/** Evidence beyond the tables: dedicated tests, existing suites, gaps, rows that do not apply. */
const MAPPED: Readonly<Record<string, readonly IndexEntry[]>> = {
  'HTTP-06': [test(FUZZ, 'the counterexamples of that bug, as plain cases')],
  'HTTP-11': [
    test(
      CATALOG,
      'HTTP-11: control characters (NUL, CR, LF) are refused by Node before the middleware, never a 500',
    ),
  ],
  'HTTP-12': [test('test/http/transports.test.ts', 'HTTP-12: ignores ?access_token= by default')],
  'HTTP-13': [
    test(
      'test/http/transports.test.ts',
      'HTTP-13: a header and a query token together are 400 invalid_request',
    ),
  ],
  'SIG-15': [
    test(
      JWKS,
      'SIG-15: a 1024-bit RSA key and a key with e = 3 are never used, and logged once per fetch as unusable',
    ),
  ],
  'SIG-16': [test(PIPELINE, 'refuses HMAC, none and unknown algorithms, listing every problem')],
  'SIG-17': [
    test(
      CATALOG,
      'SIG-17: a remembered token’s header and payload under a garbage signature, then the token past exp',
    ),
  ],
  'CLM-07': [
    test(CATALOG, 'CLM-07: a far-future exp is refused when maxTokenLifetimeSec is configured'),
  ],
  'CLM-11': [test(CATALOG, 'CLM-11: a Cognito ID token without iat is refused under tokenUse id')],
  'CLM-21': [
    test(
      CATALOG,
      'CLM-21: a Cognito ID token with an extra untrusted audience and no azp is refused',
    ),
  ],
  'TYP-01': [
    test(COGNITO_UNIT, 'COG-01 / TYP-01: an ID token where access tokens are expected'),
    test(ENTRA_HTTP, 'ENT-08: an ID token sent to the API is 401'),
  ],
  'TYP-02': [test(CATALOG, 'TYP-02: a logout token is refused on the default route')],
  'TYP-04': [
    test(
      COGNITO_UNIT,
      'COG-10 / PARSE-02 / TYP-04: a refresh token (five-part JWE) is refused as malformed, without any key fetch',
    ),
  ],
  'JWKS-01': [test(JWKS, 'JWKS-01: no kid and one usable key: accepted')],
  'JWKS-02': [
    test(JWKS, 'JWKS-02: no kid and several usable keys: refused, never "first key wins"'),
  ],
  'JWKS-03': [
    test(
      OUTAGES,
      '1,000 tokens with random unknown kids over three cooldowns: at most one fetch per cooldown, valid tokens pass throughout',
    ),
    test(
      'test/unit/jwks-cache.test.ts',
      '1,000 unknown kids within one second cause one fetch per 30 s cooldown; the real kid keeps working',
    ),
  ],
  'JWKS-04': [test(OUTAGES, 'an empty key set does not lift the cooldown: no fetch per request')],
  'JWKS-05': [
    test(
      OUTAGES,
      'a flood while the refetch fails keeps the cached keys: valid tokens pass, forged ones get 401',
    ),
  ],
  'JWKS-06': [
    test(
      OUTAGES,
      '200 concurrent requests on a cold cache: one discovery, one key fetch, all pass',
    ),
  ],
  'JWKS-07': [
    test(OUTAGES, FAILING_ENDPOINT, 'answers 503'),
    test(OUTAGES, 'refuses connections: 503'),
    test(
      OUTAGES,
      'within the back-off a second request is answered at once, without another fetch',
    ),
  ],
  'JWKS-08': [
    test(
      OUTAGES,
      '%s after the refresh interval: the last good keys keep serving, unknown kids get 401',
    ),
  ],
  'JWKS-09': [
    test(OUTAGES, FAILING_ENDPOINT, 'hangs past the time-out'),
    test(OUTAGES, FAILING_ENDPOINT, 'is slower than the time-out'),
    test(
      OUTAGES,
      'a hanging refetch for an unknown kid never queues requests whose key is cached (JWKS-09)',
    ),
  ],
  'JWKS-10': [
    test(OUTAGES, FAILING_ENDPOINT, 'answers 5 MB'),
    test(OUTAGES, 'streams an endless chunked body: cut off at the size cap, 503'),
  ],
  'JWKS-11': [
    test(OUTAGES, FAILING_ENDPOINT, 'answers an HTML page with 200'),
    test(OUTAGES, FAILING_ENDPOINT, 'answers {"keys":"x"}'),
    test(OUTAGES, 'JWKS-11: a refresh answering keys that are not objects keeps the last good set'),
  ],
  'JWKS-12': [test(OUTAGES, FAILING_ENDPOINT, 'redirects to the attacker')],
  'JWKS-13': [test(JWKS, 'JWKS-13: the only key with the kid is an encryption key (use: enc)')],
  'JWKS-14': [test(JWKS, 'JWKS-14: key_ops without verify')],
  'JWKS-15': [test(JWKS, 'JWKS-15: the JWK alg differs from the token alg')],
  'JWKS-16': [test(JWKS, 'JWKS-16: an ES256 token whose kid names an RSA key')],
  'JWKS-17': [
    test(JWKS, 'JWKS-17: two different keys share the kid, the token signed by the second'),
  ],
  'JWKS-18': [test(JWKS, 'JWKS-18: unusable keys beside the good one are ignored')],
  'JWKS-19': [
    test(JWKS, 'JWKS-19: a key without use and without alg is accepted'),
    test(ENTRA_UNIT, 'JWKS-19: Entra’s keys carry no alg'),
  ],
  'JWKS-20': [
    test(OUTAGES, 'key rotation mid-traffic: no token a correct server would accept is refused'),
    test(
      OUTAGES,
      'a key published since the last fetch is found by exactly one refetch once the cooldown allows it',
    ),
  ],
  'JWKS-21': [
    test(OUTAGES, 'key rotation mid-traffic: no token a correct server would accept is refused'),
    test('test/unit/token-cache.test.ts', 'drops tokens whose key left the published set'),
  ],
  'JWKS-22': [test(OUTAGES, 'no refetch before the refresh interval, one after it')],
  'JWKS-23': [
    test(JWKS, 'JWKS-23: iss says A but kid and signature are B’s: each issuer has its own set'),
  ],
  'JWKS-24': [test(OUTAGES, LYING_DISCOVERY, 'names another issuer (JWKS-24)')],
  'JWKS-25': [
    test(OUTAGES, LYING_DISCOVERY, 'names a plain-http jwks_uri for an https issuer (JWKS-25)'),
    test(OUTAGES, LYING_DISCOVERY, 'names a relative jwks_uri (JWKS-25)'),
    test(OUTAGES, LYING_DISCOVERY, 'names a jwks_uri with credentials (JWKS-25)'),
  ],
  'JWKS-26': [test(OUTAGES, LYING_DISCOVERY, 'names no jwks_uri (JWKS-26)')],
  'JWKS-27': [
    test(
      OUTAGES,
      'a failed discovery is retried after a short back-off, not kept as the answer (JWKS-27)',
    ),
  ],
  'COG-01': [
    test(COGNITO_UNIT, 'COG-01 / TYP-01: an ID token where access tokens are expected'),
    test(ORDER, 'an ID token where access tokens are expected'),
  ],
  'COG-02': [test(COGNITO_UNIT, 'COG-02: an access token where ID tokens are expected')],
  'COG-03': [test(COGNITO_UNIT, 'COG-03: token_use %s: 401 even with tokenUse any')],
  'COG-04': [
    test(
      COGNITO_UNIT,
      'COG-04: an access token of another app client of the pool: 401 audience mismatch',
    ),
    test(ORDER, 'another app client'),
  ],
  'COG-05': [test(COGNITO_UNIT, 'COG-05: an access token naming our client in aud only')],
  'COG-06': [
    test(
      COGNITO_UNIT,
      'COG-06: a token of another pool of the same region: refused, at most one extra key fetch',
    ),
  ],
  'COG-07': [test(COGNITO_UNIT, 'COG-07: an issuer with %s: 401 and no outbound request')],
  'COG-08': [test(COGNITO_UNIT, 'COG-08: refuses %s with a ConfigError naming the setting')],
  'COG-09': [
    test(
      COGNITO_HTTP,
      'COG-09: an M2M token: 200 on scope and M2M routes, groups [] and 403 on group routes',
    ),
  ],
  'COG-10': [
    test(
      COGNITO_UNIT,
      'COG-10 / PARSE-02 / TYP-04: a refresh token (five-part JWE) is refused as malformed',
    ),
  ],
  'COG-11': [
    test(
      COGNITO_HTTP,
      'COG-11: custom:role = admin written by the user grants neither the group nor the role',
    ),
  ],
  'COG-12': [test(COGNITO_HTTP, 'COG-12: cognito:groups as %s: %i, never 500')],
  'COG-13': [
    test(
      COGNITO_UNIT,
      'COG-13: a revoked but unexpired token still verifies offline (documented limitation)',
    ),
    test('test/unit/revocation.test.ts', 'revokeToken(jti) matches jti and Cognito’s origin_jti'),
  ],
  'ENT-01': [
    test(ENTRA_HTTP, 'ENT-01: a token of another tenant is 401'),
    test(ORDER, 'another tenant (ENT-01)'),
  ],
  'ENT-02': [
    test(ENTRA_HTTP, 'ENT-02: a tenant outside the allow-list is 401 saying so'),
    test(ENTRA_UNIT, 'ENT-02: multi-tenant without allowedTenants'),
    test(ORDER, 'a tenant outside the allow-list (ENT-02)'),
  ],
  'ENT-03': [test(ENTRA_UNIT, 'ENT-03: iss and tid must agree (%s)')],
  'ENT-04': [test(ENTRA_UNIT, 'ENT-04: refuses %s')],
  'ENT-05': [
    test(ENTRA_UNIT, 'ENT-05: v1 and v2 tokens, with both audience forms, when v1 is accepted'),
    test(ENTRA_UNIT, 'v1 without its trailing slash'),
  ],
  'ENT-06': [test(ENTRA_UNIT, 'ENT-06: refuses issuers of other clouds and B2C hosts')],
  'ENT-07': [test(ENTRA_HTTP, 'ENT-07: a Microsoft Graph token is 401 with a clear description')],
  'ENT-08': [test(ENTRA_HTTP, 'ENT-08: an ID token sent to the API is 401')],
  'ENT-09': [
    test(
      ENTRA_HTTP,
      'ENT-09: an app-only token is M2M: scopes 403, its app role and m2m routes 200',
    ),
  ],
  'ENT-10': [
    test(ENTRA_HTTP, 'ENT-10: a delegated scope is not a role, and an app role is not a scope'),
  ],
  'ENT-11': [
    test(ENTRA_UNIT, 'ENT-11: only approved client applications, by azp (v2) or appid (v1)'),
    test(ORDER, 'a client app not approved (ENT-11)'),
  ],
  'ENT-12': [
    test(
      ENTRA_UNIT,
      'ENT-12: users of two tenants sharing an email and username get different ids',
    ),
  ],
  'ENT-13': [
    test(
      ENTRA_HTTP,
      'ENT-13: overage without a resolver answers 403 saying why, on the groups route only',
    ),
    test(
      ENTRA_HTTP,
      'ENT-13: overage resolved through Microsoft Graph; the token’s endpoint is never called',
    ),
  ],
  'ENT-14': [
    test(ENTRA_UNIT, 'ENT-14: app-specific signing keys only with appSigningKeys (…/keys?appid=)'),
  ],
  'ENT-15': [test(ENTRA_HTTP, 'ENT-15: a personal account with tenantId organizations is 401')],
  'AUTHZ-01': [
    test(
      ORDER,
      "under invalidToken: 'anonymous' a bad token still answers 401 with its reason, never 403",
    ),
  ],
  'AUTHZ-04': [
    test(
      CATALOG,
      'AUTHZ-04 / AUTHZ-05: a string instead of a list, and vacuous guards, are refused when the route is defined',
    ),
  ],
  'AUTHZ-05': [
    test(
      CATALOG,
      'AUTHZ-04 / AUTHZ-05: a string instead of a list, and vacuous guards, are refused when the route is defined',
    ),
  ],
  'AUTHZ-08': [
    test(OUTAGES, FAILING_SOURCE, "'throw'"),
    test(OUTAGES, FAILING_SOURCE, "'nonsense'"),
  ],
  'AUTHZ-09': [test(OUTAGES, FAILING_SOURCE, "'hang'")],
  'AUTHZ-10': [
    test(
      'test/http/authorization.test.ts',
      'a facet is fetched once per request however many guards and handlers await it',
    ),
  ],
  'AUTHZ-11': [
    test(OUTAGES, FAILING_SOURCE, "'throw'"),
    test('test/unit/enrichment.test.ts', 'failures are not cached: the next request asks again'),
  ],
  'AUTHZ-12': [
    test(
      'test/http/sql.test.ts',
      'lets no SQL injection attempt in the lookup value reach anyone’s rights or the schema',
    ),
  ],
  'AUTHZ-13': [
    test('test/unit/sql-store.test.ts', 'is the idClaim of a token user, sub by default'),
  ],
  'AUTHZ-14': [
    {
      kind: 'n/a',
      reason:
        'no UserInfo-backed profile source exists; the Cognito profile source asks AWS by the verified token’s own username or with the token itself',
    },
  ],
  'AUTHZ-15': [
    test(
      COGNITO_HTTP,
      'COG-09: an M2M token: 200 on scope and M2M routes, groups [] and 403 on group routes',
    ),
  ],
  'OPS-01': [
    test(
      FUZZ,
      'random and mutated Authorization headers never authenticate, never throw, never reach next(error)',
    ),
    test(
      FUZZ,
      'every mutation of a valid token (bit flips per segment, truncations, re-encodings, random JSON, unicode) is refused with 400 or 401',
    ),
    test(FUZZ, 'random valid claim sets verify, with the subject they carry'),
    test(FUZZ, 'no 500, no handler run, whatever the Authorization header'),
    test(
      'test/unit/differential.test.ts',
      'DIFF valid tokens with random claim sets (RS256 and ES256)',
    ),
    test(
      FUZZ,
      'never accepts any header the grammar rejects (tabs, NBSP and other white space included)',
    ),
  ],
  'OPS-02': [
    test(
      LOGS,
      'every rejection path of the catalog (HTTP, PARSE, SIG, HDR, CLM, TYP, AUTHZ, OPS rows)',
    ),
    test(LOGS, 'keys down, discovery down, a throwing provider, failing and hanging sources'),
    test('test/http/no-secrets-in-logs.test.ts', 'no credential of any scheme reaches a log line'),
    test(
      LOGS,
      "a source whose error carries the user's token (an HTTP client error) keeps it out of the logs",
    ),
  ],
  'OPS-03': [
    test(
      CATALOG,
      'OPS-03: every error_description answered is a fixed text of the library, never input',
    ),
  ],
  'OPS-04': [{ kind: 'script', file: 'test/soak/soak.ts', name: 'npm run soak' }],
  'OPS-06': [
    test(
      'test/http/disabled.test.ts',
      'is refused under NODE_ENV=production, unless explicitly allowed',
    ),
    test('test/http/disabled.test.ts', 'logs a warning at start-up'),
  ],
  'OPS-07': [
    test(PIPELINE, 'requires an audience, and accepts null as a deliberate opt-out'),
    test(PIPELINE, 'refuses HMAC, none and unknown algorithms, listing every problem'),
    test(PIPELINE, 'refuses plain-http issuers in production, except on loopback'),
    test(PIPELINE, 'refuses a key URL with %s'),
  ],
}

function merged(): Readonly<Record<string, readonly IndexEntry[]>> {
  const index: Record<string, IndexEntry[]> = {}
  for (const row of TABLE_ROWS) (index[row.id] ??= []).push(test(CATALOG, `${row.id}: ${row.what}`))
  for (const [id, entries] of Object.entries(MAPPED)) (index[id] ??= []).push(...entries)
  return index
}

/** Every catalog row id → its evidence. */
export const CATALOG_INDEX: Readonly<Record<string, readonly IndexEntry[]>> = merged()

/** Where the catalog is, relative to the repository root (CI checks ../shared out beside the clone). */
export const CATALOG_PATH = '../shared/research/security-catalog.md'

/**
 * Rows this repository adds beyond the shared catalog (read-only here), each proven like a catalog
 * row: SIG-18, weak Ed25519 keys, is SIG-15 (weak RSA keys) for EdDSA. Should the catalog ever
 * number a row of its own the same, the index test finds the id twice.
 */
export const LOCAL_ROW_IDS: readonly string[] = ['SIG-18']

/** The row ids of the catalog's main table, in order, each local row after the last of its family. */
export function catalogIds(markdown: string): string[] {
  const ids = [...markdown.matchAll(/^\| ([A-Z]+-\d{2}) \|/gm)].map((match) => match[1]!)
  for (const id of LOCAL_ROW_IDS) {
    const family = `${id.split('-')[0]!}-`
    const last = ids.findLastIndex((other) => other.startsWith(family))
    ids.splice(last === -1 ? ids.length : last + 1, 0, id)
  }
  return ids
}

/** A row not met yet: a known gap, or one waiting for code that has not landed. */
export type OpenEntry = Extract<IndexEntry, { kind: 'gap' | 'pending' }>

/** The rows `index` marks as not met yet, in catalog order. */
export function openRows(
  ids: readonly string[],
  index: Readonly<Record<string, readonly IndexEntry[]>> = CATALOG_INDEX,
): { readonly id: string; readonly entry: OpenEntry }[] {
  return ids.flatMap((id) =>
    (index[id] ?? []).flatMap((entry) =>
      entry.kind === 'gap' || entry.kind === 'pending' ? [{ id, entry }] : [],
    ),
  )
}

/**
 * The "Known gaps" list of docs/security.md. Derived from the index, like the table, so that a
 * closed gap cannot linger in the docs and an open one cannot go unmentioned.
 */
export function renderGaps(
  ids: readonly string[],
  index: Readonly<Record<string, readonly IndexEntry[]>> = CATALOG_INDEX,
): string {
  const open = openRows(ids, index)
  if (open.length === 0) return 'None: every row of the catalog is met or does not apply.'
  return open
    .map(({ id, entry }) =>
      entry.kind === 'gap'
        ? `- ${id}: ${entry.bug} (it.fails in \`${entry.file}\` › ${entry.name})`
        : `- ${id}: pending: ${entry.reason}`,
    )
    .join('\n')
}

/** The markdown table of docs/security.md listing every row and its evidence. */
export function renderIndex(ids: readonly string[]): string {
  const lines = ['| row | where it is proven |', '|---|---|']
  for (const id of ids) {
    const evidence = (CATALOG_INDEX[id] ?? []).map((entry) => {
      switch (entry.kind) {
        case 'test': {
          const { file, name, case: label } = entry
          const bare = label?.replace(/^'|'$/g, '')
          const title =
            bare === undefined
              ? name
              : name.split('%s').length === 2
                ? name.replace('%s', bare)
                : `${name.replaceAll('%s', '…')} (case: ${bare})`
          return `\`${file}\` › ${title}`
        }
        case 'script':
          return `\`${entry.file}\` (${entry.name})`
        case 'gap':
          return `**known gap** (it.fails in \`${entry.file}\` › ${entry.name}): ${entry.bug}`
        case 'n/a':
          return `does not apply: ${entry.reason}`
        case 'pending':
          return `pending: ${entry.reason}`
      }
    })
    lines.push(`| ${id} | ${evidence.join('<br>').replaceAll('|', '\\|')} |`)
  }
  return lines.join('\n')
}

// Provider routing, prepared once at construction: the providers, their sources, the issuer Map and
// the groups of issuers naming the same users.

import type { JwtProvider } from './contracts.js'
import { envOf, EnvReader } from './env.js'
import { DEFAULT_MAX_TOKEN_LENGTH } from './jwt.js'
import { Problems } from './options.js'
import type { UserSources } from './user.js'
import { hasMethod, type VerifierOptions } from './verifier-options.js'

/** The providers given as `provider` or `providers`, each checked to be one (none is a problem). */
export function resolveProviders(
  problems: Problems,
  options: VerifierOptions,
): readonly JwtProvider[] {
  const { provider, providers } = options
  if (provider !== undefined && providers !== undefined) {
    problems.add('give either provider or providers, not both')
  }
  const list = providers ?? (provider === undefined ? [] : [provider])
  if (!Array.isArray(list) || list.length === 0) {
    problems.add(noProvider(options))
    return []
  }
  list.forEach((candidate: unknown, index) => {
    const ok =
      hasMethod(candidate, 'verifyToken') &&
      hasMethod(candidate, 'createUser') &&
      Array.isArray((candidate as JwtProvider).issuers)
    const first = list.indexOf(candidate)
    if (!ok)
      problems.add(`providers[${index}] is not a provider (verifyToken, createUser, issuers)`)
    else if (first !== index)
      problems.add(
        `providers[${index}] is providers[${first}] (${JSON.stringify((candidate as JwtProvider).name)}) listed twice: list each provider once`,
      )
  })
  return list
}

/**
 * Why no provider is a problem. jwtAuth verifies through createVerifier, so one message serves
 * both, naming both. `providers: []` with AUTH_MIDDLEWARE_DISABLED=true and no AUTH_PROVIDER is
 * fromEnv()'s under the disabled switch, which makes AUTH_PROVIDER optional for jwtAuth alone:
 * said in those terms, as the variables are all the user wrote.
 */
function noProvider(options: VerifierOptions): string {
  if (!Array.isArray(options.providers) || !disabledWithoutProvider(options)) {
    return 'a provider is required: give createVerifier or jwtAuth provider: new JwksProvider({...}), or providers: [...]'
  }
  // jwtAuth reaches here only with disabled: false; without it, only createVerifier does.
  return (options as { disabled?: unknown }).disabled === false
    ? 'no provider: AUTH_PROVIDER is unset, which AUTH_MIDDLEWARE_DISABLED=true allows only while authentication is off; with disabled: false, jwtAuth verifies tokens and needs one, as createVerifier does: set AUTH_PROVIDER'
    : 'no provider: AUTH_PROVIDER is unset, which AUTH_MIDDLEWARE_DISABLED=true allows for jwtAuth alone (it then verifies nothing); createVerifier ignores disabled and verifies every token, so it needs one: set AUTH_PROVIDER'
}

/** Whether the `env` given says AUTH_MIDDLEWARE_DISABLED=true and sets no AUTH_PROVIDER. */
function disabledWithoutProvider(options: VerifierOptions): boolean {
  // Its problems (a value that is not true or false…) are reported where the switch is resolved.
  const env = new EnvReader(envOf(options.env), new Problems())
  return env.boolean('AUTH_MIDDLEWARE_DISABLED') === true && env.peek('AUTH_PROVIDER') === undefined
}

/** Whether `providers[index]` is listed earlier too: said once by resolveProviders, then skipped. */
function repeated(providers: readonly JwtProvider[], index: number): boolean {
  return providers.indexOf(providers[index]!) !== index
}

/** Each provider's sources: the explicit options, else the provider's defaults, facet by facet. */
export function sourcesFor(provider: JwtProvider, explicit: UserSources): UserSources {
  const defaults = provider.defaultSources ?? {}
  return {
    groups: explicit.groups ?? defaults.groups,
    roles: explicit.roles ?? defaults.roles,
    permissions: explicit.permissions ?? defaults.permissions,
    profile: explicit.profile ?? defaults.profile,
  }
}

/** A provider as problems name it: its own place in the list and its name. */
function label(providers: readonly JwtProvider[], index: number): string {
  return `providers[${index}] (${JSON.stringify(providers[index]?.name)})`
}

/**
 * Builds the issuer → provider Map once; two providers may not accept one issuer: which of them the
 * token was meant for cannot be told, and the other would never get it. A provider's refused
 * issuers (Entra ID: its tenant's version it does not take) come after every accepted one and only
 * where no provider accepts them: they keep a tenant's tokens from a provider taking any tenant,
 * never from one that names the issuer (two Entra providers naming one tenant are refused by
 * checkTemplates).
 */
export function routeTable(
  problems: Problems,
  providers: readonly JwtProvider[],
): Map<string, JwtProvider> {
  const table = new Map<string, JwtProvider>()
  // Each issuer's provider by its place in the list, for the problems: one instance listed twice is
  // said once, as such, by resolveProviders.
  const owners = new Map<string, number>()
  providers.forEach((provider, index) => {
    if (repeated(providers, index)) return
    for (const issuer of provider?.issuers ?? []) {
      const owner = owners.get(issuer)
      if (owner !== undefined) {
        problems.add(
          `two providers accept the issuer ${JSON.stringify(issuer)}: ${label(providers, owner)} and ${label(providers, index)}; give it to one of them`,
        )
      }
      owners.set(issuer, index)
      table.set(issuer, provider)
    }
  })
  for (const provider of providers) {
    for (const issuer of provider?.refusedIssuers ?? []) {
      if (!table.has(issuer)) table.set(issuer, provider)
    }
  }
  return table
}

/**
 * Refuses two templated providers that could both claim an issuer (Entra: two taking every tenant
 * of one cloud and version), for the same reason as exact issuers. An exact issuer always wins
 * over a template (the Map is asked first), so a template only ever gets the issuers no provider
 * names.
 */
export function checkTemplates(problems: Problems, providers: readonly JwtProvider[]): void {
  const templated = [...providers.keys()].filter(
    (index) => isTemplated(providers[index]!) && !repeated(providers, index),
  )
  templated.forEach((index, place) => {
    const provider = providers[index]!
    for (const otherIndex of templated.slice(place + 1)) {
      const other = providers[otherIndex]!
      const conflict = provider.issuerConflictWith?.(other) ?? other.issuerConflictWith?.(provider)
      if (conflict !== undefined) {
        problems.add(`${label(providers, index)} and ${label(providers, otherIndex)} ${conflict}`)
      }
    }
  })
}

/**
 * The verifier's own limit when none is given: the longest token a provider accepts (its
 * `maxTokenLength`), never below 16 KiB. A limit set on a provider must not
 * be cut short before the provider sees the token; each provider still applies its own.
 */
export function longestAccepted(providers: readonly JwtProvider[]): number {
  let longest = DEFAULT_MAX_TOKEN_LENGTH
  for (const provider of providers) {
    const length: unknown = provider?.maxTokenLength
    if (typeof length === 'number' && Number.isFinite(length) && length > longest) longest = length
  }
  return longest
}

/** A provider whose issuers are templates (Entra's `{tenantid}`), asked after the Map misses. */
export function isTemplated(provider: JwtProvider): boolean {
  return typeof provider?.claimsIssuer === 'function'
}

/**
 * Each issuer of the providers' `issuerAliases` mapped to its group (frozen, built once: the
 * request path only looks it up). A group may name only its provider's own issuers, each in one
 * group: a provider grouping another's issuers would share that provider's users' cached rights
 * and revocations with its own.
 */
export function issuerGroups(
  problems: Problems,
  providers: readonly JwtProvider[],
): ReadonlyMap<string, readonly string[]> {
  const groups = new Map<string, readonly string[]>()
  // A provider listed twice, or no provider at all, is resolveProviders' to report.
  for (const provider of new Set(providers)) {
    const declared: unknown = provider?.issuerAliases
    if (declared === undefined || !Array.isArray(provider.issuers)) continue
    const name = `${String(provider.name)}: issuerAliases`
    if (!Array.isArray(declared)) {
      problems.add(`${name} must be a list of lists of issuers`)
      continue
    }
    for (const group of declared as unknown[]) {
      const issuers = Array.isArray(group) ? [...new Set(group as unknown[])] : []
      const own = issuers.filter(
        (issuer): issuer is string =>
          typeof issuer === 'string' && provider.issuers.includes(issuer),
      )
      if (own.length < 2 || own.length !== issuers.length) {
        problems.add(`${name}: each group must list two or more of the provider's own issuers`)
        continue
      }
      const frozen = Object.freeze(own)
      for (const issuer of own) {
        if (groups.has(issuer)) problems.add(`${name}: ${JSON.stringify(issuer)} is in two groups`)
        groups.set(issuer, frozen)
      }
    }
  }
  return groups
}

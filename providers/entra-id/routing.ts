// Which Entra issuers a provider takes, by name or by template, and which two providers collide.

import { CONSUMER_TENANT_ID, TENANT_TEMPLATE } from './authority.js'
import type { EntraConfig } from './config.js'

/**
 * The issuers a provider takes by exact match: a single tenant's (or user flow's) own, and each
 * listed tenant's, in the versions it accepts. Only `'*'` and a predicate leave issuers to a
 * template: the verifier then refuses, at construction, two providers naming one tenant, as it
 * does any issuer claimed twice.
 */
export function fixedIssuers(config: EntraConfig): string[] {
  const { authority, tenant, versions } = config
  if (config.policies !== undefined) return [authority.b2cIssuer(tenant)]
  return [...namedTenants(config)].flatMap((tid) =>
    [...versions].map((version) => authority.issuer(version, tid)),
  )
}

/**
 * The issuers of the tenants a provider names in the versions it does not accept: routed to it all
 * the same, so that it refuses them saying why. A tenant's every token comes to the provider naming
 * it; it never falls to a provider taking any tenant, whose predicate would be asked about it and
 * whose rules are not the ones its owner set.
 */
export function refusedIssuers(config: EntraConfig): string[] {
  const { authority, versions } = config
  if (config.policies !== undefined) return []
  const refused = (['2.0', '1.0'] as const).filter((version) => !versions.has(version))
  return [...namedTenants(config)].flatMap((tid) =>
    refused.map((version) => authority.issuer(version, tid)),
  )
}

/**
 * For a provider accepting both versions, each tenant it names as its two issuers (v2.0 first):
 * one user's tokens carry either, with one `oid`, so its cached answers are shared and forgotten
 * together, and a subject revocation under one version covers the other's tokens of that `sub`.
 * Tenants taken by `'*'` or a predicate have no exact issuers to group; B2C names no version.
 */
export function versionAliases(config: EntraConfig): string[][] {
  const { authority, versions } = config
  if (config.policies !== undefined || !versions.has('1.0') || !versions.has('2.0')) return []
  return [...namedTenants(config)].map((tid) => [
    authority.issuer('2.0', tid),
    authority.issuer('1.0', tid),
  ])
}

/** The tenants a configuration names: its single tenant, or its `allowedTenants` list. */
function namedTenants(config: EntraConfig): ReadonlySet<string> {
  const { tenants } = config
  if (tenants.kind === 'one') return new Set([tenants.tid])
  return tenants.kind === 'list' ? tenants.tids : new Set()
}

/**
 * Why two providers that name their tenants cannot both name one of them, or `undefined`: each
 * takes every token of its tenants, v1.0 and v2.0, so as to refuse a version it does not accept
 * rather than let the token reach a provider with other rules.
 */
function sharedTenant(mine: EntraConfig, theirs: EntraConfig): string | undefined {
  if (mine.policies !== undefined || theirs.policies !== undefined) return undefined
  const theirTenants = namedTenants(theirs)
  const tid = [...namedTenants(mine)].find((candidate) => theirTenants.has(candidate))
  if (tid === undefined) return undefined
  return `both name the tenant ${tid}, whose every token (v1.0 and v2.0) goes to the one provider naming it: make one provider with both audiences (acceptV1 for v1.0 tokens), or name the tenant in one of them only`
}

/** Whether the configuration takes tokens of tenants it does not name (`'*'`, a predicate). */
export function isOpen(config: EntraConfig): boolean {
  const { kind } = config.tenants
  return kind === 'any' || kind === 'predicate'
}

/**
 * Whether an open configuration takes tokens of `iss`, as far as `iss` tells: its cloud, a version
 * it accepts, and no personal account unless `common`. Whether a predicate admits the tenant is
 * asked after the signature; so two open providers may never share an issuer form.
 */
export function takesOpenIssuer(iss: string, config: EntraConfig): boolean {
  const form = config.authority.parse(iss)
  if (form === undefined || !config.versions.has(form.version)) return false
  const { tenants } = config
  return tenants.kind !== 'one' && (tenants.personal || form.tenant !== CONSUMER_TENANT_ID)
}

/**
 * Whether `iss` is an Entra issuer this provider answers for: any form (v1 or v2) of its tenant,
 * or of any tenant when it is multi-tenant, so that a refusal can say which rule failed ("v1.0
 * tokens are not accepted", "tenant is not allowed") instead of "issuer not trusted".
 */
export function answersFor(iss: string, config: EntraConfig): boolean {
  if (config.policies !== undefined) return iss === config.authority.b2cIssuer(config.tenant)
  const form = config.authority.parse(iss)
  if (form === undefined) return false
  return config.tenants.kind !== 'one' || form.tenant === config.tenants.tid
}

/**
 * Why two providers would both claim some issuer, or `undefined`. Exact issuers are compared by the
 * verifier, which names each one claimed twice; two providers naming one tenant are explained here
 * too, since one of them may not accept the version whose issuer collides. What is left is two
 * providers taking every tenant (`'*'` or a predicate) of one issuer form, which the verifier
 * refuses at construction: each of those tokens could reach only the first, and which one it was
 * meant for cannot be read from `iss`.
 */
export function issuerConflict(mine: EntraConfig, theirs: EntraConfig): string | undefined {
  const open = isOpen(mine)
  if (open !== isOpen(theirs)) return undefined
  if (!open) return sharedTenant(mine, theirs)
  for (const version of mine.versions) {
    const template = mine.authority.issuer(version, TENANT_TEMPLATE)
    if (
      !theirs.versions.has(version) ||
      theirs.authority.issuer(version, TENANT_TEMPLATE) !== template
    ) {
      continue
    }
    const both = `both take tokens of any tenant with the issuer ${template}`
    if (version === '2.0') {
      return `${both}: make one provider with both audiences, or give one of them an allowedTenants list`
    }
    const clouds =
      mine.authority.origin === theirs.authority.origin ? '' : ' (v1.0 issuers name no cloud)'
    return `${both}${clouds}: accept v1.0 tokens in one of them only, make one provider with both audiences, or give one of them an allowedTenants list`
  }
  return undefined
}

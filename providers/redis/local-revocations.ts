// The in-process copy of the shared revocations: what `isRevoked` reads, without a round trip.

import { issuedBefore, tokenIdOf, type JwtClaims, type RevocationEntry } from '../../src/spi.js'

/**
 * How an entry is written in Redis: a sorted-set member (JSON, so any `jti`, issuer or subject is
 * safe) scored by when the entry ends, in seconds. Revoking the same thing again with the same
 * instant writes the same member.
 */
export function memberOf(entry: RevocationEntry): string {
  return entry.kind === 'jti'
    ? JSON.stringify(['j', entry.jti])
    : JSON.stringify(['s', entry.issuer, entry.subject, entry.beforeSec])
}

/** The entry a member and its score stand for, or `undefined` for anything malformed. */
export function entryOf(member: string, expiresAtSec: number): RevocationEntry | undefined {
  if (!Number.isFinite(expiresAtSec)) return undefined
  let value: unknown
  try {
    value = JSON.parse(member)
  } catch {
    return undefined
  }
  if (!Array.isArray(value)) return undefined
  const [kind, first, second, before] = value as unknown[]
  if (kind === 'j' && isId(first) && value.length === 2) {
    return { kind: 'jti', jti: first, expiresAtSec }
  }
  if (kind === 's' && isId(first) && isId(second) && typeof before === 'number') {
    return { kind: 'subject', issuer: first, subject: second, beforeSec: before, expiresAtSec }
  }
  return undefined
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value !== ''
}

const PRUNE_AFTER_WRITES = 256

/**
 * How often a copy holding entries checks whether one ended, in milliseconds: ended entries are
 * dropped within this long even when no revocation arrives (writes prune too, but a burst of a
 * million revocations followed by none would otherwise stay in memory indefinitely).
 */
export const PRUNE_CHECK_MS = 60_000

/**
 * Revocations held in this process: added to (never removed from, except when they end), so
 * entries arriving twice or out of order (a message and a full load racing) converge.
 */
export class LocalRevocations {
  readonly #jtis = new Map<string, number>()
  // issuer → subject → entry: looked up with the claims' own strings, whose hashes V8 keeps, so a
  // remembered token's check builds no string (the hot path).
  readonly #subjects = new Map<string, Map<string, { beforeSec: number; expiresAtSec: number }>>()
  #subjectCount = 0
  #writes = 0
  #pruneAfterWrites = PRUNE_AFTER_WRITES
  // No entry held ends before this (it may end later, extended): pruning before it drops nothing.
  #earliestEndSec = Number.POSITIVE_INFINITY
  // When the last prune ran (its `nowSec`): a count prunes at most once per check interval.
  #prunedAtSec = Number.NEGATIVE_INFINITY
  #timer: NodeJS.Timeout | undefined
  #stopped = false

  /** Adds an entry; an entry that ended already is ignored. */
  add(entry: RevocationEntry, nowSec: number): void {
    if (entry.expiresAtSec <= nowSec) return
    this.#earliestEndSec = Math.min(this.#earliestEndSec, entry.expiresAtSec)
    this.#startTimer()
    if (entry.kind === 'jti') {
      const until = this.#jtis.get(entry.jti) ?? 0
      if (entry.expiresAtSec > until) this.#jtis.set(entry.jti, entry.expiresAtSec)
    } else {
      let subjects = this.#subjects.get(entry.issuer)
      if (subjects === undefined) this.#subjects.set(entry.issuer, (subjects = new Map()))
      const existing = subjects.get(entry.subject)
      if (existing === undefined) {
        subjects.set(entry.subject, {
          beforeSec: entry.beforeSec,
          expiresAtSec: entry.expiresAtSec,
        })
        this.#subjectCount += 1
      } else {
        // Keep the latest instant: "every token issued before T" covers every earlier T.
        existing.beforeSec = Math.max(existing.beforeSec, entry.beforeSec)
        existing.expiresAtSec = Math.max(existing.expiresAtSec, entry.expiresAtSec)
      }
    }
    // Pruning walks every entry: after as many writes as it left entries (256 at least), so
    // loading a large set costs linear time, not quadratic.
    this.#writes += 1
    if (this.#writes >= this.#pruneAfterWrites) this.prune(nowSec)
  }

  /**
   * Whether the claims are covered by an entry that has not ended (the token's own id or its
   * `origin_jti`, subject: under its own issuer, or each of `issuers` when given). The clock is read
   * only when an entry matches: most checks match nothing.
   */
  isRevoked(claims: JwtClaims, now: () => number, issuers?: readonly string[]): boolean {
    if (
      this.#jtis.size > 0 &&
      (this.#byId(tokenIdOf(claims), now) || this.#byId(claims['origin_jti'], now))
    ) {
      return true
    }
    if (this.#subjectCount === 0) return false
    const { iss, sub } = claims
    if (typeof iss !== 'string' || typeof sub !== 'string') return false
    if (issuers === undefined) return this.#bySubject(claims, iss, sub, now)
    // The token's issuer names the same users as others (Cognito's two forms of one pool).
    for (const issuer of issuers) if (this.#bySubject(claims, issuer, sub, now)) return true
    return false
  }

  #bySubject(claims: JwtClaims, issuer: string, subject: string, now: () => number): boolean {
    const entry = this.#subjects.get(issuer)?.get(subject)
    if (entry === undefined || entry.expiresAtSec <= now()) return false
    return issuedBefore(claims, entry.beforeSec)
  }

  #byId(id: unknown, now: () => number): boolean {
    if (typeof id !== 'string') return false
    const until = this.#jtis.get(id)
    return until !== undefined && until > now()
  }

  /** Drops the entries that ended, so memory is bounded by one token lifetime of revocations. */
  prune(nowSec: number): void {
    let earliest = Number.POSITIVE_INFINITY
    for (const [id, until] of this.#jtis) {
      if (until <= nowSec) this.#jtis.delete(id)
      else earliest = Math.min(earliest, until)
    }
    for (const [issuer, subjects] of this.#subjects) {
      for (const [subject, entry] of subjects) {
        if (entry.expiresAtSec > nowSec) {
          earliest = Math.min(earliest, entry.expiresAtSec)
          continue
        }
        subjects.delete(subject)
        this.#subjectCount -= 1
      }
      if (subjects.size === 0) this.#subjects.delete(issuer)
    }
    this.#earliestEndSec = earliest
    this.#prunedAtSec = nowSec
    this.#writes = 0
    this.#pruneAfterWrites = Math.max(PRUNE_AFTER_WRITES, this.size)
    if (this.size === 0) this.#stopTimer()
  }

  /**
   * Prunes when an entry may have ended since the last prune, else does nothing (one comparison):
   * what the periodic check and a count of the live entries run.
   */
  pruneIfDue(nowSec: number): void {
    if (nowSec >= this.#earliestEndSec) this.prune(nowSec)
  }

  /** How many entries are held, ended ones included until the next prune. */
  get size(): number {
    return this.#jtis.size + this.#subjectCount
  }

  /**
   * How many entries are held that had not ended at the last prune, which ran less than a check
   * interval before `nowSec` (this call prunes when it did not and an entry may have ended).
   * Pruning walks every entry: with a million revocations ending steadily, pruning on each count
   * (a readiness probe every few seconds) blocked the event loop for tens of milliseconds each
   * time, where the periodic check already drops ended entries within the interval.
   */
  liveSize(nowSec: number): number {
    if (nowSec - this.#prunedAtSec >= PRUNE_CHECK_MS / 1000) this.pruneIfDue(nowSec)
    return this.size
  }

  /** Stops the periodic check for good (the store was closed). Entries still end as met. */
  stop(): void {
    this.#stopped = true
    this.#stopTimer()
  }

  // Runs only while entries are held, and keeps no process alive.
  #startTimer(): void {
    if (this.#timer !== undefined || this.#stopped) return
    this.#timer = setInterval(() => this.pruneIfDue(Date.now() / 1000), PRUNE_CHECK_MS)
    this.#timer.unref?.() // (a fake timer of a test may have none)
  }

  #stopTimer(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}

// What a source answered, checked before anyone uses it: a list of strings (groups, roles,
// permissions) or a profile object, each a copy of its own, or the facet's 503.

import { UnavailableError } from './errors.js'

/** The four things a user may be asked for. */
export type Facet = 'groups' | 'roles' | 'permissions' | 'profile'
export type Profile = Readonly<Record<string, unknown>>
export type Answer = readonly string[] | Profile

/** The 503 of a facet whose source failed, timed out or answered nonsense. */
export function sourceUnavailable(facet: string, cause: unknown): UnavailableError {
  return new UnavailableError(
    'ERR_AUTH_SOURCE_UNAVAILABLE',
    `${facet} ${facet === 'profile' ? 'is' : 'are'} temporarily unavailable`,
    {
      cause,
    },
  )
}

/**
 * Checks a source's answer. Fail closed: `null`, `undefined` or a non-list is a broken source,
 * never "no rule", and never an empty list that would look like a real answer.
 */
export function checkedAnswer(facet: Facet, value: unknown): Answer {
  if (facet === 'profile') return profileCopy(value)
  const copy = Array.isArray(value) ? listOfStrings(value) : undefined
  if (copy === undefined) {
    throw sourceUnavailable(
      facet,
      new TypeError(`the ${facet} source did not return a list of strings`),
    )
  }
  return Object.freeze(copy)
}

/**
 * A copy of `list` if every item is a string, else undefined. Each item is read once, and what is
 * checked is what is kept: a getter or a proxy could answer a string to a check and something else
 * to a second read.
 */
export function listOfStrings(list: readonly unknown[]): string[] | undefined {
  const { length } = list
  const copy: string[] = []
  for (let index = 0; index < length; index += 1) {
    const item = list[index]
    if (typeof item !== 'string') return undefined
    copy.push(item)
  }
  return copy
}

/**
 * A profile is checked once per request (and once more when the cache stores it): each gets its own
 * deep copy. A profile can be any shape, dates included, so freezing would not protect it; a copy
 * does, and keeps one handler's change from reaching the same user's later requests.
 */
function profileCopy(value: unknown): Profile {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw sourceUnavailable('profile', new TypeError('the profile source did not return an object'))
  }
  try {
    return structuredClone(value) as Profile
  } catch (error) {
    // Functions, symbols, class instances with such members: a broken source, like any other.
    throw sourceUnavailable('profile', error)
  }
}

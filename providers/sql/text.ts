// The text a SQL store can hold and match exactly, and the one order every dialect answers in.

import { codePoints, USER_WIDTH, VALUE_WIDTH } from './schema.js'

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why a lookup key or a granted value cannot be stored or matched exactly, if it cannot. */
export function unusableText(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'is not a non-empty string'
  if (value === '') return 'is empty: it must be a non-empty string'
  if (value.includes('\0')) return 'contains a NUL character'
  if (LONE_SURROGATE.test(value)) return 'is not well-formed Unicode'
  return undefined
}

/**
 * Why `key` and `value` cannot be granted or revoked (matched exactly), if they cannot; the CLI
 * checks its arguments with it too. `widths`: also whether they fit the columns of the tables
 * `sql init` creates, `varchar(500)` and `varchar(100)`. Only for a facet on the default table and
 * columns: an app's own table may be wider (or `text`), and its database then says what fits.
 */
export function changeProblem(
  key: string,
  value: string,
  { widths }: { widths: boolean },
): string | undefined {
  const problems = [
    describeText('the user', key, widths ? USER_WIDTH : undefined),
    describeText('the value', value, widths ? VALUE_WIDTH : undefined),
  ].filter((problem) => problem !== undefined)
  return problems.length > 0 ? problems.join('; ') : undefined
}

function describeText(name: string, value: string, width: number | undefined): string | undefined {
  const problem = unusableText(value)
  if (problem !== undefined) return `${name} ${problem}`
  if (width !== undefined && codePoints(value) > width) {
    return `${name} is longer than ${width} characters: the default tables' width (varchar(${width}))`
  }
  return undefined
}

/**
 * Orders strings by Unicode code point (UTF-8 byte order). UTF-16 code units order differently
 * above U+FFFF, so surrogates are moved past U+E000–U+FFFF before comparing.
 */
export function byCodePoint(a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codePointRank(x) - codePointRank(y)
  }
  return a.length - b.length
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000
}

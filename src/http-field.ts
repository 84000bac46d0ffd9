// Whitespace in HTTP field values, as RFC 9110 defines it: spaces and tabs only.
//
// A no-break space (0xA0, which Node's parser passes through as obs-text) or an ideographic space
// is not whitespace in a header, so String#trim, which strips them, accepts too much: each
// credential reader (Bearer, Basic, API keys) must strip the same characters.

const SPACE = 0x20
const TAB = 0x09

/** The field value without its optional whitespace before and after (RFC 9110 §5.5). */
export function trimOws(value: string): string {
  let start = 0
  let end = value.length
  const isOws = (code: number) => code === SPACE || code === TAB
  while (start < end && isOws(value.charCodeAt(start))) start += 1
  while (end > start && isOws(value.charCodeAt(end - 1))) end -= 1
  return start === 0 && end === value.length ? value : value.slice(start, end)
}

/** What follows the spaces at the start of `value`: the credentials after `Scheme 1*SP` (RFC 9110). */
export function afterSpaces(value: string): string {
  let start = 0
  while (value.charCodeAt(start) === SPACE) start += 1
  return start === 0 ? value : value.slice(start)
}

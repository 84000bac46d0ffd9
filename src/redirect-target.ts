// Where a guard sends an anonymous visitor: the login URL, with the page asked for in `next`,
// never another site's and never a token.

/**
 * The login URL `target` with the page asked for (`originalUrl`, the request's target) in `next`,
 * placed in the query, before any fragment.
 */
export function redirectTo(target: string, originalUrl: string): string {
  const hash = target.indexOf('#')
  const base = hash === -1 ? target : target.slice(0, hash)
  const fragment = hash === -1 ? '' : target.slice(hash)
  const separator = !base.includes('?') ? '?' : /[?&]$/.test(base) ? '' : '&'
  const page = withoutTokens(samePath(originalUrl))
  return `${base}${separator}${new URLSearchParams({ next: page })}${fragment}`
}

const SAME_ORIGIN = 'http://same-origin.invalid'

/**
 * The request's target when it is a path on this site, otherwise `/`. A login page that sends the
 * user back to `next` must never be steered elsewhere: `//evil.example/x`, `/\evil.example` (which
 * browsers read as `//`) and absolute-form targets (`GET http://evil.example/`) all become `/`.
 */
function samePath(url: string): string {
  if (!url.startsWith('/')) return '/'
  try {
    return new URL(url, SAME_ORIGIN).origin === SAME_ORIGIN ? url : '/'
  } catch {
    return '/'
  }
}

/**
 * The path without the query parameters that carry a token: `next` travels through the login
 * page's URL, its logs and the browser's history (RFC 6750 §5.3). A guard cannot know which
 * parameter jwtAuth reads (`tokenLocations.query` may name another), so `access_token` goes, and
 * so does any parameter whose value is a JWT, whatever its name. A fragment is never part of a
 * request, so any text after `#` goes too.
 */
function withoutTokens(path: string): string {
  const hash = path.indexOf('#')
  const url = hash === -1 ? path : path.slice(0, hash)
  const mark = url.indexOf('?')
  if (mark === -1) return url
  const kept = url
    .slice(mark + 1)
    .split('&')
    .filter((pair) => pair !== '' && !carriesToken(pair))
  return kept.length === 0 ? url.slice(0, mark) : `${url.slice(0, mark)}?${kept.join('&')}`
}

function carriesToken(pair: string): boolean {
  const equals = pair.indexOf('=')
  const name = queryDecoded(equals === -1 ? pair : pair.slice(0, equals))
  // Express's query parser reads `access_token[]=…` and `access_token[0]=…` as access_token too.
  if (name.split('[')[0] === 'access_token') return true
  return equals !== -1 && looksLikeJwt(queryDecoded(pair.slice(equals + 1)))
}

function queryDecoded(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    return text
  }
}

// The characters of RFC 6750's b64token: every token a verifier accepts is made of these and dots.
const B64_PART = /^[A-Za-z0-9\-_~+/]*=*$/

/** A compact JWS (three parts) or JWE (five) whose first part is a JSON object (RFC 7515 §7.1). */
function looksLikeJwt(value: string): boolean {
  const parts = value.trim().split('.')
  if ((parts.length !== 3 && parts.length !== 5) || !parts.every((part) => B64_PART.test(part))) {
    return false
  }
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'))
    return typeof header === 'object' && header !== null && !Array.isArray(header)
  } catch {
    return false
  }
}

// Answers to credentials a shared cache cannot see kept out of shared caches.

import type { Response } from 'express'

/**
 * Marks an answer as the credential holder's own when the credential did not come in the
 * `Authorization` header: a shared cache never serves a stored answer to a request with one
 * (RFC 9111 §3.5), but stores answers to requests with a query token, a cookie or another header,
 * and would serve one caller's answer to the next (RFC 6750 §2.3). `Cache-Control: private`, unless
 * the app set its own, which is its decision; `Vary` on the header that carried the credential when
 * it is not in the URL.
 */
export function keepPrivate(res: Response, varyOn: string | undefined): void {
  if (res.headersSent) return
  if (res.getHeader('Cache-Control') === undefined) res.setHeader('Cache-Control', 'private')
  if (varyOn !== undefined) res.vary(varyOn)
}

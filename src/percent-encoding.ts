// Whether a URL component percent-decodes: the check both database URL readers make up front.

/**
 * True when `component` (a URL's user, password, host or path, as `URL` hands it) percent-decodes.
 * Drivers decode these parts when they connect; one that does not (a bare `%` in a password)
 * would throw there, at every connection, so configuration refuses it once instead.
 */
export function percentDecodes(component: string): boolean {
  try {
    decodeURIComponent(component)
    return true
  } catch {
    return false
  }
}

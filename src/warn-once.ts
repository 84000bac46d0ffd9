// Node.js warnings said once per process: for mistakes that must reach stderr whatever the log level.

// The codes this process has warned about already.
const warned = new Set<string>()

/**
 * Emits `message` as a Node.js warning with `code`, the first time `code` is warned about in this
 * process; later calls with the same code do nothing. A process warning reaches stderr by default,
 * so a silent logger (or none) cannot hide it, and once is enough to be seen.
 */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return
  warned.add(code)
  process.emitWarning(message, { code })
}

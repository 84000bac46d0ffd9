// A wrong command line, for every oidc-guard command: the error, and parseArgs that throws it.

import { parseArgs, type ParseArgsConfig } from 'node:util'

/** Thrown by a command for a wrong command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/** `parseArgs`, with an unknown flag or a missing value reported as a {@link UsageError}. */
export function parseCommandLine<T extends ParseArgsConfig>(
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config)
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
}

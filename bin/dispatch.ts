// The oidc-guard command dispatcher: finds the command named first and hands it the rest.

import { UsageError } from '../src/command-line.js'
import { ConfigError } from '../src/errors.js'

/** What a command reads and writes. */
export interface Io {
  out(line: string): void
  err(line: string): void
  readonly env: Readonly<Record<string, string | undefined>>
  /** Standard input, read whole (a token given as `-`); absent where there is none to read. */
  input?(): Promise<string>
}

/** A command any part of oidc-guard can add: `run` resolves to the exit code. */
export interface Command {
  readonly name: string
  /** One line for the overview. */
  readonly summary: string
  /** The command's full help. */
  readonly usage: string
  run(args: readonly string[], io: Io): Promise<number>
}

/** Exit code of a wrong command line or configuration. */
const USAGE = 2

function overview(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((command) => command.name.length))
  return [
    'Usage: oidc-guard <command> [arguments] [--help]',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'oidc-guard <command> --help shows the options of a command.',
  ].join('\n')
}

/**
 * Runs the command named by `argv[0]`. `help`, `--help` and `-h` print the overview (or, followed
 * by a command, its help; by a name no command has, that it is unknown, exit code 2). Errors are
 * printed as one line, never a stack; the exit code is 0 when done, 1 when the command failed and
 * 2 for a wrong command line (a {@link UsageError}, printed with the command's usage) or a wrong
 * configuration (a {@link ConfigError}: one line per problem, as the SQL commands print them).
 */
export async function runCli(
  argv: readonly string[],
  io: Io,
  commands: readonly Command[],
): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined) {
    io.err(overview(commands))
    return USAGE
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const [wanted] = rest
    if (wanted === undefined) {
      io.out(overview(commands))
      return 0
    }
    // A misspelt topic (help verfy) must not read as help given: a script checks the exit code.
    const topic = commands.find((command) => command.name === wanted)
    if (topic === undefined) return unknownCommand(io, wanted, commands)
    io.out(topic.usage)
    return 0
  }
  const command = commands.find((candidate) => candidate.name === name)
  if (command === undefined) return unknownCommand(io, name, commands)
  try {
    return await command.run(rest, io)
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`oidc-guard ${name}: ${error.message}\n\n${command.usage}`)
      return USAGE
    }
    if (error instanceof ConfigError) {
      // Its message starts "oidc-guard: "; the problems alone read as the command's own lines.
      for (const problem of error.problems) io.err(`oidc-guard ${name}: ${problem}`)
      return USAGE
    }
    io.err(`oidc-guard ${name}: ${error instanceof Error ? error.message : String(error)}`)
    return 1
  }
}

function unknownCommand(io: Io, name: string, commands: readonly Command[]): number {
  io.err(`oidc-guard: unknown command ${JSON.stringify(name)}\n\n${overview(commands)}`)
  return USAGE
}

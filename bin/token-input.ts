// What the token commands read and write at the terminal: the token, from the command line or
// standard input, and text from a token anyone can write, made safe to print.

import { UsageError } from '../src/command-line.js'
import type { Io } from './dispatch.js'

/** The word standing for standard input, as `cat -` reads it. */
const STDIN = '-'

/**
 * The token of the command line, or of standard input when given as `-` (so that it stays out of
 * `ps` and the shell's history: `printenv TOKEN | oidc-guard verify -`). A pasted `Bearer ` and the
 * surrounding whitespace (the newline `echo` adds) are dropped.
 */
export async function readToken(
  positionals: readonly string[],
  command: string,
  io: Io,
): Promise<string> {
  const given = positionals[0]
  if (given === undefined || positionals.length > 1) {
    throw new UsageError(
      `give one token: oidc-guard ${command} <token> (or - to read it from standard input)`,
    )
  }
  const fromStdin = given === STDIN
  if (fromStdin && io.input === undefined) {
    throw new UsageError('- reads the token from standard input, and there is none here')
  }
  const text = fromStdin ? await io.input!() : given
  const token = text.trim().replace(/^Bearer\s+/i, '')
  if (token === '') {
    throw new UsageError(
      fromStdin ? 'standard input held no token' : `give one token: oidc-guard ${command} <token>`,
    )
  }
  if (fromStdin && /\s/.test(token)) {
    throw new UsageError('standard input must hold one token and nothing else')
  }
  return token
}

/**
 * Controls a terminal acts on that `JSON.stringify` leaves as they are: C0 (but the line breaks of
 * the text itself), DEL and C1 (U+0080–U+009F: 8-bit escape sequences on some terminals), and the
 * bidi controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) that make text read other
 * than it is.
 */
const TERMINAL_CONTROLS =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/**
 * `text` with {@link TERMINAL_CONTROLS} written as `\uXXXX`: what verify and decode print in text
 * comes from a token anyone can write (its claims) or a remote document (a `cause`), and must
 * reach the terminal as text, not as commands. Inside JSON strings the escape reads back the same.
 */
export function terminalSafe(text: string): string {
  return text.replace(
    TERMINAL_CONTROLS,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

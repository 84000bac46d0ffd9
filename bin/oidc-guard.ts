#!/usr/bin/env node
// The oidc-guard command line: `npx oidc-guard <command>`; each part of the package adds commands.

import { sqlCommands } from '../providers/sql/cli.js'
import { UsageError } from '../src/command-line.js'
import { runCli, type Io } from './dispatch.js'
import { tokenCommands } from './token-commands.js'

// A reader that stops early (`oidc-guard sql init --print | head -1`) closes the pipe: the rest of
// the output has nobody to read it, which is no failure to report with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    process.exit(process.exitCode ?? 0)
  })
}

/**
 * Most standard input read for a token (`oidc-guard verify -`): a token is a few kilobytes, and a
 * file piped in by mistake must not be read whole.
 */
const MAX_INPUT_BYTES = 1024 * 1024

async function readInput(): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_INPUT_BYTES) {
      throw new UsageError(
        `standard input holds more than ${MAX_INPUT_BYTES} bytes: no token is that long`,
      )
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

const io: Io = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  env: process.env,
  input: readInput,
}

process.exitCode = await runCli(process.argv.slice(2), io, [...tokenCommands, ...sqlCommands])

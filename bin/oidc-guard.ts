#!/usr/bin/env node
// The oidc-guard command line: `npx oidc-guard <command>`; each part of the package adds commands.

import { sqlCommands } from '../providers/sql/cli.js'
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

const io: Io = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  env: process.env,
}

process.exitCode = await runCli(process.argv.slice(2), io, [...tokenCommands, ...sqlCommands])

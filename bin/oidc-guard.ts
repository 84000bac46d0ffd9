#!/usr/bin/env node
// The oidc-guard command line: `npx oidc-guard <command>`; each part of the package adds commands.

import { sqlCommands } from '../providers/sql/cli.js'
import { runCli, type Io } from './dispatch.js'
import { tokenCommands } from './token-commands.js'

const io: Io = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  env: process.env,
}

process.exitCode = await runCli(process.argv.slice(2), io, [...tokenCommands, ...sqlCommands])

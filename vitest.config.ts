import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

const cores = availableParallelism()

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 20_000,
    pool: 'forks',
    // Vitest's default, one worker fewer than the cores, runs this suite serially on a two-core
    // machine, where most of its time is spent waiting on servers, databases and timers: two
    // workers overlap that waiting (CI's first pass 488 s → 298 s). A process pinned to one core
    // (CI's second pass) keeps one.
    maxWorkers: Math.max(cores - 1, Math.min(cores, 2)),
  },
})

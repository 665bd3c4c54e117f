import { defineConfig } from 'vitest/config';
import SlowFirstSequencer from './test/helpers/slow-first.mjs';

// The reliability suite's heavy part (a 2.5 min load test) runs only when asked for; it is
// run before each release: RELIABILITY_HEAVY=1 npm run test:reliability.
const heavy = process.env.RELIABILITY_HEAVY === '1';

// How the run is laid out on a 2-core machine (docs/contributing.md, "Files side by side"):
// first the unit files, two at a time (they only compute); then the integration and
// reliability files together, three at a time, slowest first: most of their time is spent
// waiting on brokers, builds and timers, and each file has ports, names and folders of its own.
const UNIT_FILES_AT_ONCE = 2;
const STACK_FILES_AT_ONCE = 3;

export default defineConfig({
  test: {
    sequence: { sequencer: SlowFirstSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          // The workspaces' own unit tests run here too (their configs run them alone).
          include: ['test/unit/**/*.test.ts', 'infra/offline-msk/test/*.test.ts', 'src/fleet-metrics/test/**/*.test.ts'],
          environment: 'node',
          maxWorkers: UNIT_FILES_AT_ONCE,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          // With infra/offline-msk's, under the same stack and clean-up.
          include: ['test/integration/**/*.test.ts', 'infra/offline-msk/test/integration/**/*.test.ts'],
          environment: 'node',
          // Starts the real local Kafka broker and Pushgateway (infra/local/stack.sh);
          // if they cannot start, the run fails here: integration tests never skip.
          globalSetup: ['test/integration/global-setup.ts'],
          // After each file, the topics and groups it named with uniqueName are deleted.
          setupFiles: ['test/helpers/cleanup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          maxWorkers: STACK_FILES_AT_ONCE,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'reliability',
          include: ['test/reliability/**/*.test.ts'],
          exclude: heavy ? [] : ['test/reliability/load.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          setupFiles: ['test/helpers/cleanup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          maxWorkers: STACK_FILES_AT_ONCE,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

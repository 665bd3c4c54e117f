import { defineConfig } from 'vitest/config';

// The reliability suite's heavy part (a 2.5 min load test) runs only when asked for; it is
// run before each release: RELIABILITY_HEAVY=1 npm run test:reliability.
const heavy = process.env.RELIABILITY_HEAVY === '1';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          // The workspaces' own unit tests run here too (their configs run them alone).
          include: ['test/unit/**/*.test.ts', 'infra/offline-msk/test/*.test.ts', 'src/fleet-metrics/test/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          // With infra/offline-msk's, under the same stack, clean-up and one-file-at-a-time.
          include: ['test/integration/**/*.test.ts', 'infra/offline-msk/test/integration/**/*.test.ts'],
          environment: 'node',
          // Starts the real local Kafka broker and Pushgateway (infra/local/stack.sh);
          // if they cannot start, the run fails here: integration tests never skip.
          globalSetup: ['test/integration/global-setup.ts'],
          // After each file, the topics and groups it named with uniqueName are deleted.
          setupFiles: ['test/helpers/cleanup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Files share one broker; running them one at a time keeps 2 cores calm.
          fileParallelism: false,
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
          fileParallelism: false,
        },
      },
    ],
  },
});

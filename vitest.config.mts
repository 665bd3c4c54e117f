import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          // Starts the real local Kafka broker and Pushgateway (infra/local/stack.sh);
          // if they cannot start, the run fails here: integration tests never skip.
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Files share one broker; running them one at a time keeps 2 cores calm.
          fileParallelism: false,
        },
      },
    ],
  },
});

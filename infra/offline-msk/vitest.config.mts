import { defineConfig } from 'vitest/config';

// `npm test` in this folder runs the unit tests (no network). The integration tests need a
// Kafka broker: the repository's local stack, which the repository's global set-up starts
// (and its clean-up empties of what each file made), as the repository's `npm test` does.
const repository = '../..';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: [`${repository}/test/integration/global-setup.ts`],
          setupFiles: [`${repository}/test/helpers/cleanup.ts`],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

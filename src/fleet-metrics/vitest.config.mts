import { defineConfig } from 'vitest/config';

// The protocol's tests need no network but a loopback HTTP server of their own.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});

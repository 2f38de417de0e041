import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores on CI: ORT sessions are multi-threaded, so run files one after another.
    fileParallelism: false,
  },
});

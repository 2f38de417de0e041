import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// The model cache of a test run is its own: tests never read or fill the user's ~/.cache/balmkit.
const cacheDir = process.env.BALMKIT_CACHE_DIR ?? mkdtempSync(join(tmpdir(), 'balmkit-test-cache-'));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores on CI: ORT sessions are multi-threaded, so run files one after another.
    fileParallelism: false,
    env: { BALMKIT_CACHE_DIR: cacheDir },
  },
});

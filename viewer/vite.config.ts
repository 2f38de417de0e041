/**
 * Vite build of the viewer page into `dist/viewer/` (shipped in the npm package, never committed).
 * Relative asset paths, so the page works under any URL the server gives it.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/viewer', import.meta.url)),
    emptyOutDir: true,
    // Mol* is one large bundle; splitting it buys nothing for a page served from localhost.
    chunkSizeWarningLimit: 8000,
    reportCompressedSize: false,
    sourcemap: false,
  },
});

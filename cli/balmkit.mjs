#!/usr/bin/env node
/**
 * The `balmkit` command (`bin` in package.json). In the npm package it runs the built CLI; in a
 * source checkout it first builds `dist/` when that is missing or older than the sources
 * (cli/build.mjs), so `npm install && npx balmkit …` works with install scripts off.
 */
import { ensureBuilt } from './build.mjs';

try {
  ensureBuilt();
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
await import('../dist/cli/main.js');

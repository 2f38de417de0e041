#!/usr/bin/env node
/** The `balmkit` executable (`bin` in package.json points at its build, `dist/cli/main.js`). */
import { main } from './program.js';
import { reportError } from './options.js';

// `balmkit doctor | head`: a closed pipe ends the output, not the process with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportError(err);
  },
);

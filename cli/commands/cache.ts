/**
 * `balmkit cache`: the disk cache of built models (src/runtime/model-cache.ts). A model is built
 * from its weights into an ONNX graph and optimized by onnxruntime once per machine, then loaded
 * from here by every later process; `info` lists the entries, `clear` removes them.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { parseOptions } from '../options.js';

const schema = z.strictObject({ json: z.boolean({ error: 'takes no value' }).optional() });

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** Registers `cache info` and `cache clear` on the program. */
export function register(program: Command): void {
  const cache = program
    .command('cache')
    .summary('list or clear the cache of built models (what makes a second run start fast)')
    .description(
      'balmkit builds each model (BALM, BALMFold, the LLMs) into an ONNX graph and lets onnxruntime optimize it the ' +
        'first time it runs on this machine, then stores the result so later processes load it in a fraction of the ' +
        "time. Entries are keyed by the model files' contents, balmkit and onnxruntime versions, the execution " +
        'provider and the CPU, and checked by sha256 when loaded (a damaged entry is rebuilt). The folder is ' +
        "$BALMKIT_CACHE_DIR, else the platform's cache folder (~/.cache/balmkit on Linux). Commands that load models " +
        'take --no-cache (or BALMKIT_NO_CACHE=1) to build afresh.',
    );
  cache.addHelpText('after', '\nExamples:\n  $ balmkit cache info\n  $ balmkit cache clear\n  $ BALMKIT_CACHE_DIR=/scratch/balmkit-cache balmkit predict-structure ab.fasta -o out/\n');

  cache
    .command('info')
    .description('the cache folder and its entries (model, size, versions, provider)')
    .option('--json', 'print as JSON on stdout')
    .action(async (_raw: unknown, command: Command) => {
      const opts = parseOptions(command, schema);
      const { cacheDir, cacheEnabled, listCache } = await import('../../src/runtime/model-cache.js');
      const dir = cacheDir();
      const entries = listCache(dir);
      const bytes = entries.reduce((n, e) => n + e.bytes, 0);
      if (opts.json === true) {
        process.stdout.write(`${JSON.stringify({ folder: dir, enabled: cacheEnabled(), entries, bytes }, null, 1)}\n`);
        return;
      }
      const lines = [`model cache: ${dir}${cacheEnabled() ? '' : ' (off: BALMKIT_NO_CACHE=1)'}`, `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, ${mb(bytes)}`];
      for (const e of entries) lines.push(`  ${e.key.slice(0, 12)}  ${mb(e.bytes).padStart(9)}  ${e.ep.padEnd(4)}  balmkit ${e.balmkit}, onnxruntime ${e.onnxruntime}  ${e.label}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  cache
    .command('clear')
    .description('remove every entry (models are rebuilt, once, when next used)')
    .option('--json', 'print what was removed as JSON on stdout')
    .action(async (_raw: unknown, command: Command) => {
      const opts = parseOptions(command, schema);
      const { cacheDir, clearCache } = await import('../../src/runtime/model-cache.js');
      const dir = cacheDir();
      const removed = clearCache(dir);
      if (opts.json === true) process.stdout.write(`${JSON.stringify({ folder: dir, ...removed })}\n`);
      else process.stdout.write(`removed ${removed.entries} entr${removed.entries === 1 ? 'y' : 'ies'} (${mb(removed.bytes)}) from ${dir}\n`);
    });
}

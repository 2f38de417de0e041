/**
 * The `balmkit` command-line program: commander with one file per command group under
 * `cli/commands/`, each exporting `register(program)`. Groups are listed explicitly in
 * {@link COMMAND_GROUPS} so the order of `--help` is deliberate and a missing file fails the build.
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../src/runtime/paths.js';
import * as adapters from './commands/adapters.js';
import * as balm from './commands/balm.js';
import * as cacheCmd from './commands/cache.js';
import * as doctor from './commands/doctor.js';
import * as numberCmd from './commands/number.js';
import * as predict from './commands/predict.js';
import * as sparse from './commands/sparse.js';
import * as view from './commands/view.js';
import * as llm from './commands/llm.js';
import { EXIT, reportError } from './options.js';

/** A command group: one file under `cli/commands/`. */
export interface CommandGroup {
  register(program: Command): void;
}

/** Every command group, in `--help` order. */
export const COMMAND_GROUPS: readonly CommandGroup[] = [doctor, numberCmd, predict, balm, sparse, llm, adapters, view, cacheCmd];

const EXAMPLES = `
Examples:
  $ balmkit doctor                 check Node, onnxruntime and whether CUDA works here
  $ balmkit doctor --json          the same report as JSON
  $ BALMKIT_EP=cpu balmkit doctor  what sessions use when CUDA is switched off

Environment:
  BALMKIT_EP       default execution provider: auto (CUDA, else CPU), cuda or cpu
  BALMKIT_THREADS  default intra-op threads (default: the CPUs available to the process)
  BALMKIT_MODELS   extra model folders, searched before the ones shipped with balmkit
  BALMKIT_CACHE_DIR   where built models are cached (default: ~/.cache/balmkit; see balmkit cache)
  BALMKIT_NO_CACHE=1  build models afresh every time (as --no-cache)
  BALMKIT_DEBUG=1  print stack traces and onnxruntime's own warnings
`;

/** Builds the program. Errors are thrown (commander's `exitOverride`), not turned into `process.exit`. */
export function buildProgram(): Command {
  const program = new Command('balmkit')
    .description('Antibody modeling on onnxruntime: BALM embeddings and scores, BALMFold structures, LLM efficiency tools.')
    .version(packageVersion(), '-V, --version', 'print the balmkit version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      // commander's errors read "error: …"; balmkit's read "balmkit: …".
      outputError: (str, write) => write(str.replace(/^error: /, 'balmkit: ')),
    });
  for (const group of COMMAND_GROUPS) group.register(program);
  program.addHelpText('after', EXAMPLES);
  return program;
}

/**
 * Runs the CLI on `argv` (as `process.argv`: node, script, args…) and returns the exit code
 * instead of exiting, so it can be tested in-process.
 */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    // A command that processed a batch with failures sets process.exitCode (and carries on).
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return reportError(err);
  }
}

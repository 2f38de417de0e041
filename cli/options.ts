/**
 * Option validation and error reporting for the CLI.
 *
 * Commander parses the command line into strings; every command then validates its options with a
 * zod schema through {@link parseOptions}, which turns the first problem into a
 * {@link UsageError} naming the option, the value given and what would be accepted (exit code 2).
 * {@link reportError} is the one place errors become output: `balmkit: <message>` on stderr, a
 * stack trace only with `BALMKIT_DEBUG=1`.
 */
import { type Command, CommanderError } from 'commander';
import { z } from 'zod';
import { zodProblem } from '../src/util/zod.js';

/** Exit codes: 0 ok, 1 the command failed, 2 the command line (or a BALMKIT_* variable) was wrong. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A bad option value or command line. Exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Whether stack traces were asked for (`BALMKIT_DEBUG=1`). */
export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.BALMKIT_DEBUG === '1';
}

// ---- schema pieces shared by commands -------------------------------------------------------

/** A whole number ≥ `min` given as a string option, e.g. `--threads 4`. */
export function intOption(min: number, example: string): z.ZodType<number, string> {
  const msg = `must be a whole number ≥ ${min} (e.g. ${example})`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, { error: msg })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: msg }));
}

/** One of `values`, e.g. `--ep cuda`. */
export function choiceOption<const T extends readonly [string, ...string[]]>(values: T): z.ZodType<T[number], string> {
  return z.enum(values, { error: `must be one of ${values.join(', ')}` });
}

/** Options every model-running command takes: execution provider, threads, CUDA device, model cache. */
export const runtimeOptionsShape = {
  ep: choiceOption(['auto', 'cuda', 'cpu'] as const).optional(),
  threads: intOption(1, '--threads 4').optional(),
  deviceId: intOption(0, '--device-id 0').optional(),
  cache: z.boolean().optional(),
};

/** The parsed form of {@link runtimeOptionsShape}. */
export interface RuntimeCliOptions {
  ep?: 'auto' | 'cuda' | 'cpu';
  threads?: number;
  deviceId?: number;
  cache?: boolean;
}

/**
 * Declares `--ep`, `--threads`, `--device-id` and (for commands that load models) `--no-cache` on
 * `cmd` (validated by {@link runtimeOptionsShape}).
 */
export function addRuntimeOptions(cmd: Command, { cache = true }: { cache?: boolean } = {}): Command {
  cmd
    .option('--ep <provider>', 'execution provider: auto (CUDA, else CPU), cuda or cpu [default: $BALMKIT_EP or auto]')
    .option('--threads <n>', 'intra-op threads [default: $BALMKIT_THREADS or the CPUs available]')
    .option('--device-id <n>', 'CUDA device number [default: 0]');
  if (cache) cmd.option('--no-cache', 'build the model afresh, not from the model cache (see `balmkit cache`; BALMKIT_NO_CACHE=1 does the same)');
  return cmd;
}

/** The session options given on the command line (only those given: the rest keep their defaults). */
export function runtimeOf(o: RuntimeCliOptions): RuntimeCliOptions {
  const r: RuntimeCliOptions = {};
  if (o.ep !== undefined) r.ep = o.ep;
  if (o.threads !== undefined) r.threads = o.threads;
  if (o.deviceId !== undefined) r.deviceId = o.deviceId;
  if (o.cache === false) r.cache = false;
  return r;
}

// ---- parsing --------------------------------------------------------------------------------

/** The flag (`--device-id`) commander declared for an options key (`deviceId`). */
function flagFor(cmd: Command, key: string): string {
  const o = cmd.options.find((opt) => opt.attributeName() === key);
  return o?.long ?? o?.short ?? `--${key}`;
}

/**
 * Validates a command's options with `schema`.
 *
 * @param cmd - the command (used to name options by their flags in errors).
 * @param schema - a zod object schema over the commander option keys; use `z.strictObject` so an
 *   option declared but not validated is caught.
 * @param raw - the options to validate (default: `cmd.opts()`).
 * @throws {@link UsageError} `--threads must be a whole number ≥ 1 (e.g. --threads 4), got "zero"`.
 */
export function parseOptions<S extends z.ZodType>(cmd: Command, schema: S, raw: Record<string, unknown> = cmd.opts()): z.output<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const { issue } = zodProblem(r.error);
  const key = issue.path[0];
  if (typeof key !== 'string') throw new UsageError(`${cmd.name()}: ${issue.message}`);
  if (issue.code === 'unrecognized_keys') {
    throw new UsageError(`${cmd.name()}: option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => flagFor(cmd, k)).join(', ')} not validated`);
  }
  const value = raw[key];
  const given = value === undefined ? '' : `, got ${JSON.stringify(value)}`;
  throw new UsageError(`${flagFor(cmd, key)} ${issue.message}${given}`);
}

// ---- errors ---------------------------------------------------------------------------------

/** Runtime errors that are about the user's input or machine, not a bug: no stack needed. */
const USAGE_ERROR_NAMES = new Set(['UsageError', 'OptionError', 'ViewInputError']);

/**
 * Prints `err` the balmkit way and returns the exit code: commander's own errors (already printed)
 * keep their code (help and version 0, usage errors 2); {@link UsageError} and the runtime's
 * `OptionError` give 2; anything else 1. A stack trace is printed only with `BALMKIT_DEBUG=1`.
 */
export function reportError(err: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  const e = err instanceof Error ? err : new Error(String(err));
  write(`balmkit: ${e.message}\n`);
  if (debugEnabled()) {
    write(`${e.stack ?? ''}\n`);
    if (e.cause !== undefined) write(`caused by: ${e.cause instanceof Error ? (e.cause.stack ?? e.cause.message) : String(e.cause)}\n`);
  }
  return USAGE_ERROR_NAMES.has(e.name) ? EXIT.usage : EXIT.failure;
}

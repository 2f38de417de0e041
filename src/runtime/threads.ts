/**
 * Thread settings for onnxruntime sessions.
 *
 * Intra-op threads (the pool that splits one MatMul or attention kernel across cores) default to
 * `os.availableParallelism()`, not to ORT's own default. ORT sizes its pool from the physical
 * cores it sees on the host, which inside a container or under `taskset` can be many more than
 * the process may use, and an oversubscribed spin-waiting pool is much slower than a right-sized
 * one. `availableParallelism()` is libuv's count of CPUs the process is allowed to run on (it
 * honours the affinity mask, e.g. `docker --cpuset-cpus`), and making the number explicit lets
 * `balmkit doctor` show exactly what sessions use.
 *
 * Inter-op threads default to 1: balmkit runs graphs in ORT's sequential execution mode, where
 * the inter-op pool is not used, so a larger pool would only hold idle threads.
 */
import os from 'node:os';
import { OptionError } from './errors.js';

/** The thread counts a session is created with, and where the intra-op count came from. */
export interface ThreadSettings {
  /** Threads used inside one operator (ORT `intraOpNumThreads`). */
  intraOpNumThreads: number;
  /** Threads used to run independent operators in parallel (ORT `interOpNumThreads`). */
  interOpNumThreads: number;
  /** Where `intraOpNumThreads` came from. */
  source: 'option' | 'BALMKIT_THREADS' | 'os.availableParallelism()';
}

/**
 * Parses a thread count given as a number or a string (CLI, environment).
 *
 * @param value - the value to check.
 * @param option - the option's name for the error message (`threads`, `BALMKIT_THREADS`).
 * @throws {@link OptionError} unless `value` is a whole number ≥ 1.
 */
export function parseThreadCount(value: unknown, option: string): number {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new OptionError(option, `${option} must be a whole number of threads ≥ 1, got ${JSON.stringify(value)} (e.g. ${option === 'threads' ? 'threads: 4' : `${option}=4`})`);
  }
  return n;
}

/**
 * Resolves the thread settings for a session: the explicit option, else `BALMKIT_THREADS`, else
 * `os.availableParallelism()`.
 *
 * @param threads - explicit intra-op thread count, if any.
 * @param env - the environment to read `BALMKIT_THREADS` from (defaults to `process.env`).
 * @throws {@link OptionError} for a value that is not a positive whole number.
 */
export function resolveThreads(threads?: number, env: NodeJS.ProcessEnv = process.env): ThreadSettings {
  if (threads !== undefined) {
    return { intraOpNumThreads: parseThreadCount(threads, 'threads'), interOpNumThreads: 1, source: 'option' };
  }
  const fromEnv = env.BALMKIT_THREADS;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return {
      intraOpNumThreads: parseThreadCount(fromEnv, 'BALMKIT_THREADS'),
      interOpNumThreads: 1,
      source: 'BALMKIT_THREADS',
    };
  }
  return { intraOpNumThreads: os.availableParallelism(), interOpNumThreads: 1, source: 'os.availableParallelism()' };
}

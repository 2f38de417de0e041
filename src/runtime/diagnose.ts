/**
 * A report of the runtime environment, as `balmkit doctor` prints it: versions, each execution
 * provider tried for real, the provider sessions would use, threads and model folders.
 */
import os from 'node:os';
import {
  type ExecutionProviderName,
  type ExecutionProviderOption,
  type OrtBackendInfo,
  type ProviderProbe,
  defaultProviders,
  ortBackends,
  ortBinFolder,
  ortVersion,
  parseDeviceId,
  resolveEpOption,
} from './providers.js';
import { type ModelSearchPath, modelSearchPaths, packageRoot, packageVersion } from './paths.js';
import { type ThreadSettings, resolveThreads } from './threads.js';

/** What {@link diagnose} found. Plain data: `JSON.stringify` gives `balmkit doctor --json`. */
export interface RuntimeReport {
  balmkit: { version: string; root: string };
  node: { version: string; platform: string; arch: string };
  onnxruntime: {
    version: string;
    /** `listSupportedBackends()`, or `null` when this onnxruntime-node has no such function. */
    backends: OrtBackendInfo[] | null;
    /** Where onnxruntime-node's native libraries (and the CUDA provider, if installed) live. */
    binFolder: string;
  };
  /** Every provider tried, in order (`cpu`, `cuda`), each by creating and running a one-node session. */
  providers: ProviderProbe[];
  /** The provider sessions created with these options would run on. */
  ep: {
    requested: ExecutionProviderOption;
    /** Where `requested` came from. */
    source: 'option' | 'BALMKIT_EP' | 'default';
    /** `null` when `requested` is `cuda` and CUDA is unavailable (sessions would throw). */
    resolved: ExecutionProviderName | null;
  };
  threads: ThreadSettings & { availableParallelism: number; cpus: number };
  /** Folders models are looked up in, in order. */
  models: ModelSearchPath[];
}

/** Options for {@link diagnose}: the same runtime options sessions take. */
export interface DiagnoseOptions {
  ep?: ExecutionProviderOption;
  threads?: number;
  deviceId?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Tries every execution provider and collects the runtime environment. Never fails because a
 * provider is unavailable; that is reported in `providers`.
 *
 * @throws {@link OptionError} when an option or `BALMKIT_EP` / `BALMKIT_THREADS` is invalid.
 */
export async function diagnose(opts: DiagnoseOptions = {}): Promise<RuntimeReport> {
  const env = opts.env ?? process.env;
  const requested = resolveEpOption(opts.ep, env);
  const source = opts.ep !== undefined ? 'option' : env.BALMKIT_EP?.trim() ? 'BALMKIT_EP' : 'default';
  const threads = resolveThreads(opts.threads, env);
  const deviceId = opts.deviceId === undefined ? 0 : parseDeviceId(opts.deviceId);

  const cpu = await defaultProviders.probe('cpu');
  const cuda = await defaultProviders.probe('cuda', deviceId);
  const resolved: ExecutionProviderName | null = requested === 'cpu' ? 'cpu' : cuda.available ? 'cuda' : requested === 'auto' ? 'cpu' : null;

  return {
    balmkit: { version: packageVersion(), root: packageRoot() },
    node: { version: process.version, platform: process.platform, arch: process.arch },
    onnxruntime: { version: ortVersion(), backends: ortBackends(), binFolder: ortBinFolder() },
    providers: [cpu, cuda],
    ep: { requested, source, resolved },
    threads: { ...threads, availableParallelism: os.availableParallelism(), cpus: os.cpus().length },
    models: modelSearchPaths(env),
  };
}

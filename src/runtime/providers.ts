/**
 * Execution providers: which one a session runs on, and the CUDA probe.
 *
 * `ep: 'auto'` really tries CUDA: onnxruntime-node throws (it does not fall back) when the CUDA
 * provider cannot be loaded, so balmkit creates and runs a one-node session on CUDA once per
 * process and remembers the answer. When CUDA does not load, `auto` runs on the CPU and says so
 * once per process on stderr, with ORT's reason and, when balmkit can tell, what to do about it.
 * `ep: 'cuda'` never falls back: it throws {@link ExecutionProviderError} with the same reason.
 *
 * ORT's C++ logger prints its own copy of a failed provider load to stderr (with ANSI colours and
 * a source location). balmkit lowers ORT's process-wide log level to `fatal` before it creates
 * its first session (unless the caller changed `ort.env.logLevel` from its default, or
 * `BALMKIT_DEBUG=1`), and gives every session `logSeverityLevel` 4, so the reason is said once,
 * by balmkit.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, op, serializeModel } from '../onnx/index.js';
import { ExecutionProviderError, OptionError } from './errors.js';

/** What a caller may ask for: CUDA with CPU fallback, CUDA only, or CPU only. */
export type ExecutionProviderOption = 'auto' | 'cuda' | 'cpu';
/** A provider a session actually runs on. */
export type ExecutionProviderName = 'cuda' | 'cpu';

/** The accepted values of the `ep` option and `BALMKIT_EP`. */
export const EP_OPTIONS: readonly ExecutionProviderOption[] = ['auto', 'cuda', 'cpu'];

/** The outcome of trying a provider by creating and running a one-node session on it. */
export interface ProviderProbe {
  provider: ExecutionProviderName;
  /** CUDA device ordinal tried (CUDA only). */
  deviceId?: number;
  available: boolean;
  /** Why it is unavailable: ORT's message, then balmkit's hint when there is one. */
  reason?: string;
  /** ORT's own error message, unchanged. */
  ortMessage?: string;
  /** What to do about it, when balmkit can tell (missing provider libraries, …). */
  hint?: string;
  /** A few words for the one-line CUDA → CPU notice (`reason` is the whole story). */
  summary?: string;
  /** Wall time of the probe in milliseconds (session creation + one run). */
  ms: number;
}

/** A backend as reported by onnxruntime-node's `listSupportedBackends()`. */
export interface OrtBackendInfo {
  name: string;
  /** Whether the backend's library ships inside the npm package (CUDA does not: it is downloaded at install). */
  bundled: boolean;
}

/** Where the fallback warning goes: one line, without the trailing newline. */
export type WarnSink = (line: string) => void;

const defaultWarn: WarnSink = (line) => {
  process.stderr.write(`${line}\n`);
};

/**
 * Parses the `ep` option, falling back to `BALMKIT_EP`, then `auto`.
 *
 * @param ep - the value given by the caller, if any.
 * @param env - the environment to read `BALMKIT_EP` from.
 * @throws {@link OptionError} for a value other than `auto`, `cuda`, `cpu`.
 */
export function resolveEpOption(ep?: string, env: NodeJS.ProcessEnv = process.env): ExecutionProviderOption {
  const [value, option] = ep !== undefined ? [ep, 'ep'] : [env.BALMKIT_EP, 'BALMKIT_EP'];
  if (value === undefined || value.trim() === '') return 'auto';
  const v = value.trim().toLowerCase();
  if ((EP_OPTIONS as readonly string[]).includes(v)) return v as ExecutionProviderOption;
  throw new OptionError(option, `${option} must be one of ${EP_OPTIONS.join(', ')}, got ${JSON.stringify(value)}`);
}

/**
 * Parses a CUDA device ordinal.
 *
 * @throws {@link OptionError} unless `value` is a whole number ≥ 0.
 */
export function parseDeviceId(value: unknown, option = 'deviceId'): number {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new OptionError(option, `${option} must be a CUDA device number ≥ 0, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** ORT's log severity for balmkit's sessions: fatal only, or warnings with `BALMKIT_DEBUG=1`. */
export function ortLogSeverity(): 2 | 4 {
  return process.env.BALMKIT_DEBUG === '1' ? 2 : 4;
}

let ortLoggingConfigured = false;

/**
 * Lowers ORT's process-wide log level to `fatal` before the first session is created, so that a
 * failed CUDA load is not also printed by ORT's C++ logger. Leaves the level alone if the caller
 * changed `ort.env.logLevel` from ORT's default (`warning`) or set `BALMKIT_DEBUG=1`. ORT reads
 * the level once, when its first session is created in the process; a later change has no effect.
 */
export function configureOrtLogging(): void {
  if (ortLoggingConfigured) return;
  ortLoggingConfigured = true;
  if (ort.env.logLevel === 'warning' && process.env.BALMKIT_DEBUG !== '1') ort.env.logLevel = 'fatal';
}

/** The backends onnxruntime-node was built with (`listSupportedBackends()`), or `null` on versions without it. */
export function ortBackends(): OrtBackendInfo[] | null {
  const list = (ort as { listSupportedBackends?: () => OrtBackendInfo[] }).listSupportedBackends;
  if (typeof list !== 'function') return null;
  return list().map((b) => ({ name: b.name, bundled: b.bundled }));
}

/** onnxruntime-node's version (`ort.env.versions.node`). */
export function ortVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common;
}

/** The folder holding onnxruntime-node's native libraries for this platform (where the CUDA provider must be). */
export function ortBinFolder(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  return path.join(path.dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/** The CUDA provider's library files expected in {@link ortBinFolder}, and whether each is there. */
export function cudaProviderFiles(): { file: string; present: boolean }[] {
  const names = process.platform === 'win32' ? ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'] : ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
  const dir = ortBinFolder();
  return names.map((name) => {
    const file = path.join(dir, name);
    return { file, present: fs.existsSync(file) };
  });
}

/**
 * The command that downloads onnxruntime-node's CUDA 12 provider: its own install script, run
 * directly (from the project folder), because npm runs no install scripts in balmkit's checkout
 * (.npmrc `ignore-scripts`) and npm 11 blocks dependencies' scripts by default.
 */
export const CUDA_INSTALL_COMMAND = 'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js';

/**
 * balmkit's hint for a provider that failed to load, or `undefined` when it has none. For CUDA it
 * checks whether this onnxruntime-node build has a CUDA backend at all and whether the provider
 * libraries were installed into ORT's bin folder.
 */
export function providerHint(provider: ExecutionProviderName, ortMessage: string): string | undefined {
  if (provider !== 'cuda') return undefined;
  const backends = ortBackends();
  if (backends !== null && !backends.some((b) => b.name === 'cuda')) {
    return `onnxruntime-node ${ortVersion()} has no CUDA provider for ${process.platform}/${process.arch}`;
  }
  const files = cudaProviderFiles();
  const missing = files.filter((f) => !f.present).map((f) => path.basename(f.file));
  if (missing.length > 0) {
    return (
      `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing from ${ortBinFolder()}: ` +
      `onnxruntime-node was installed without its CUDA provider; on a machine with CUDA 12 and internet access run ` +
      `\`${CUDA_INSTALL_COMMAND}\``
    );
  }
  if (/load|shared librar/i.test(ortMessage)) {
    const cudaLib = files[files.length - 1]?.file ?? ortBinFolder();
    return (
      `the CUDA provider is installed in ${ortBinFolder()} but could not be loaded: check that the CUDA 12 runtime ` +
      `and cuDNN 9 libraries are installed and on the library path (\`ldd ${cudaLib}\` lists what is missing)`
    );
  }
  return undefined;
}

/** A few words on why a provider failed, for the one-line fallback notice. */
export function providerSummary(provider: ExecutionProviderName, ortMessage: string): string {
  if (provider !== 'cuda') return `${provider} provider failed`;
  const backends = ortBackends();
  if (backends !== null && !backends.some((b) => b.name === 'cuda')) return 'this onnxruntime-node build has no CUDA provider';
  if (cudaProviderFiles().some((f) => !f.present)) return 'no CUDA provider installed';
  if (/load|shared librar/i.test(ortMessage)) return 'CUDA libraries could not be loaded';
  return 'CUDA provider failed';
}

/** ORT's message reduced to one line (its messages sometimes end in a newline or carry a stack). */
function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const line = msg.split('\n').find((l) => l.trim() !== '');
  return (line ?? msg).trim() || 'unknown error';
}

let probeBytes: Uint8Array | undefined;

/** The probe graph: `y = x + x` on one float32. */
function probeGraph(): Uint8Array {
  if (probeBytes === undefined) {
    const g = new GraphBuilder('balmkit_provider_probe');
    const x = g.input('x', 'float32', [1]);
    g.output(op.add(x, x), 'y');
    probeBytes = serializeModel(g);
  }
  return probeBytes;
}

/** ORT session options selecting `provider` (CUDA on `deviceId`). */
export function providerSessionOptions(provider: ExecutionProviderName, deviceId = 0): ort.InferenceSession.SessionOptions['executionProviders'] {
  return provider === 'cuda' ? [{ name: 'cuda', deviceId }] : ['cpu'];
}

/**
 * Tries `provider` now, without caching: creates a one-node session on it and runs it once.
 *
 * @param provider - `cuda` or `cpu`.
 * @param options.deviceId - CUDA device ordinal (default 0).
 * @returns whether it worked and, if not, why; never throws.
 */
export async function tryProvider(provider: ExecutionProviderName, options: { deviceId?: number } = {}): Promise<ProviderProbe> {
  const deviceId = options.deviceId ?? 0;
  const base = provider === 'cuda' ? { provider, deviceId } : { provider };
  configureOrtLogging();
  const t0 = performance.now();
  let session: ort.InferenceSession | undefined;
  try {
    session = await ort.InferenceSession.create(probeGraph(), {
      executionProviders: providerSessionOptions(provider, deviceId),
      logSeverityLevel: ortLogSeverity(),
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([1.5]), [1]) });
    const y = out.y?.data;
    if (!(y instanceof Float32Array) || y[0] !== 3) {
      throw new Error(`the probe graph computed ${y === undefined ? 'nothing' : String(y[0])} for 1.5 + 1.5`);
    }
    return { ...base, available: true, ms: performance.now() - t0 };
  } catch (err) {
    const ortMessage = firstLine(err);
    const hint = providerHint(provider, ortMessage);
    return {
      ...base,
      available: false,
      ortMessage,
      ...(hint !== undefined ? { hint } : {}),
      reason: hint !== undefined ? `${ortMessage}; ${hint}` : ortMessage,
      summary: providerSummary(provider, ortMessage),
      ms: performance.now() - t0,
    };
  } finally {
    await session?.release().catch(() => undefined);
  }
}

/**
 * Decides which provider sessions run on, probing each provider at most once (the probe promise is
 * cached, so concurrent callers share one probe) and warning at most once about the CUDA → CPU
 * fallback. One instance, {@link defaultProviders}, serves the whole process; tests may make their
 * own.
 */
export class ProviderResolver {
  private readonly probes = new Map<string, Promise<ProviderProbe>>();
  private warned = false;

  constructor(private readonly warn: WarnSink = defaultWarn) {}

  /** The cached result of {@link tryProvider} for `provider` (and CUDA device). */
  probe(provider: ExecutionProviderName, deviceId = 0): Promise<ProviderProbe> {
    const key = provider === 'cuda' ? `cuda:${deviceId}` : 'cpu';
    let p = this.probes.get(key);
    if (p === undefined) {
      p = tryProvider(provider, { deviceId });
      this.probes.set(key, p);
    }
    return p;
  }

  /** Whether the CUDA → CPU fallback has been announced by this resolver. */
  get hasWarned(): boolean {
    return this.warned;
  }

  /**
   * The provider to create a session on.
   *
   * - `cpu`: the CPU, without probing.
   * - `cuda`: CUDA if the probe succeeds, else throws {@link ExecutionProviderError} with the reason.
   * - `auto`: CUDA if the probe succeeds, else the CPU, writing once to the warn sink
   *   `balmkit: running on CPU (<summary>; \`balmkit doctor\` explains)`, or with BALMKIT_DEBUG=1
   *   `balmkit: CUDA execution provider unavailable (<reason>); running on CPU`.
   *
   * @param warn - overrides the resolver's sink for this call (the once-only rule still holds).
   */
  async choose(ep: ExecutionProviderOption, options: { deviceId?: number; warn?: WarnSink } = {}): Promise<ExecutionProviderName> {
    if (ep === 'cpu') return 'cpu';
    const probe = await this.probe('cuda', options.deviceId ?? 0);
    if (probe.available) return 'cuda';
    const reason = probe.reason ?? 'unknown reason';
    if (ep === 'cuda') throw new ExecutionProviderError('cuda', reason);
    if (!this.warned) {
      this.warned = true;
      (options.warn ?? this.warn)(fallbackNotice(probe));
    }
    return 'cpu';
  }
}

/** The one line `auto` writes when CUDA does not load: short, unless BALMKIT_DEBUG=1. */
export function fallbackNotice(probe: ProviderProbe): string {
  if (process.env.BALMKIT_DEBUG === '1') {
    return `balmkit: CUDA execution provider unavailable (${probe.reason ?? 'unknown reason'}); running on CPU`;
  }
  return `balmkit: running on CPU (${probe.summary ?? 'CUDA unavailable'}; \`balmkit doctor\` explains)`;
}

/** The process-wide resolver used by `createSession` and the CLI. */
export const defaultProviders = new ProviderResolver();

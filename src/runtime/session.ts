/**
 * Inference sessions from graph bytes, and a cache of them keyed by the graph's hash.
 *
 * ```ts
 * const s = await createSession(serializeModel(g), { ep: 'auto', threads: 4 });
 * const { y } = await s.run({ x: { dtype: 'float32', dims: [2], data: new Float32Array([1, 2]) } });
 * ```
 */
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import {
  type ExecutionProviderName,
  type ExecutionProviderOption,
  type ProviderResolver,
  type WarnSink,
  configureOrtLogging,
  defaultProviders,
  ortLogSeverity,
  parseDeviceId,
  providerSessionOptions,
  resolveEpOption,
} from './providers.js';
import { type ThreadSettings, resolveThreads } from './threads.js';
import { type Feeds, toOrtTensor } from './tensor.js';

/** Options for {@link createSession} and {@link SessionCache.get}. */
export interface SessionOptions {
  /** `auto` (CUDA, else CPU with one warning), `cuda` (or throw), `cpu`. Default: `BALMKIT_EP`, else `auto`. */
  ep?: ExecutionProviderOption;
  /** Intra-op threads. Default: `BALMKIT_THREADS`, else `os.availableParallelism()`. */
  threads?: number;
  /** CUDA device ordinal. Default 0. */
  deviceId?: number;
  /** Where the CUDA → CPU fallback warning goes (default: stderr); it is still said once per process. */
  warn?: WarnSink;
  /** ORT graph optimization level. Default `all`. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** The provider resolver (default: the process-wide one). Tests use their own. */
  providers?: ProviderResolver;
}

/** Options after defaults and environment variables are applied. */
export interface ResolvedSessionOptions {
  ep: ExecutionProviderOption;
  threads: ThreadSettings;
  deviceId: number;
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
}

/** A session on one execution provider. */
export interface Session {
  /** Graph input names, in graph order. */
  readonly inputNames: readonly string[];
  /** Graph output names, in graph order. */
  readonly outputNames: readonly string[];
  /** The provider the session was created on (`cuda` or `cpu`). */
  readonly ep: ExecutionProviderName;
  /** The thread settings it was created with. */
  readonly threads: ThreadSettings;
  /** Whether {@link Session.release} has been called. */
  readonly released: boolean;
  /** The underlying ORT session, for what the wrapper does not cover. */
  readonly ort: ort.InferenceSession;
  /**
   * Runs the graph. Every graph input must be fed; unknown names are rejected.
   *
   * @param outputs - output names to fetch (default: all).
   * @returns the outputs by name.
   */
  run(feeds: Feeds, outputs?: readonly string[]): Promise<Record<string, ort.Tensor>>;
  /** Frees the native session. Further `run` calls throw. */
  release(): Promise<void>;
}

/**
 * Applies defaults and environment variables (`BALMKIT_EP`, `BALMKIT_THREADS`) and validates.
 *
 * @throws {@link OptionError} naming the option or variable at fault.
 */
export function resolveSessionOptions(opts: SessionOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedSessionOptions {
  return {
    ep: resolveEpOption(opts.ep, env),
    threads: resolveThreads(opts.threads, env),
    deviceId: opts.deviceId === undefined ? 0 : parseDeviceId(opts.deviceId),
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
  };
}

class OrtSession implements Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private isReleased = false;

  constructor(
    readonly ort: ort.InferenceSession,
    readonly ep: ExecutionProviderName,
    readonly threads: ThreadSettings,
  ) {
    this.inputNames = [...ort.inputNames];
    this.outputNames = [...ort.outputNames];
  }

  get released(): boolean {
    return this.isReleased;
  }

  async run(feeds: Feeds, outputs?: readonly string[]): Promise<Record<string, ort.Tensor>> {
    if (this.isReleased) throw new Error('run() on a released session');
    const missing = this.inputNames.filter((n) => !(n in feeds));
    const unknown = Object.keys(feeds).filter((n) => !this.inputNames.includes(n));
    if (missing.length > 0 || unknown.length > 0) {
      const parts = [
        missing.length > 0 ? `missing input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}` : '',
        unknown.length > 0 ? `unknown input${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}` : '',
      ].filter((p) => p !== '');
      throw new Error(`run(): ${parts.join('; ')} (the graph takes ${this.inputNames.map((n) => `'${n}'`).join(', ')})`);
    }
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of this.inputNames) ortFeeds[name] = toOrtTensor(feeds[name], name);
    const result = outputs === undefined ? await this.ort.run(ortFeeds) : await this.ort.run(ortFeeds, [...outputs]);
    return result;
  }

  async release(): Promise<void> {
    if (this.isReleased) return;
    this.isReleased = true;
    await this.ort.release();
  }
}

/**
 * Creates a session on an already chosen provider with resolved options.
 *
 * @param optimizedModelFilePath - where ORT writes the model after its graph optimizations (the
 *   model cache stores it).
 */
export async function createSessionWith(bytes: Uint8Array, ep: ExecutionProviderName, resolved: ResolvedSessionOptions, optimizedModelFilePath?: string): Promise<Session> {
  configureOrtLogging();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      ...(optimizedModelFilePath !== undefined ? { optimizedModelFilePath } : {}),
      executionProviders: providerSessionOptions(ep, resolved.deviceId),
      intraOpNumThreads: resolved.threads.intraOpNumThreads,
      interOpNumThreads: resolved.threads.interOpNumThreads,
      executionMode: 'sequential',
      graphOptimizationLevel: resolved.graphOptimizationLevel,
      logSeverityLevel: ortLogSeverity(),
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message.trim() : String(err);
    throw new Error(`onnxruntime could not create a ${ep.toUpperCase()} session: ${msg}`, { cause: err });
  }
  return new OrtSession(session, ep, resolved.threads);
}

/**
 * Creates a session from serialized ONNX bytes on the provider the options select.
 *
 * @param bytes - a serialized ONNX model (e.g. `serializeModel(graph)`).
 * @throws {@link OptionError} for invalid options, {@link ExecutionProviderError} when `ep: 'cuda'`
 *   and CUDA cannot be used, Error when ORT rejects the graph.
 */
export async function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<Session> {
  const [resolved, ep] = await resolveAndChoose(opts);
  return createSessionWith(bytes, ep, resolved);
}

/** Resolves the options and picks the provider (probing CUDA once per process for `auto`/`cuda`). */
export async function resolveAndChoose(opts: SessionOptions): Promise<[ResolvedSessionOptions, ExecutionProviderName]> {
  const resolved = resolveSessionOptions(opts);
  const ep = await (opts.providers ?? defaultProviders).choose(resolved.ep, {
    deviceId: resolved.deviceId,
    ...(opts.warn !== undefined ? { warn: opts.warn } : {}),
  });
  return [resolved, ep];
}

/** sha256 of the graph bytes, hex. */
export function graphHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

interface CacheEntry {
  promise: Promise<Session>;
  session?: Session;
}

/**
 * Sessions shared by graph: the same bytes with the same resolved options give the same session,
 * also when requested concurrently (the creation promise is what is cached). The key is the
 * sha256 of the bytes plus the provider actually chosen, thread counts, device and optimization
 * level. A failed creation is not cached. Sessions from the cache belong to it: free them with
 * {@link SessionCache.delete} or {@link SessionCache.clear}; a session released by hand is
 * replaced on the next `get`.
 */
export class SessionCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly hashes = new WeakMap<Uint8Array, string>();

  /** Number of cached (or pending) sessions. */
  get size(): number {
    return this.entries.size;
  }

  /** The cache key for `bytes` with `opts`, once the provider is chosen. */
  async key(bytes: Uint8Array, opts: SessionOptions = {}): Promise<string> {
    const [resolved, ep] = await resolveAndChoose(opts);
    return this.keyFor(bytes, ep, resolved);
  }

  private keyFor(bytes: Uint8Array, ep: ExecutionProviderName, r: ResolvedSessionOptions): string {
    let hash = this.hashes.get(bytes);
    if (hash === undefined) {
      hash = graphHash(bytes);
      this.hashes.set(bytes, hash);
    }
    const device = ep === 'cuda' ? `:${r.deviceId}` : '';
    return `${hash}|${ep}${device}|intra=${r.threads.intraOpNumThreads}|inter=${r.threads.interOpNumThreads}|opt=${r.graphOptimizationLevel}`;
  }

  /**
   * The session for `bytes` and `opts`, created on first use.
   *
   * @throws as {@link createSession}.
   */
  async get(bytes: Uint8Array, opts: SessionOptions = {}): Promise<Session> {
    const [resolved, ep] = await resolveAndChoose(opts);
    // No await between reading and writing the map: concurrent callers see one entry.
    const key = this.keyFor(bytes, ep, resolved);
    const existing = this.entries.get(key);
    if (existing !== undefined && !(existing.session?.released ?? false)) return existing.promise;
    const entry: CacheEntry = { promise: createSessionWith(bytes, ep, resolved) };
    this.entries.set(key, entry);
    entry.promise.then(
      (s) => {
        entry.session = s;
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.promise;
  }

  /** Releases and forgets the session for `bytes` and `opts`, if cached. */
  async delete(bytes: Uint8Array, opts: SessionOptions = {}): Promise<boolean> {
    const key = await this.key(bytes, opts);
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    const s = await entry.promise.catch(() => undefined);
    await s?.release();
    return true;
  }

  /** Releases every cached session and empties the cache. */
  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) {
      const s = await e.promise.catch(() => undefined);
      await s?.release();
    }
  }
}

/** The process-wide session cache. */
export const sessionCache = new SessionCache();

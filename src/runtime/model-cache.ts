/**
 * A disk cache of built models: the graph balmkit emits, after onnxruntime's graph optimizations,
 * so a new process skips reading the weights, emitting the graph and optimizing it.
 *
 * An entry is keyed by everything the optimized model depends on: the content of the files the
 * graph is built from (weights, config), the builder's parameters, balmkit's version and code,
 * onnxruntime's version, the execution provider, the optimization level and the CPU (ORT's fully optimized CPU
 * models carry layout choices for the processor they were made on). On a hit the stored model is
 * verified against the sha256 in its `meta.json`; a corrupt, truncated or mismatched entry is said
 * once on stderr, removed and rebuilt. Entries are written to a private temporary folder and
 * renamed into place, so two processes building the same model at once both succeed and a reader
 * never sees half an entry.
 *
 * Where: `BALMKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/balmkit`, `~/.cache/balmkit` (Linux),
 * `~/Library/Caches/balmkit` (macOS), `%LOCALAPPDATA%\balmkit\cache` (Windows). Off with
 * `BALMKIT_NO_CACHE=1` or `{ cache: false }` (the CLI's `--no-cache`); `balmkit cache clear`
 * empties it.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageVersion } from './paths.js';
import { ortVersion } from './providers.js';
import { type ResolvedSessionOptions, type Session, type SessionOptions, createSessionWith, graphHash, resolveAndChoose } from './session.js';

/** Bumped when the entry layout or the key's meaning changes. */
const FORMAT = 1;
const MODEL_FILE = 'model.onnx';
const META_FILE = 'meta.json';

/** What a cached model is built from. */
export interface ModelBuild {
  /** What it is, for messages and `balmkit cache info` (e.g. `balmfold-small fold graph`). */
  label: string;
  /** Files whose contents determine the graph (weights, config.json). */
  files: readonly string[];
  /** Everything else the graph depends on (the config as used, builder options); JSON-serialisable. */
  params: unknown;
  /** Emits the serialized graph; called only on a miss. */
  build: () => Uint8Array;
}

/** Options of {@link cachedSession}: the session's, and whether to use the cache. */
export interface CachedSessionOptions extends SessionOptions {
  /** Use the disk cache (default: true unless `BALMKIT_NO_CACHE=1`). */
  cache?: boolean;
  /** The cache folder (default: {@link cacheDir}). */
  cacheDir?: string;
}

/** How a {@link cachedSession} came about, for timings and tests. */
export type CacheOutcome = 'hit' | 'miss' | 'rebuilt' | 'off';

/** A session and how it was obtained. */
export interface CachedSession {
  session: Session;
  outcome: CacheOutcome;
  /** The entry's key (sha256 hex), or null with the cache off. */
  key: string | null;
}

/** One entry's `meta.json`. */
interface EntryMeta {
  format: number;
  key: string;
  label: string;
  sha256: string;
  bytes: number;
  created: string;
  keyFields: KeyFields;
}

interface KeyFields {
  format: number;
  balmkit: string;
  /** sha256 of balmkit's own code (the graph builders): a changed builder never loads an old graph. */
  code: string;
  onnxruntime: string;
  ep: string;
  deviceId: number;
  optimization: string;
  cpu: string;
  label: string;
  files: { name: string; sha256: string }[];
  params: unknown;
}

/** The cache folder (not created). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BALMKIT_CACHE_DIR) return path.resolve(env.BALMKIT_CACHE_DIR);
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local'), 'balmkit', 'cache');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Caches', 'balmkit');
  return path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'balmkit');
}

/** Whether the cache is on for these options and environment. */
export function cacheEnabled(opts: { cache?: boolean } = {}, env: NodeJS.ProcessEnv = process.env): boolean {
  if (opts.cache !== undefined) return opts.cache;
  return env.BALMKIT_NO_CACHE !== '1';
}

const said = new Set<string>();
function sayOnce(line: string): void {
  if (said.has(line)) return;
  said.add(line);
  process.stderr.write(`${line}\n`);
}

/** The processor, as far as it decides ORT's CPU kernels: model name and instruction-set flags. */
function cpuSignature(): string {
  let flags = '';
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    flags = /^flags\s*:(.*)$/m.exec(info)?.[1]?.trim().split(/\s+/).sort().join(' ') ?? '';
  } catch {
    /* not Linux: the model name and architecture stand for it */
  }
  const model = os.cpus()[0]?.model ?? 'unknown';
  return createHash('sha256').update(`${process.arch}|${model}|${flags}`).digest('hex').slice(0, 16);
}

let cpuSig: string | undefined;
let codeSig: string | undefined;

/**
 * sha256 over the contents of balmkit's library code (the folder this module sits in: `src/` or
 * the built `dist/src/`). The version alone does not tell two builds of one version apart (a
 * source checkout between releases), and a graph emitted by older builder code must not load.
 */
function codeSignature(): string {
  const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(js|ts|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) h.update(path.relative(root, p)).update('\0').update(fs.readFileSync(p)).update('\0');
    }
  };
  walk(root);
  return h.digest('hex').slice(0, 32);
}

/** sha256 of a file's contents, remembered per (path, size, mtime, inode) in the cache folder. */
function fileHash(file: string, dir: string): string {
  const st = fs.statSync(file);
  const real = fs.realpathSync(file);
  const memoDir = path.join(dir, 'file-hashes');
  const memo = path.join(memoDir, `${createHash('sha256').update(real).digest('hex').slice(0, 32)}.json`);
  const stamp = `${st.size}|${st.mtimeMs}|${st.ino}`;
  try {
    const m = JSON.parse(fs.readFileSync(memo, 'utf8')) as { path?: string; stamp?: string; sha256?: string };
    if (m.path === real && m.stamp === stamp && typeof m.sha256 === 'string') return m.sha256;
  } catch {
    /* no memo yet, or an unreadable one: hash the file */
  }
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  const sha256 = h.digest('hex');
  try {
    fs.mkdirSync(memoDir, { recursive: true });
    writeAtomic(memo, JSON.stringify({ path: real, stamp, sha256 }));
  } catch {
    /* a read-only cache still works, it only hashes again next time */
  }
  return sha256;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function keyFields(build: ModelBuild, resolved: ResolvedSessionOptions, ep: string, dir: string): KeyFields {
  cpuSig ??= cpuSignature();
  codeSig ??= codeSignature();
  return {
    format: FORMAT,
    balmkit: packageVersion(),
    code: codeSig,
    onnxruntime: ortVersion(),
    ep,
    deviceId: ep === 'cuda' ? resolved.deviceId : 0,
    optimization: resolved.graphOptimizationLevel,
    cpu: cpuSig,
    label: build.label,
    files: build.files.map((f) => ({ name: path.basename(f), sha256: fileHash(f, dir) })),
    params: build.params,
  };
}

/** The stored model of an entry when it is whole and matches `fields`; otherwise why not. */
function readEntry(entry: string, fields: KeyFields): { bytes: Uint8Array } | { problem: string } | null {
  let metaText: string;
  try {
    metaText = fs.readFileSync(path.join(entry, META_FILE), 'utf8');
  } catch {
    return fs.existsSync(entry) ? { problem: 'no meta.json' } : null;
  }
  let meta: EntryMeta;
  try {
    meta = JSON.parse(metaText) as EntryMeta;
  } catch {
    return { problem: 'meta.json is not valid JSON' };
  }
  if (JSON.stringify(meta.keyFields) !== JSON.stringify(fields)) return { problem: 'stale (it was built from other inputs)' };
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(path.join(entry, MODEL_FILE));
  } catch {
    return { problem: `no ${MODEL_FILE}` };
  }
  if (bytes.length !== meta.bytes) return { problem: `${MODEL_FILE} has ${bytes.length} bytes, ${meta.bytes} expected (truncated?)` };
  if (graphHash(bytes) !== meta.sha256) return { problem: `${MODEL_FILE} does not match its sha256 (corrupt)` };
  return { bytes };
}

/**
 * A session for a model, from the disk cache when an entry for exactly these inputs exists,
 * otherwise built (and, after onnxruntime optimized it, stored for the next process).
 *
 * Never fails because of the cache: an unwritable cache folder is said once and skipped.
 */
export async function cachedSession(build: ModelBuild, opts: CachedSessionOptions = {}): Promise<CachedSession> {
  const [resolved, ep] = await resolveAndChoose(opts);
  if (!cacheEnabled(opts)) return { session: await createSessionWith(build.build(), ep, resolved), outcome: 'off', key: null };
  const dir = opts.cacheDir ?? cacheDir();
  let fields: KeyFields;
  try {
    fs.mkdirSync(dir, { recursive: true });
    fields = keyFields(build, resolved, ep, dir);
  } catch (err) {
    sayOnce(`balmkit: model cache ${dir} unusable (${(err as Error).message}); building without it`);
    return { session: await createSessionWith(build.build(), ep, resolved), outcome: 'off', key: null };
  }
  const key = graphHash(new TextEncoder().encode(JSON.stringify(fields)));
  const entry = path.join(dir, 'models', key);
  const found = readEntry(entry, fields);
  let outcome: CacheOutcome = 'miss';
  if (found && 'bytes' in found) {
    try {
      // Already optimized for this provider and processor: skip ORT's optimizations.
      const session = await createSessionWith(found.bytes, ep, { ...resolved, graphOptimizationLevel: 'disabled' });
      return { session, outcome: 'hit', key };
    } catch (err) {
      sayOnce(`balmkit: cached ${build.label} could not be loaded (${(err as Error).message.split('\n')[0]}); rebuilding it`);
      outcome = 'rebuilt';
    }
  } else if (found) {
    sayOnce(`balmkit: cached ${build.label} is unusable (${found.problem}); rebuilding it`);
    outcome = 'rebuilt';
  }
  if (outcome === 'rebuilt') fs.rmSync(entry, { recursive: true, force: true });

  const bytes = build.build();
  const tmp = path.join(dir, 'models', `.${key}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let session: Session;
  try {
    fs.mkdirSync(tmp, { recursive: true });
    session = await createSessionWith(bytes, ep, resolved, path.join(tmp, MODEL_FILE));
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(dir, 'models'))) throw err;
    // The session failed: retry without saving, so a cache problem never hides the real error.
    const plain = await createSessionWith(bytes, ep, resolved);
    sayOnce(`balmkit: could not store ${build.label} in the model cache (${(err as Error).message.split('\n')[0]})`);
    return { session: plain, outcome: 'off', key: null };
  }
  try {
    const stored = fs.readFileSync(path.join(tmp, MODEL_FILE));
    const meta: EntryMeta = {
      format: FORMAT,
      key,
      label: build.label,
      sha256: graphHash(stored),
      bytes: stored.length,
      created: new Date().toISOString(),
      keyFields: fields,
    };
    fs.writeFileSync(path.join(tmp, META_FILE), `${JSON.stringify(meta, null, 1)}\n`);
    try {
      fs.renameSync(tmp, entry);
    } catch (err) {
      // Another process stored the same entry first: theirs is as good as ours.
      if (!['EEXIST', 'ENOTEMPTY', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  } catch (err) {
    sayOnce(`balmkit: could not store ${build.label} in the model cache ${dir} (${(err as Error).message})`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { session, outcome, key };
}

/** One entry, as `balmkit cache info` lists it. */
export interface CacheEntryInfo {
  key: string;
  label: string;
  bytes: number;
  created: string;
  balmkit: string;
  onnxruntime: string;
  ep: string;
}

/** The cache's entries (unreadable ones are listed with label `?`). */
export function listCache(dir: string = cacheDir()): CacheEntryInfo[] {
  const models = path.join(dir, 'models');
  if (!fs.existsSync(models)) return [];
  const out: CacheEntryInfo[] = [];
  for (const key of fs
    .readdirSync(models)
    .filter((k) => !k.startsWith('.'))
    .sort()) {
    let meta: Partial<EntryMeta> = {};
    try {
      meta = JSON.parse(fs.readFileSync(path.join(models, key, META_FILE), 'utf8')) as EntryMeta;
    } catch {
      /* listed as unreadable */
    }
    out.push({
      key,
      label: meta.label ?? '?',
      bytes: meta.bytes ?? 0,
      created: meta.created ?? '?',
      balmkit: meta.keyFields?.balmkit ?? '?',
      onnxruntime: meta.keyFields?.onnxruntime ?? '?',
      ep: meta.keyFields?.ep ?? '?',
    });
  }
  return out;
}

/** Removes every entry (and the remembered file hashes); returns how many entries and bytes went. */
export function clearCache(dir: string = cacheDir()): { entries: number; bytes: number } {
  const entries = listCache(dir);
  let bytes = 0;
  for (const sub of ['models', 'file-hashes']) {
    const p = path.join(dir, sub);
    if (!fs.existsSync(p)) continue;
    for (const e of fs.readdirSync(p)) {
      const f = path.join(p, e);
      bytes += sizeOf(f);
      fs.rmSync(f, { recursive: true, force: true });
    }
  }
  return { entries: entries.length, bytes };
}

function sizeOf(p: string): number {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((n, e) => n + sizeOf(path.join(p, e)), 0);
}

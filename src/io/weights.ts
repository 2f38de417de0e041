/**
 * One entry point for model weights: a safetensors file, a `torch.save` checkpoint, or a Hugging
 * Face model folder, told apart by content (not by file name).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { readSafetensors } from './safetensors.js';
import type { NamedTensors } from './tensor.js';
import { readTorchStateDict } from './torch.js';
import { looksLikeZip, openFileSource } from './zip.js';

/** What kind of weight file a path holds, judged from its first bytes. */
export type WeightFormat = 'safetensors' | 'torch' | 'torch-legacy' | 'unknown';

/** Guesses a file's weight format from its first bytes (reads at most 16 bytes). */
export function detectWeightFormat(path: string): WeightFormat {
  const src = openFileSource(path);
  try {
    const head = src.read(0, Math.min(16, src.size));
    if (looksLikeZip(head)) return 'torch';
    // safetensors before legacy torch: a header length whose low byte is 0x80 looks like PROTO.
    if (head.length >= 9 && head[8] === 0x7b /* '{' */) {
      const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
      if (n <= BigInt(src.size - 8)) return 'safetensors';
    }
    if (head[0] === 0x80) return 'torch-legacy'; // a bare pickle stream: torch.save before 1.6
    return 'unknown';
  } finally {
    src.close();
  }
}

/** Options of {@link readWeights}. */
export interface ReadWeightsOptions {
  /** For training checkpoints: the top-level key of the state dict (see `readTorchStateDict`). */
  key?: string;
}

/** Files a Hugging Face model folder may hold its weights in, in order of preference. */
const HF_WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'];

/**
 * Reads named tensors from model weights, dispatching on content:
 * - a safetensors file;
 * - a `torch.save` zip checkpoint (`pytorch_model.bin`, `.pt`, `.pth`), read without Python and
 *   without running anything in it (see `readTorchStateDict`);
 * - a Hugging Face model folder with `model.safetensors`, `pytorch_model.bin`, or a sharded
 *   `*.index.json` of either (checked in that order).
 *
 * float16/bfloat16 tensors keep their raw bits; convert with `toFloat32` where numbers are needed.
 * @throws an `Error` naming the path for unknown formats, legacy torch files, or a folder without
 * weights.
 */
export function readWeights(path: string, options: ReadWeightsOptions = {}): NamedTensors {
  if (statSync(path).isDirectory()) {
    const p = folderWeightFile(path);
    return p.endsWith('.index.json') ? readShardedWeights(p, options) : readWeights(p, options);
  }
  switch (detectWeightFormat(path)) {
    case 'safetensors':
      if (options.key !== undefined) {
        throw new Error(`${path}: is a safetensors file, which has no nested state dicts; drop the key '${options.key}'`);
      }
      return readSafetensors(path).tensors;
    case 'torch':
    case 'torch-legacy': // the torch reader explains how to convert a legacy file
      return readTorchStateDict(path, options);
    default:
      throw new Error(`${path}: not a recognised weight file (expected safetensors, a torch.save checkpoint, or a Hugging Face model folder)`);
  }
}

/**
 * The files {@link readWeights} reads for `path`: the file itself, the weights file a Hugging Face
 * folder holds (by the same preference), or a sharded index and its shards. For cache keys.
 */
export function weightFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) {
    if (!path.endsWith('.index.json')) return [path];
    const map = (JSON.parse(readFileSync(path, 'utf8')) as { weight_map?: Record<string, string> }).weight_map ?? {};
    return [path, ...[...new Set(Object.values(map))].sort().map((f) => join(path, '..', f))];
  }
  return weightFiles(folderWeightFile(path));
}

/** The weights file of a Hugging Face model folder, in {@link HF_WEIGHT_FILES}' order of preference. */
function folderWeightFile(dir: string): string {
  for (const f of HF_WEIGHT_FILES) {
    const p = join(dir, f);
    if (statSync(p, { throwIfNoEntry: false })?.isFile()) return p;
  }
  const listing = readdirSync(dir).slice(0, 20).join(', ');
  throw new Error(`${dir}: folder has no model weights (looked for ${HF_WEIGHT_FILES.join(', ')}; found: ${listing || 'nothing'})`);
}

/** Reads a sharded checkpoint from its `*.index.json` (`{"weight_map": {name: shard file}}`). */
function readShardedWeights(indexPath: string, options: ReadWeightsOptions): NamedTensors {
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (err) {
    throw new Error(`${indexPath}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new Error(`${indexPath}: has no weight_map object`);
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
      throw new Error(`${indexPath}: weight_map entry '${name}' names an invalid shard ${JSON.stringify(shard)}`);
    }
    byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
  }
  const dir = join(indexPath, '..');
  const out: NamedTensors = new Map();
  for (const [shard, names] of byShard) {
    const shardPath = join(dir, shard);
    const tensors = readWeights(shardPath, options);
    for (const name of names) {
      const t = tensors.get(name);
      if (!t) throw new Error(`${indexPath}: tensor '${name}' is mapped to ${shard}, which does not contain it`);
      out.set(name, t);
    }
  }
  return out;
}

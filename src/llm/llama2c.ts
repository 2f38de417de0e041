/**
 * llama2.c checkpoints (karpathy/llama2.c, the legacy `.bin` export read by `run.c`): a header of
 * seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative
 * vocab_size means the classifier is not shared with the embedding), then float32 arrays in a
 * fixed order. The tensors are named as `buildDecoderGraph` expects; the file's own layout is
 * already PyTorch's [out, in].
 */
import { readFileSync } from 'node:fs';
import type { HostTensor, NamedTensors } from '../io/tensor.js';
import type { DecoderConfig } from '../nn/index.js';

/** The header of a llama2.c checkpoint. */
export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  seqLen: number;
  /** The classifier is the embedding table (vocab_size > 0 in the file). */
  shared: boolean;
}

/** A checkpoint read into decoder-named tensors, with its decoder config. */
export interface Llama2cCheckpoint {
  header: Llama2cHeader;
  config: DecoderConfig;
  tensors: NamedTensors;
}

const HEADER_BYTES = 28;

/** Whether the first bytes look like a legacy llama2.c header (seven plausible positive ints). */
export function looksLikeLlama2c(bytes: Uint8Array): boolean {
  if (bytes.length < HEADER_BYTES) return false;
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const h = Array.from({ length: 7 }, (_, i) => v.getInt32(i * 4, true));
  const [dim, hidden, layers, heads, kv, vocab, seq] = h as [number, number, number, number, number, number, number];
  return dim > 0 && hidden > 0 && layers > 0 && heads > 0 && kv > 0 && vocab !== 0 && seq > 0 && dim % heads === 0 && heads % kv === 0 && dim < 1 << 16 && layers < 1024;
}

/**
 * Reads a llama2.c checkpoint. The weights are float32 views of one copy of the file.
 * @throws naming the file and the tensor that a truncated file cuts, or a header that makes no sense.
 */
export function readLlama2cCheckpoint(path: string): Llama2cCheckpoint {
  const buf = readFileSync(path);
  if (buf.length < HEADER_BYTES) throw new Error(`${path}: ${buf.length} bytes is too short for a llama2.c header (28 bytes)`);
  if (buf.readUInt32LE(0) === 0x616b3432) {
    throw new Error(`${path}: is a llama2.c version-${buf.readInt32LE(4)} export ("ak42" magic); balmkit reads the legacy format (export.py --version 0)`);
  }
  if (!looksLikeLlama2c(buf)) throw new Error(`${path}: not a llama2.c checkpoint (its first 28 bytes are not a plausible header)`);
  const h = Array.from({ length: 7 }, (_, i) => buf.readInt32LE(i * 4));
  const header: Llama2cHeader = {
    dim: h[0],
    hiddenDim: h[1],
    layers: h[2],
    heads: h[3],
    kvHeads: h[4],
    vocab: Math.abs(h[5]),
    seqLen: h[6],
    shared: h[5] > 0,
  };
  const { dim, hiddenDim: ffn, layers: L, heads, kvHeads, vocab, seqLen } = header;
  const headSize = dim / heads;
  const kvDim = kvHeads * headSize;
  // run.c's memory_map_weights order.
  const plan: [string, number[], number][] = [['embed.weight', [vocab, dim], 1]];
  const perLayer = (name: string, shape: number[]) => plan.push([name, shape, L]);
  perLayer('attn_norm.weight', [dim]);
  perLayer('attn.q_proj.weight', [dim, dim]);
  perLayer('attn.k_proj.weight', [kvDim, dim]);
  perLayer('attn.v_proj.weight', [kvDim, dim]);
  perLayer('attn.o_proj.weight', [dim, dim]);
  perLayer('mlp_norm.weight', [dim]);
  perLayer('mlp.gate_proj.weight', [ffn, dim]); // w1
  perLayer('mlp.down_proj.weight', [dim, ffn]); // w2
  perLayer('mlp.up_proj.weight', [ffn, dim]); // w3
  plan.push(['final_norm.weight', [dim], 1]);
  plan.push(['(unused freq_cis_real)', [seqLen, headSize / 2], 1]);
  plan.push(['(unused freq_cis_imag)', [seqLen, headSize / 2], 1]);
  if (!header.shared) plan.push(['lm_head.weight', [vocab, dim], 1]);

  const tensors: NamedTensors = new Map();
  let offset = HEADER_BYTES;
  // One copy into a fresh buffer: Float32Array views need 4-byte alignment, which a Buffer from the pool may lack.
  const own = new Uint8Array(buf.length);
  own.set(buf);
  const floats = new Float32Array(own.buffer, 0, Math.floor(buf.length / 4));
  const need = plan.reduce((n, [, shape, count]) => n + count * shape.reduce((a, b) => a * b, 1) * 4, HEADER_BYTES);
  for (const [name, shape, count] of plan) {
    const n = shape.reduce((a, b) => a * b, 1);
    for (let l = 0; l < count; l++) {
      const full = count > 1 || name.startsWith('attn') || name.startsWith('mlp') ? `layers.${l}.${name}` : name;
      if (offset + n * 4 > buf.length) {
        throw new Error(`${path}: truncated: tensor '${full}' [${shape.join(',')}] needs bytes ${offset}…${offset + n * 4} but the file has ${buf.length} (the header asks for ${need} bytes in all)`);
      }
      if (!name.startsWith('(')) {
        const t: HostTensor = { dtype: 'float32', shape: [...shape], data: floats.subarray(offset / 4, offset / 4 + n) };
        tensors.set(full, t);
      }
      offset += n * 4;
    }
  }
  if (offset !== buf.length) throw new Error(`${path}: ${buf.length - offset} bytes after the last tensor; the header (dim ${dim}, ${L} layers, vocab ${vocab}) does not describe this file`);
  const config: DecoderConfig = {
    vocab,
    hidden: dim,
    layers: L,
    heads,
    kvHeads,
    ffn,
    eps: 1e-5, // run.c's rmsnorm
    rotary: { convention: 'interleaved', theta: 10000 }, // run.c rotates pairs (2i, 2i+1) per head
    tiedEmbeddings: header.shared,
  };
  return { header, config, tensors };
}

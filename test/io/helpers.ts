/** Test helpers for src/io: fixture paths, bit comparison, and a tiny zip writer for crafted archives. */
import { deflateRawSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

import { crc32 } from '../../src/io/zip.js';
import type { HostTensor } from '../../src/io/tensor.js';
import { mulberry32 } from '../../src/util/random.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/torch/', import.meta.url));
export const fixture = (name: string): string => join(FIXTURES, name);

/** Raw bytes of a tensor's data, for bit-exact comparisons. */
export function rawBytes(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Describes the first difference between two tensors, or returns undefined when they are bit-identical. */
export function tensorDiff(a: HostTensor, b: HostTensor): string | undefined {
  if (a.dtype !== b.dtype) return `dtype ${a.dtype} vs ${b.dtype}`;
  if (a.shape.join(',') !== b.shape.join(',')) return `shape [${a.shape}] vs [${b.shape}]`;
  const x = rawBytes(a);
  const y = rawBytes(b);
  if (x.length !== y.length) return `byte length ${x.length} vs ${y.length}`;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `byte ${i}: ${x[i]} vs ${y[i]}`;
  return undefined;
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Compress with deflate (method 8) instead of STORED. */
  deflate?: boolean;
}

/**
 * Writes a zip archive. With `zip64`, every size/offset in the central directory is saturated
 * (0xFFFFFFFF) and carried in ZIP64 extra fields, with a ZIP64 end record and locator — the layout
 * torch writes for checkpoints over 4 GiB.
 */
export function makeZip(files: ZipInput[], opts: { zip64?: boolean } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const central: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const f of files) {
    const name = enc.encode(f.name);
    const body = f.deflate ? new Uint8Array(deflateRawSync(f.data)) : f.data;
    const crc = crc32(f.data);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, f.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, f.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const extra = opts.zip64 ? new Uint8Array(4 + 24) : new Uint8Array(0);
    if (opts.zip64) {
      const xv = new DataView(extra.buffer);
      xv.setUint16(0, 1, true);
      xv.setUint16(2, 24, true);
      xv.setBigUint64(4, BigInt(f.data.length), true);
      xv.setBigUint64(12, BigInt(body.length), true);
      xv.setBigUint64(20, BigInt(offset), true);
    }
    const cd = new Uint8Array(46 + name.length + extra.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 45, true);
    cv.setUint16(6, 45, true);
    cv.setUint16(10, f.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, opts.zip64 ? 0xffffffff : body.length, true);
    cv.setUint32(24, opts.zip64 ? 0xffffffff : f.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, extra.length, true);
    cv.setUint32(42, opts.zip64 ? 0xffffffff : offset, true);
    cd.set(name, 46);
    cd.set(extra, 46 + name.length);
    central.push(cd);
    parts.push(local, body);
    offset += local.length + body.length;
  }
  const cdOffset = offset;
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  parts.push(...central);
  offset += cdSize;
  if (opts.zip64) {
    const rec = new Uint8Array(56);
    const rv = new DataView(rec.buffer);
    rv.setUint32(0, 0x06064b50, true);
    rv.setBigUint64(4, 44n, true);
    rv.setUint16(12, 45, true);
    rv.setUint16(14, 45, true);
    rv.setBigUint64(24, BigInt(files.length), true);
    rv.setBigUint64(32, BigInt(files.length), true);
    rv.setBigUint64(40, BigInt(cdSize), true);
    rv.setBigUint64(48, BigInt(cdOffset), true);
    const loc = new Uint8Array(20);
    const locv = new DataView(loc.buffer);
    locv.setUint32(0, 0x07064b50, true);
    locv.setBigUint64(8, BigInt(offset), true);
    locv.setUint32(16, 1, true);
    parts.push(rec, loc);
  }
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, opts.zip64 ? 0xffff : files.length, true);
  ev.setUint16(10, opts.zip64 ? 0xffff : files.length, true);
  ev.setUint32(12, opts.zip64 ? 0xffffffff : cdSize, true);
  ev.setUint32(16, opts.zip64 ? 0xffffffff : cdOffset, true);
  parts.push(eocd);
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** Deterministic pseudo-random numbers (mulberry32). */
export const rng = mulberry32;

/**
 * Random-access byte sources and a small reader for STORED zip archives.
 *
 * Own reader rather than a dependency: torch.save writes uncompressed (STORED) entries, so reading
 * one is a bounds-checked central-directory walk plus a positioned read, and doing it through a file
 * descriptor lets multi-GB checkpoints (ZIP64) load without holding the whole file in memory.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

// ---------------------------------------------------------------------------------------------
// Byte sources

/** Bytes that can be read at any offset: a file through a descriptor, or a buffer in memory. */
export interface ByteSource {
  /** What to call the source in error messages (a path, or `<buffer>`). */
  readonly name: string;
  /** Total length in bytes. */
  readonly size: number;
  /**
   * Reads exactly `length` bytes starting at `offset`, into `into` when given (which must be at
   * least `length` long) or into a new array.
   * @throws when the range is not inside the source.
   */
  read(offset: number, length: number, into?: Uint8Array): Uint8Array;
  /** Releases the file descriptor (no-op for memory sources). */
  close(): void;
}

function checkRange(src: { name: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > src.size) {
    throw new Error(`${src.name}: read of ${length} bytes at offset ${offset} is outside the file (${src.size} bytes)`);
  }
}

/** Largest single `readSync` call (the syscall caps a read at about 2 GiB). */
const READ_CHUNK = 1 << 30;

/** Opens `path` for positioned reads; call `close()` when done. */
export function openFileSource(path: string): ByteSource {
  const fd = openSync(path, 'r');
  let size: number;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path} is not a regular file`);
    size = st.size;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let open = true;
  return {
    name: path,
    size,
    read(offset, length, into) {
      if (!open) throw new Error(`${path}: read after close`);
      checkRange(this, offset, length);
      const out = into ?? new Uint8Array(length);
      if (out.length < length) throw new Error(`${path}: destination of ${out.length} bytes is too small for ${length}`);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, Math.min(READ_CHUNK, length - done), offset + done);
        if (n === 0) throw new Error(`${path}: unexpected end of file at offset ${offset + done} (was it modified while reading?)`);
        done += n;
      }
      return out;
    },
    close() {
      if (open) {
        open = false;
        closeSync(fd);
      }
    },
  };
}

/** A {@link ByteSource} over bytes already in memory; `read` without `into` returns a copy. */
export function memorySource(bytes: Uint8Array, name = '<buffer>'): ByteSource {
  return {
    name,
    size: bytes.length,
    read(offset, length, into) {
      checkRange(this, offset, length);
      const out = into ?? new Uint8Array(length);
      if (out.length < length) throw new Error(`${name}: destination of ${out.length} bytes is too small for ${length}`);
      out.set(bytes.subarray(offset, offset + length));
      return out;
    },
    close() {},
  };
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (the zip polynomial), to notice truncated or corrupted entries.

let crcTable: Uint32Array | undefined;

/** CRC-32 of `bytes`, continuing from `crc` (0 to start). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Zip archives

/** One entry of a zip central directory. */
export interface ZipEntry {
  readonly name: string;
  /** Compression method: 0 = STORED (the only one this reader extracts), 8 = deflate, ... */
  readonly method: number;
  /** General-purpose flags (bit 0: encrypted). */
  readonly flags: number;
  readonly compressedSize: number;
  /** Uncompressed size in bytes. */
  readonly size: number;
  readonly crc32: number;
  readonly localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

/** Whether the bytes start like a zip archive (a local file header, or an empty archive). */
export function looksLikeZip(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const sig = (head[0] | (head[1] << 8) | (head[2] << 16) | (head[3] << 24)) >>> 0;
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

function u64(view: DataView, at: number, what: string, src: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${src}: zip ${what} ${v} is too large`);
  return Number(v);
}

const utf8 = new TextDecoder('utf-8');

/**
 * A read-only view of a zip archive whose entries are STORED (uncompressed), as written by
 * `torch.save`. Supports ZIP64. Every offset and size is checked against the file before use.
 */
export class ZipReader {
  /** Entries by name, in central-directory order. */
  readonly entries: ReadonlyMap<string, ZipEntry>;
  private readonly dataOffsets = new Map<string, number>();

  private constructor(
    readonly source: ByteSource,
    entries: Map<string, ZipEntry>,
    private readonly cdOffset: number,
  ) {
    this.entries = entries;
  }

  /**
   * Parses the central directory of `source`.
   * @throws when the source is not a zip archive, spans several disks, or its directory is
   * inconsistent with the file size.
   */
  static open(source: ByteSource): ZipReader {
    const name = source.name;
    const size = source.size;
    if (size < 22) throw new Error(`${name}: not a zip archive (${size} bytes)`);
    // The end-of-central-directory record is the last 22 bytes plus a comment of up to 65535 bytes.
    const tailLen = Math.min(size, 22 + 0xffff);
    const tailStart = size - tailLen;
    const tail = source.read(tailStart, tailLen);
    const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tv.getUint32(i, true) === SIG_EOCD && i + 22 + tv.getUint16(i + 20, true) <= tailLen) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${name}: not a zip archive (no end-of-central-directory record)`);
    const eocdAbs = tailStart + eocd;
    const diskNo = tv.getUint16(eocd + 4, true);
    const cdDisk = tv.getUint16(eocd + 6, true);
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    let cdEnd = eocdAbs;

    // ZIP64: a locator just before the EOCD points at the ZIP64 end record with 64-bit fields.
    if (eocd >= 20 && tv.getUint32(eocd - 20, true) === SIG_ZIP64_LOCATOR) {
      const z64 = u64(tv, eocd - 20 + 8, 'ZIP64 record offset', name);
      if (z64 + 56 > eocdAbs - 20) throw new Error(`${name}: ZIP64 end record offset ${z64} is outside the file`);
      const rec = source.read(z64, 56);
      const rv = new DataView(rec.buffer, rec.byteOffset, 56);
      if (rv.getUint32(0, true) !== SIG_ZIP64_EOCD) throw new Error(`${name}: bad ZIP64 end-of-central-directory record`);
      if (rv.getUint32(16, true) !== 0 || rv.getUint32(20, true) !== 0) {
        throw new Error(`${name}: multi-disk zip archives are not supported`);
      }
      count = u64(rv, 32, 'entry count', name);
      cdSize = u64(rv, 40, 'central directory size', name);
      cdOffset = u64(rv, 48, 'central directory offset', name);
      cdEnd = z64;
    } else if (diskNo !== 0 || cdDisk !== 0) {
      throw new Error(`${name}: multi-disk zip archives are not supported`);
    }
    if (cdOffset + cdSize > cdEnd) {
      throw new Error(`${name}: zip central directory (offset ${cdOffset}, ${cdSize} bytes) runs past its end record`);
    }
    if (count > cdSize / 46) throw new Error(`${name}: zip claims ${count} entries in a ${cdSize}-byte directory`);

    const cd = source.read(cdOffset, cdSize);
    const cv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdSize || cv.getUint32(p, true) !== SIG_CENTRAL) {
        throw new Error(`${name}: zip central directory entry ${i} is malformed`);
      }
      const flags = cv.getUint16(p + 8, true);
      const method = cv.getUint16(p + 10, true);
      const crc = cv.getUint32(p + 16, true);
      let compressedSize = cv.getUint32(p + 20, true);
      let usize = cv.getUint32(p + 24, true);
      const nameLen = cv.getUint16(p + 28, true);
      const extraLen = cv.getUint16(p + 30, true);
      const commentLen = cv.getUint16(p + 32, true);
      let localHeaderOffset = cv.getUint32(p + 42, true);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cdSize) throw new Error(`${name}: zip central directory entry ${i} runs past the directory`);
      const entryName = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen));
      // ZIP64 extended information: 64-bit values for exactly the fields saturated at 0xFFFFFFFF.
      let x = p + 46 + nameLen;
      const xEnd = x + extraLen;
      while (x + 4 <= xEnd) {
        const id = cv.getUint16(x, true);
        const len = cv.getUint16(x + 2, true);
        if (x + 4 + len > xEnd) throw new Error(`${name}: zip entry '${entryName}' has a malformed extra field`);
        if (id === 0x0001) {
          let q = x + 4;
          const take = (what: string): number => {
            if (q + 8 > x + 4 + len) throw new Error(`${name}: zip entry '${entryName}' has a short ZIP64 extra field`);
            const v = u64(cv, q, what, name);
            q += 8;
            return v;
          };
          if (usize === 0xffffffff) usize = take('size');
          if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('local header offset');
        }
        x += 4 + len;
      }
      if (entries.has(entryName)) throw new Error(`${name}: zip has two entries named '${entryName}'`);
      if (localHeaderOffset + 30 > cdOffset) {
        throw new Error(`${name}: zip entry '${entryName}' starts at ${localHeaderOffset}, outside the data area`);
      }
      entries.set(entryName, { name: entryName, method, flags, compressedSize, size: usize, crc32: crc, localHeaderOffset });
      p = end;
    }
    return new ZipReader(source, entries, cdOffset);
  }

  /** The entry called `name`, or `undefined`. */
  get(name: string): ZipEntry | undefined {
    return this.entries.get(name);
  }

  /**
   * Absolute file offset of the entry's data, after checking that the entry is STORED,
   * unencrypted, and lies inside the data area.
   */
  dataOffset(entry: ZipEntry): number {
    const cached = this.dataOffsets.get(entry.name);
    if (cached !== undefined) return cached;
    const src = this.source.name;
    if (entry.flags & 1) throw new Error(`${src}: zip entry '${entry.name}' is encrypted`);
    if (entry.method !== 0) {
      throw new Error(
        `${src}: zip entry '${entry.name}' is compressed (method ${entry.method}); only STORED entries are read, ` + 'as torch.save writes them — re-save the checkpoint with torch.save',
      );
    }
    if (entry.compressedSize !== entry.size) {
      throw new Error(`${src}: STORED zip entry '${entry.name}' has compressed size ${entry.compressedSize} != size ${entry.size}`);
    }
    const lh = this.source.read(entry.localHeaderOffset, 30);
    const lv = new DataView(lh.buffer, lh.byteOffset, 30);
    if (lv.getUint32(0, true) !== SIG_LOCAL) throw new Error(`${src}: zip entry '${entry.name}' has no local header`);
    const start = entry.localHeaderOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
    if (start + entry.size > this.cdOffset) {
      throw new Error(`${src}: zip entry '${entry.name}' (${entry.size} bytes at ${start}) runs past the data area`);
    }
    this.dataOffsets.set(entry.name, start);
    return start;
  }

  /**
   * Reads `length` bytes of a STORED entry starting `start` bytes into it, into `into` if given.
   * Does not check the CRC (use {@link ZipReader.read} for whole entries).
   */
  readRange(entry: ZipEntry, start: number, length: number, into?: Uint8Array): Uint8Array {
    if (start < 0 || length < 0 || start + length > entry.size) {
      throw new Error(`${this.source.name}: read of ${length} bytes at ${start} is outside zip entry '${entry.name}' (${entry.size} bytes)`);
    }
    return this.source.read(this.dataOffset(entry) + start, length, into);
  }

  /** Reads a whole STORED entry (into `into` if given) and checks its CRC-32. */
  read(entry: ZipEntry, into?: Uint8Array): Uint8Array {
    const out = this.readRange(entry, 0, entry.size, into);
    const got = crc32(out.subarray(0, entry.size));
    if (got !== entry.crc32) {
      throw new Error(`${this.source.name}: zip entry '${entry.name}' is corrupt (CRC-32 ${hex(got)}, expected ${hex(entry.crc32)})`);
    }
    return out;
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}

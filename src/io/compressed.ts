/**
 * Text files that may be compressed, chosen by extension: `.gz` (node:zlib), `.bz2` (seek-bzip,
 * a pure-JavaScript bzip2 decoder, so no `bzip2` binary is needed on any platform), else plain.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';

interface SeekBzip {
  decode(input: Uint8Array, output?: undefined, multistream?: boolean): Buffer;
}

// seek-bzip is CommonJS without type declarations; this is the one function we use.
const bunzip = createRequire(import.meta.url)('seek-bzip') as SeekBzip;

/** Decompresses `bytes` as the extension of `path` says (`.gz`, `.bz2`, or none). */
export function decompressByName(path: string, bytes: Uint8Array): Uint8Array {
  if (/\.gz$/i.test(path)) return gunzipSync(bytes);
  if (/\.bz2$/i.test(path)) {
    try {
      return bunzip.decode(bytes, undefined, true);
    } catch (e) {
      throw new Error(`${path}: not a valid bzip2 file (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
  }
  return bytes;
}

/** Reads a text file, decompressing `.gz` and `.bz2`. */
export async function readTextMaybeCompressed(path: string): Promise<string> {
  return Buffer.from(decompressByName(path, await readFile(path))).toString('utf8');
}

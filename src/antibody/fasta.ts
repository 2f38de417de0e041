/**
 * FASTA and plain-sequence input (pairing records into antibodies is pairing.ts).
 */
import { gunzipSync } from 'node:zlib';

/** One FASTA record. */
export interface FastaRecord {
  /** The first word of the header (without '>'). */
  name: string;
  /** The rest of the header. */
  description: string;
  /** Residues with whitespace removed (not yet validated). */
  sequence: string;
  /** 1-based line of the header, for messages. */
  line: number;
}

/**
 * Parses FASTA text (several records; `;` comment lines ignored). Text with no `>` is one
 * plain sequence named `sequence`.
 *
 * @throws Error naming the line when a record has no name.
 */
export function parseFasta(text: string): FastaRecord[] {
  const lines = text.split(/\r?\n/);
  if (!lines.some((l) => l.startsWith('>'))) {
    const seq = lines
      .filter((l) => !l.startsWith(';'))
      .join('')
      .replace(/\s+/g, '');
    return seq === '' ? [] : [{ name: 'sequence', description: '', sequence: seq, line: 1 }];
  }
  const out: FastaRecord[] = [];
  let cur: FastaRecord | undefined;
  let parts: string[] = [];
  const flush = (): void => {
    if (cur !== undefined) out.push({ ...cur, sequence: parts.join('').replace(/\s+/g, '') });
    parts = [];
  };
  lines.forEach((l, i) => {
    if (l.startsWith('>')) {
      flush();
      const header = l.slice(1).trim();
      const [name = '', ...rest] = header.split(/\s+/);
      if (name === '') throw new Error(`FASTA line ${i + 1}: a record with no name after '>': give each record a name`);
      cur = { name, description: rest.join(' '), sequence: '', line: i + 1 };
    } else if (!l.startsWith(';')) {
      if (cur === undefined && l.trim() !== '') throw new Error(`FASTA line ${i + 1}: residues before the first '>' header`);
      parts.push(l);
    }
  });
  flush();
  return out;
}

/** Decodes file bytes as text, gunzipping `.gz` content (detected by its magic bytes). */
export function decodeInput(bytes: Uint8Array): string {
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return raw.toString('utf8');
}

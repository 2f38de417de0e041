/**
 * FASTA and plain-sequence input, and pairing heavy with light records into antibodies.
 */
import { gunzipSync } from 'node:zlib';

import type { ChainClass } from './schemes.js';

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
    const seq = lines.filter((l) => !l.startsWith(';')).join('').replace(/\s+/g, '');
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

/** An antibody: heavy and light chains, or one of them (nanobody, light-only). */
export interface AntibodyRecord {
  name: string;
  heavy?: FastaRecord;
  light?: FastaRecord;
  /** A record whose name says nothing about its chain: numbered on its own. */
  single?: FastaRecord;
}

/** The chain a record name declares (`X_H`, `X|H`, `X_L`, `X|L`; also `_VH`/`_VL`), and the antibody name. */
export function chainFromName(name: string): { base: string; chain: ChainClass } | undefined {
  const m = /^(.+?)[_|](V?[HL])$/i.exec(name);
  if (m === null) return undefined;
  return { base: m[1]!, chain: m[2]!.toUpperCase().endsWith('H') ? 'heavy' : 'light' };
}

/**
 * Groups records into antibodies by name: `X_H` with `X_L` (or `X|H`/`X|L`); other records stand
 * alone. Order follows each antibody's first record.
 *
 * @throws Error when one antibody has two heavy (or two light) records.
 */
export function pairRecords(records: readonly FastaRecord[]): AntibodyRecord[] {
  const out: AntibodyRecord[] = [];
  const byBase = new Map<string, AntibodyRecord>();
  for (const r of records) {
    const c = chainFromName(r.name);
    if (c === undefined) {
      out.push({ name: r.name, single: r });
      continue;
    }
    let ab = byBase.get(c.base);
    if (ab === undefined) {
      ab = { name: c.base };
      byBase.set(c.base, ab);
      out.push(ab);
    }
    if (ab[c.chain] !== undefined) {
      throw new Error(`records '${ab[c.chain]!.name}' (line ${ab[c.chain]!.line}) and '${r.name}' (line ${r.line}) are both the ${c.chain} chain of '${c.base}': rename one`);
    }
    ab[c.chain] = r;
  }
  return out;
}

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
  /**
   * Why this record cannot be used (a duplicate name): commands report it as a bad record and go
   * on with the rest. Its chains are kept for the message.
   */
  problem?: { reason: 'duplicate-name'; message: string };
}

/** The chain a record name declares (`X_H`, `X|H`, `X_L`, `X|L`; also `_VH`/`_VL`), and the antibody name. */
export function chainFromName(name: string): { base: string; chain: ChainClass } | undefined {
  const m = /^(.+?)[_|](V?[HL])$/i.exec(name);
  if (m === null) return undefined;
  return { base: m[1]!, chain: m[2]!.toUpperCase().endsWith('H') ? 'heavy' : 'light' };
}

/**
 * Groups records into antibodies by name: `X_H` with `X_L` (or `X|H`/`X|L`); other records stand
 * alone. Order follows each antibody's first record. A record whose name repeats an earlier one
 * (or a second heavy or light chain for one antibody) becomes an antibody with a `problem`, so a
 * batch reports it and processes the rest; nothing is renamed. `pair: false` keeps every record
 * on its own (still flagging repeated names).
 */
export function pairRecords(records: readonly FastaRecord[], options: { pair?: boolean } = {}): AntibodyRecord[] {
  const out: AntibodyRecord[] = [];
  const byBase = new Map<string, AntibodyRecord>();
  const seen = new Map<string, FastaRecord>();
  const duplicate = (r: FastaRecord, first: FastaRecord, what: string): AntibodyRecord => ({
    name: r.name,
    single: r,
    problem: { reason: 'duplicate-name', message: `record '${r.name}' (line ${r.line}): ${what} (line ${first.line}); record names must be unique: rename one` },
  });
  for (const r of records) {
    const earlier = seen.get(r.name);
    if (earlier !== undefined) {
      out.push(duplicate(r, earlier, `the same name as an earlier record`));
      continue;
    }
    seen.set(r.name, r);
    const c = options.pair === false ? undefined : chainFromName(r.name);
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
    const other = ab[c.chain];
    if (other !== undefined) {
      out.push(duplicate(r, other, `a second ${c.chain} chain for '${c.base}' after '${other.name}'`));
      continue;
    }
    ab[c.chain] = r;
  }
  return out;
}

/**
 * Reading antibodies from the command line, shared by every command that takes sequences:
 * a FASTA file (.gz accepted), a CSV file (a row per antibody), a plain sequence, `-` for stdin,
 * or `--heavy`/`--light`. FASTA records are paired by the rule of src/antibody/pairing.ts (one
 * summary line on stderr). Numbering each chain keeps going past bad records and collects their
 * errors; a record numbered to pair it is not numbered again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { looksLikeAntibodyCsv, parseAntibodyCsv } from '../src/antibody/csv.js';
import { type FastaRecord, decodeInput, parseFasta } from '../src/antibody/fasta.js';
import { NotAnAntibodyError, type NumberedDomain, type NumberingResult, numberOrError } from '../src/antibody/number.js';
import { type AntibodyRecord, type PairedBy, chainOfNumbering, pairRecords, pairingLine } from '../src/antibody/pairing.js';
import type { ChainClass, Scheme } from '../src/antibody/schemes.js';
import { looksLikeNucleotides, translateLongestOrf } from '../src/antibody/translate.js';
import { SequenceError } from '../src/antibody/validate.js';
import { UsageError } from './options.js';

/** Text of INPUT: a file (gzip detected), `-` for stdin, or the argument itself when it is a sequence. */
export function readInput(input: string): string {
  if (input === '-') return decodeInput(fs.readFileSync(0));
  if (fs.existsSync(input)) {
    if (fs.statSync(input).isDirectory()) throw new UsageError(`${input} is a folder: give a FASTA file`);
    return decodeInput(fs.readFileSync(input));
  }
  if (/^[A-Za-z*\s]+$/.test(input) && input.replace(/\s/g, '').length >= 20) return input;
  throw new UsageError(`${input}: no such file, and not a protein sequence (one-letter codes)`);
}

export interface AntibodyInputOptions {
  heavy?: string;
  light?: string;
  /** Pair records (default true). */
  pair?: boolean;
  /** The scheme the command numbers in (pairing numbers each record once, in it). */
  scheme?: Scheme;
  /** Translate DNA/RNA records (`--translate`). */
  translate?: boolean;
}

/** The help line of `--translate`, shared by every command that reads sequences. */
export const TRANSLATE_HELP = 'translate DNA/RNA records (the reading frame with the longest stretch free of stop codons); protein records are read as they are';

/**
 * With `translate`, every DNA/RNA sequence becomes its longest stop-free translation
 * (translateLongestOrf) and one stderr line says how many; protein sequences are left as they are.
 */
export function translateSequences<T extends { sequence: string }>(records: T[], translate: boolean | undefined): T[] {
  if (translate !== true) return records;
  let n = 0;
  const out = records.map((r) => {
    if (!looksLikeNucleotides(r.sequence)) return r;
    n++;
    return { ...r, sequence: translateLongestOrf(r.sequence) };
  });
  if (n > 0) process.stderr.write(`balmkit: translated ${n} DNA/RNA record${n === 1 ? '' : 's'} (reading frame with the longest stop-free stretch)\n`);
  return out;
}

/** The help text of the pairing rule, shared by every command that reads FASTA. */
export const PAIRING_HELP = `
Pairing (FASTA input; --no-pair turns it off):
  1. by name: two records pair when their names are equal after removing one chain token
     (H/L, VH/VL, heavy/light, heavy_chain/light_chain, set off by _ | : - or .) and a
     trailing _contig_N, and numbering says one is heavy and the other light (if one of the
     two fails to number, the names decide and its error is the antibody's):
     X_H + X_L, X|VH + X|VL, heavy_chain_B_contig_1 + light_chain_B_contig_2,
     12E8:H|PDBID|CHAIN|SEQUENCE + 12E8:L|PDBID|CHAIN|SEQUENCE.
  2. by id: the records left are grouped by the name before their last token (the PDB id 1mhp
     of 1mhp_X and 1mhp_Y); a group with exactly one heavy and one light record pairs (named
     by the id, or id_X_Y when the id already names an antibody).
  Every other record is numbered on its own; one stderr line sums up the batch and --json
  gives each antibody's "pairedBy" (name, id, row, options) or "unpaired" reason.
CSV input (a .csv file, or a first line naming the columns): one antibody per row, columns
  name (or id) and heavy/light (or heavy_chain/light_chain, VH/VL); either chain may be empty.`;

// Numberings made to pair records, reused when the command numbers them (same record, same scheme).
const numberedForPairing = new WeakMap<FastaRecord, { scheme: Scheme; result: NumberingResult | Error }>();

/** The antibodies given on the command line (INPUT or --heavy/--light). */
export function readAntibodies(input: string | undefined, opts: AntibodyInputOptions, command: string): AntibodyRecord[] {
  if (opts.heavy !== undefined || opts.light !== undefined) {
    if (input !== undefined) throw new UsageError('give either INPUT or --heavy/--light, not both');
    const rec = (name: string, seq: string): FastaRecord => ({ name, description: '', sequence: seq, line: 0 });
    const [heavy, light] = translateSequences([rec('--heavy', opts.heavy ?? ''), rec('--light', opts.light ?? '')], opts.translate);
    return [
      {
        name: 'antibody',
        ...(opts.heavy !== undefined ? { heavy: heavy } : {}),
        ...(opts.light !== undefined ? { light: light } : {}),
        ...(opts.heavy !== undefined && opts.light !== undefined ? { pairedBy: 'options' as const } : {}),
      },
    ];
  }
  if (input === undefined) throw new UsageError(`give a FASTA or CSV file, a sequence, - for stdin, or --heavy/--light (see balmkit ${command} --help)`);
  const text = readInput(input);
  if (/\.csv(\.gz)?$/i.test(input) || looksLikeAntibodyCsv(text)) {
    let rows: AntibodyRecord[];
    try {
      rows = parseAntibodyCsv(text, input);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (rows.length === 0) throw new UsageError(`${input}: no rows after the header`);
    // Every row's chains translated in one pass (one stderr line for the file).
    const chains = rows.flatMap((ab) => [ab.heavy, ab.light].filter((c) => c !== undefined));
    const translated = new Map(translateSequences(chains, opts.translate).map((t, i) => [chains[i], t]));
    return rows.map((ab) => ({ ...ab, ...(ab.heavy ? { heavy: translated.get(ab.heavy)! } : {}), ...(ab.light ? { light: translated.get(ab.light)! } : {}) }));
  }
  const records = translateSequences(parseFasta(text), opts.translate);
  if (records.length === 0) throw new UsageError(`${input}: no sequences found`);
  const scheme = opts.scheme ?? 'imgt';
  const bar = progress('pairing', records.length >= 50 && opts.pair !== false ? records.length : 0);
  const { antibodies, summary } = pairRecords(records, {
    pair: opts.pair !== false,
    chainOf: (r) => {
      bar.tick();
      const result = numberRecord(r, scheme, null);
      numberedForPairing.set(r, { scheme, result });
      return result instanceof Error ? undefined : chainOfNumbering(result);
    },
  });
  bar.done();
  if (records.length > 1) process.stderr.write(`${pairingLine(summary)}\n`);
  return antibodies;
}

/** An antibody's pairing as its JSON fields: `{pairedBy}`, `{unpaired}` or nothing. */
export function pairingOf(ab: AntibodyRecord): NumberedInputChain['pairing'] {
  return ab.pairedBy ? { pairedBy: ab.pairedBy } : ab.unpaired ? { unpaired: ab.unpaired } : {};
}

/** A record numbered (in `scheme`, expecting `given`), or the error that says why it cannot be. */
function numberRecord(rec: FastaRecord, scheme: Scheme, given: ChainClass | null): ReturnType<typeof numberOrError> {
  return numberOrError(rec.sequence, {
    scheme,
    source: { record: rec.name, ...(given !== null ? { chain: given === 'heavy' ? 'H' : 'L' } : {}) },
    ...(given !== null ? { expect: given } : {}),
  });
}

/** One numbered variable domain of one input record. */
export interface NumberedInputChain {
  antibody: string;
  record: string;
  /** What the name or option said the chain is (null when nothing did). */
  given: ChainClass | null;
  /** Residues in the record (before trimming). */
  length: number;
  domain: NumberedDomain;
  /** How its antibody's chains were paired, or why its record stands alone (src/antibody/pairing.ts). */
  pairing: { pairedBy: PairedBy } | { unpaired: string } | Record<string, never>;
}

/** A chain that could not be numbered. */
export interface InputError {
  record: string;
  chain: ChainClass | null;
  reason: string;
  message: string;
}

/** Number every chain of every antibody; bad chains become errors, the rest carry on. A progress line shows on a terminal for large batches. */
export function numberAntibodies(antibodies: readonly AntibodyRecord[], scheme: Scheme): { chains: NumberedInputChain[]; errors: InputError[] } {
  const chains: NumberedInputChain[] = [];
  const errors: InputError[] = [];
  const bar = progress('numbering', antibodies.length >= 50 ? antibodies.length : 0);
  for (const ab of antibodies) {
    bar.tick();
    if (ab.problem) {
      errors.push({ record: ab.name, chain: null, reason: ab.problem.reason, message: ab.problem.message });
      continue;
    }
    const todo: [FastaRecord, ChainClass | null][] = [];
    if (ab.heavy) todo.push([ab.heavy, 'heavy']);
    if (ab.light) todo.push([ab.light, 'light']);
    if (ab.single) todo.push([ab.single, null]);
    for (const [rec, given] of todo) {
      const memo = numberedForPairing.get(rec);
      // Pairing numbered it without a chain to expect: reuse that unless it contradicts the chain given.
      const reuse = memo !== undefined && memo.scheme === scheme && (memo.result instanceof Error || given === null || chainOfNumbering(memo.result) === given);
      const r = reuse ? memo.result : numberRecord(rec, scheme, given);
      if (r instanceof Error) {
        const e = r as SequenceError | NotAnAntibodyError;
        errors.push({ record: rec.name, chain: given, reason: e.reason, message: e.message });
      } else for (const domain of r.domains) chains.push({ antibody: ab.name, record: rec.name, given, length: r.sequence.length, domain, pairing: pairingOf(ab) });
    }
  }
  bar.done();
  return { chains, errors };
}

/**
 * The stderr line saying what numbering trimmed from a chain (constant region, tag, leader,
 * linker), or null when nothing was: residues kept (1-based, inclusive) and removed at each end.
 */
export function trimmedLine(record: string, chain: string, before: number, after: number, length: number): string | null {
  if (before === 0 && after === 0) return null;
  return `balmkit: record '${record}', ${chain} chain: kept residues ${before + 1}–${length - after} of ${length} (trimmed ${before} before, ${after} after: outside the variable domain)`;
}

/**
 * Says on stderr what was trimmed from each numbered record (one line per trimmed record); a
 * record with two domains (an scFv) gets one line naming both and the linker between them.
 */
export function reportTrimmed(chains: readonly NumberedInputChain[]): void {
  const byRecord = new Map<string, NumberedInputChain[]>();
  for (const c of chains) byRecord.set(c.record, [...(byRecord.get(c.record) ?? []), c]);
  for (const [record, ds] of byRecord) {
    const first = ds[0];
    const last = ds[ds.length - 1];
    if (ds.length === 1) {
      const line = trimmedLine(record, first.domain.chainType === 'H' ? 'H' : 'L', first.domain.start, first.length - 1 - first.domain.end, first.length);
      if (line !== null) process.stderr.write(`${line}\n`);
      continue;
    }
    const spans = ds.map((c) => `${c.domain.chainType} ${c.domain.start + 1}–${c.domain.end + 1}`).join(', ');
    const between = ds.slice(1).reduce((n, c, k) => n + c.domain.start - ds[k].domain.end - 1, 0);
    process.stderr.write(
      `balmkit: record '${record}': ${ds.length} domains (${spans} of ${first.length}; trimmed ${first.domain.start} before, ${between} between, ${first.length - 1 - last.domain.end} after)\n`,
    );
  }
}

/** Write `data` to `file` through a temporary name and a rename, so no half file is ever left. */
export function writeFileAtomically(file: string, data: string | Uint8Array): void {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-${process.pid}`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, abs);
}

/** A batch's progress line on stderr. */
export interface Progress {
  /** Whether the line is drawn (stderr is a terminal and there is more than one item): other stderr lines wait for `done`. */
  readonly active: boolean;
  /** `n` more items done; `name` is the last one's (shown). */
  tick(n?: number, name?: string): void;
  done(): void;
}

/** A progress line on stderr for batches (count, bar, the item's name, time left), only when stderr is a terminal. */
export function progress(label: string, total: number): Progress {
  const active = process.stderr.isTTY === true && total > 1;
  const start = performance.now();
  let done = 0;
  const draw = (name: string | undefined) => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    const eta = Math.round((((performance.now() - start) / done) * (total - done)) / 1000);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}${name !== undefined ? ` ${name.slice(0, 24).padEnd(24)}` : ''} eta ${eta}s`);
  };
  return {
    active,
    tick(n = 1, name?: string) {
      done += n;
      if (active) draw(name);
    },
    done() {
      if (active) process.stderr.write('\n');
    },
  };
}

/**
 * Reading antibodies from the command line, shared by every command that takes sequences:
 * a FASTA file (.gz accepted), a plain sequence, `-` for stdin, or `--heavy`/`--light`; records
 * named X_H/X_L (or X|H, X|L) are paired. Numbering each chain keeps going past bad records and
 * collects their errors.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type AntibodyRecord, type FastaRecord, decodeInput, pairRecords, parseFasta } from '../src/antibody/fasta.js';
import { NotAnAntibodyError, type NumberedDomain, number } from '../src/antibody/number.js';
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
  /** Pair X_H with X_L by name (default true). */
  pair?: boolean;
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

/** The antibodies given on the command line (INPUT or --heavy/--light). */
export function readAntibodies(input: string | undefined, opts: AntibodyInputOptions, command: string): AntibodyRecord[] {
  if (opts.heavy !== undefined || opts.light !== undefined) {
    if (input !== undefined) throw new UsageError('give either INPUT or --heavy/--light, not both');
    const rec = (name: string, seq: string): FastaRecord => ({ name, description: '', sequence: seq, line: 0 });
    const [heavy, light] = translateSequences([rec('--heavy', opts.heavy ?? ''), rec('--light', opts.light ?? '')], opts.translate);
    return [
      {
        name: 'antibody',
        ...(opts.heavy !== undefined ? { heavy: heavy! } : {}),
        ...(opts.light !== undefined ? { light: light! } : {}),
      },
    ];
  }
  if (input === undefined) throw new UsageError(`give a FASTA file, a sequence, - for stdin, or --heavy/--light (see balmkit ${command} --help)`);
  const records = translateSequences(parseFasta(readInput(input)), opts.translate);
  if (records.length === 0) throw new UsageError(`${input}: no sequences found`);
  return pairRecords(records, { pair: opts.pair !== false });
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
      try {
        const r = number(rec.sequence, {
          scheme,
          source: { record: rec.name, ...(given !== null ? { chain: given === 'heavy' ? 'H' : 'L' } : {}) },
          ...(given !== null ? { expect: given } : {}),
        });
        for (const domain of r.domains) chains.push({ antibody: ab.name, record: rec.name, given, length: r.sequence.length, domain });
      } catch (e) {
        if (!(e instanceof SequenceError || e instanceof NotAnAntibodyError)) throw e;
        errors.push({ record: rec.name, chain: given, reason: e.reason, message: e.message });
      }
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

/** Says on stderr what was trimmed from each numbered chain (one line per trimmed chain). */
export function reportTrimmed(chains: readonly NumberedInputChain[]): void {
  for (const c of chains) {
    const line = trimmedLine(c.record, c.domain.chainType === 'H' ? 'H' : 'L', c.domain.start, c.length - 1 - c.domain.end, c.length);
    if (line !== null) process.stderr.write(`${line}\n`);
  }
}

/** Write `data` to `file` through a temporary name and a rename, so no half file is ever left. */
export function writeFileAtomically(file: string, data: string | Uint8Array): void {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-${process.pid}`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, abs);
}

/** A progress line on stderr for batches, only when stderr is a terminal. */
export function progress(label: string, total: number): { tick(n?: number): void; done(): void } {
  const tty = process.stderr.isTTY === true && total > 1;
  let done = 0;
  const draw = () => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`);
  };
  return {
    tick(n = 1) {
      done += n;
      if (tty) draw();
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}

/**
 * The numbering profiles balmkit ships (`models/numbering/ig-profiles.json.gz`, made by
 * `models/numbering/build-profiles.ts` from OGRDB germlines): their file format (checked with zod
 * when loaded) and the compiled, typed-array form the aligner reads.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';

import { AMINO_ACIDS } from './alphabet.js';
import { packageRoot } from '../runtime/paths.js';
import { ModelError } from '../runtime/errors.js';
import { describeZodError } from '../util/zod.js';

/** The `format` tag of the profile file. */
export const PROFILE_FORMAT = 'balmkit-ig-profiles/1';
/** IMGT positions 1–128, one profile column each. */
export const PROFILE_POSITIONS = 128;

/** Variable-domain chain types: heavy, kappa, lambda. */
export type ChainType = 'H' | 'K' | 'L';

const profileJson = z.object({
  species: z.string(),
  chain: z.enum(['H', 'K', 'L']),
  genes: z.number().int(),
  geneGroups: z.number().int(),
  /** Match emission scores, bits, position-major (128 × 20, {@link AMINO_ACIDS} order). */
  match: z.array(z.number()).length(PROFILE_POSITIONS * 20),
  /** Fraction of germlines with a residue at each position (IMGT gaps are the rest). */
  occupancy: z.array(z.number().gt(0).lt(1)).length(PROFILE_POSITIONS),
  /** Score (bits) of opening an insertion after each position, and of extending it. */
  insertOpen: z.array(z.number()).length(PROFILE_POSITIONS),
  insertExtend: z.array(z.number()).length(PROFILE_POSITIONS),
});

const germlineJson = z.object({
  name: z.string(),
  species: z.string(),
  chain: z.enum(['H', 'K', 'L']),
  segment: z.enum(['V', 'J']),
  start: z.number().int().min(1).max(PROFILE_POSITIONS),
  aa: z.string(),
});

const profileFile = z.object({
  format: z.literal(PROFILE_FORMAT),
  positions: z.literal(PROFILE_POSITIONS),
  alphabet: z.literal(AMINO_ACIDS),
  units: z.literal('bits'),
  source: z.string(),
  profiles: z.array(profileJson).min(1),
  germlines: z.array(germlineJson).min(1),
});

/** One profile as stored. */
export type ProfileJson = z.infer<typeof profileJson>;
/** One germline gene as stored: residue i is at IMGT position `start + i` ('-' = IMGT gap). */
export type GermlineJson = z.infer<typeof germlineJson>;
/** The profile file. */
export type ProfileFile = z.infer<typeof profileFile>;

/**
 * A profile compiled for the aligner. Index k = 1…128 is IMGT position k (index 0 unused).
 * `emit[a * 129 + k]`: score of residue a (0–19; 20 = X scores 0) at position k, laid out
 * residue-major so the aligner's inner loop over k reads one contiguous row.
 */
export interface Profile {
  species: string;
  chain: ChainType;
  /** `${species}_${chain}`, e.g. `human_H`. */
  name: string;
  emit: Float32Array;
  /** Score of entering match k from position k−1 (occupied). */
  toMatch: Float32Array;
  /** Score of skipping position k (an IMGT gap). */
  toDelete: Float32Array;
  /** Score of opening / extending an insertion after position k. */
  insOpen: Float32Array;
  insExtend: Float32Array;
}

/** A germline gene compiled for identity: `codes[k]` is the residue index at IMGT k, 255 if none. */
export interface Germline {
  name: string;
  species: string;
  chain: ChainType;
  segment: 'V' | 'J';
  codes: Uint8Array;
}

/** Everything numbering needs from the shipped file. */
export interface ProfileSet {
  profiles: Profile[];
  germlines: Germline[];
  source: string;
  /** Where it was read from. */
  file: string;
}

const K1 = PROFILE_POSITIONS + 1;

function compileProfile(p: ProfileJson): Profile {
  const emit = new Float32Array(21 * K1);
  const toMatch = new Float32Array(K1);
  const toDelete = new Float32Array(K1);
  const insOpen = new Float32Array(K1);
  const insExtend = new Float32Array(K1);
  for (let k = 1; k <= PROFILE_POSITIONS; k++) {
    for (let a = 0; a < 20; a++) emit[a * K1 + k] = p.match[(k - 1) * 20 + a]!;
    const occ = p.occupancy[k - 1];
    toMatch[k] = Math.log2(occ);
    toDelete[k] = Math.log2(1 - occ);
    insOpen[k] = p.insertOpen[k - 1]!;
    insExtend[k] = p.insertExtend[k - 1]!;
  }
  return { species: p.species, chain: p.chain, name: `${p.species}_${p.chain}`, emit, toMatch, toDelete, insOpen, insExtend };
}

function compileGermline(g: GermlineJson): Germline {
  const codes = new Uint8Array(K1).fill(255);
  for (let i = 0; i < g.aa.length; i++) {
    const k = g.start + i;
    if (k > PROFILE_POSITIONS) break;
    const a = AMINO_ACIDS.indexOf(g.aa[i]);
    if (a >= 0) codes[k] = a;
  }
  return { name: g.name, species: g.species, chain: g.chain, segment: g.segment, codes };
}

/** Parses and compiles a profile file's bytes (gzip or plain JSON). */
export function parseProfileSet(bytes: Uint8Array, file = '(bytes)'): ProfileSet {
  const text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : Buffer.from(bytes)).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelError(`${file}: not a balmkit profile file (${(e as Error).message}); rebuild it with models/numbering/build-profiles.ts`, { cause: e });
  }
  const r = profileFile.safeParse(raw);
  if (!r.success) {
    throw new ModelError(`${file}: ${describeZodError(r.error)}; rebuild it with models/numbering/build-profiles.ts`);
  }
  return { profiles: r.data.profiles.map(compileProfile), germlines: r.data.germlines.map(compileGermline), source: r.data.source, file };
}

/** The shipped profile file's path. */
export function defaultProfilePath(): string {
  return path.join(packageRoot(), 'models', 'numbering', 'ig-profiles.json.gz');
}

let cached: ProfileSet | undefined;

/**
 * The shipped profiles, loaded once per process.
 *
 * @throws Error naming the file if it is missing or malformed.
 */
export function loadProfiles(): ProfileSet {
  if (cached !== undefined) return cached;
  const file = defaultProfilePath();
  if (!fs.existsSync(file)) {
    throw new ModelError(`numbering profiles ${file} are missing: reinstall balmkit, or run models/numbering/build-profiles.ts`);
  }
  cached = parseProfileSet(fs.readFileSync(file), file);
  return cached;
}

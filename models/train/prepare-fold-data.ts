/**
 * BALMFold's training data: every entry of the structure split (`models/fold-baseline/split.json`)
 * as the model's inputs (built by `src/fold/balmfold-input.ts`, exactly as at prediction) and its
 * experimental targets, one safetensors file per set, residues of all entries concatenated with an
 * `offsets` index.
 *
 *   node --import tsx models/train/prepare-fold-data.ts [--out /tmp/balmfold-data] [--balm models/balm-small]
 *        [--data ../shared/data] [--sets train,validation,test] [--limit N]
 *
 * Input of each entry: the observed residues (ATOM records with N, CA, C) of chains H and L, numbered
 * by balmkit; the variable-domain residues are kept (what `fold()` predicts). Targets per residue:
 * atom14 heavy atoms and mask, backbone frame, torsions (sin, cos) with a mask (a torsion exists
 * when its atoms were observed and, for pre-omega and phi, no residue is missing before it), and
 * the IMGT region (0 framework, 1–3 CDR1–3). The residue tables of the atoms-from-frames geometry
 * ride along, so the PyTorch model builds atoms with the same constants as balmkit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NumberedResidue } from '../../src/antibody/number.js';
import { Balm } from '../../src/balm/balm.js';
import { atomPosition, backboneFrames, NUM_TORSIONS, TORSION, torsionsFromAtoms, type Atom14 } from '../../src/fold/atoms.js';
import { loadFoldModel } from '../../src/fold/baseline-model.js';
import { balmFoldInputs } from '../../src/fold/balmfold-input.js';
import { readNumberedStructure } from '../../src/fold/dataset.js';
import { ATOMS_PER_RESIDUE, CHI_ANGLE_ATOMS, CHI_PI_PERIODIC, NUM_GROUPS, NUM_RESTYPES, RESNAMES } from '../../src/fold/residue-constants.js';
import { ATOM14_GROUP, ATOM14_MASK, ATOM14_POSITION, DEFAULT_FRAMES } from '../../src/fold/rigid-groups.js';
import type { TemplateChainInput } from '../../src/fold/baseline.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { hostTensor, type HostTensor } from '../../src/io/tensor.js';
import { rosettaFolder } from '../fold-baseline/rosetta-entries.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
};
const out = path.resolve(opt('--out', '/tmp/balmfold-data'));
const data = path.resolve(opt('--data', path.join(ROOT, '..', 'shared', 'data')));
const sets = opt('--sets', 'train,validation,test').split(',');
const limit = Number(opt('--limit', 'Infinity'));
const balmDir = path.resolve(opt('--balm', path.join(ROOT, 'models', 'balm-small')));

const split = JSON.parse(fs.readFileSync(path.join(ROOT, 'models', 'fold-baseline', 'split.json'), 'utf8')) as Record<string, string[]>;
const templates = loadFoldModel('fold-baseline').templates;
const balm = await Balm.load(balmDir, { ep: 'cpu' });
fs.mkdirSync(out, { recursive: true });

const REGION_CODE: Record<string, number> = { cdr1: 1, cdr2: 2, cdr3: 3 };

/** Which torsions of residue i exist in the experimental atoms. */
function torsionMask(atoms: Atom14, i: number, breakBefore: boolean): number[] {
  const m = new Array<number>(NUM_TORSIONS).fill(0);
  const has = (name: string, j = i) => atomPosition(atoms, j, name) !== undefined;
  if (i > 0 && !breakBefore) {
    if (has('CA', i - 1) && has('C', i - 1)) m[TORSION.preOmega] = 1;
    if (has('C', i - 1)) m[TORSION.phi] = 1;
  }
  if (has('O')) m[TORSION.psi] = 1;
  CHI_ANGLE_ATOMS[RESNAMES[atoms.aatype[i]!]!]!.forEach((names, k) => {
    if (names.every((nm) => has(nm))) m[TORSION.chi1 + k] = 1;
  });
  return m;
}

/** The residue tables of the geometry (same constants as `atoms.ts`). */
function tables(): Record<string, HostTensor> {
  const chiPi = new Float32Array(NUM_RESTYPES * 4);
  RESNAMES.forEach((r, t) => (CHI_PI_PERIODIC[r] ?? []).forEach((k) => (chiPi[t * 4 + k] = 1)));
  const chiCount = new Float32Array(NUM_RESTYPES * 4);
  RESNAMES.forEach((r, t) => CHI_ANGLE_ATOMS[r]!.forEach((_, k) => (chiCount[t * 4 + k] = 1)));
  return {
    'table.default_frames': hostTensor('float32', [NUM_RESTYPES, NUM_GROUPS, 12], Float32Array.from(DEFAULT_FRAMES)),
    'table.atom14_group': hostTensor(
      'int64',
      [NUM_RESTYPES, ATOMS_PER_RESIDUE],
      BigInt64Array.from(ATOM14_GROUP, (x) => BigInt(x)),
    ),
    'table.atom14_position': hostTensor('float32', [NUM_RESTYPES, ATOMS_PER_RESIDUE, 3], Float32Array.from(ATOM14_POSITION)),
    'table.atom14_mask': hostTensor('float32', [NUM_RESTYPES, ATOMS_PER_RESIDUE], Float32Array.from(ATOM14_MASK)),
    'table.chi_pi_periodic': hostTensor('float32', [NUM_RESTYPES, 4], chiPi),
    'table.chi_mask': hostTensor('float32', [NUM_RESTYPES, 4], chiCount),
  };
}

for (const set of sets) {
  const ids = (split[set] ?? []).slice(0, limit);
  if (ids.length === 0) throw new Error(`split.json has no set '${set}'`);
  const cols: Record<string, number[]> = {};
  const push = (name: string, values: ArrayLike<number | bigint>) => {
    const c = (cols[name] ??= []);
    for (let k = 0; k < values.length; k++) c.push(Number(values[k]!));
  };
  const offsets = [0];
  const kept: { id: string; chains: string; residues: number }[] = [];
  const skipped: { id: string; reason: string }[] = [];
  const t0 = Date.now();
  for (const [k, id] of ids.entries()) {
    const file = path.join(rosettaFolder(data), `pdb${id}_chothia.pdb.bz2`);
    const s = await readNumberedStructure(file, id, ['H', 'L']);
    const chains = s.chains.filter((c) => c.id === 'H' || c.id === 'L').sort((a, b) => a.id.localeCompare(b.id));
    if (chains.length === 0) {
      skipped.push({ id, reason: 'no numbered H or L chain' });
      continue;
    }
    const inputs: TemplateChainInput[] = [];
    const truth: { atoms: Atom14; breakBefore: boolean[]; region: number[] }[] = [];
    for (const c of chains) {
      const residues = c.numbering.filter((r): r is NumberedResidue => r !== null);
      inputs.push({ id: c.id, chainType: c.chainType, residues });
      const n = residues.length;
      const atoms: Atom14 = { aatype: new Int32Array(n), positions: new Float64Array(n * ATOMS_PER_RESIDUE * 3), mask: new Uint8Array(n * ATOMS_PER_RESIDUE) };
      residues.forEach((r, j) => {
        atoms.aatype[j] = c.atoms.aatype[r.index]!;
        atoms.positions.set(c.atoms.positions.subarray(r.index * ATOMS_PER_RESIDUE * 3, (r.index + 1) * ATOMS_PER_RESIDUE * 3), j * ATOMS_PER_RESIDUE * 3);
        atoms.mask.set(c.atoms.mask.subarray(r.index * ATOMS_PER_RESIDUE, (r.index + 1) * ATOMS_PER_RESIDUE), j * ATOMS_PER_RESIDUE);
      });
      // A residue follows a gap when the structure lacks residues before it or the domain skips one.
      const breakBefore = residues.map((r, j) => j > 0 && (c.breakBefore[r.index] === 1 || r.index !== residues[j - 1]!.index + 1));
      truth.push({ atoms, breakBefore, region: residues.map((r) => REGION_CODE[r.regions.imgt] ?? 0) });
    }
    let x;
    try {
      x = await balmFoldInputs(templates, balm, inputs);
    } catch (e) {
      skipped.push({ id, reason: e instanceof Error ? e.message : String(e) });
      continue;
    }
    push('aatype', x.aatype);
    push('chain', x.chain);
    push('residue_index', x.residueIndex);
    push('imgt_position', x.imgtPosition);
    push('features', x.features);
    push('template_frames', x.templateFrames);
    push('template_error', x.templateError);
    for (const t of truth) {
      push('atom14', t.atoms.positions);
      push('atom14_mask', t.atoms.mask);
      push('frames', backboneFrames(t.atoms));
      push('torsions', torsionsFromAtoms(t.atoms));
      for (let i = 0; i < t.atoms.aatype.length; i++) push('torsion_mask', torsionMask(t.atoms, i, t.breakBefore[i]!));
      push('region', t.region);
      push('break_before', t.breakBefore.map(Number));
    }
    offsets.push(offsets[offsets.length - 1]! + x.n);
    kept.push({ id, chains: chains.map((c) => c.id).join(''), residues: x.n });
    if (k % 100 === 0) process.stderr.write(`  ${set}: ${k}/${ids.length} entries (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  const R = offsets[offsets.length - 1]!;
  const f32 = (name: string, shape: number[]) => hostTensor('float32', shape, Float32Array.from(cols[name]!));
  const i64 = (name: string, shape: number[]) =>
    hostTensor(
      'int64',
      shape,
      BigInt64Array.from(cols[name]!, (v) => BigInt(v)),
    );
  const tensors: Record<string, HostTensor> = {
    offsets: hostTensor(
      'int64',
      [offsets.length],
      BigInt64Array.from(offsets, (v) => BigInt(v)),
    ),
    aatype: i64('aatype', [R]),
    chain: i64('chain', [R]),
    residue_index: i64('residue_index', [R]),
    imgt_position: i64('imgt_position', [R]),
    features: f32('features', [R, balm.hiddenSize]),
    template_frames: f32('template_frames', [R, 12]),
    template_error: f32('template_error', [R]),
    atom14: f32('atom14', [R, ATOMS_PER_RESIDUE, 3]),
    atom14_mask: f32('atom14_mask', [R, ATOMS_PER_RESIDUE]),
    frames: f32('frames', [R, 12]),
    torsions: f32('torsions', [R, NUM_TORSIONS, 2]),
    torsion_mask: f32('torsion_mask', [R, NUM_TORSIONS]),
    region: i64('region', [R]),
    break_before: i64('break_before', [R]),
    ...tables(),
  };
  const file = path.join(out, `${set}.safetensors`);
  writeSafetensors(file, tensors, { set, entries: JSON.stringify(kept), skipped: JSON.stringify(skipped), balm: balmDir, source: 'models/train/prepare-fold-data.ts' });
  process.stderr.write(`${set}: ${kept.length} entries, ${R} residues, ${skipped.length} skipped → ${file}\n`);
  for (const s of skipped) process.stderr.write(`  skipped ${s.id}: ${s.reason}\n`);
}
await balm.release();

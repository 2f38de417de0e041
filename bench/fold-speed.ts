/**
 * Wall time of `fold` per antibody on the CPU, end to end (numbering, model, relaxation, PDB
 * written): the first call (model load, warm-up), single antibodies one call each, and one call
 * with a batch of 50; with the split into its parts.
 *
 *   node --import tsx bench/fold-speed.ts [--model fold-baseline|balmfold-small|DIR] [--data ../shared/data]
 *        [--batch 50] [--threads 2] [--python /usr/bin/python3]
 *
 * With a BALMFold model it also runs the PyTorch model (bench/balmfold_torch.py,
 * models/train/balmfold.py) on the same weights and the same prepared inputs (balmkit's
 * `balmFoldInputs`: its BALM features and template frames), in the same run: PyTorch times the
 * model forward + atoms_from_frames per Fv (inference_mode, --threads threads, OpenBLAS confirmed,
 * warm-up); balmkit's fold graph is timed on the same inputs beside it, after both agree on the
 * atoms (≤ 1e-3 Å). When `balmfold-small` has no trained weights yet, a random model of its shape
 * is benchmarked (said in the printout). Never run while a training job holds the cores: wrap it in
 * `quiet-run`.
 *
 * Inputs: the observed sequences of the RAB test and validation entries of the split (needs
 * ../shared/data), else the antibodies of test/fixtures/fold-baseline/antibodies.fasta repeated.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { parseFasta } from '../src/antibody/fasta.js';
import { pairRecords } from '../src/antibody/pairing.js';
import { number } from '../src/antibody/number.js';
import { Balm } from '../src/balm/balm.js';
import { loadFoldModel, ModelError, type BalmFoldModel, type FoldModel } from '../src/fold/baseline-model.js';
import type { TemplateChainInput } from '../src/fold/baseline.js';
import { balmFoldInputs, type BalmFoldInputs } from '../src/fold/balmfold-input.js';
import { buildBalmFoldGraph, runBalmFold } from '../src/fold/balmfold-model.js';
import { readNumberedStructure } from '../src/fold/dataset.js';
import { fold, type AntibodyInput, type FoldedAntibody, type FoldOutcome } from '../src/fold/predict.js';
import { ATOMS_PER_RESIDUE, NUM_GROUPS, NUM_RESTYPES } from '../src/fold/residue-constants.js';
import { ATOM14_GROUP, ATOM14_MASK, ATOM14_POSITION, DEFAULT_FRAMES } from '../src/fold/rigid-groups.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { hostTensor, type HostTensor } from '../src/io/tensor.js';
import { writePdb } from '../src/io/pdb.js';
import { readWeights } from '../src/io/weights.js';
import { serializeModel } from '../src/onnx/index.js';
import { createSession } from '../src/runtime/index.js';
import { JsonLineProcess, median, runToEnd } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const data = path.resolve(opt('--data') ?? path.join(ROOT, '..', 'shared', 'data'));
const batchSize = Number(opt('--batch') ?? 50);
const modelName = opt('--model') ?? 'fold-baseline';
const threads = Number(opt('--threads') ?? 2);
const python = opt('--python') ?? '/usr/bin/python3';
const work = path.join(os.tmpdir(), 'balmkit-bench-fold');

async function inputs(): Promise<{ source: string; list: AntibodyInput[] }> {
  const folder = path.join(data, 'antibody-structures', 'rosetta-fv');
  if (fs.existsSync(folder)) {
    const split = JSON.parse(fs.readFileSync(path.join(ROOT, 'models', 'fold-baseline', 'split.json'), 'utf8')) as { test: string[]; validation: string[] };
    const list: AntibodyInput[] = [];
    for (const id of [...split.test, ...split.validation]) {
      if (list.length >= batchSize) break;
      const s = await readNumberedStructure(path.join(folder, `pdb${id}_chothia.pdb.bz2`), id, ['H', 'L']);
      const h = s.chains.find((c) => c.chainType === 'H');
      const l = s.chains.find((c) => c.chainType !== 'H');
      if (h && l) list.push({ name: id, heavy: h.sequence, light: l.sequence });
    }
    return { source: `observed sequences of ${list.length} RAB test / validation Fvs (rosetta-fv)`, list };
  }
  const fixture = fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'fold-baseline', 'antibodies.fasta'), 'utf8');
  const pairs = pairRecords(parseFasta(fixture)).antibodies.map((ab) => ({ name: ab.name, heavy: ab.heavy!.sequence, light: ab.light!.sequence }));
  const list = Array.from({ length: batchSize }, (_, k) => ({ ...pairs[k % pairs.length], name: `${pairs[k % pairs.length].name}-${k}` }));
  return { source: `${pairs.length} fixture antibodies repeated (../shared/data not found)`, list };
}

/** The model; `balmfold-small` without trained weights yet becomes a random model of its shape. */
async function loadModel(): Promise<{ model: FoldModel; note: string }> {
  try {
    return { model: loadFoldModel(modelName), note: '' };
  } catch (e) {
    const shipped = path.join(ROOT, 'models', 'balmfold-small');
    if (!(e instanceof ModelError) || modelName !== 'balmfold-small' || fs.existsSync(path.join(shipped, 'model.safetensors'))) throw e;
    const dir = path.join(work, 'random-balmfold-small');
    if (!fs.existsSync(path.join(dir, 'model.safetensors'))) await runToEnd(python, [path.join(ROOT, 'models', 'train', 'make-balmfold-parity.py'), '--make-random', dir]);
    fs.copyFileSync(path.join(shipped, 'model.json'), path.join(dir, 'model.json'));
    return { model: loadFoldModel(dir), note: ` — NO TRAINED WEIGHTS YET: a random model of its shape (${dir}); relaxation time is not representative` };
  }
}

const ok = (o: FoldOutcome[]) => o.flatMap((x) => (x.ok ? [x.antibody] : []));
const ms = (x: number) => `${x.toFixed(0)} ms`;
const stats = (x: number[]) => `median ${ms(median(x))}, min ${ms(Math.min(...x))}, max ${ms(Math.max(...x))}`;

/** fold + write the PDB; returns wall ms and the write time. */
async function foldAndWrite(list: AntibodyInput | AntibodyInput[], model: FoldModel, outDir: string): Promise<{ ms: number; writeMs: number; done: FoldedAntibody[]; failed: number }> {
  const t = performance.now();
  const outcomes = await fold(list, { model, ep: 'cpu' });
  const done = ok(outcomes);
  const tw = performance.now();
  for (const ab of done) await writePdb(path.join(outDir, `${ab.name}.pdb`), ab.structure);
  const end = performance.now();
  return { ms: end - t, writeMs: end - tw, done, failed: outcomes.length - done.length };
}

/** The chains of a record as `fold` numbers them (heavy and light given). */
function chainsOf(ab: AntibodyInput): TemplateChainInput[] {
  const out: TemplateChainInput[] = [];
  for (const [id, seq, expect] of [
    ['H', ab.heavy, 'heavy'],
    ['L', ab.light, 'light'],
  ] as const) {
    if (seq === undefined) continue;
    const d = number(seq, { scheme: 'imgt', expect }).domains[0];
    out.push({ id, chainType: d.chainType, residues: d.residues });
  }
  return out;
}

/** The prepared inputs of every record in one safetensors file for the PyTorch side (with the atom tables). */
function writeInputs(file: string, xs: BalmFoldInputs[]): void {
  const offsets = [0];
  for (const x of xs) offsets.push(offsets[offsets.length - 1] + x.n);
  const R = offsets[offsets.length - 1];
  const d = xs[0].hidden;
  const f32 = (pick: (x: BalmFoldInputs) => Float32Array, width: number) => {
    const out = new Float32Array(R * width);
    xs.forEach((x, k) => out.set(pick(x), offsets[k] * width));
    return out;
  };
  const i64 = (pick: (x: BalmFoldInputs) => BigInt64Array) => {
    const out = new BigInt64Array(R);
    xs.forEach((x, k) => out.set(pick(x), offsets[k]));
    return out;
  };
  const tensors: Record<string, HostTensor> = {
    offsets: hostTensor(
      'int64',
      [offsets.length],
      BigInt64Array.from(offsets, (v) => BigInt(v)),
    ),
    features: hostTensor(
      'float32',
      [R, d],
      f32((x) => x.features, d),
    ),
    aatype: hostTensor(
      'int64',
      [R],
      i64((x) => x.aatype),
    ),
    chain: hostTensor(
      'int64',
      [R],
      i64((x) => x.chain),
    ),
    residue_index: hostTensor(
      'int64',
      [R],
      i64((x) => x.residueIndex),
    ),
    imgt_position: hostTensor(
      'int64',
      [R],
      i64((x) => x.imgtPosition),
    ),
    template_frames: hostTensor(
      'float32',
      [R, 12],
      f32((x) => x.templateFrames, 12),
    ),
    template_error: hostTensor(
      'float32',
      [R],
      f32((x) => x.templateError, 1),
    ),
    'table.default_frames': hostTensor('float32', [NUM_RESTYPES, NUM_GROUPS, 12], Float32Array.from(DEFAULT_FRAMES)),
    'table.atom14_group': hostTensor(
      'int64',
      [NUM_RESTYPES, ATOMS_PER_RESIDUE],
      BigInt64Array.from(ATOM14_GROUP, (x) => BigInt(x)),
    ),
    'table.atom14_position': hostTensor('float32', [NUM_RESTYPES, ATOMS_PER_RESIDUE, 3], Float32Array.from(ATOM14_POSITION)),
    'table.atom14_mask': hostTensor('float32', [NUM_RESTYPES, ATOMS_PER_RESIDUE], Float32Array.from(ATOM14_MASK)),
  };
  writeSafetensors(file, tensors);
}

/** balmkit's fold graph vs PyTorch's model on the same weights and prepared inputs. */
async function modelOnly(model: BalmFoldModel, list: AntibodyInput[]): Promise<string[]> {
  const balm = await Balm.load(model.balmFolder, { ep: 'cpu', threads });
  const xs: BalmFoldInputs[] = [];
  for (const ab of list) xs.push(await balmFoldInputs(model.templates, balm, chainsOf(ab)));
  await balm.release();
  const file = path.join(work, 'balmfold-inputs.safetensors');
  writeInputs(file, xs);
  const session = await createSession(serializeModel(buildBalmFoldGraph(readWeights(model.weightsFile), model.config, model.weightsFile)), { ep: 'cpu', threads });
  const torch = new JsonLineProcess(python, [path.join(ROOT, 'bench', 'balmfold_torch.py'), '--model', model.folder, '--inputs', file, '--threads', String(threads)]);
  const ready = await torch.read();
  process.stderr.write(`torch ${String(ready.torch)}, BLAS ${String(ready.blas)}, ${String(ready.threads)} threads\n`);

  const first = await runBalmFold(session, xs[0], { recycles: model.config.recycles, config: model.config });
  const check = await torch.send('check');
  const worst = (check.positions as number[]).reduce((m, v, k) => Math.max(m, Math.abs(v - first.positions[k])), 0);
  process.stderr.write(`check: atoms of Fv 0, max |balmkit − PyTorch| ${worst.toExponential(2)} Å\n`);
  if (!(worst <= 1e-3)) throw new Error('balmkit and PyTorch disagree on the atoms; timings would be meaningless');

  const ours: number[] = [];
  const t0 = performance.now();
  for (const x of xs) {
    const t = performance.now();
    await runBalmFold(session, x, { recycles: model.config.recycles, config: model.config });
    ours.push(performance.now() - t);
  }
  const oursTotal = performance.now() - t0;
  const run = await torch.send('run');
  const theirs = run.ms as number[];
  torch.quit();
  await session.release();
  const residues = median(xs.map((x) => x.n));
  return [
    `  model only, same weights and prepared inputs (${xs.length} Fvs, median ${residues} residues; features from balmkit's BALM; ${threads} threads each side):`,
    `    times: the fold network (trunk + structure module) and atoms from frames — no numbering, BALM, relaxation or writing`,
    `    balmkit fold graph (onnxruntime):   per Fv ${stats(ours)}; ${xs.length} one after another ${ms(oursTotal)}`,
    `    PyTorch ${String(ready.torch)} (inference_mode):  per Fv ${stats(theirs)}; ${xs.length} one after another ${ms(run.total as number)}`,
    `    speed-up (PyTorch median / balmkit median): ${(median(theirs) / median(ours)).toFixed(2)}×`,
  ];
}

fs.mkdirSync(work, { recursive: true });
const outDir = fs.mkdtempSync(path.join(work, 'pdb-'));
const { source, list } = await inputs();
const { model, note } = await loadModel();
const t0 = performance.now();
const first = await foldAndWrite(list[0], model, outDir);
const coldMs = performance.now() - t0;
if (first.failed) throw new Error(`${list[0].name} failed to fold`);

// Single antibodies, one call each (after the first).
const singles: number[] = [];
const parts: Record<string, number[]> = { numberMs: [], balmMs: [], graphMs: [], buildMs: [], relaxMs: [], writeMs: [] };
for (const ab of list.slice(1, 21)) {
  const r = await foldAndWrite(ab, model, outDir);
  singles.push(r.ms);
  parts.writeMs.push(r.writeMs);
  for (const a of r.done) for (const k of ['numberMs', 'balmMs', 'graphMs', 'buildMs', 'relaxMs'] as const) if (a.timing[k] !== undefined) parts[k].push(a.timing[k]);
}

// One batch.
const batch = await foldAndWrite(list, model, outDir);
fs.rmSync(outDir, { recursive: true, force: true });

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const isBalmFold = model.kind === 'balmfold';
const p = (k: string) => `${median(parts[k]).toFixed(1)} ms`;
const lines = [
  isBalmFold
    ? `fold speed, model ${model.name}${note} (BALMFold: numbering + BALM features + fold graph (onnxruntime, CPU) + relaxation + PDB written)`
    : `fold speed, model ${model.name} (template baseline: numbering + template build + relaxation + PDB written, TypeScript on the CPU, one thread)`,
  `  machine: ${cpu}, ${os.availableParallelism()} CPUs available; Node ${process.version}`,
  `  inputs: ${source}`,
  `  first call (model load + warm-up):      ${coldMs.toFixed(0)} ms`,
  `  single antibody, one call each (n=${singles.length}):  ${stats(singles)}`,
  isBalmFold
    ? `    of which numbering ${p('numberMs')}, BALM + template frames ${p('balmMs')}, fold graph ${p('graphMs')}, relaxation ${p('relaxMs')}, writing ${p('writeMs')} (medians)`
    : `    of which numbering ${p('numberMs')}, template build ${p('buildMs')}, relaxation ${p('relaxMs')}, writing ${p('writeMs')} (medians)`,
  `  batch of ${list.length} in one call:            ${batch.ms.toFixed(0)} ms, ${(batch.ms / list.length).toFixed(0)} ms per antibody${batch.failed ? ` (${batch.failed} failed)` : ''}`,
];
if (isBalmFold) lines.push(...(await modelOnly(model, list)));
process.stdout.write(`${lines.join('\n')}\n`);

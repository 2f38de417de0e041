/**
 * BALMFold in balmkit against the PyTorch model it was trained as (models/train/balmfold.py):
 * the ONNX graph (src/fold/balmfold-model.ts) on the inputs of the parity fixture gives PyTorch's
 * atoms, frames and errors (≤ 1e-3 Å), the fixture was made from the weights shipped now (SHA-256
 * pin), the loader names the file and tensor that does not fit, and `fold()` with the shipped
 * model gives a valid relaxed structure with positive per-residue errors.
 *
 * The fixture is made by `models/train/make-balmfold-parity.py` (float64 PyTorch reference on the
 * first 10 RAB test entries). BALMFOLD_TEST_MODEL / BALMFOLD_TEST_FIXTURE point the parity part at
 * another model folder and fixture (e.g. a development model with random weights).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { loadFoldModel, ModelError, type BalmFoldModel } from '../../src/fold/baseline-model.js';
import { balmFoldConfigSchema, buildBalmFoldGraph, runBalmFold } from '../../src/fold/balmfold-model.js';
import { fold, type FoldedAntibody } from '../../src/fold/predict.js';
import { checkGeometry } from '../../src/fold/validate.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { toFloat32, type HostTensor } from '../../src/io/tensor.js';
import { readWeights } from '../../src/io/weights.js';
import { type LinearChoice, type LinearSite, type LinearVariant, denseLinear, linearPatterns } from '../../src/nn/index.js';
import { op, serializeModel } from '../../src/onnx/index.js';
import { createSession } from '../../src/runtime/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL = path.resolve(ROOT, process.env.BALMFOLD_TEST_MODEL ?? 'models/balmfold-small');
const FIXTURE = path.resolve(ROOT, process.env.BALMFOLD_TEST_FIXTURE ?? 'test/fixtures/balmfold/parity.safetensors');
const SHIPPED = MODEL === path.join(ROOT, 'models', 'balmfold-small');
const REMAKE = `rerun: /usr/bin/python3 models/train/make-balmfold-parity.py --model ${path.relative(ROOT, MODEL)}${FIXTURE.endsWith(path.join('test', 'fixtures', 'balmfold', 'parity.safetensors')) ? '' : ` --out ${FIXTURE}`}`;
const TOLERANCE = 1e-3; // Å

const hasWeights = fs.existsSync(path.join(MODEL, 'model.safetensors')) && fs.existsSync(path.join(MODEL, 'config.json'));
if (!hasWeights) console.warn(`balmfold tests skipped: no trained weights in ${MODEL} yet (model.safetensors + config.json, written by models/train/train_balmfold.py)`);

const TRASTUZUMAB = {
  name: 'trastuzumab',
  heavy: 'EVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVARIYPTNGYTRYADSVKGRFTISADTSKNTAYLQMNSLRAEDTAVYYCSRWGGDGFYAMDYWGQGTLVTVSS',
  light: 'DIQMTQSPSSLSASVGDRVTITCRASQDVNTAVAWYQQKPGKAPKLLIYSASFLYSGVPSRFSGSRSGTDFTLTISSLQPEDFATYYCQQHYTTPPTFGQGTKVEIK',
};

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe.runIf(hasWeights)('BALMFold: balmkit vs PyTorch', () => {
  // Collected even when skipped: load only when there is something to load.
  const model = (hasWeights ? loadFoldModel(MODEL) : undefined) as BalmFoldModel;

  it('loads as a balmfold model folder with its BALM and template baseline', () => {
    expect(model.kind).toBe('balmfold');
    expect(fs.existsSync(path.join(model.balmFolder, 'config.json'))).toBe(true);
    expect(Object.keys(model.templates.framework)).toContain('H');
  });

  it('has a parity fixture made from these weights', () => {
    expect(fs.existsSync(FIXTURE), `${FIXTURE} is missing: ${REMAKE}`).toBe(true);
    const meta = readSafetensors(FIXTURE).metadata ?? {};
    expect(meta.weights_sha256, `${model.weightsFile} changed since the parity fixture was made: ${REMAKE}`).toBe(sha256(model.weightsFile));
  });

  it("gives PyTorch's atoms, frames and errors on every fixture entry (≤ 1e-3 Å)", async () => {
    const f = readSafetensors(FIXTURE).tensors;
    const get = (k: string): HostTensor => {
      const t = f.get(k);
      if (!t) throw new Error(`${FIXTURE}: no tensor '${k}': ${REMAKE}`);
      return t;
    };
    const offsets = Array.from(get('offsets').data as BigInt64Array, Number);
    const d = get('features').shape[1];
    const [features, frames0, err0, positions, mask, frames, error] = ['features', 'template_frames', 'template_error', 'positions', 'atom_mask', 'frames', 'error'].map((k) => toFloat32(get(k)));
    const ints = (k: string) => get(k).data as BigInt64Array;
    const session = await createSession(serializeModel(buildBalmFoldGraph(readWeights(model.weightsFile), model.config, model.weightsFile)), { ep: 'cpu' });
    const worst = { positions: 0, frames: 0, error: 0, orthonormal: 0 };
    for (let e = 0; e + 1 < offsets.length; e++) {
      const [a, b] = [offsets[e], offsets[e + 1]];
      const o = await runBalmFold(
        session,
        {
          n: b - a,
          hidden: d,
          features: features.subarray(a * d, b * d),
          aatype: ints('aatype').subarray(a, b),
          chain: ints('chain').subarray(a, b),
          residueIndex: ints('residue_index').subarray(a, b),
          imgtPosition: ints('imgt_position').subarray(a, b),
          templateFrames: frames0.subarray(a * 12, b * 12),
          templateError: err0.subarray(a, b),
        },
        { recycles: model.config.recycles, config: model.config },
      );
      const maxDiff = (x: Float32Array, y: Float32Array, offset: number) => x.reduce((m, v, k) => Math.max(m, Math.abs(v - y[offset + k])), 0);
      worst.positions = Math.max(worst.positions, maxDiff(o.positions, positions, a * 42));
      worst.frames = Math.max(worst.frames, maxDiff(o.frames, frames, a * 12));
      worst.error = Math.max(worst.error, maxDiff(o.error, error, a));
      expect(maxDiff(o.atomMask, mask, a * 14)).toBe(0);
      // The final rotations are rotations (a check on both sides' quaternion composition).
      for (let i = 0; i < b - a; i++) {
        const R = [0, 1, 2].map((r) => [0, 1, 2].map((c) => o.frames[i * 12 + r * 4 + c]));
        for (let p = 0; p < 3; p++)
          for (let q = 0; q < 3; q++) worst.orthonormal = Math.max(worst.orthonormal, Math.abs(R[0][p] * R[0][q] + R[1][p] * R[1][q] + R[2][p] * R[2][q] - (p === q ? 1 : 0)));
      }
      expect(o.error.every((x) => x > 0)).toBe(true);
    }
    await session.release();
    console.info(
      `balmfold parity on ${offsets.length - 1} entries: max |Δ| positions ${worst.positions.toExponential(2)} Å, frames ${worst.frames.toExponential(2)}, error ${worst.error.toExponential(2)} Å`,
    );
    expect(worst.positions).toBeLessThanOrEqual(TOLERANCE);
    expect(worst.frames).toBeLessThanOrEqual(TOLERANCE);
    expect(worst.error).toBeLessThanOrEqual(TOLERANCE);
    expect(worst.orthonormal).toBeLessThan(1e-4);
  });

  it('every projection is a linear site; a variant on a triangle projection computes on rows, and dense rows equal the fused Gemm', async () => {
    const f = readSafetensors(FIXTURE).tensors;
    const t = (k: string) => f.get(k)!;
    const offsets = Array.from(t('offsets').data as BigInt64Array, Number);
    const [a, b] = [offsets[0], offsets[1]];
    const d = t('features').shape[1];
    const ints = (k: string) => (t(k).data as BigInt64Array).subarray(a, b);
    const inputs = {
      n: b - a,
      hidden: d,
      features: toFloat32(t('features')).subarray(a * d, b * d),
      aatype: ints('aatype'),
      chain: ints('chain'),
      residueIndex: ints('residue_index'),
      imgtPosition: ints('imgt_position'),
      templateFrames: toFloat32(t('template_frames')).subarray(a * 12, b * 12),
      templateError: toFloat32(t('template_error')).subarray(a, b),
    };
    const weights = readWeights(model.weightsFile);
    const run = async (linear?: LinearChoice) => {
      const session = await createSession(serializeModel(buildBalmFoldGraph(weights, model.config, model.weightsFile, linear ? { linear } : {})), { ep: 'cpu' });
      const o = await runBalmFold(session, inputs, { recycles: model.config.recycles, config: model.config });
      await session.release();
      return o;
    };
    const sites: LinearSite[] = [];
    const base = await run((site) => (sites.push(site), denseLinear()));
    const paths = sites.map((s) => s.path);
    for (const p of ['feature_proj', 'trunk.0.attention.q', 'trunk.0.tri_out.a_gate', 'trunk.1.tri_in.b', 'trunk.0.outer.a', 'error_out']) expect(paths).toContain(p);
    expect(sites.find((s) => s.path === 'trunk.1.tri_in.b')).toMatchObject({ layer: 1, module: 'tri_in', name: 'b' });
    expect(paths.some((p) => p.startsWith('structure.'))).toBe(true);
    // Dense computed on rows (the path every other variant takes) equals the fused channel-first Gemm.
    const rows: LinearVariant = { kind: 'dense-rows', build: (x, w, spec, site) => denseLinear().build(x, w, spec, site) };
    const same = await run(linearPatterns({ a_gate: rows, b: rows }, { layers: [0, 0] }));
    const worst = base.positions.reduce((m, v, k) => Math.max(m, Math.abs(v - same.positions[k])), 0);
    expect(worst).toBeLessThanOrEqual(1e-3);
    // And a variant that changes one projection changes the structure.
    const zeroed: LinearVariant = { kind: 'zero', build: (x, w, spec, site) => op.mul(denseLinear().build(x, w, spec, site), 0) };
    const other = await run(linearPatterns({ '/^trunk\\.0\\.tri_out\\.a_gate$/': zeroed }));
    expect(other.positions.reduce((m, v, k) => Math.max(m, Math.abs(v - base.positions[k])), 0)).toBeGreaterThan(1e-2);
  });

  it('names the file and the tensor when the weights do not fit the graph', () => {
    const weights = readWeights(model.weightsFile);
    const missing = new Map(weights);
    missing.delete('structure.ipa.head_weights');
    expect(() => buildBalmFoldGraph(missing, model.config, model.weightsFile)).toThrow(
      new RegExp(`${model.weightsFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: weight 'structure.ipa.head_weights' is missing`),
    );
    const extra = new Map(weights);
    extra.set('trunk.9.attention.q.weight', weights.get('trunk.0.attention.q.weight')!);
    expect(() => buildBalmFoldGraph(extra, model.config, model.weightsFile)).toThrow(/'trunk\.9\.attention\.q\.weight' not used/);
    const wider = balmFoldConfigSchema.parse({ ...model.config, pair_dim: model.config.pair_dim + 8 });
    expect(() => buildBalmFoldGraph(weights, wider, model.weightsFile)).toThrow(/has shape .* the config needs/);
    expect(balmFoldConfigSchema.safeParse({ ...model.config, dropout: 0.1 }).success).toBe(false);
    // A config with recycling needs the recycling weights (the pass graph takes the previous
    // pass's outputs); one without recycling refuses them as unused.
    if (model.config.recycles === 0) {
      expect(() => buildBalmFoldGraph(weights, { ...model.config, recycles: 1 }, model.weightsFile)).toThrow(/weight 'recycle_single_norm\.weight' is missing/);
    } else {
      expect(() => buildBalmFoldGraph(weights, { ...model.config, recycles: 0 }, model.weightsFile)).toThrow(/'recycle_pair\.bias'.* not used/);
      const noRecycling = new Map([...weights].filter(([k]) => !k.startsWith('recycle_')));
      expect(() => buildBalmFoldGraph(noRecycling, model.config, model.weightsFile)).toThrow(/weight 'recycle_[a-z_]+\.weight' is missing/);
    }
  });
});

describe.runIf(hasWeights && SHIPPED)('fold() with balmfold-small', async () => {
  const outcomes = hasWeights && SHIPPED ? await fold(TRASTUZUMAB, { model: 'balmfold-small', ep: 'cpu' }) : [];

  it('gives trastuzumab a relaxed structure with ideal bonds, no clashes, only L residues', () => {
    const o = outcomes[0];
    if (!o.ok) throw new Error(o.failure.message);
    const ab: FoldedAntibody = o.antibody;
    expect(ab.model).toBe('balmfold-small');
    expect(ab.executionProvider).toBe('cpu');
    expect(ab.structure.chains.map((c) => c.id)).toEqual(['H', 'L']);
    const g = checkGeometry(ab.atoms, ab.chainStarts);
    expect(g.bondsIdealFraction, 'bonds within 0.05 Å').toBeGreaterThanOrEqual(0.99);
    expect(g.peptideBonds).toBe(ab.residues.length - ab.chainStarts.length);
    expect(g.peptideBondsIdeal / g.peptideBonds, 'C–N peptide bonds within 0.05 Å').toBeGreaterThanOrEqual(0.99);
    expect(g.clashes).toEqual([]);
    expect(g.dAminoAcids).toEqual([]);
    expect(ab.residues.every((r) => r.error > 0)).toBe(true);
    expect(ab.cdrs.map((c) => c.name)).toEqual(['H1', 'H2', 'H3', 'L1', 'L2', 'L3']);
  });

  it('takes fewer recycles on request and refuses a negative count', async () => {
    const model = loadFoldModel('balmfold-small') as BalmFoldModel;
    await expect(fold(TRASTUZUMAB, { model, ep: 'cpu', recycles: -1 })).rejects.toThrow(/recycles -1: give a whole number/);
    if (model.config.recycles === 0) {
      await expect(fold(TRASTUZUMAB, { model, ep: 'cpu', recycles: 1 })).rejects.toThrow(/trained without recycling/);
      return;
    }
    const [single] = await fold(TRASTUZUMAB, { model, ep: 'cpu', recycles: 0 });
    if (!single.ok || !outcomes[0].ok) throw new Error('fold failed');
    const a = single.antibody.atoms.positions;
    const b = outcomes[0].antibody.atoms.positions;
    let moved = 0;
    for (let i = 0; i < a.length; i++) moved = Math.max(moved, Math.abs(a[i] - b[i]));
    expect(moved, 'one pass and the recycled default give different atoms').toBeGreaterThan(1e-3);
    expect(checkGeometry(single.antibody.atoms, single.antibody.chainStarts).clashes).toEqual([]);
  });
});

describe('balmfold model folders', () => {
  const made: string[] = [];
  afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const make = (manifest: Record<string, unknown>, files: Record<string, string> = { 'config.json': '{}', 'model.safetensors': '' }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-balmfold-'));
    made.push(dir);
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ name: 'bf', kind: 'balmfold', ...manifest }));
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
    return dir;
  };

  it('loads the manifest with its defaults: BALM balm-small, templates of fold-baseline', () => {
    const m = loadFoldModel(make({})) as BalmFoldModel;
    expect(m.kind).toBe('balmfold');
    expect(m.balmFolder).toBe(path.join(ROOT, 'models', 'balm-small'));
    expect(m.templateModel).toBe('fold-baseline');
    expect(m.config.structure_layers).toBe(8);
    expect(path.basename(m.weightsFile)).toBe('model.safetensors');
  });

  it('says which file or field is wrong', () => {
    expect(() => loadFoldModel(make({}, { 'config.json': '{}' }))).toThrow(/model\.json: weights: .*model\.safetensors does not exist/);
    expect(() => loadFoldModel(make({}, { 'config.json': '{"pair_dim": 24, "dropout": 0.1}', 'model.safetensors': '' }))).toThrow(/config\.json: .*dropout/);
    expect(() => loadFoldModel(make({ balm: 'no-such-balm' }))).toThrow(/balm: no BALM model 'no-such-balm'/);
    expect(() => loadFoldModel(make({ templates: './nowhere' }))).toThrow(/templates: model .*nowhere/);
    expect(() => loadFoldModel(make({ kind: 'alphafold' }))).toThrow(ModelError);
  });
});

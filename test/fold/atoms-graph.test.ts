/**
 * Frames + torsions → atoms as ONNX graph code, run by onnxruntime, against the TypeScript
 * reference: same atoms, same group frames, with leading batch dims and unnormalised torsions.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import * as F from '../../src/fold/index.js';
import { GraphBuilder, serializeModel } from '../../src/onnx/index.js';
import { randomRigid, rng } from './helpers.js';

function inputs(n: number, seed: number) {
  const rand = rng(seed);
  const aatype = Array.from({ length: n }, (_, i) => (i < 20 ? i : Math.floor(rand() * 20)));
  const frames = new Float64Array(n * 12);
  for (let i = 0; i < n; i++) frames.set(randomRigid(rand), i * 12);
  // Unnormalised (sin, cos) pairs, as a network emits them.
  const torsions = Float64Array.from({ length: n * 14 }, () => (rand() - 0.5) * 4);
  const rotations = new Float32Array(n * 9);
  const translations = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) rotations[i * 9 + r * 3 + c] = frames[i * 12 + r * 4 + c]!;
      translations[i * 3 + r] = frames[i * 12 + r * 4 + 3]!;
    }
  }
  return { aatype, frames, torsions, rotations, translations };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('atoms from frames in ONNX', () => {
  test('standalone graph equals the TypeScript reference', async () => {
    const n = 60;
    const x = inputs(n, 5);
    const session = await ort.InferenceSession.create(F.buildAtomsGraph(), { logSeverityLevel: 3, intraOpNumThreads: 1 });
    const out = await session.run({
      aatype: new ort.Tensor('int64', BigInt64Array.from(x.aatype.map(BigInt)), [n]),
      rotations: new ort.Tensor('float32', x.rotations, [n, 3, 3]),
      translations: new ort.Tensor('float32', x.translations, [n, 3]),
      torsions: new ort.Tensor('float32', Float32Array.from(x.torsions), [n, 7, 2]),
    });
    const ref = F.atomsFromFrames({ aatype: x.aatype, frames: x.frames, torsions: x.torsions });
    expect(out.positions.dims).toEqual([n, 14, 3]);
    expect(maxDiff(out.positions.data as Float32Array, ref.positions)).toBeLessThan(1e-4);
    expect(Array.from(out.mask.data as Float32Array)).toEqual(Array.from(ref.mask));
    expect(out.group_frames.dims).toEqual([n, 8, 3, 4]);
    expect(maxDiff(out.group_frames.data as Float32Array, ref.groupFrames)).toBeLessThan(1e-4);
    await session.release();
  });

  test('leading batch dims [2, n] inside a larger graph', async () => {
    const n = 17;
    const x = inputs(2 * n, 9);
    const g = new GraphBuilder('batched_atoms');
    const out = F.emitAtomsFromFrames(g, {
      aatype: g.input('aatype', 'int64', ['batch', 'n']),
      rotations: g.input('rotations', 'float32', ['batch', 'n', 3, 3]),
      translations: g.input('translations', 'float32', ['batch', 'n', 3]),
      torsions: g.input('torsions', 'float32', ['batch', 'n', 7, 2]),
    });
    g.output(out.positions, 'positions');
    const session = await ort.InferenceSession.create(serializeModel(g), { logSeverityLevel: 3, intraOpNumThreads: 1 });
    const res = await session.run({
      aatype: new ort.Tensor('int64', BigInt64Array.from(x.aatype.map(BigInt)), [2, n]),
      rotations: new ort.Tensor('float32', x.rotations, [2, n, 3, 3]),
      translations: new ort.Tensor('float32', x.translations, [2, n, 3]),
      torsions: new ort.Tensor('float32', Float32Array.from(x.torsions), [2, n, 7, 2]),
    });
    expect(res.positions.dims).toEqual([2, n, 14, 3]);
    const ref = F.atomsFromFrames({ aatype: x.aatype, frames: x.frames, torsions: x.torsions });
    expect(maxDiff(res.positions.data as Float32Array, ref.positions)).toBeLessThan(1e-4);
    await session.release();
  });
});

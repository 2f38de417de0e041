/**
 * The shipped balm-small: balmkit's logits equal the PyTorch training model's (the official
 * architecture, models/reference/balm.py) on 20 held-out chains, ≤ 1e-4 in float32. The fixture is
 * made by models/train/make-balm-parity.py from the weights whose hash it records: when
 * balm-small's weights change, re-run that script.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { Balm, type EncodedChain } from '../../src/balm/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';

const MODEL = fileURLToPath(new URL('../../models/balm-small/', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/balm/balm-small-heldout.safetensors', import.meta.url));

describe('balm-small', () => {
  test('ships with its model card, config and weights', () => {
    for (const f of ['README.md', 'config.json', 'model.safetensors', 'training-state.json']) expect(existsSync(MODEL + f), f).toBe(true);
  });

  test('the parity fixture was made from the shipped weights (else re-run models/train/make-balm-parity.py)', () => {
    const digest = createHash('sha256')
      .update(readFileSync(`${MODEL}model.safetensors`))
      .digest('hex');
    expect(readSafetensors(FIXTURE).metadata.weights_sha256).toBe(digest);
  });

  test('logits on 20 held-out chains equal the PyTorch training model (≤ 1e-4)', async () => {
    const f = readSafetensors(FIXTURE).tensors;
    const [n, length] = f.get('input_ids')!.shape;
    const ids = f.get('input_ids')!.data as BigInt64Array;
    const pos = f.get('position_ids')!.data as BigInt64Array;
    const mask = f.get('attention_mask')!.data as BigInt64Array;
    const chains: EncodedChain[] = [];
    for (let b = 0; b < n; b++) {
      const len = Array.from(mask.subarray(b * length, (b + 1) * length)).filter((m) => m === 1n).length;
      chains.push({ inputIds: Array.from(ids.subarray(b * length, b * length + len), Number), positionIds: Array.from(pos.subarray(b * length, b * length + len), Number) });
    }
    const balm = await Balm.load(MODEL, { ep: 'cpu' });
    const outs = await balm.forward(chains, 8);
    await balm.release();
    const ref = f.get('logits')!.data as Float32Array;
    const v = 33;
    let worst = 0;
    outs.forEach((o, b) => {
      for (let t = 0; t < o.length; t++) for (let k = 0; k < v; k++) worst = Math.max(worst, Math.abs(o.logits[t * v + k] - ref[(b * length + t) * v + k]));
    });
    expect(n).toBe(20);
    console.log(`balm-small parity: max |Δlogit| ${worst.toExponential(2)} over the held-out fixture`);
    expect(worst).toBeLessThanOrEqual(1e-4);
  });
});

/**
 * Host-side bookkeeping of a decoder's cache between runs: empty tensors for prefill, then each
 * run's `present.*` outputs become the next run's `past.*` inputs. What the tensors hold is the
 * attention variant's business (see `CacheSlot`).
 */
import * as ort from 'onnxruntime-node';
import type { CacheSlot } from './attention.js';

export class DecoderCache {
  private past: Record<string, ort.Tensor>;
  /** Tokens seen so far (keys the next query can attend to, before it). */
  length = 0;

  constructor(
    readonly slots: CacheSlot[][],
    readonly batch: number,
  ) {
    this.past = {};
    slots.forEach((layer, i) =>
      layer.forEach((s) => {
        const dims = s.shape.map((d, axis) => (axis === s.sequenceAxis ? 0 : typeof d === 'number' ? d : batch));
        this.past[`past.${i}.${s.name}`] = new ort.Tensor('float32', new Float32Array(0), dims);
      }),
    );
  }

  feeds(): Record<string, ort.Tensor> {
    return { ...this.past };
  }

  /** Take the run's present tensors as the next past; `added` tokens were appended. */
  update(outputs: Record<string, ort.Tensor>, added: number): void {
    this.slots.forEach((layer, i) =>
      layer.forEach((s) => {
        const t = outputs[`present.${i}.${s.name}`];
        if (!t) throw new Error(`the decoder graph returned no 'present.${i}.${s.name}'`);
        this.past[`past.${i}.${s.name}`] = t;
      }),
    );
    this.length += added;
  }
}

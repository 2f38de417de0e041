import { describe, expect, it } from 'vitest';

import { bf16ToF32, bytesPerElement, f16ToF32, f32ToBf16, f32ToF16, hostTensor, numel, readSafetensors, toFloat32 } from '../../src/io/index.js';
import { fixture } from './helpers.js';

describe('float16 / bfloat16 conversions', () => {
  // convert.safetensors holds float32 values (edge cases + random over many scales) and what
  // torch's .half() / .bfloat16() made of them.
  const { tensors } = readSafetensors(fixture('convert.safetensors'));
  const src = tensors.get('f32')!.data as Float32Array;
  const f16 = tensors.get('f16')!.data as Uint16Array;
  const bf16 = tensors.get('bf16')!.data as Uint16Array;

  it('f32ToF16 rounds exactly like torch (ties to even, subnormals, overflow, inf, nan)', () => {
    expect(src.length).toBeGreaterThan(2000);
    const bad: string[] = [];
    for (let i = 0; i < src.length; i++) {
      const got = f32ToF16(src[i]);
      if (got !== f16[i]) bad.push(`${src[i]}: ${got.toString(16)} vs torch ${f16[i].toString(16)}`);
    }
    expect(bad).toEqual([]);
  });

  it('f32ToBf16 rounds exactly like torch', () => {
    const bad: string[] = [];
    for (let i = 0; i < src.length; i++) {
      const got = f32ToBf16(src[i]);
      // torch is not consistent about NaN: its scalar path gives 0x7fc0, its AVX2 path 0xffff.
      if (Number.isNaN(src[i])) {
        expect(got).toBe(0x7fc0);
        expect(Number.isNaN(bf16ToF32(bf16[i]))).toBe(true);
        continue;
      }
      if (got !== bf16[i]) bad.push(`${src[i]}: ${got.toString(16)} vs torch ${bf16[i].toString(16)}`);
    }
    expect(bad).toEqual([]);
  });

  it('f16ToF32 inverts f32ToF16 on every finite half, and toFloat32 agrees with it', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const wide = toFloat32(hostTensor('float16', [65536], all));
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const x = f16ToF32(h);
      const isNaN16 = ((h >> 10) & 0x1f) === 0x1f && (h & 0x3ff) !== 0;
      const ok = isNaN16 ? Number.isNaN(x) && Number.isNaN(wide[h]) : Object.is(wide[h], x) && f32ToF16(x) === h;
      if (!ok) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it('bf16ToF32 inverts f32ToBf16', () => {
    for (const h of [0, 0x8000, 0x3f80, 0xbf80, 0x7f7f, 0x0001, 0x7f80, 0xff80, 0x4049]) {
      expect(f32ToBf16(bf16ToF32(h))).toBe(h);
    }
    expect(bf16ToF32(0x3fc0)).toBe(1.5);
    expect(Number.isNaN(bf16ToF32(0x7fc0))).toBe(true);
  });

  it('known values', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // rounds up to infinity
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie to even (zero)
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(NaN)).toBe(0x7e00);
    expect(f16ToF32(0x3555)).toBeCloseTo(1 / 3, 3);
  });
});

describe('host tensors', () => {
  it('numel and bytesPerElement', () => {
    expect(numel([])).toBe(1);
    expect(numel([2, 0, 3])).toBe(0);
    expect(numel([2, 3, 4])).toBe(24);
    expect(() => numel([2, -1])).toThrow(/non-negative integer/);
    expect(() => numel([1.5])).toThrow(/non-negative integer/);
    expect(() => numel([2 ** 30, 2 ** 30, 2 ** 30])).toThrow(/2\^53/);
    expect(bytesPerElement('bfloat16')).toBe(2);
    expect(bytesPerElement('int64')).toBe(8);
    expect(bytesPerElement('bool')).toBe(1);
  });

  it('hostTensor checks the array class and length', () => {
    expect(hostTensor('float32', [2, 2], new Float32Array(4)).shape).toEqual([2, 2]);
    expect(() => hostTensor('float32', [2, 2], new Float32Array(3))).toThrow(/needs 4 elements, data has 3/);
    expect(() => hostTensor('float16', [2], new Float32Array(2))).toThrow(/float16 needs a Uint16Array, got Float32Array/);
    expect(() => hostTensor('int64', [1], new Int32Array(1))).toThrow(/BigInt64Array/);
    expect(() => hostTensor('bool', [1], new Int8Array(1))).toThrow(/Uint8Array/);
  });

  it('toFloat32 converts every dtype', () => {
    expect([...toFloat32(hostTensor('int64', [2], new BigInt64Array([-3n, 5n])))]).toEqual([-3, 5]);
    expect([...toFloat32(hostTensor('bfloat16', [1], new Uint16Array([0x3fc0])))]).toEqual([1.5]);
    expect([...toFloat32(hostTensor('float64', [1], new Float64Array([0.1])))]).toEqual([Math.fround(0.1)]);
    expect([...toFloat32(hostTensor('bool', [2], new Uint8Array([1, 0])))]).toEqual([1, 0]);
    expect([...toFloat32(hostTensor('int8', [1], new Int8Array([-128])))]).toEqual([-128]);
    const f = new Float32Array([1, 2]);
    expect(toFloat32(hostTensor('float32', [2], f))).toBe(f);
  });
});

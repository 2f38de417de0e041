/**
 * A small PNG decoder for tests (8-bit RGB/RGBA, non-interlaced: what Chromium writes), so a
 * screenshot's pixels can be read without another dependency.
 */
import { inflateSync } from 'node:zlib';

/** Decoded pixels, RGBA row by row. */
export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes a PNG. @throws Error for formats this decoder does not read. */
export function decodePng(png: Uint8Array): Rgba {
  const buf = Buffer.from(png);
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let pos = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const body = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8];
      colorType = body[9]!;
      if (depth !== 8 || (colorType !== 2 && colorType !== 6) || body[12] !== 0) throw new Error(`PNG: bit depth ${depth}, colour type ${colorType}, interlace ${body[12]} not supported`);
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + len;
  }
  const bpp = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const out = new Uint8Array(width * height * 4);
  const prev = new Uint8Array(stride);
  const cur = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      const x = line[i];
      cur[i] = (filter === 0 ? x : filter === 1 ? x + a : filter === 2 ? x + b : filter === 3 ? x + ((a + b) >> 1) : x + paeth(a, b, c)) & 0xff;
    }
    for (let px = 0; px < width; px++) {
      out[(y * width + px) * 4] = cur[px * bpp]!;
      out[(y * width + px) * 4 + 1] = cur[px * bpp + 1]!;
      out[(y * width + px) * 4 + 2] = cur[px * bpp + 2]!;
      out[(y * width + px) * 4 + 3] = bpp === 4 ? cur[px * bpp + 3] : 255;
    }
    prev.set(cur);
  }
  return { width, height, data: out };
}

/** `#rrggbb` → [r, g, b] */
export function hexRgb(hex: string): [number, number, number] {
  const v = Number.parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** Fraction of pixels farther than `tolerance` (per channel) from `hex`. */
export function fractionDiffering(img: Rgba, hex: string, tolerance = 8): number {
  const [r, g, b] = hexRgb(hex);
  let n = 0;
  for (let i = 0; i < img.data.length; i += 4) {
    if (Math.abs(img.data[i] - r) > tolerance || Math.abs(img.data[i + 1] - g) > tolerance || Math.abs(img.data[i + 2] - b) > tolerance) n++;
  }
  return n / (img.width * img.height);
}

/** Number of pixels within `tolerance` (per channel) of `hex`. */
export function countColor(img: Rgba, hex: string, tolerance = 3): number {
  const [r, g, b] = hexRgb(hex);
  let n = 0;
  for (let i = 0; i < img.data.length; i += 4) {
    if (Math.abs(img.data[i] - r) <= tolerance && Math.abs(img.data[i + 1] - g) <= tolerance && Math.abs(img.data[i + 2] - b) <= tolerance) n++;
  }
  return n;
}

/** A pixel whose 5×5 neighbourhood is all within `tolerance` of `hex` (inside a patch of it, not on an edge), or null. */
export function findPatch(img: Rgba, hex: string, tolerance = 3): { x: number; y: number } | null {
  const [r, g, b] = hexRgb(hex);
  const near = (x: number, y: number): boolean => {
    const i = (y * img.width + x) * 4;
    return Math.abs(img.data[i] - r) <= tolerance && Math.abs(img.data[i + 1] - g) <= tolerance && Math.abs(img.data[i + 2] - b) <= tolerance;
  };
  for (let y = 2; y < img.height - 2; y++) {
    for (let x = 2; x < img.width - 2; x++) {
      let all = true;
      for (let dy = -2; dy <= 2 && all; dy++) for (let dx = -2; dx <= 2 && all; dx++) all = near(x + dx, y + dy);
      if (all) return { x, y };
    }
  }
  return null;
}

/**
 * Rank analysis (Loki, Fig. 2): per layer and KV head, the number of principal components that
 * explain 90% of the key variance, before and after rotary; as a table and as an SVG plot.
 */
import { type LayerBasis, rankFor } from './calibrate.js';

export interface RankTable {
  /** ranks[stage][layer][head] */
  ranks: Record<string, number[][]>;
  headDim: number;
  fraction: number;
}

export function rankTable(bases: Record<string, readonly LayerBasis[]>, headDim: number, fraction = 0.9): RankTable {
  const ranks: Record<string, number[][]> = {};
  for (const [stage, layers] of Object.entries(bases)) {
    ranks[stage] = layers.map((l) => {
      const heads = l.eigenvalues.length / headDim;
      return Array.from({ length: heads }, (_, h) => rankFor(l.eigenvalues.subarray(h * headDim, (h + 1) * headDim), fraction));
    });
  }
  return { ranks, headDim, fraction };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** A text table: per layer, mean (min–max over heads) rank for each stage. */
export function formatRankTable(t: RankTable): string {
  const stages = Object.keys(t.ranks);
  const layers = Math.max(...stages.map((s) => t.ranks[s].length));
  const head = `layer  ${stages.map((s) => `${s} rank (mean, min–max of ${t.ranks[s][0]?.length ?? 0} heads)`.padEnd(44)).join('')}`;
  const lines = [`components explaining ${Math.round(t.fraction * 100)}% of key variance, of ${t.headDim} per head`, head];
  for (let l = 0; l < layers; l++) {
    const cells = stages.map((s) => {
      const r = t.ranks[s][l];
      return r ? `${mean(r).toFixed(1)} (${Math.min(...r)}–${Math.max(...r)})`.padEnd(44) : ''.padEnd(44);
    });
    lines.push(`${String(l).padStart(5)}  ${cells.join('')}`);
  }
  return `${lines.join('\n')}\n`;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

/** An SVG line plot of mean rank by layer per stage, with the min–max band over heads. */
export function rankPlotSvg(t: RankTable, title: string): string {
  const W = 640;
  const H = 400;
  const m = { l: 60, r: 20, t: 40, b: 50 };
  const stages = Object.keys(t.ranks);
  const layers = Math.max(...stages.map((s) => t.ranks[s].length));
  const x = (l: number) => m.l + (layers <= 1 ? 0.5 : l / (layers - 1)) * (W - m.l - m.r);
  const y = (r: number) => H - m.b - (r / t.headDim) * (H - m.t - m.b);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">layer</text>`,
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">rank at ${Math.round(t.fraction * 100)}% variance (of ${t.headDim})</text>`,
  ];
  for (let l = 0; l < layers; l++) parts.push(`<text x="${x(l)}" y="${H - m.b + 16}" text-anchor="middle">${l}</text>`);
  for (const r of [0, t.headDim / 4, t.headDim / 2, (3 * t.headDim) / 4, t.headDim]) {
    parts.push(`<text x="${m.l - 6}" y="${y(r) + 4}" text-anchor="end">${r}</text>`, `<line x1="${m.l}" y1="${y(r)}" x2="${W - m.r}" y2="${y(r)}" stroke="#ddd"/>`);
  }
  stages.forEach((s, k) => {
    const c = COLORS[k % COLORS.length];
    const rows = t.ranks[s];
    const upper = rows.map((r, l) => `${x(l)},${y(Math.max(...r))}`);
    const lower = rows.map((r, l) => `${x(l)},${y(Math.min(...r))}`).reverse();
    parts.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${c}" fill-opacity="0.15" stroke="none"/>`);
    parts.push(`<polyline points="${rows.map((r, l) => `${x(l)},${y(mean(r))}`).join(' ')}" fill="none" stroke="${c}" stroke-width="2"/>`);
    parts.push(`<text x="${W - m.r - 150}" y="${m.t + 16 * (k + 1)}" fill="${c}">${esc(s)} (mean, min–max)</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

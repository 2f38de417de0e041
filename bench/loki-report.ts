/**
 * The Loki report: key rank analysis and sparse-attention quality at matched budgets, as a
 * markdown file (docs/loki-report.md), for the llama2.c model aidreams260K and, when given, a BALM.
 *
 *   node --import tsx bench/loki-report.ts [--balm models/balm-small --balm-data /tmp/balm-data.jsonl] [--out docs/loki-report.md]
 *
 * LM data: Alpaca records from ../shared/data/instructions (out of the model's domain; fine for
 * relative comparisons): the first 200 calibrate, the next 100 evaluate (its context is 128
 * tokens). BALM data: training-split chains calibrate, held-out chains evaluate. Budgets: Loki
 * d ∈ {0.25, 0.5} × k ∈ {0.125, 0.25, 0.5}; exact top-k, H2O and StreamingLLM at the same k (H2O and
 * StreamingLLM keep k × context keys and decode token by token; LMs only). The ordering between
 * methods is a finding, not a gate.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NumberedChain } from '../src/balm/index.js';
import {
  type LayerBasis,
  collectBalmKeys,
  collectLlmKeys,
  evaluateBalmAttention,
  evaluateLlmAttention,
  fitBases,
  formatRankTable,
  rankTable,
  readTexts,
  saveBases,
} from '../src/sparse/index.js';
import { flagArgs } from './lib.js';

const args = flagArgs();
const root = fileURLToPath(new URL('..', import.meta.url));
const shared = join(root, '..', 'shared', 'data');
const out = args.get('out') ?? join(root, 'docs', 'loki-report.md');
const tmp = mkdtempSync(join(tmpdir(), 'balmkit-loki-report-'));

const D = [0.25, 0.5];
const K = [0.125, 0.25, 0.5];

interface Row {
  method: string;
  perplexity: number;
  recall: number | null;
  error: number | null;
}

const fmt = (x: number | null, digits = 3) => (x === null ? '–' : x.toFixed(digits));
const meanOf = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

function table(rows: Row[], full: number): string[] {
  return [
    '| method | perplexity | vs full | top-k recall vs exact | attention output error (mean over layers) |',
    '|---|---|---|---|---|',
    `| full | ${full.toFixed(3)} | 1.000 | – | – |`,
    ...rows.map((r) => `| ${r.method} | ${r.perplexity.toFixed(3)} | ${(r.perplexity / full).toFixed(3)} | ${r.recall === null ? '–' : `${(r.recall * 100).toFixed(1)}%`} | ${fmt(r.error, 4)} |`),
  ];
}

function rankSection(bases: Record<string, LayerBasis[]>, headDim: number): string[] {
  return ['```', formatRankTable(rankTable(bases, headDim)).trimEnd(), '```'];
}

async function lmSection(): Promise<string[]> {
  const model = join(shared, 'lm', 'aidreams260K.bin');
  const tokenizer = join(shared, 'lm', 'tok512.bin');
  const texts = readTexts(join(shared, 'instructions', 'alpaca-5pct-sample.json'));
  const calib = texts.slice(0, 200);
  const evalTexts = texts.slice(200, 300);
  const bases: Record<string, LayerBasis[]> = {};
  let headDim = 0;
  let tokens = 0;
  for (const stage of ['pre-rotary', 'post-rotary'] as const) {
    const stats = await collectLlmKeys(model, calib, { stage, tokenizer, ep: 'cpu' });
    bases[stage] = fitBases(stats);
    headDim = stats.headDim;
    tokens = stats.count;
  }
  const basesFile = join(tmp, 'lm.safetensors');
  saveBases(basesFile, bases['post-rotary'], { model: 'aidreams260K', stage: 'post-rotary', data: 'alpaca 0–199' }, tokens);
  const rows: Row[] = [];
  let full = 0;
  const run = async (label: string, attention: 'loki' | 'exact-topk' | 'h2o' | 'streaming', d: number, k: number) => {
    const r = await evaluateLlmAttention(model, evalTexts, { attention, dFraction: d, kFraction: k, bases: basesFile, tokenizer, ep: 'cpu' });
    full = r.perplexity.full;
    rows.push({ method: label, perplexity: r.perplexity.variant, recall: r.recall, error: meanOf(r.attentionError) });
    process.stderr.write(`${label}: ${r.perplexity.variant.toFixed(3)}\n`);
  };
  for (const k of K) {
    for (const d of D) await run(`loki d=${d} k=${k}`, 'loki', d, k);
    await run(`exact-topk k=${k}`, 'exact-topk', 1, k);
    await run(`h2o budget=${k}`, 'h2o', 1, k);
    await run(`streaming budget=${k}`, 'streaming', 1, k);
  }
  return [
    '## aidreams260K (llama2.c, 4 layers, 4 heads of 16, context 128)',
    '',
    `Calibration: ${calib.length} Alpaca records (${tokens} tokens). Evaluation: the next ${evalTexts.length} records, teacher-forced (Loki and exact top-k: one prefill per text; H2O and StreamingLLM: token by token with k × 128 keys).`,
    '',
    ...rankSection(bases, headDim),
    '',
    ...table(rows, full),
    '',
  ];
}

async function balmSection(model: string, dataPath: string): Promise<string[]> {
  const rows = readFileSync(dataPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { sequence: string; numbering: [number, string][]; split: string });
  const toChain = (r: { sequence: string; numbering: [number, string][] }): NumberedChain => ({ sequence: r.sequence, numbering: r.numbering.map(([number, insertion]) => ({ number, insertion })) });
  const calib = rows.filter((r) => r.split === 'train').slice(0, 500).map(toChain);
  const held = rows.filter((r) => r.split === 'valid').slice(0, 300).map(toChain);
  const bases: Record<string, LayerBasis[]> = {};
  let headDim = 0;
  let tokens = 0;
  for (const stage of ['pre-rotary', 'post-rotary'] as const) {
    const stats = await collectBalmKeys(model, calib, { stage, ep: 'cpu' });
    bases[stage] = fitBases(stats);
    headDim = stats.headDim;
    tokens = stats.count;
  }
  const basesFile = join(tmp, 'balm.safetensors');
  saveBases(basesFile, bases['post-rotary'], { model, stage: 'post-rotary', data: 'training-split chains' }, tokens);
  const out: Row[] = [];
  let full = 0;
  for (const k of K) {
    for (const d of D) {
      const r = await evaluateBalmAttention(model, held, { attention: 'loki', dFraction: d, kFraction: k, bases: basesFile, ep: 'cpu' });
      full = r.perplexity.full;
      out.push({ method: `loki d=${d} k=${k}`, perplexity: r.perplexity.variant, recall: r.recall, error: meanOf(r.attentionError) });
    }
    const t = await evaluateBalmAttention(model, held, { attention: 'exact-topk', dFraction: 1, kFraction: k, ep: 'cpu' });
    out.push({ method: `exact-topk k=${k}`, perplexity: t.perplexity.variant, recall: null, error: meanOf(t.attentionError) });
  }
  return [
    `## BALM (${model})`,
    '',
    `Calibration: ${calib.length} training-split chains (${tokens} tokens). Evaluation: masked-token perplexity (15% masked, fixed seed) on ${held.length} held-out chains. H2O and StreamingLLM are decoding-cache policies of causal models and do not apply to a bidirectional encoder.`,
    '',
    ...rankSection(bases, headDim),
    '',
    ...table(out, full),
    '',
  ];
}

async function main(): Promise<void> {
  const lines = [
    '# Loki: key rank and sparse-attention quality',
    '',
    `Made by \`bench/loki-report.ts\` on ${new Date().toISOString().slice(0, 10)}. Rank: components explaining 90% of the key variance (second moment) per layer and head, before and after rotary. Attention error: sqrt(Σ‖o − o_full‖² / Σ‖o_full‖²) of each layer's attention output against full attention on the same inputs.`,
    '',
    ...(await lmSection()),
  ];
  const balm = args.get('balm');
  const data = args.get('balm-data');
  if (balm && data) lines.push(...(await balmSection(balm, data)));
  else lines.push('## BALM', '', 'Not in this report: run with `--balm DIR --balm-data DATA.jsonl` once a trained BALM ships.', '');
  writeFileSync(out, `${lines.join('\n')}\n`);
  console.log(lines.join('\n'));
}

main().catch((e: unknown) => {
  console.error((e as Error).stack);
  process.exit(1);
});

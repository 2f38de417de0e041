/**
 * Wall time of `fold` per antibody on the CPU: the first call (model load, JIT warm-up), single
 * antibodies one call each, and one call with a batch of 50; with the split into numbering,
 * template build and relaxation.
 *
 *   node --import tsx bench/fold-speed.ts [--model fold-baseline] [--data ../shared/data] [--batch 50]
 *
 * Inputs: the observed sequences of the RAB test and validation entries of the split (needs
 * ../shared/data), else the antibodies of test/fixtures/fold-baseline/antibodies.fasta repeated.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { pairRecords, parseFasta } from '../src/antibody/fasta.js';
import { loadFoldModel } from '../src/fold/baseline-model.js';
import { readNumberedStructure } from '../src/fold/dataset.js';
import { fold, type AntibodyInput, type FoldOutcome } from '../src/fold/predict.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const data = path.resolve(opt('--data') ?? path.join(ROOT, '..', 'shared', 'data'));
const batchSize = Number(opt('--batch') ?? 50);
const modelName = opt('--model') ?? 'fold-baseline';

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
  const pairs = pairRecords(parseFasta(fixture)).map((ab) => ({ name: ab.name, heavy: ab.heavy!.sequence, light: ab.light!.sequence }));
  const list = Array.from({ length: batchSize }, (_, k) => ({ ...pairs[k % pairs.length]!, name: `${pairs[k % pairs.length]!.name}-${k}` }));
  return { source: `${pairs.length} fixture antibodies repeated (../shared/data not found)`, list };
}

const median = (x: number[]) => {
  const s = [...x].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[(s.length >> 1) - 1]! + s[s.length >> 1]!) / 2;
};
const ok = (o: FoldOutcome[]) => o.flatMap((x) => (x.ok ? [x.antibody] : []));

const { source, list } = await inputs();
const t0 = performance.now();
const model = loadFoldModel(modelName);
const first = await fold(list[0]!, { model });
const coldMs = performance.now() - t0;
if (!first[0]!.ok) throw new Error(first[0]!.failure.message);

// Single antibodies, one call each (after the first).
const singles: number[] = [];
const parts = { numberMs: [] as number[], buildMs: [] as number[], relaxMs: [] as number[] };
for (const ab of list.slice(1, 21)) {
  const t = performance.now();
  const r = ok(await fold(ab, { model }));
  singles.push(performance.now() - t);
  for (const a of r) for (const k of ['numberMs', 'buildMs', 'relaxMs'] as const) parts[k].push(a.timing[k]);
}

// One batch.
const tb = performance.now();
const batch = await fold(list, { model });
const batchMs = performance.now() - tb;
const failed = batch.filter((b) => !b.ok).length;

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const lines = [
  `fold speed, model ${model.name} (template baseline: numbering + template build + relaxation, TypeScript on the CPU, one thread)`,
  `  machine: ${cpu}, ${os.availableParallelism()} CPUs available; Node ${process.version}`,
  `  inputs: ${source}`,
  `  first call (model load + warm-up):      ${coldMs.toFixed(0)} ms`,
  `  single antibody, one call each (n=${singles.length}):  median ${median(singles).toFixed(0)} ms, min ${Math.min(...singles).toFixed(0)} ms, max ${Math.max(...singles).toFixed(0)} ms`,
  `    of which numbering ${median(parts.numberMs).toFixed(1)} ms, template build ${median(parts.buildMs).toFixed(1)} ms, relaxation ${median(parts.relaxMs).toFixed(1)} ms (medians)`,
  `  batch of ${list.length} in one call:            ${batchMs.toFixed(0)} ms, ${(batchMs / list.length).toFixed(0)} ms per antibody${failed ? ` (${failed} failed)` : ''}`,
];
process.stdout.write(`${lines.join('\n')}\n`);

/**
 * `balmkit sparse calibrate` and `balmkit sparse rank`: Loki's PCA of attention keys, and the rank
 * analysis of those keys (components for 90% of the variance, before and after rotary).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import type { NumberedChain } from '../../src/balm/balm.js';
import { numberAntibodies, readAntibodies, writeFileAtomically } from '../input.js';
import { UsageError, addRuntimeOptions, choiceOption, parseOptions, runtimeOptionsShape } from '../options.js';

const modelDataShape = {
  model: z.string().min(1),
  data: z.string().min(1),
  maxRecords: z
    .string()
    .regex(/^\d+$/, { error: 'must be a whole number ≥ 1 (e.g. --max-records 500)' })
    .transform(Number)
    .optional(),
  ...runtimeOptionsShape,
};

/** Calibration chains for a BALM model: the FASTA's antibody chains, numbered (IMGT). */
function balmChains(data: string, maxRecords: number | undefined): NumberedChain[] {
  const { chains, errors } = numberAntibodies(readAntibodies(data, { pair: false }, 'sparse'), 'imgt');
  if (errors.length > 0) process.stderr.write(`balmkit: ${errors.length} record(s) of ${data} could not be numbered and are left out\n`);
  if (chains.length === 0) throw new UsageError(`${data}: no antibody chains to calibrate on`);
  return chains.slice(0, maxRecords ?? chains.length).map((c) => ({ sequence: c.domain.sequence, numbering: c.domain.residues.map((r) => r.imgt) }));
}

function modelKind(dir: string): 'balm' {
  const cfg = path.join(dir, 'config.json');
  if (!fs.existsSync(cfg)) throw new UsageError(`--model ${dir}: no config.json (give a model folder)`);
  const type = (JSON.parse(fs.readFileSync(cfg, 'utf8')) as { model_type?: string }).model_type;
  if (type === 'esm') return 'balm';
  throw new UsageError(`--model ${dir}: model_type '${type}' — sparse calibration handles BALM (ESM) models; causal LMs are not wired to this command yet`);
}

function addModelDataOptions(cmd: Command): Command {
  return addRuntimeOptions(
    cmd
      .requiredOption('--model <dir>', 'model folder (a BALM/ESM Hugging Face folder)')
      .requiredOption('--data <file>', 'calibration data: a FASTA of antibody chains for BALM')
      .option('--max-records <n>', 'use at most this many chains [default: all]'),
  );
}

export function register(program: Command): void {
  const sparse = program.command('sparse').summary('Loki sparse attention: key PCA calibration and rank analysis');

  const calibrate = addModelDataOptions(
    sparse
      .command('calibrate')
      .summary('fit per-layer, per-head PCA bases of attention keys (Loki)')
      .description('Run the model over calibration data, collect keys per layer and KV head, and fit PCA bases (eigenvectors of the key second moment, decreasing variance).'),
  )
    .requiredOption('-o, --output <file>', 'bases file (.safetensors: layers.{i}.basis [kvHeads, d, d], layers.{i}.eigenvalues)')
    .option('--stage <stage>', 'keys after or before rotary: post-rotary or pre-rotary [default: post-rotary]')
    .option('--centred', 'decompose the centred covariance instead of the second moment')
    .addHelpText('after', '\nExample:\n  $ balmkit sparse calibrate --model models/balm-small --data chains.fasta -o balm-small.loki.safetensors\n');
  calibrate.action(async (_raw: unknown, command: Command) => {
    const opts = parseOptions(
      command,
      z.strictObject({ ...modelDataShape, output: z.string().regex(/\.safetensors$/, { error: 'must end in .safetensors' }), stage: choiceOption(['post-rotary', 'pre-rotary'] as const).optional(), centred: z.boolean().optional() }),
    );
    modelKind(opts.model);
    const chains = balmChains(opts.data, opts.maxRecords);
    const { collectBalmKeys, fitBases, saveBases } = await import('../../src/sparse/index.js');
    const stage = opts.stage ?? 'post-rotary';
    const stats = await collectBalmKeys(opts.model, chains, { stage, ep: opts.ep, threads: opts.threads, deviceId: opts.deviceId });
    saveBases(opts.output, fitBases(stats, { centred: opts.centred }), { model: opts.model, stage, data: `${opts.data}: ${chains.length} chains`, centred: opts.centred }, stats.count);
    process.stderr.write(`balmkit: ${stats.layers} layers × ${stats.kvHeads} heads calibrated on ${stats.count} tokens (${chains.length} chains) → ${opts.output}\n`);
  });

  const rank = addModelDataOptions(
    sparse
      .command('rank')
      .summary('components explaining 90% of key variance, per layer and head, pre- and post-rotary')
      .description('Calibrate on the data before and after rotary and print the rank table (Loki, Fig. 2); optionally plot it.'),
  )
    .option('--svg <file>', 'write a plot of rank by layer (SVG)')
    .option('--json', 'print the table as JSON')
    .addHelpText('after', '\nExample:\n  $ balmkit sparse rank --model models/balm-small --data chains.fasta --svg rank.svg\n');
  rank.action(async (_raw: unknown, command: Command) => {
    const opts = parseOptions(command, z.strictObject({ ...modelDataShape, svg: z.string().regex(/\.svg$/, { error: 'must end in .svg' }).optional(), json: z.boolean().optional() }));
    modelKind(opts.model);
    const chains = balmChains(opts.data, opts.maxRecords);
    const { collectBalmKeys, fitBases } = await import('../../src/sparse/index.js');
    const { rankTable, formatRankTable, rankPlotSvg } = await import('../../src/sparse/rank.js');
    const bases: Record<string, ReturnType<typeof fitBases>> = {};
    let headDim = 0;
    for (const stage of ['pre-rotary', 'post-rotary'] as const) {
      const stats = await collectBalmKeys(opts.model, chains, { stage, ep: opts.ep, threads: opts.threads, deviceId: opts.deviceId });
      bases[stage] = fitBases(stats);
      headDim = stats.headDim;
    }
    const table = rankTable(bases, headDim);
    process.stdout.write(opts.json ? `${JSON.stringify({ model: opts.model, data: opts.data, chains: chains.length, ...table })}\n` : formatRankTable(table));
    if (opts.svg) writeFileAtomically(opts.svg, rankPlotSvg(table, `key rank by layer: ${path.basename(opts.model)}`));
  });
}

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

  const fraction = (flag: string) =>
    z
      .string()
      .regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, { error: `must be a fraction in (0, 1], e.g. ${flag} 0.25` })
      .transform(Number)
      .pipe(z.number().gt(0, { error: `must be a fraction in (0, 1], e.g. ${flag} 0.25` }));
  const evaluate = addModelDataOptions(
    sparse
      .command('eval')
      .summary('masked-token perplexity, top-k recall and attention error of a sparse variant vs full attention')
      .description('Evaluate Loki or exact top-k on BALM: masked-token perplexity (15% masked, fixed seed) beside full attention, recall of Loki\'s selection against exact top-k, and the relative error of every layer\'s attention output against full attention on the same inputs.'),
  )
    .requiredOption('--attention <variant>', 'loki or exact-topk')
    .option('--d <fraction>', 'Loki: fraction of the head dimension for approximate scores [default: 0.25]')
    .option('--k <fraction>', 'fraction of the keys each query attends to [default: 0.25]')
    .option('--bases <file>', 'Loki bases from balmkit sparse calibrate')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ balmkit sparse eval --model models/balm-small --bases balm.loki.safetensors --attention loki --d 0.25 --k 0.25 --data heldout.fasta\n');
  evaluate.action(async (_raw: unknown, command: Command) => {
    const opts = parseOptions(
      command,
      z.strictObject({ ...modelDataShape, attention: choiceOption(['loki', 'exact-topk'] as const), d: fraction('--d').optional(), k: fraction('--k').optional(), bases: z.string().optional(), json: z.boolean().optional() }),
    );
    modelKind(opts.model);
    if (opts.attention === 'loki' && opts.bases === undefined) throw new UsageError('--attention loki needs --bases (make them with balmkit sparse calibrate)');
    const chains = balmChains(opts.data, opts.maxRecords);
    const { evaluateBalmAttention } = await import('../../src/sparse/index.js');
    const r = await evaluateBalmAttention(opts.model, chains, { attention: opts.attention, dFraction: opts.d ?? 0.25, kFraction: opts.k ?? 0.25, bases: opts.bases, ep: opts.ep, threads: opts.threads, deviceId: opts.deviceId });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ model: opts.model, attention: opts.attention, d: opts.d ?? 0.25, k: opts.k ?? 0.25, ...r })}\n`);
      return;
    }
    const lines = [
      `${opts.attention}${opts.attention === 'loki' ? ` d=${opts.d ?? 0.25}` : ''} k=${opts.k ?? 0.25} on ${r.chains} chains (${r.maskedTokens} masked tokens)`,
      `masked-token perplexity   full ${r.perplexity.full.toFixed(3)}   ${opts.attention} ${r.perplexity.variant.toFixed(3)}`,
      ...(r.recall !== null ? [`top-k recall vs exact top-k   ${(r.recall * 100).toFixed(1)}%`] : []),
      `attention output error vs full (relative, per layer): ${r.attentionError.map((e) => e.toFixed(4)).join(' ')}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}

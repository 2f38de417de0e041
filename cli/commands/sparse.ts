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
  tokenizer: z.string().optional(),
  maxRecords: z.string().regex(/^\d+$/, { error: 'must be a whole number ≥ 1 (e.g. --max-records 500)' }).transform(Number).optional(),
  ...runtimeOptionsShape,
};

/** Calibration chains for a BALM model: the FASTA's antibody chains, numbered (IMGT). */
function balmChains(data: string, maxRecords: number | undefined): NumberedChain[] {
  const { chains, errors } = numberAntibodies(readAntibodies(data, { pair: false }, 'sparse'), 'imgt');
  if (errors.length > 0) process.stderr.write(`balmkit: ${errors.length} record(s) of ${data} could not be numbered and are left out\n`);
  if (chains.length === 0) throw new UsageError(`${data}: no antibody chains to calibrate on`);
  return chains.slice(0, maxRecords ?? chains.length).map((c) => ({ sequence: c.domain.sequence, numbering: c.domain.residues.map((r) => r.imgt) }));
}

/** BALM (an ESM config) or a causal LM (another Hugging Face config, or a llama2.c checkpoint). */
function modelKind(model: string): 'balm' | 'llm' {
  if (!fs.existsSync(model)) throw new UsageError(`--model ${model}: no such file or folder`);
  if (fs.statSync(model).isFile()) return 'llm';
  const cfg = path.join(model, 'config.json');
  if (!fs.existsSync(cfg)) throw new UsageError(`--model ${model}: no config.json (give a model folder or a llama2.c .bin)`);
  const type = (JSON.parse(fs.readFileSync(cfg, 'utf8')) as { model_type?: string }).model_type;
  return type === 'esm' ? 'balm' : 'llm';
}

/** Key statistics of `stage` over the command's data, for either kind of model. */
async function collectKeys(
  opts: { model: string; data: string; maxRecords?: number; tokenizer?: string; ep?: 'auto' | 'cuda' | 'cpu'; threads?: number; deviceId?: number },
  stage: 'post-rotary' | 'pre-rotary',
) {
  const runtime = { ep: opts.ep, threads: opts.threads, deviceId: opts.deviceId };
  const sparse = await import('../../src/sparse/index.js');
  if (modelKind(opts.model) === 'balm') {
    const chains = balmChains(opts.data, opts.maxRecords);
    return { stats: await sparse.collectBalmKeys(opts.model, chains, { stage, ...runtime }), described: `${opts.data}: ${chains.length} chains` };
  }
  const texts = sparse.readTexts(opts.data).slice(0, opts.maxRecords);
  return { stats: await sparse.collectLlmKeys(opts.model, texts, { stage, tokenizer: opts.tokenizer, ...runtime }), described: `${opts.data}: ${texts.length} texts` };
}

function addModelDataOptions(cmd: Command): Command {
  return addRuntimeOptions(
    cmd
      .requiredOption('--model <path>', 'a BALM (ESM) folder, a Hugging Face causal LM folder, or a llama2.c .bin')
      .requiredOption('--data <file>', 'BALM: a FASTA of antibody chains; LMs: texts (.json instruction records or strings, .jsonl, or plain text paragraphs)')
      .option('--tokenizer <path>', 'LMs: the tokenizer (tokenizer.json, a llama2.c tokenizer.bin) when not beside the model')
      .option('--max-records <n>', 'use at most this many chains or texts [default: all]'),
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
      z.strictObject({
        ...modelDataShape,
        output: z.string().regex(/\.safetensors$/, { error: 'must end in .safetensors' }),
        stage: choiceOption(['post-rotary', 'pre-rotary'] as const).optional(),
        centred: z.boolean().optional(),
      }),
    );
    const { fitBases, saveBases } = await import('../../src/sparse/index.js');
    const stage = opts.stage ?? 'post-rotary';
    const { stats, described } = await collectKeys(opts, stage);
    saveBases(opts.output, fitBases(stats, { centred: opts.centred }), { model: opts.model, stage, data: described, centred: opts.centred }, stats.count);
    process.stderr.write(`balmkit: ${stats.layers} layers × ${stats.kvHeads} heads calibrated on ${stats.count} tokens (${described}) → ${opts.output}\n`);
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
    const opts = parseOptions(
      command,
      z.strictObject({
        ...modelDataShape,
        svg: z
          .string()
          .regex(/\.svg$/, { error: 'must end in .svg' })
          .optional(),
        json: z.boolean().optional(),
      }),
    );
    const { fitBases, rankTable, formatRankTable, rankPlotSvg } = await import('../../src/sparse/index.js');
    const bases: Record<string, ReturnType<typeof fitBases>> = {};
    let headDim = 0;
    let described = '';
    for (const stage of ['pre-rotary', 'post-rotary'] as const) {
      const r = await collectKeys(opts, stage);
      bases[stage] = fitBases(r.stats);
      headDim = r.stats.headDim;
      described = r.described;
    }
    const table = rankTable(bases, headDim);
    process.stdout.write(opts.json ? `${JSON.stringify({ model: opts.model, data: described, ...table })}\n` : formatRankTable(table));
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
      .description(
        "Evaluate Loki or exact top-k: perplexity beside full attention (BALM: masked-token, 15% masked, fixed seed; LMs: teacher-forced, each text one prefill), recall of Loki's selection against exact top-k, and the relative error of every layer's attention output against full attention on the same inputs.",
      ),
  )
    .requiredOption('--attention <variant>', 'loki, exact-topk, or (causal LMs, decoded token by token with a budget of k × context keys) h2o or streaming')
    .option('--d <fraction>', 'Loki: fraction of the head dimension for approximate scores [default: 0.25]')
    .option('--k <fraction>', 'fraction of the keys each query attends to [default: 0.25]')
    .option('--bases <file>', 'Loki bases from balmkit sparse calibrate')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ balmkit sparse eval --model models/balm-small --bases balm.loki.safetensors --attention loki --d 0.25 --k 0.25 --data heldout.fasta\n');
  evaluate.action(async (_raw: unknown, command: Command) => {
    const opts = parseOptions(
      command,
      z.strictObject({
        ...modelDataShape,
        attention: choiceOption(['loki', 'exact-topk', 'h2o', 'streaming'] as const),
        d: fraction('--d').optional(),
        k: fraction('--k').optional(),
        bases: z.string().optional(),
        json: z.boolean().optional(),
      }),
    );
    if (opts.attention === 'loki' && opts.bases === undefined) throw new UsageError('--attention loki needs --bases (make them with balmkit sparse calibrate)');
    const sparse = await import('../../src/sparse/index.js');
    const settings = { attention: opts.attention, dFraction: opts.d ?? 0.25, kFraction: opts.k ?? 0.25, bases: opts.bases, ep: opts.ep, threads: opts.threads, deviceId: opts.deviceId };
    let r: { perplexity: { full: number; variant: number }; recall: number | null; attentionError: number[] };
    let scope: string;
    if (modelKind(opts.model) === 'balm') {
      if (settings.attention === 'h2o' || settings.attention === 'streaming')
        throw new UsageError(`--attention ${settings.attention} applies to causal LMs; BALM is bidirectional (use loki or exact-topk)`);
      const e = await sparse.evaluateBalmAttention(opts.model, balmChains(opts.data, opts.maxRecords), { ...settings, attention: settings.attention });
      r = e;
      scope = `${e.chains} chains (${e.maskedTokens} masked tokens; masked-token perplexity)`;
    } else {
      const e = await sparse.evaluateLlmAttention(opts.model, sparse.readTexts(opts.data).slice(0, opts.maxRecords), { ...settings, tokenizer: opts.tokenizer });
      r = e;
      scope = `${e.texts} texts (${e.tokens} predicted tokens; perplexity)`;
    }
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ model: opts.model, attention: opts.attention, d: opts.d ?? 0.25, k: opts.k ?? 0.25, scope, ...r })}\n`);
      return;
    }
    const lines = [
      `${opts.attention}${opts.attention === 'loki' ? ` d=${opts.d ?? 0.25}` : ''} k=${opts.k ?? 0.25} on ${scope}`,
      `perplexity   full ${r.perplexity.full.toFixed(3)}   ${opts.attention} ${r.perplexity.variant.toFixed(3)}`,
      ...(r.recall !== null ? [`top-k recall vs exact top-k   ${(r.recall * 100).toFixed(1)}%`] : []),
      ...(r.attentionError.length ? [`attention output error vs full (relative, per layer): ${r.attentionError.map((e) => e.toFixed(4)).join(' ')}`] : []),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}

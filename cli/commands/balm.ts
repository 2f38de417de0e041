/**
 * `balmkit embed` and `balmkit score`: BALM representations and pseudo-log-likelihoods of antibody
 * chains. Each variable domain is one BALM item (a paired antibody gives two), numbered with IMGT
 * by balmkit; records that cannot be numbered are reported and the rest processed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import type { ChainEmbedding, ChainScore, NumberedChain } from '../../src/balm/balm.js';
import type { HostTensor } from '../../src/io/tensor.js';
import { type InputError, type NumberedInputChain, PAIRING_HELP, TRANSLATE_HELP, numberAntibodies, progress, reportTrimmed, readAntibodies, writeFileAtomically } from '../input.js';
import { EXIT, UsageError, addRuntimeOptions, parseOptions, runtimeOptionsShape, runtimeOf } from '../options.js';

const inputShape = {
  heavy: z.string().optional(),
  light: z.string().optional(),
  pair: z.boolean().optional(),
  translate: z.boolean().optional(),
  model: z.string().min(1, { error: 'needs a folder' }).optional(),
  adapter: z.array(z.string().min(1)).optional(),
  batchSize: z
    .string()
    .regex(/^\d+$/, { error: 'must be a whole number ≥ 1 (e.g. --batch-size 32)' })
    .transform(Number)
    .pipe(z.number().int().min(1, { error: 'must be a whole number ≥ 1 (e.g. --batch-size 32)' }))
    .optional(),
  ...runtimeOptionsShape,
};

/** The BALM folder to use: `--model`, else the shipped balm-small. */
async function modelFolder(given: string | undefined): Promise<string> {
  if (given !== undefined) {
    if (!fs.existsSync(path.join(given, 'config.json'))) throw new UsageError(`--model ${given}: no config.json there (give a BALM/ESM Hugging Face folder)`);
    return given;
  }
  const { packageRoot } = await import('../../src/runtime/paths.js');
  const shipped = path.join(packageRoot(), 'models', 'balm-small');
  if (!fs.existsSync(path.join(shipped, 'config.json'))) {
    throw new UsageError(`no BALM model is shipped in ${shipped} yet: give one with --model DIR (an official BALM folder works)`);
  }
  return shipped;
}

function addInputOptions(cmd: Command): Command {
  return addRuntimeOptions(
    cmd
      .argument('[input]', 'FASTA or CSV file (.gz accepted), a plain sequence, or - for stdin')
      .option('--heavy <sequence>', 'a heavy chain sequence')
      .option('--light <sequence>', 'a light chain sequence')
      .option('--no-pair', 'take every record on its own (no pairing)')
      .option('--translate', TRANSLATE_HELP)
      .option('--model <dir>', 'BALM model folder (config.json + model.safetensors or pytorch_model.bin) [default: the shipped balm-small]')
      .option('--adapter <dir>', 'a LoRA adapter (Hugging Face PEFT folder, official ESM names) applied unmerged; repeat for several', (v: string, prev: string[] = []) => [...prev, v])
      .option('--batch-size <n>', 'chains per forward pass [default: 32]'),
  );
}

function numbered(c: NumberedInputChain): NumberedChain {
  return { sequence: c.domain.sequence, numbering: c.domain.residues.map((r) => r.imgt) };
}

function chainLabel(c: NumberedInputChain, all: readonly NumberedInputChain[]): string {
  const sameRecord = all.filter((x) => x.record === c.record);
  return sameRecord.length > 1 ? `${c.record}#${sameRecord.indexOf(c) + 1}` : c.record;
}

function reportErrors(errors: readonly InputError[], done: number, what: string): void {
  for (const e of errors) process.stderr.write(`balmkit: ${e.message}\n`);
  if (errors.length > 0) {
    process.stderr.write(`balmkit: ${what} ${done} chain(s); ${errors.length} record(s) failed (listed above)\n`);
    process.exitCode = EXIT.failure;
  }
}

const EMBED_FORMAT = `
Output:
  .safetensors  embeddings [total residues, hidden] (float32, chains one after another),
                offsets [chains + 1] (int64: chain i is rows offsets[i]..offsets[i+1]),
                mean [chains, hidden] (mean over residues), cls [chains, hidden] (the <cls> row);
                metadata "chains": JSON list of {name, pairedBy | unpaired, record, chainType, residues}, "model"
  .json         {"model", "chains": [{name, pairedBy | unpaired, record, chainType, residues, mean, cls, embeddings: [[…], …]}]}
  Each chain is one numbered variable domain (IMGT positions feed BALM's position embedding).`;

export function register(program: Command): void {
  const embed = addInputOptions(
    program
      .command('embed')
      .summary('BALM embeddings of antibody chains (per residue, mean-pooled, <cls>)')
      .description('Embed antibody variable domains with BALM. Chains are numbered (IMGT) by balmkit first; each domain is one item.'),
  )
    .requiredOption('-o, --output <file>', 'output file: .safetensors or .json')
    .addHelpText(
      'after',
      `\nExamples:\n  $ balmkit embed antibodies.fasta -o embeddings.safetensors\n  $ balmkit embed --heavy EVQLVES... -o h.json --model path/to/BALM\n${PAIRING_HELP}\n${EMBED_FORMAT}\n`,
    );
  embed.action(async (input: string | undefined, _raw: unknown, command: Command) => {
    const opts = parseOptions(command, z.strictObject({ ...inputShape, output: z.string().regex(/\.(safetensors|json)$/, { error: 'must end in .safetensors or .json' }) }));
    const { chains, errors } = numberAntibodies(readAntibodies(input, opts, 'embed'), 'imgt');
    reportTrimmed(chains);
    const dir = await modelFolder(opts.model);
    const { Balm } = await import('../../src/balm/index.js');
    const balm = await Balm.load(dir, { ...runtimeOf(opts), ...(opts.adapter ? { adapters: opts.adapter } : {}) });
    try {
      const bar = progress('embedding', chains.length);
      const batch = opts.batchSize ?? 32;
      const embs: ChainEmbedding[] = [];
      for (let i = 0; i < chains.length; i += batch) {
        embs.push(...(await balm.embed(chains.slice(i, i + batch).map(numbered), batch)));
        bar.tick(Math.min(batch, chains.length - i));
      }
      bar.done();
      const meta = chains.map((c) => ({ name: c.antibody, ...c.pairing, record: chainLabel(c, chains), chainType: c.domain.chainType, residues: c.domain.residues.length }));
      const d = balm.hiddenSize;
      if (opts.output.endsWith('.json')) {
        const rows = (a: Float32Array) => Array.from({ length: a.length / d }, (_, r) => Array.from(a.subarray(r * d, (r + 1) * d)));
        const json = { model: dir, chains: meta.map((m, i) => ({ ...m, mean: Array.from(embs[i].mean), cls: Array.from(embs[i].cls), embeddings: rows(embs[i].perResidue) })) };
        writeFileAtomically(opts.output, `${JSON.stringify(json)}\n`);
      } else {
        const total = embs.reduce((a, e) => a + e.residues, 0);
        const all = new Float32Array(total * d);
        const offsets = new BigInt64Array(embs.length + 1);
        const mean = new Float32Array(embs.length * d);
        const cls = new Float32Array(embs.length * d);
        let row = 0;
        embs.forEach((e, i) => {
          all.set(e.perResidue, row * d);
          row += e.residues;
          offsets[i + 1] = BigInt(row);
          mean.set(e.mean, i * d);
          cls.set(e.cls, i * d);
        });
        const tensors = new Map<string, HostTensor>([
          ['embeddings', { dtype: 'float32', shape: [total, d], data: all }],
          ['offsets', { dtype: 'int64', shape: [embs.length + 1], data: offsets }],
          ['mean', { dtype: 'float32', shape: [embs.length, d], data: mean }],
          ['cls', { dtype: 'float32', shape: [embs.length, d], data: cls }],
        ]);
        const { serializeSafetensors } = await import('../../src/io/safetensors.js');
        writeFileAtomically(opts.output, serializeSafetensors(tensors, { chains: JSON.stringify(meta), model: dir }));
      }
      process.stderr.write(`balmkit: embedded ${chains.length} chain(s) into ${opts.output}\n`);
      reportErrors(errors, chains.length, 'embedded');
    } finally {
      await balm.release();
    }
  });

  const score = addInputOptions(
    program
      .command('score')
      .summary('BALM pseudo-log-likelihood of antibody chains (per residue, mean, pseudo-perplexity)')
      .description('Score antibody variable domains with BALM: each residue is masked in turn and its log-probability read (pseudo-log-likelihood).'),
  )
    .option('--json', 'print JSON: {model, chains: [{name, pairedBy | unpaired, record, chainType, residues, meanPll, pseudoPerplexity, perResidue: [{aa, number, insertion, pll}]}], errors}')
    .addHelpText('after', `\nExamples:\n  $ balmkit score antibodies.fasta\n  $ balmkit score --heavy EVQLVES... --json\n${PAIRING_HELP}\n`);
  score.action(async (input: string | undefined, _raw: unknown, command: Command) => {
    const opts = parseOptions(command, z.strictObject({ ...inputShape, json: z.boolean().optional() }));
    const { chains, errors } = numberAntibodies(readAntibodies(input, opts, 'score'), 'imgt');
    reportTrimmed(chains);
    const dir = await modelFolder(opts.model);
    const { Balm } = await import('../../src/balm/index.js');
    const balm = await Balm.load(dir, { ...runtimeOf(opts), ...(opts.adapter ? { adapters: opts.adapter } : {}) });
    try {
      const bar = progress('scoring', chains.length);
      const results: ChainScore[] = [];
      for (const c of chains) {
        results.push((await balm.score([numbered(c)], opts.batchSize ?? 64))[0]);
        bar.tick();
      }
      bar.done();
      const rows = chains.map((c, i) => ({
        name: c.antibody,
        ...c.pairing,
        record: chainLabel(c, chains),
        chainType: c.domain.chainType,
        residues: results[i].perResidue.length,
        meanPll: results[i].meanPll,
        pseudoPerplexity: results[i].pseudoPerplexity,
        perResidue: Array.from(results[i].perResidue, (pll, k) => ({ aa: c.domain.residues[k].aa, number: c.domain.residues[k].imgt.number, insertion: c.domain.residues[k].imgt.insertion, pll })),
      }));
      if (opts.json) process.stdout.write(`${JSON.stringify({ model: dir, chains: rows, errors })}\n`);
      else {
        process.stdout.write(`${'record'.padEnd(24)} chain  residues  mean PLL  pseudo-perplexity\n`);
        for (const r of rows) {
          process.stdout.write(
            `${r.record.padEnd(24)} ${r.chainType.padEnd(6)} ${String(r.residues).padStart(8)}  ${r.meanPll.toFixed(4).padStart(8)}  ${r.pseudoPerplexity.toFixed(3).padStart(17)}\n`,
          );
        }
      }
      reportErrors(errors, chains.length, 'scored');
    } finally {
      await balm.release();
    }
  });
}

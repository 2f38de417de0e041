/**
 * `balmkit adapters`: LoRA adapters in the Hugging Face PEFT layout. `inspect` says what an adapter
 * targets (ranks, scales, and, given --model, which of the model's layers it matches);
 * `merge-lora` writes the model folder with W + s·B·A in place of each targeted weight and every
 * other file and tensor byte-identical.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { UsageError, choiceOption, parseOptions } from '../options.js';
import { writeFileAtomically } from '../input.js';

const inspectSchema = z.strictObject({ json: z.boolean({ error: 'takes no value' }).optional() });
const mergeSchema = z.strictObject({
  model: z.string({ error: 'needs a Hugging Face model folder' }).min(1),
  adapter: z.array(z.string().min(1)).min(1, { error: 'needs at least one adapter folder' }),
  output: z.string({ error: 'needs a folder to write' }).min(1),
  json: z.boolean({ error: 'takes no value' }).optional(),
  dtype: choiceOption(['stored', 'float32'] as const).optional(),
});

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Registers `adapters inspect` and `adapters merge-lora` on the program. */
export function register(program: Command): void {
  const group = program
    .command('adapters')
    .summary('LoRA adapters (Hugging Face PEFT layout): inspect one, or merge it into a model folder')
    .description(
      'LoRA adapters as PEFT writes them (adapter_config.json + adapter_model.safetensors). balmkit applies them ' +
        'unmerged with `--adapter` where a command loads a model, or merges them into the weights here: each targeted ' +
        "weight W becomes W + s·B·A (s = lora_alpha / r, or / √r with use_rslora), computed in float32 and rounded once to W's dtype.",
    );
  group.addHelpText('after', '\nExamples:\n  $ balmkit adapters inspect my-lora/\n  $ balmkit adapters merge-lora --model models/text-small --adapter my-lora/ -o text-small-merged/\n');

  group
    .command('inspect')
    .argument('<adapter>', 'a PEFT adapter folder')
    .description('targets, ranks and scales of a LoRA adapter')
    .option('--json', 'print as JSON')
    .action(async (folder: string, _raw: unknown, command: Command) => {
      const opts = parseOptions(command, inspectSchema);
      const { readPeftAdapter } = await import('../../src/adapters/index.js');
      const a = readPeftAdapter(folder);
      const modules = [...a.modules].map(([module, m]) => ({ module, r: m.r, alpha: m.alpha, scale: m.scale, in: m.a.shape[1], out: m.b.shape[0] }));
      if (opts.json === true) {
        process.stdout.write(
          `${JSON.stringify({ name: a.name, base: a.config.base_model_name_or_path ?? null, target_modules: a.config.target_modules, use_rslora: a.config.use_rslora ?? false, modules }, null, 1)}\n`,
        );
        return;
      }
      process.stdout.write(
        `${a.name}: LoRA on ${modules.length} modules of ${a.config.base_model_name_or_path ?? 'an unnamed base model'}; target_modules ${JSON.stringify(a.config.target_modules)}${a.config.use_rslora ? ', rsLoRA' : ''}\n`,
      );
      for (const m of modules) process.stdout.write(`  ${m.module.padEnd(40)} r ${String(m.r).padStart(3)}  alpha ${String(m.alpha).padStart(4)}  scale ${m.scale.toFixed(4)}  [${m.out} × ${m.in}]\n`);
    });

  group
    .command('merge-lora')
    .description('write a model folder with the adapters merged into its weights (every other tensor and file byte-identical)')
    .requiredOption('--model <dir>', 'the Hugging Face model folder the adapters were trained on')
    .requiredOption('--adapter <dir>', 'a PEFT adapter folder (repeat to merge several)', collect)
    .requiredOption('-o, --output <dir>', 'the folder to write (must not exist, or be empty)')
    .option('--dtype <dtype>', 'stored: round each merged weight once to its checkpoint dtype; float32: keep it in float32 [default: stored]')
    .option('--json', 'print what was merged as JSON')
    .action(async (_raw: unknown, command: Command) => {
      const opts = parseOptions(command, mergeSchema);
      const weightsFile = path.join(opts.model, 'model.safetensors');
      if (!fs.existsSync(weightsFile)) throw new UsageError(`--model ${opts.model}: no model.safetensors (merge-lora reads a single-file safetensors checkpoint)`);
      if (fs.existsSync(opts.output) && fs.readdirSync(opts.output).length > 0) throw new UsageError(`-o ${opts.output}: the folder is not empty; give a new folder`);
      const { mergeAdapters, readPeftAdapter } = await import('../../src/adapters/index.js');
      const { readSafetensors, serializeSafetensors } = await import('../../src/io/safetensors.js');
      const adapters = opts.adapter.map((a) => ({ adapter: readPeftAdapter(a) }));
      const file = readSafetensors(weightsFile);
      const { tensors, merged } = mergeAdapters(file.tensors, adapters, opts.model, { dtype: opts.dtype ?? 'stored' });
      fs.mkdirSync(opts.output, { recursive: true });
      for (const f of fs.readdirSync(opts.model)) {
        const from = path.join(opts.model, f);
        if (f !== 'model.safetensors' && fs.statSync(from).isFile()) fs.copyFileSync(from, path.join(opts.output, f));
      }
      writeFileAtomically(path.join(opts.output, 'model.safetensors'), serializeSafetensors(tensors, file.metadata));
      if (opts.json === true) process.stdout.write(`${JSON.stringify({ output: opts.output, adapters: adapters.map((a) => a.adapter.name), merged })}\n`);
      else process.stderr.write(`balmkit: merged ${adapters.map((a) => a.adapter.name).join(', ')} into ${merged.length} weights of ${opts.model}; wrote ${opts.output}\n`);
    });
}

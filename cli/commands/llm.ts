/**
 * `balmkit llm`: causal language models (Hugging Face folders of the Llama family, llama2.c
 * checkpoints). `generate` prints a prompt's continuation, `perplexity` scores a text file (BOS
 * prepended, every text token scored, a sliding window past the context), `serve` answers
 * OpenAI-compatible HTTP requests on 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { type RuntimeCliOptions, UsageError, addRuntimeOptions, intOption, parseOptions, runtimeOptionsShape, runtimeOf } from '../options.js';

/** A number in [min, max] given as a string option, e.g. `--temperature 0.8`. */
function numberOption(min: number, max: number, example: string): z.ZodType<number, string> {
  const msg = `must be a number from ${min} to ${max} (e.g. ${example})`;
  return z
    .string()
    .trim()
    .regex(/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, { error: msg })
    .transform(Number)
    .pipe(z.number().min(min, { error: msg }).max(max, { error: msg }));
}

const modelShape = {
  model: z.string({ error: 'is required: a Hugging Face model folder or a llama2.c .bin' }).min(1),
  tokenizer: z.string().min(1).optional(),
  adapter: z.array(z.string().min(1)).optional(),
  ...runtimeOptionsShape,
};
const jsonShape = { json: z.boolean().optional() };

const generateSchema = z.strictObject({
  ...modelShape,
  ...jsonShape,
  prompt: z.string({ error: 'is required (the text to continue)' }),
  maxTokens: intOption(0, '--max-tokens 64').optional(),
  temperature: numberOption(0, 2, '--temperature 0.8').optional(),
  topP: numberOption(0, 1, '--top-p 0.9').optional(),
  topK: intOption(0, '--top-k 40').optional(),
  seed: intOption(0, '--seed 42').optional(),
  stop: z.array(z.string()).optional(),
});

const perplexitySchema = z.strictObject({
  ...modelShape,
  ...jsonShape,
  window: intOption(2, '--window 512').optional(),
  stride: intOption(1, '--stride 256').optional(),
});

const serveSchema = z.strictObject({
  ...modelShape,
  port: intOption(0, '--port 8000')
    .pipe(z.number().max(65535, { error: 'must be ≤ 65535' }))
    .optional(),
  name: z.string().min(1).optional(),
  concurrency: intOption(1, '--concurrency 1').optional(),
  queue: intOption(0, '--queue 32').optional(),
});

async function load(o: { model: string; tokenizer?: string | undefined; adapter?: string[] | undefined } & RuntimeCliOptions) {
  // Loaded here, not at the top, so `balmkit --help` does not load onnxruntime.
  const llm = await import('../../src/llm/index.js');
  const lm = await llm.loadModel(o.model, { ...runtimeOf(o), ...(o.tokenizer !== undefined ? { tokenizer: o.tokenizer } : {}), ...(o.adapter ? { adapters: o.adapter } : {}) });
  if (!lm.tokenizer) throw new UsageError(`${o.model}: no tokenizer found beside the model; give one with --tokenizer PATH`);
  return { llm, lm };
}

const modelOptions = (cmd: Command, { json = true }: { json?: boolean } = {}): Command => {
  cmd
    .requiredOption('--model <path>', 'Hugging Face model folder (config.json + weights: Llama, Mistral, Qwen2, Mixtral, GPT-2) or llama2.c checkpoint (.bin)')
    .option('--tokenizer <path>', 'tokenizer: tokenizer.json / its folder, or a llama2.c tokenizer .bin [default: beside the model]')
    .option('--adapter <dir>', 'a LoRA adapter (Hugging Face PEFT folder) applied unmerged; repeat for several (see balmkit adapters)', (v: string, prev: string[] = []) => [...prev, v]);
  if (json) cmd.option('--json', 'print the result as JSON');
  return addRuntimeOptions(cmd);
};

/** vLLM's default port. */
const DEFAULT_PORT = 8000;

/** Registers `llm generate|perplexity|serve` on the program. */
export function register(program: Command): void {
  const llm = program
    .command('llm')
    .summary('causal LMs: generate text, perplexity, an OpenAI-compatible server')
    .description('Causal language models from Hugging Face folders (Llama, Mistral, Qwen2, Mixtral, GPT-2) and llama2.c checkpoints, ' + 'built from the same blocks as BALM and run on onnxruntime.');

  const gen = modelOptions(
    llm
      .command('generate')
      .summary("print a prompt's continuation")
      .requiredOption('--prompt <text>', 'the text to continue (BOS is prepended)')
      .option('--max-tokens <n>', 'most tokens to generate [default: 64]')
      .option('--temperature <t>', '0 = greedy [default: 0]')
      .option('--top-p <p>', 'nucleus sampling threshold [default: 1, off]')
      .option('--top-k <k>', 'sample among the k most likely tokens [default: 0, off]')
      .option('--seed <s>', 'random seed for sampling [default: 1]')
      .option('--stop <text...>', 'stop where any of these strings appears'),
  );
  gen.addHelpText(
    'after',
    `
Examples:
  $ balmkit llm generate --model ../shared/data/lm/aidreams260K.bin --tokenizer ../shared/data/lm/tok512.bin --prompt "Once upon a time" --max-tokens 50
  $ balmkit llm generate --model ./my-llama --prompt "The capital of France is" --temperature 0.8 --seed 42 --json
`,
  );
  gen.action(async (_raw: unknown, command: Command) => {
    const o = parseOptions(command, generateSchema);
    const { llm: m, lm } = await load(o);
    const streaming = o.json !== true;
    const [g] = await m.generate(lm, o.prompt, {
      maxTokens: o.maxTokens ?? 64,
      temperature: o.temperature ?? 0,
      ...(o.topP !== undefined ? { topP: o.topP } : {}),
      ...(o.topK !== undefined ? { topK: o.topK } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.stop !== undefined ? { stop: o.stop } : {}),
      ...(streaming ? { onText: (piece: string) => void process.stdout.write(piece) } : {}),
    });
    if (streaming) process.stdout.write('\n');
    else process.stdout.write(`${JSON.stringify({ prompt: o.prompt, text: g.text, tokens: g.tokens, prompt_tokens: g.promptTokens, finish_reason: g.finishReason })}\n`);
    await lm.release();
  });

  const ppl = modelOptions(
    llm
      .command('perplexity')
      .summary("a text file's perplexity under the model")
      .argument('<file>', 'UTF-8 text file')
      .option('--window <n>', "tokens of context per window [default: the model's context]")
      .option('--stride <n>', 'how far each window moves past the context [default: window / 2]'),
  );
  ppl.addHelpText(
    'after',
    `
BOS is prepended and every token of the text is scored once. A text longer than the window is
scored with a sliding window (each token with up to window − 1 tokens of context).

Examples:
  $ balmkit llm perplexity --model ../shared/data/lm/aidreams260K.bin --tokenizer ../shared/data/lm/tok512.bin notes.txt
`,
  );
  ppl.action(async (file: string, _raw: unknown, command: Command) => {
    const o = parseOptions(command, perplexitySchema);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const { llm: m, lm } = await load(o);
    const tok = lm.requireTokenizer();
    const ids = tok.encode(text, { bos: true });
    const r = await m.perplexity(lm, ids, { ...(o.window !== undefined ? { window: o.window } : {}), ...(o.stride !== undefined ? { stride: o.stride } : {}) });
    process.stdout.write(o.json === true ? `${JSON.stringify({ file, perplexity: r.perplexity, nll: r.nll, tokens: r.count })}\n` : `${r.perplexity.toFixed(4)}\n`);
    await lm.release();
  });

  const srv = modelOptions(
    llm
      .command('serve')
      .summary('an OpenAI-compatible HTTP server on 127.0.0.1')
      .option('--port <p>', `port on 127.0.0.1 (0: any free port) [default: ${DEFAULT_PORT}]`)
      .option('--name <id>', 'model id in /v1/models and requests [default: the --model path]')
      .option('--concurrency <n>', 'requests computed at once [default: 1]')
      .option('--queue <n>', 'requests allowed to wait; more get 429 [default: 32]'),
    { json: false },
  );
  srv.addHelpText(
    'after',
    `
Endpoints: GET /v1/models, POST /v1/completions (echo, logprobs, vLLM prompt_logprobs, stream),
POST /v1/chat/completions (the model's chat template, or "role: content" lines, stream),
POST /v1/embeddings (mean of the last hidden state over the input's tokens; float or base64).
A prompt plus max_tokens beyond the model's context gets 400 (as vLLM); a body over 1 MiB gets 413.
Any OpenAI-compatible client works, e.g. the official one: new OpenAI({ baseURL: 'http://127.0.0.1:8000/v1', apiKey: 'none' }).

Examples:
  $ balmkit llm serve --model ./my-llama --port 8000
  $ curl -s 127.0.0.1:8000/v1/completions -d '{"prompt": "Hello", "max_tokens": 8}'
`,
  );
  srv.action(async (_raw: unknown, command: Command) => {
    const o = parseOptions(command, serveSchema);
    const { llm: m, lm } = await load(o);
    const s = await m.serve(lm, o.port ?? DEFAULT_PORT, {
      ...(o.name !== undefined ? { modelName: o.name } : {}),
      ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
      ...(o.queue !== undefined ? { queue: o.queue } : {}),
    });
    process.stderr.write(`balmkit: serving ${o.name ?? o.model} on ${s.url} (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        void s.close().then(resolve, resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await lm.release();
  });
}
